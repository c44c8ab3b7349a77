"""Checkpoints: a model's parameters, an optimizer's state and extra values in one ``.npz``.

The file is a plain NumPy archive without pickled objects (it loads with
``allow_pickle=False``), written to a temporary file in the target's folder
and moved over the target with ``os.replace``, so a crash never leaves a
half-written checkpoint under the real name. Entries are named

- ``__format__``: the marker ``"tensortrain.nn.checkpoint"``, ``__version__``: 1,
- ``param/<dotted parameter name>``,
- ``optimizer/<state name>`` and ``__optimizer__`` (the optimizer's class name),
- ``extra/<key>``.

Loading checks everything (marker, names, shapes, dtypes, optimizer state)
before it changes anything.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from .. import backend
from .._io import write_atomic
from .module import Module
from .optim import Optimizer

__all__ = ["save", "load", "FORMAT"]

FORMAT = "tensortrain.nn.checkpoint"
_VERSION = 1
_PARAM, _OPTIM, _EXTRA = "param/", "optimizer/", "extra/"


def _host(value, name: str) -> np.ndarray:
    """A NumPy copy of ``value`` that needs no pickle to store."""
    array = np.asarray(backend.to_numpy(value)) if hasattr(value, "shape") else np.asarray(value)
    if array.dtype.hasobject or array.dtype.kind == "V":
        raise TypeError(f"{name} must be numeric, boolean or a string, got dtype {array.dtype}")
    if array.dtype.kind in "US" and isinstance(value, (list, tuple)):
        kinds = {type(item).__name__ for item in np.ravel(np.asarray(value, dtype=object))}
        if kinds - {"str"}:
            raise TypeError(
                f"{name} mixes strings with {sorted(kinds - {'str'})}; "
                "it would be stored as strings only"
            )
    return array


def _entries(model: Module, optimizer, extra) -> dict[str, np.ndarray]:
    entries = {"__format__": np.asarray(FORMAT), "__version__": np.asarray(_VERSION)}
    for name, p in model.named_parameters().items():
        entries[_PARAM + name] = _host(p.value, f"parameter {name!r}")
    if optimizer is not None:
        entries["__optimizer__"] = np.asarray(type(optimizer).__name__)
        for name, value in optimizer.state_dict().items():
            entries[_OPTIM + name] = _host(value, f"optimizer state {name!r}")
    for key, value in (extra or {}).items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"extra keys must be non-empty strings, got {key!r}")
        entries[_EXTRA + key] = _host(value, f"extra[{key!r}]")
    return entries


def _check_arguments(model, optimizer, extra) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"optimizer must be an nn optimizer or None, got {type(optimizer).__name__}"
        )
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict or None, got {type(extra).__name__}")


def save(
    path, model: Module, optimizer: Optimizer | None = None, extra: dict | None = None
) -> None:
    """Write a checkpoint of ``model`` (and ``optimizer``, ``extra``) to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Written exactly there (no ``.npz`` is appended); an existing file is
        replaced only once the new one is complete.
    model : Module
    optimizer : Optimizer, optional
        Its :meth:`~tensortrain.nn.optim.Optimizer.state_dict` is stored.
    extra : dict of str to array, number, bool or str, optional
        For instance the epoch or the best validation loss.

    Raises
    ------
    TypeError
        For an argument of the wrong type or an ``extra`` value that would
        need pickling.
    OSError
        When the folder cannot be written; the target is then unchanged.
    """
    _check_arguments(model, optimizer, extra)
    entries = _entries(model, optimizer, extra)
    write_atomic(
        os.path.abspath(os.fspath(path)),
        lambda stream: np.savez(stream, allow_pickle=False, **entries),
    )


def _read(path) -> dict[str, np.ndarray]:
    """Every entry of the archive at ``path``, fully read."""
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not an archive")
        with archive:
            entries = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise ValueError(f"{os.fspath(path)!r} is not a readable checkpoint: {err}") from err
    marker = entries.get("__format__")
    if marker is None or marker.dtype.kind != "U" or str(marker) != FORMAT:
        raise ValueError(
            f"{os.fspath(path)!r} is not a tensortrain checkpoint (no {FORMAT!r} marker)"
        )
    version = entries.get("__version__")
    if version is None or version.shape != () or int(version) != _VERSION:
        raise ValueError(
            f"{os.fspath(path)!r} has checkpoint version {version}, expected {_VERSION}"
        )
    return entries


def _section(entries, prefix: str) -> dict[str, np.ndarray]:
    return {
        name[len(prefix) :]: value for name, value in entries.items() if name.startswith(prefix)
    }


def _check_parameters(model: Module, saved: dict[str, np.ndarray]) -> None:
    params = model.named_parameters()
    missing = sorted(set(params) - set(saved))
    unexpected = sorted(set(saved) - set(params))
    if missing:
        raise ValueError(f"checkpoint lacks parameters the model has: {missing}")
    if unexpected:
        raise ValueError(f"checkpoint has parameters the model does not have: {unexpected}")
    for name, p in params.items():
        value = saved[name]
        if value.shape != p.shape:
            raise ValueError(
                f"parameter {name!r} must have shape {p.shape}, got {value.shape} in the checkpoint"
            )
        if value.dtype.kind != "f":
            raise ValueError(
                f"parameter {name!r} must be floating point in the checkpoint, got {value.dtype}"
            )


def _check_optimizer(optimizer: Optimizer, entries) -> dict[str, np.ndarray]:
    kind = entries.get("__optimizer__")
    if kind is None:
        raise ValueError("checkpoint holds no optimizer state, but an optimizer was given")
    if str(kind) != type(optimizer).__name__:
        raise ValueError(
            f"checkpoint holds the state of a {kind} optimizer, got a {type(optimizer).__name__}"
        )
    state = _section(entries, _OPTIM)
    optimizer.check_state_dict(state)
    return state


def load(path, model: Module, optimizer: Optimizer | None = None) -> dict:
    """Read a checkpoint written by :func:`save` into ``model`` (and ``optimizer``).

    Parameters
    ----------
    path : str or os.PathLike
    model : Module
        Must have exactly the checkpoint's parameter names and shapes; values
        are cast to each parameter's dtype and put on its device.
    optimizer : Optimizer, optional
        Of the class that was saved, over parameters of the same names and shapes.

    Returns
    -------
    dict
        The ``extra`` values: 0-d entries as Python scalars, others as NumPy arrays.

    Raises
    ------
    ValueError
        For a truncated or unreadable file, an archive that is not a
        checkpoint, a parameter missing, unexpected or of the wrong shape, or
        optimizer state that does not fit. The model and optimizer are then
        unchanged.
    FileNotFoundError
        When ``path`` does not exist.
    """
    _check_arguments(model, optimizer, None)
    entries = _read(path)
    saved = _section(entries, _PARAM)
    _check_parameters(model, saved)
    state = _check_optimizer(optimizer, entries) if optimizer is not None else None

    for name, p in model.named_parameters().items():
        xp = backend.namespace(p.value)
        p.value = xp.astype(backend.asarray_like(saved[name], p.value), p.value.dtype)
    if state is not None:
        optimizer.load_state_dict(state)
    extra = _section(entries, _EXTRA)
    return {key: (value.item() if value.shape == () else value) for key, value in extra.items()}
