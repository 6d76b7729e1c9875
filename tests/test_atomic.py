"""Atomic file replacement: whole files only, and writers that do not trip over each other."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import at_once

from fedwear.atomic import write_atomically


def test_writers_of_one_file_at_once_each_leave_a_whole_file(tmp_path: Path) -> None:
    """A `fedwear run` and a `fedwear listen` can write one state file at the same moment.
    With one temporary name for both, the second rename found the file gone (CI, once)."""
    path = tmp_path / "state" / "ble-identity"
    contents = [bytes([65 + i]) * 4096 for i in range(8)]
    for _ in range(20):
        assert at_once(8, lambda i: write_atomically(path, contents[i])) == []
        assert path.read_bytes() in contents
    assert [p.name for p in path.parent.iterdir()] == ["ble-identity"]  # no temporary left
    assert path.stat().st_mode & 0o777 == 0o600


def test_exclusive_makes_the_file_once(tmp_path: Path) -> None:
    path = tmp_path / "seed"
    write_atomically(path, b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        write_atomically(path, b"second", exclusive=True)
    assert path.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["seed"]
    write_atomically(path, b"third", mode=0o644)  # a plain write replaces it
    assert path.read_bytes() == b"third" and path.stat().st_mode & 0o777 == 0o644
