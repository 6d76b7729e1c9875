"""Bonds (the keys of paired peers) in one JSON file that survives a kill or a power cut.

A wearable that forgot its bonds would make its owner's phone pair again, and under the
"first" pairing policy a stranger could then be first. So every change is written to a
temporary file, fsync'd, renamed over the old one and the directory fsync'd: at any
moment the file holds either the old bonds or the new ones. The file holds long-term
keys, so it is created readable by its owner only. A file that cannot be read back
(truncated by a broken disk, edited by hand) is moved aside with one warning, and the
store starts empty rather than refusing to start.
"""

from __future__ import annotations

__all__ = ["BondStore"]

import json
import logging
import os
from pathlib import Path
from typing import Any

from bumble.keys import KeyStore, PairingKeys

from ..atomic import write_atomically
from ..bounded import read_at_most

log = logging.getLogger("fedwear.ble")

MAX_BOND_FILE = 256 * 1024  # a few hundred bonds; anything larger is not ours


class BondStore(KeyStore):
    """bumble's key store interface over one atomically replaced JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._bonds: dict[str, dict[str, Any]] | None = None

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._bonds is not None:
            return self._bonds
        try:
            raw = read_at_most(self.path, MAX_BOND_FILE)
        except FileNotFoundError:
            self._bonds = {}
            return self._bonds
        try:
            if len(raw) > MAX_BOND_FILE:
                raise ValueError(f"larger than {MAX_BOND_FILE} bytes")
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            for keys in data.values():
                PairingKeys.from_dict(keys)  # raises on a malformed entry
            self._bonds = data
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            aside = self.path.with_name(self.path.name + ".corrupt")
            os.replace(self.path, aside)
            log.warning("BLE: bonds in %s unreadable (%s); moved to %s", self.path, exc, aside)
            self._bonds = {}
        return self._bonds

    def _save(self, bonds: dict[str, dict[str, Any]]) -> None:
        write_atomically(self.path, json.dumps(bonds, sort_keys=True, indent=1).encode())
        self._bonds = bonds

    async def update(self, name: str, keys: PairingKeys) -> None:
        bonds = dict(self._load())
        bonds[name] = {**bonds.get(name, {}), **keys.to_dict()}
        self._save(bonds)

    async def delete(self, name: str) -> None:
        bonds = dict(self._load())
        if bonds.pop(name, None) is not None:
            self._save(bonds)

    async def get(self, name: str) -> PairingKeys | None:
        keys = self._load().get(name)
        return PairingKeys.from_dict(keys) if keys is not None else None

    async def get_all(self) -> list[tuple[str, PairingKeys]]:
        return [(name, PairingKeys.from_dict(keys)) for name, keys in self._load().items()]
