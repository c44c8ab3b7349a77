"""Compress trained dense recurrent layers into TT form, and count what it saves.

:func:`compress` copies a model and replaces the dense projections of every
recurrent cell in it by TT-SVD approximations (:meth:`TTLinear.from_dense`),
so the copy can be fine-tuned while the original stays as it was.
"""

from __future__ import annotations

import copy

from .cells import RecurrentCell, gate_modes, resolve_modes
from .linear import TTLinear
from .module import Module
from .sequence import Recurrent

__all__ = ["compress", "num_params", "recurrent_num_params", "compression_ratio"]


def _check_module(module, name: str) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{name} must be an nn.Module, got {type(module).__name__}")
    return module


def _cells(module) -> list[RecurrentCell]:
    return [m for m in module.modules() if isinstance(m, RecurrentCell)]


def _kept_modes(given, layer_modes, name: str):
    """The modes of a projection that is TT already; ``given`` may only repeat them."""
    if given is not None and tuple(given) != tuple(layer_modes):
        raise ValueError(
            f"{name} must match the projection that is in TT format already, "
            f"{tuple(layer_modes)}, got {tuple(given)}"
        )
    return tuple(layer_modes)


def _compress_cell(cell, eps, max_rank, input_modes, hidden_modes, tt_input, tt_hidden):
    if cell.tt_input:
        input_modes = _kept_modes(input_modes, cell.w_ih.in_modes, "input_modes")
    if cell.tt_hidden:
        hidden_modes = _kept_modes(hidden_modes, cell.w_hh.in_modes, "hidden_modes")
    input_modes, hidden_modes = resolve_modes(
        cell.input_size, cell.hidden_size, input_modes, hidden_modes, tt_input
    )
    out_modes = gate_modes(hidden_modes, cell.num_gates)
    accuracy = dict(eps=eps, max_rank=max_rank)
    if tt_input and not cell.tt_input:
        cell.w_ih = TTLinear.from_dense(cell.w_ih, input_modes, out_modes, **accuracy)
    if tt_hidden and not cell.tt_hidden:
        cell.w_hh = TTLinear.from_dense(cell.w_hh, hidden_modes, out_modes, **accuracy)
    cell.input_modes, cell.hidden_modes = input_modes, hidden_modes


def compress(
    model,
    eps=None,
    max_rank=None,
    input_modes=None,
    hidden_modes=None,
    tt_input=True,
    tt_hidden=True,
):
    """A copy of ``model`` whose recurrent cells have TT projections.

    Every :class:`RNNCell` or :class:`GRUCell` in ``model`` (the model itself,
    a sequence layer, or any module holding them) gets its dense ``w_ih``
    and/or ``w_hh`` replaced by ``TTLinear.from_dense(...)`` of the trained
    weight; biases are copied and the other parameters are copied as they
    are. Projections that are already TT are kept.

    Parameters
    ----------
    model : Module
    eps, max_rank : optional
        Accuracy and rank cap of the TT-SVD, passed to
        :meth:`TTLinear.from_dense`.
    input_modes, hidden_modes : sequence of int, optional
        Modes of the TT-matrices; by default the cell's own modes if one of
        its projections is TT already, else :func:`tensortrain.factor_modes`
        of the sizes (with equal lengths). The gate output modes are the
        hidden modes with the first one multiplied by the number of gates.
    tt_input, tt_hidden : bool, default True
        Which projections to compress (at least one).

    Returns
    -------
    Module
        A new model of the same type; ``model`` is not changed.

    Raises
    ------
    TypeError
        If ``model`` is not a Module.
    ValueError
        If it holds no recurrent cell, for modes that do not fit a cell, or
        when neither ``tt_input`` nor ``tt_hidden`` is set.

    Notes
    -----
    Cost: one TT-SVD per projection, dominated by the SVD of a
    ``(G m_1 n_1) x (G H N / (G m_1 n_1))`` unfolding.
    """
    _check_module(model, "model")
    if not (tt_input or tt_hidden):
        raise ValueError("tt_input and tt_hidden must not both be False: nothing to compress")
    if not _cells(model):
        raise ValueError(
            f"model must be or contain an RNNCell or GRUCell, got a {type(model).__name__} "
            "without one"
        )
    result = copy.deepcopy(model)
    for module in result.modules():
        if isinstance(module, Recurrent):
            module.dh0 = None
            module._cache = None
    for cell in _cells(result):
        cell.cache = None
        _compress_cell(cell, eps, max_rank, input_modes, hidden_modes, tt_input, tt_hidden)
    return result


def num_params(module) -> int:
    """Number of trainable numbers of ``module``.

    Raises
    ------
    TypeError
        If ``module`` is not a Module.
    """
    return _check_module(module, "module").num_params


def recurrent_num_params(module) -> int:
    """Number of trainable numbers in the recurrent cells of ``module`` (0 if none)."""
    return sum(cell.num_params for cell in _cells(_check_module(module, "module")))


def compression_ratio(dense_module, tt_module, part: str = "recurrent") -> float:
    """How many times fewer parameters ``tt_module`` has than ``dense_module``.

    Parameters
    ----------
    dense_module, tt_module : Module
    part : {"recurrent", "all"}
        Count only the recurrent cells (the default, the usual measure for
        TT-RNNs, leaving out pre- and post-nets) or every parameter.

    Returns
    -------
    float
        ``count(dense_module) / count(tt_module)``.

    Raises
    ------
    ValueError
        For an unknown ``part``, or a module without recurrent cells when
        ``part="recurrent"``.
    """
    if part not in ("recurrent", "all"):
        raise ValueError(f"part must be 'recurrent' or 'all', got {part!r}")
    counts = []
    for module, name in ((dense_module, "dense_module"), (tt_module, "tt_module")):
        _check_module(module, name)
        if part == "all":
            counts.append(module.num_params)
        elif not _cells(module):
            raise ValueError(
                f"{name} must contain an RNNCell or GRUCell for part='recurrent', got a "
                f"{type(module).__name__} without one"
            )
        else:
            counts.append(recurrent_num_params(module))
    return counts[0] / counts[1]
