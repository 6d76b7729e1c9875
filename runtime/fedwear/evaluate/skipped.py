"""Recordings an evaluation could not read: skipped and reported, or, when strict, fatal.

A folder of recordings from elsewhere (other subjects, another copy of a dataset) may hold
one file cut short or missing its other half. Stopping there would leave no figures at
all for the rest; skipping it without a word would pass a figure over fewer recordings for
the whole. So each one is logged, listed in the result, and counted in ``overall``.
"""

from __future__ import annotations

__all__ = ["SkippedRecordings"]

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import DatasetError

log = logging.getLogger("fedwear.eval")
T = TypeVar("T")


class SkippedRecordings:
    """The recordings left out of one evaluation, with the error that left each out."""

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.entries: list[dict[str, str]] = []

    def attempt(self, path: Path, read: Callable[..., T], *args: Any) -> T | None:
        """``read(*args)`` for the recording at ``path``; None where it raised a
        DatasetError and ``path`` was left out (strict: the error is raised)."""
        try:
            return read(*args)
        except DatasetError as error:
            if self.strict:
                raise
            message = str(error.args[0])  # without the "dataset: " of str(error)
            log.warning("skipped %s: %s", path, message)
            self.entries.append({"recording": str(path), "code": error.code, "error": message})
            return None

    def require_some_scored(self, scored: int, folder: Path) -> None:
        """No figure at all is an error, not an empty table."""
        if scored == 0 and self.entries:
            raise DatasetError(
                f"none of its {len(self.entries)} recordings could be read; the first: "
                f"{self.entries[0]['error']}",
                path=str(folder),
                code="empty",
            )

    def report(self, result: dict[str, Any]) -> None:
        """List the skipped recordings in ``result`` and count them in its ``overall``."""
        result["overall"]["skipped_recordings"] = len(self.entries)
        result["skipped"] = self.entries
