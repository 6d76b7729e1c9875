"""Bonds on disk: atomic, private, and a broken file costs the bonds, not the service."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from bumble.keys import PairingKeys
from conftest import at_once

from fedwear.ble.bonds import MAX_BOND_FILE, BondStore
from fedwear.ble.uplink import device_address

KEYS = PairingKeys(ltk=PairingKeys.Key(bytes(range(16)), authenticated=False))


def test_bonds_round_trip_through_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ble-bonds.json"

    async def scenario() -> None:
        store = BondStore(path)
        assert await store.get_all() == []
        await store.update("D0:00:00:00:00:01/R", KEYS)
        await store.update("D0:00:00:00:00:02/R", KEYS)
        await store.delete("D0:00:00:00:00:02/R")
        again = BondStore(path)  # a restarted service reads them back
        assert [name for name, _ in await again.get_all()] == ["D0:00:00:00:00:01/R"]
        keys = await again.get("D0:00:00:00:00:01/R")
        assert keys is not None and keys.ltk is not None and keys.ltk.value == bytes(range(16))
        assert await again.get("D0:00:00:00:00:03/R") is None

    asyncio.run(scenario())
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["ble-bonds.json"]  # no .tmp left


@pytest.mark.parametrize(
    "content",
    [
        b'{"D0:00:00:00:00:01/R": {"ltk": {"value": "00',  # truncated mid-write by a bad disk
        b"[1, 2]",
        b'{"D0:00:00:00:00:01/R": {"ltk": {"value": "not hex"}}}',
        b'{"D0:00:00:00:00:01/R": 7}',
        b" " * (MAX_BOND_FILE + 1),
        b"[" * 100_000 + b"]" * 100_000,  # deeper than json's decoder recurses
    ],
)
def test_an_unreadable_bond_file_is_moved_aside_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    caplog.set_level(logging.WARNING, logger="fedwear.ble")
    path = tmp_path / "ble-bonds.json"
    path.write_bytes(content)
    store = BondStore(path)
    assert asyncio.run(store.get_all()) == []
    assert (tmp_path / "ble-bonds.json.corrupt").read_bytes() == content
    assert not path.exists()
    assert len(caplog.records) == 1 and "unreadable" in caplog.records[0].getMessage()
    asyncio.run(store.update("D0:00:00:00:00:01/R", KEYS))  # and it works on
    assert list(json.loads(path.read_text())) == ["D0:00:00:00:00:01/R"]


def test_processes_starting_together_keep_one_seed(tmp_path: Path) -> None:
    """A wearable's run and a listen on one machine without a machine id make the seed at
    the same moment: both must end with the one that is kept, or a restart changes an
    address its peer bonded with."""
    no_id, seed = tmp_path / "no-machine-id", tmp_path / "state" / "ble-identity"
    where = {"seed_file": seed, "machine_id_path": no_id}
    for _ in range(10):
        seed.unlink(missing_ok=True)
        addresses: list[object] = []
        assert at_once(6, lambda _, out=addresses: out.append(device_address(**where))) == []
        assert len(addresses) == 6 and len(set(addresses)) == 1
        assert device_address(seed_file=seed, machine_id_path=no_id) == addresses[0]


def test_the_address_stays_the_same_without_a_machine_id(tmp_path: Path) -> None:
    """No /etc/machine-id (a container, an image without systemd): a kept random seed."""
    no_id, seed = tmp_path / "no-machine-id", tmp_path / "state" / "ble-identity"
    first = device_address(seed_file=seed, machine_id_path=no_id)
    assert device_address(seed_file=seed, machine_id_path=no_id) == first
    assert device_address(b"fedwear-listen", seed_file=seed, machine_id_path=no_id) != first
    assert seed.stat().st_mode & 0o777 == 0o600
    assert int(str(first)[:2], 16) >> 6 == 0b11  # a static random address
    machine_id = tmp_path / "machine-id"
    machine_id.write_text("0123456789abcdef0123456789abcdef\n")
    assert device_address(machine_id_path=machine_id) == device_address(
        seed_file=seed, machine_id_path=machine_id
    )
