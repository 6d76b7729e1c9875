"""Replace a file so that a kill or a power cut leaves the old content or the new, never a mix."""

from __future__ import annotations

__all__ = ["write_atomically"]

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(
    path: Path, data: bytes, mode: int = 0o600, *, exclusive: bool = False
) -> None:
    """Write ``data`` to a temporary file, fsync it, rename it over ``path``, fsync the folder.

    Without the fsyncs a rename can reach the disk before the data does, and a power cut
    then leaves an empty file under the new name. Each call has a temporary file of its
    own: two processes writing the same file (a `fedwear run` and a `fedwear listen`
    sharing a state folder) once shared one name, and the second rename found it gone.

    ``exclusive``: make ``path`` only if it does not exist yet (FileExistsError if it
    does), so that of two processes making the same file at once, the first one wins.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:  # a file object writes it all; one os.write() may not
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            os.link(tmp, path)  # fails with FileExistsError where another file is there
            tmp.unlink()
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
