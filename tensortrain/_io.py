"""Atomic file writes: the one place that puts files on disk.

A file is written to a temporary file in the destination's folder, flushed
to disk, and moved over the destination with ``os.replace``, so a reader (or
a run that crashes half-way) sees either the old file or the complete new one,
never a part of it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

__all__ = ["write_atomic"]


def write_atomic(path, write: Callable[[BinaryIO], None], mode: int = 0o644) -> None:
    """Create or replace ``path`` with what ``write(stream)`` puts in a binary stream.

    Parameters
    ----------
    path : str or os.PathLike
        The destination; its folder must exist.
    write : callable
        Called once with the open temporary file.
    mode : int
        Permission bits of the new file.

    Raises
    ------
    OSError
        When the folder cannot be written; the destination is then unchanged
        and no temporary file is left behind.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Flush the folder entry of the renamed file, where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
