"""A bounded read holds where stat() says nothing: devices, FIFOs, growing files."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from conftest import memory_cap

from fedwear.bounded import read_at_most


def test_a_file_within_the_limit_reads_whole(tmp_path: Path) -> None:
    path = tmp_path / "f"
    for data in (b"", b"x", bytes(range(256)) * 9000):  # 2.3 MB: more than one chunk
        path.write_bytes(data)
        assert read_at_most(path, len(data)) == data
        assert read_at_most(path, len(data) + 10) == data


def test_more_than_the_limit_gives_one_byte_over(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abcdef")
    assert read_at_most(path, 3) == b"abcd"
    assert read_at_most(path, 0) == b"a"


def test_an_endless_device_stops_one_byte_past_the_limit() -> None:
    """stat() gives /dev/zero a size of 0: a reader trusting it read forever."""
    assert os.stat("/dev/zero").st_size == 0
    with memory_cap():
        assert read_at_most(Path("/dev/zero"), 3 << 20) == bytes((3 << 20) + 1)


def test_a_fifo_reads_what_its_writer_sends(tmp_path: Path) -> None:
    """A FIFO (a shell's `<(...)`) is a valid source: read until its writer closes it."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(b"[ring]\nseconds = 8\n"))
    writer.start()
    try:
        assert read_at_most(fifo, 1024) == b"[ring]\nseconds = 8\n"
    finally:
        writer.join(timeout=10)
