"""Read a whole file, but never more than a limit: a size from stat() is no bound."""

from __future__ import annotations

__all__ = ["read_at_most"]

from pathlib import Path

_CHUNK = 1 << 20


def read_at_most(path: Path, limit: int) -> bytes:
    """``path``'s bytes, or its first ``limit + 1`` when it holds more (the caller refuses
    those). stat() gives 0 for /dev/zero, a FIFO or a /proc file, and a file can grow
    between stat() and the read; one read of ``limit + 1`` would reserve that much memory
    on every call. Raises OSError as ``open`` does."""
    chunks: list[bytes] = []
    left = limit + 1
    with path.open("rb") as f:
        while left > 0 and (chunk := f.read(min(_CHUNK, left))):
            chunks.append(chunk)
            left -= len(chunk)
    return b"".join(chunks)
