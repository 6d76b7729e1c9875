"""Replace a file so that a kill or a power cut leaves the old content or the new, never a mix."""

from __future__ import annotations

__all__ = ["write_atomically"]

import os
from pathlib import Path


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to a temporary file, fsync it, rename it over ``path``, fsync the folder.

    Without the fsyncs a rename can reach the disk before the data does, and a power cut
    then leaves an empty file under the new name.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as f:  # a file object writes it all; one os.write() may not
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
