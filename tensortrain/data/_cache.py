"""Where the data loaders keep built arrays, and how they write and read them safely."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from .._io import write_atomic

__all__ = ["default_cache_dir", "read_npz", "resolve_cache_dir", "write_npz_atomic"]

logger = logging.getLogger(__name__)

CACHE_ENV = "TENSORTRAIN_CACHE"


def default_cache_dir() -> Path:
    """Return the folder the data loaders cache into when none is given.

    Returns
    -------
    pathlib.Path
        ``$TENSORTRAIN_CACHE`` if set and non-empty, else
        ``$XDG_CACHE_HOME/tensortrain``, else ``~/.cache/tensortrain``.
        The folder is not created here.
    """
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "tensortrain"
    return Path.home() / ".cache" / "tensortrain"


def resolve_cache_dir(cache_dir: str | os.PathLike | None) -> Path:
    """Return ``cache_dir`` as a path, or the default folder when it is None."""
    if cache_dir is None:
        return default_cache_dir()
    if not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(
            f"cache_dir must be a path (str or os.PathLike) or None, "
            f"got {type(cache_dir).__name__}"
        )
    return Path(cache_dir).expanduser()


def write_npz_atomic(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` as a compressed ``.npz``, all or nothing.

    The data go to a temporary file in the same folder, are flushed to disk
    with ``fsync`` and then moved over ``path`` with ``os.replace``, so a
    reader sees either the old file or the complete new one, never a part.

    Parameters
    ----------
    path : pathlib.Path
        Destination file; its folder is created if missing.
    arrays : mapping of str to numpy.ndarray
        What to store. Object arrays are refused, so the file can always be
        read back with ``allow_pickle=False``.

    Raises
    ------
    TypeError
        If one of the arrays has dtype ``object``.
    """
    for key, value in arrays.items():
        if np.asarray(value).dtype == object:
            raise TypeError(f"arrays[{key!r}] must not be an object array")

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda stream: np.savez_compressed(stream, **arrays))


def read_npz(
    path: Path, validate: Callable[[dict[str, np.ndarray]], None]
) -> dict[str, np.ndarray] | None:
    """Read a cache file, or return None when it is missing or unusable.

    Parameters
    ----------
    path : pathlib.Path
        The ``.npz`` file to read (with ``allow_pickle=False``).
    validate : callable
        Called with the loaded arrays; it raises (any exception) when they are
        not what the caller expects: wrong keys, dtypes, shapes or parameters.

    Returns
    -------
    dict of str to numpy.ndarray or None
        The arrays, or None if the file is absent, cannot be read, or fails
        ``validate``. The reason is logged at INFO level; the caller rebuilds.
    """
    if not path.is_file():
        logger.info("no cache at %s", path)
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        validate(arrays)
    except Exception as error:  # any unreadable or unexpected cache means: rebuild
        logger.info("cache %s unusable (%s: %s); rebuilding", path,
                    type(error).__name__, error)
        return None
    return arrays
