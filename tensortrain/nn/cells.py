"""Recurrent cells: one time step of a simple RNN or a GRU, dense or in TT format.

A cell holds two projections onto the stacked gate pre-activations: ``w_ih``
from the input and ``w_hh`` from the previous hidden state, each an
:class:`~tensortrain.nn.Linear` or a :class:`~tensortrain.nn.TTLinear`. For a
TT projection the output modes are the hidden modes with the first one
multiplied by the number of gates, so in C order the contiguous blocks of
``hidden_size`` in the stacked output are exactly the gates.

:meth:`RecurrentCell.forward_step` and :meth:`RecurrentCell.backward_step` run
one step on their own; :class:`~tensortrain.nn.Recurrent` drives the cells over
a whole sequence and batches the input projection over all time steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from .. import backend
from ..construct import factor_modes
from ..errors import check_modes, check_positive_int
from .activations import sigmoid
from .init import orthogonal
from .linear import Linear, TTLinear
from .module import Module

__all__ = ["RecurrentCell", "RNNCell", "GRUCell", "StepCache", "resolve_modes", "gate_modes"]


def _checked_modes(modes, size: int, name: str, size_name: str):
    if modes is None:
        return None
    modes = check_modes(modes, name)
    if math.prod(modes) != size:
        raise ValueError(
            f"{name} must multiply to {size_name}={size}, got {modes} (product {math.prod(modes)})"
        )
    return modes


def resolve_modes(input_size, hidden_size, input_modes=None, hidden_modes=None, tt_input=True):
    """Mode tuples for the TT projections of a cell, with defaults filled in.

    Missing modes come from :func:`tensortrain.factor_modes`; when the input
    projection is TT, both tuples get the same length (a TT-matrix pairs one
    row mode with one column mode per core).

    Parameters
    ----------
    input_size, hidden_size : int
    input_modes, hidden_modes : sequence of int, optional
        Must multiply to ``input_size`` and ``hidden_size``.
    tt_input : bool
        Whether the input projection is TT (only then must the lengths agree).

    Returns
    -------
    (input_modes, hidden_modes) : tuple of tuple of int

    Raises
    ------
    ValueError
        For modes with the wrong product, or of different lengths when
        ``tt_input`` is set.
    """
    input_modes = _checked_modes(input_modes, input_size, "input_modes", "input_size")
    hidden_modes = _checked_modes(hidden_modes, hidden_size, "hidden_modes", "hidden_size")
    if hidden_modes is None:
        d = len(input_modes) if (tt_input and input_modes is not None) else None
        hidden_modes = factor_modes(hidden_size, d)
    if input_modes is None:
        input_modes = factor_modes(input_size, len(hidden_modes))
    if tt_input and len(input_modes) != len(hidden_modes):
        raise ValueError(
            "input_modes and hidden_modes must have the same length for a TT input "
            f"projection, got {input_modes} and {hidden_modes}"
        )
    return input_modes, hidden_modes


def gate_modes(hidden_modes, num_gates: int) -> tuple[int, ...]:
    """Output modes of a stacked gate projection: the first hidden mode times ``num_gates``."""
    return (num_gates * hidden_modes[0],) + tuple(hidden_modes[1:])


@dataclass
class StepCache:
    """What one time step keeps for its backward pass.

    Attributes
    ----------
    h_prev : array
        The previous hidden state, ``(B, H)``.
    hidden : Any
        The cache of ``w_hh.forward_with_cache(h_prev)``.
    values : tuple of arrays
        The cell's own intermediate values (gates, candidate state).
    input : Any
        The cache of ``w_ih`` for this step alone; only
        :meth:`RecurrentCell.forward_step` sets it (a sequence layer projects
        all steps at once and keeps that cache itself).
    """

    h_prev: Any
    hidden: Any
    values: tuple
    input: Any = None


class RecurrentCell(Module):
    """Common part of :class:`RNNCell` and :class:`GRUCell`.

    Parameters
    ----------
    input_size, hidden_size : int
        ``N`` and ``H``.
    input_modes, hidden_modes : sequence of int, optional
        Modes of the TT projections (see :func:`resolve_modes`); used only for
        the sides that are TT.
    ranks : int or sequence of int, optional
        TT-ranks of both TT projections; required when one of them is TT.
    tt_input, tt_hidden : bool
        Make ``w_ih`` (input ``N`` to ``G*H``) or ``w_hh`` (``H`` to ``G*H``)
        a :class:`TTLinear` instead of a :class:`Linear`.
    rng : int or numpy.random.Generator, optional
        Seed or generator of the initial weights.
    dtype : dtype, default float32
    like : array, optional
        The parameters are put in this array's library and device.

    Attributes
    ----------
    w_ih, w_hh : Linear or TTLinear
        The input and hidden projections onto the stacked gates.
    input_modes, hidden_modes : tuple of int or None
        The modes of the TT projections (filled in when a side is TT).
    cache : StepCache or None
        The last :meth:`forward_step`'s cache.

    Raises
    ------
    ValueError
        For non-positive sizes, modes that do not multiply to the sizes, or
        a TT side without ``ranks``.

    Notes
    -----
    Initialization: a dense ``w_ih`` has :class:`Linear`'s Glorot init; a
    dense ``w_hh`` is orthogonal in each ``H x H`` gate block; TT projections
    have :class:`TTLinear`'s Glorot-equivalent core init; all biases are zero.
    """

    num_gates = 1

    def __init__(
        self,
        input_size,
        hidden_size,
        input_modes=None,
        hidden_modes=None,
        ranks=None,
        tt_input=False,
        tt_hidden=False,
        rng=None,
        dtype=None,
        like=None,
    ):
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.input_modes = _checked_modes(
            input_modes, self.input_size, "input_modes", "input_size"
        )
        self.hidden_modes = _checked_modes(
            hidden_modes, self.hidden_size, "hidden_modes", "hidden_size"
        )
        if tt_input or tt_hidden:
            if ranks is None:
                raise ValueError(
                    "ranks must be given when tt_input or tt_hidden is True, got None"
                )
            self.input_modes, self.hidden_modes = resolve_modes(
                self.input_size, self.hidden_size, input_modes, hidden_modes, tt_input
            )
        rng = np.random.default_rng(rng)
        kwargs = dict(rng=rng, dtype=dtype, like=like)
        self.w_ih = self._projection(tt_input, self.input_size, self.input_modes, ranks, kwargs)
        self.w_hh = self._projection(tt_hidden, self.hidden_size, self.hidden_modes, ranks, kwargs)
        if not tt_hidden:
            self._orthogonal_blocks(rng)
        self.cache = None

    def _projection(self, tt_format, in_size, in_modes, ranks, kwargs):
        """A Linear ``in_size -> G*H``, or a TTLinear with the stacked gate modes."""
        if tt_format:
            out_modes = gate_modes(self.hidden_modes, self.num_gates)
            return TTLinear(in_modes, out_modes, ranks, **kwargs)
        return Linear(in_size, self.num_gates * self.hidden_size, **kwargs)

    def _orthogonal_blocks(self, rng) -> None:
        weight = self.w_hh.weight
        H, like = self.hidden_size, weight.value
        blocks = [orthogonal((H, H), rng, like.dtype, like) for _ in range(self.num_gates)]
        weight.value = backend.namespace(like).concat(blocks, axis=0)

    @property
    def tt_input(self) -> bool:
        """Whether the input projection is in TT format."""
        return isinstance(self.w_ih, TTLinear)

    @property
    def tt_hidden(self) -> bool:
        """Whether the hidden-to-hidden projection is in TT format."""
        return isinstance(self.w_hh, TTLinear)

    def __repr__(self) -> str:
        kinds = ("TT" if self.tt_input else "dense", "TT" if self.tt_hidden else "dense")
        return (
            f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"w_ih={kinds[0]}, w_hh={kinds[1]})"
        )

    def gates(self, gx, gh, h_prev):
        """New state from the input and hidden projections ``gx``, ``gh`` ``(B, G*H)``.

        Returns ``(h, values)``, ``values`` being what :meth:`gates_backward` needs.
        """
        raise NotImplementedError(f"{type(self).__name__} does not define gates")

    def gates_backward(self, dh, h_prev, values):
        """Gradients of :meth:`gates`: ``(dgx, dgh, dh_direct)``.

        ``dgx`` and ``dgh`` are the gradients of the two projections
        ``(B, G*H)``; ``dh_direct`` is the part of ``dL/dh_prev`` that does not
        pass through ``w_hh`` (None when there is none).
        """
        raise NotImplementedError(f"{type(self).__name__} does not define gates_backward")

    def check_state(self, h, batch: int, like, name: str):
        """A ``(B, H)`` state in the dtype of ``like``; zeros when ``h`` is None.

        Raises
        ------
        ValueError
            If ``h`` does not have shape ``(batch, hidden_size)``.
        """
        xp = backend.namespace(like)
        if h is None:
            device = array_api_compat.device(like)
            return xp.zeros((batch, self.hidden_size), dtype=like.dtype, device=device)
        if tuple(h.shape) != (batch, self.hidden_size):
            raise ValueError(
                f"{name} must have shape {(batch, self.hidden_size)} (batch, hidden_size), "
                f"got {tuple(h.shape)}"
            )
        return h if h.dtype == like.dtype else xp.astype(h, like.dtype)

    def step(self, gx, h_prev):
        """One step given its input projection ``gx = x_t W_ih^T + b_ih``.

        Returns ``(h_t, cache)`` with a :class:`StepCache` for :meth:`step_backward`.
        """
        gh, hidden_cache = self.w_hh.forward_with_cache(h_prev)
        h, values = self.gates(gx, gh, h_prev)
        return h, StepCache(h_prev, hidden_cache, values)

    def step_backward(self, dh, cache):
        """Backward of :meth:`step`: ``(dgx, dh_prev)``; adds the gradients of ``w_hh``."""
        dgx, dgh, dh_direct = self.gates_backward(dh, cache.h_prev, cache.values)
        dh_prev = self.w_hh.backward_from_cache(dgh, cache.hidden)
        if dh_direct is not None:
            dh_prev = dh_prev + dh_direct
        return dgx, dh_prev

    def forward_step(self, x_t, h_prev=None):
        """One time step ``h_t = cell(x_t, h_prev)`` for a batch ``x_t`` of shape ``(B, N)``.

        The step's cache is kept in ``self.cache`` for :meth:`backward_step`.
        ``h_prev`` defaults to zeros.

        Raises
        ------
        ValueError
            If ``x_t`` is not ``(B, input_size)`` or ``h_prev`` not ``(B, hidden_size)``.
        """
        if len(x_t.shape) != 2 or x_t.shape[1] != self.input_size:
            raise ValueError(
                f"x_t must have shape (batch, {self.input_size}), got {tuple(x_t.shape)}"
            )
        gx, input_cache = self.w_ih.forward_with_cache(x_t)
        h_prev = self.check_state(h_prev, x_t.shape[0], gx, "h_prev")
        h, cache = self.step(gx, h_prev)
        cache.input = input_cache
        self.cache = cache
        return h

    def backward_step(self, dh_t, cache=None):
        """Backward of one step: ``(dx_t, dh_prev)``, adding the parameter gradients.

        Parameters
        ----------
        dh_t : array
            ``dL/dh_t``, shape ``(B, H)``.
        cache : StepCache, optional
            The cache of the step to differentiate (``cell.cache`` right
            after its :meth:`forward_step`); by default the last step's.

        Raises
        ------
        ValueError
            If there is no cache from :meth:`forward_step`.
        """
        cache = self.cache if cache is None else cache
        if cache is None or cache.input is None:
            raise ValueError("cache must come from forward_step; call forward_step first")
        dgx, dh_prev = self.step_backward(dh_t, cache)
        return self.w_ih.backward_from_cache(dgx, cache.input), dh_prev

    def forward(self, x_t, h_prev=None):
        """Same as :meth:`forward_step`."""
        return self.forward_step(x_t, h_prev)

    def backward(self, dh_t):
        """Same as :meth:`backward_step` with the last step's cache: ``(dx_t, dh_prev)``."""
        return self.backward_step(dh_t)


class RNNCell(RecurrentCell):
    """Simple (Elman) recurrent cell, dense or TT.

    ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``

    Parameters are ``w_ih.*`` and ``w_hh.*``; see :class:`RecurrentCell`.
    """

    num_gates = 1

    def gates(self, gx, gh, h_prev):
        h = backend.namespace(gx).tanh(gx + gh)
        return h, (h,)

    def gates_backward(self, dh, h_prev, values):
        (h,) = values
        da = dh * (1.0 - h * h)
        return da, da, None


class GRUCell(RecurrentCell):
    """Gated recurrent unit, dense or TT, with the reset gate after the product.

    With the stacked projections split into gate blocks ``[r | z | n]``::

        r   = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)
        z   = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)
        n   = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
        h'  = (1 - z) * n + z * h

    as in PyTorch's ``GRUCell`` (Cho et al.'s original applies ``r`` to ``h``
    before the product). ``w_ih`` maps ``N`` to ``3H``, ``w_hh`` maps ``H`` to
    ``3H``; see :class:`RecurrentCell`.
    """

    num_gates = 3

    def gates(self, gx, gh, h_prev):
        xp = backend.namespace(gx)
        H = self.hidden_size
        r = sigmoid(gx[:, :H] + gh[:, :H])
        z = sigmoid(gx[:, H : 2 * H] + gh[:, H : 2 * H])
        gh_n = gh[:, 2 * H :]
        n = xp.tanh(gx[:, 2 * H :] + r * gh_n)
        h = n + z * (h_prev - n)
        return h, (r, z, n, gh_n)

    def gates_backward(self, dh, h_prev, values):
        xp = backend.namespace(dh)
        r, z, n, gh_n = values
        da_n = dh * (1.0 - z) * (1.0 - n * n)
        da_r = da_n * gh_n * r * (1.0 - r)
        da_z = dh * (h_prev - n) * z * (1.0 - z)
        dgx = xp.concat([da_r, da_z, da_n], axis=1)
        dgh = xp.concat([da_r, da_z, da_n * r], axis=1)
        return dgx, dgh, dh * z
