"""Fully connected layers: dense :class:`Linear` and :class:`TTLinear` with a TT-matrix weight.

Both compute ``y = x @ W.T + b`` on inputs of shape ``(..., in_features)``
and have hand-written backward passes. Besides the :class:`Module` contract
(``forward`` keeps one cache for the next ``backward``) each layer offers
:meth:`~Linear.forward_with_cache` and :meth:`~Linear.backward_from_cache`,
which hand the cache to the caller; a recurrent cell that applies one layer at
every time step keeps one cache per step with them.

``TTLinear`` multiplies by its cores one at a time, left to right or right to
left, whichever needs fewer flops for the layer's modes and ranks, and keeps
the intermediate results for the backward pass, which walks the chain in
reverse at about twice the forward cost.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import array_api_compat
import numpy as np

from .. import backend
from ..construct import clip_ranks
from ..contract import einsum
from ..errors import ShapeMismatchError, check_modes, check_positive_int
from ..tt_matrix import TTMatrix
from . import init
from .module import Module, Parameter

__all__ = ["Linear", "TTLinear", "chain_flops", "chain_direction"]


def _flatten_input(x, in_features: int, dtype):
    """``x`` of shape (..., in_features) as a (B, in_features) array of ``dtype``."""
    if not array_api_compat.is_array_api_obj(x):
        x = np.asarray(x)
    xp = backend.namespace(x)
    if x.ndim == 0 or x.shape[-1] != in_features:
        raise ShapeMismatchError(
            f"x must have shape (..., {in_features}), got {tuple(x.shape)}"
        )
    if x.dtype != dtype:
        x = xp.astype(x, dtype)
    lead = tuple(int(n) for n in x.shape[:-1])
    return xp.reshape(x, (math.prod(lead), in_features)), lead


def _flatten_grad(dy, lead, out_features: int):
    xp = backend.namespace(dy)
    if tuple(dy.shape) != lead + (out_features,):
        raise ShapeMismatchError(
            f"dy must have the output's shape {lead + (out_features,)}, got {tuple(dy.shape)}"
        )
    return xp.reshape(dy, (math.prod(lead), out_features))


def _accumulate(param: Parameter, grad) -> None:
    param.grad = param.grad + grad


def _zero_bias(size: int, dtype, like):
    return init.place(np.zeros(size), dtype, like)


class _Layer(Module):
    """What the two fully connected layers share: shapes, bias and the cache protocol."""

    in_features: int
    out_features: int
    bias: Parameter | None

    def forward(self, x):
        """``y = x @ W.T + b`` for ``x`` of shape ``(..., in_features)``; keeps the cache."""
        y, self._cache = self.forward_with_cache(x)
        return y

    def backward(self, dy):
        """Gradient with respect to the last ``forward``'s input; adds the parameter gradients.

        Raises
        ------
        RuntimeError
            If no ``forward`` came before.
        """
        cache = getattr(self, "_cache", None)
        if cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self.backward_from_cache(dy, cache)

    @property
    def dtype(self):
        """The floating dtype of the parameters."""
        return self.parameters()[0].value.dtype

    def _add_bias(self, y):
        return y if self.bias is None else y + self.bias.value

    def _bias_backward(self, dy2) -> None:
        if self.bias is not None:
            _accumulate(self.bias, backend.namespace(dy2).sum(dy2, axis=0))


class Linear(_Layer):
    """Dense layer ``y = x @ W.T + b`` with ``W`` stored as ``(out_features, in_features)``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool, default True
        Whether to learn a bias (initialized to zero).
    rng : int or numpy.random.Generator, optional
        Seed or generator for the weight.
    dtype : dtype, default float32
    like : array, optional
        The parameters are put in this array's library and device (NumPy by default).

    Attributes
    ----------
    weight : Parameter
        Glorot-uniform: uniform on ``[-a, a]`` with ``a = sqrt(6 / (in + out))``,
        so the standard deviation is ``sqrt(2 / (in + out))``.
    bias : Parameter or None

    Notes
    -----
    Cost: forward ``2 B in out`` flops for ``B`` rows, backward twice that.
    """

    def __init__(
        self, in_features, out_features, bias: bool = True, rng=None, dtype=None, like=None
    ):
        self.in_features = check_positive_int(in_features, "in_features")
        self.out_features = check_positive_int(out_features, "out_features")
        shape = (self.out_features, self.in_features)
        self.weight = Parameter(init.glorot_uniform(shape, rng=rng, dtype=dtype, like=like))
        self.bias = Parameter(_zero_bias(self.out_features, dtype, like)) if bias else None

    def forward_with_cache(self, x):
        """``(y, cache)`` for ``x`` of shape ``(..., in_features)``, cast to the layer dtype.

        Raises
        ------
        ShapeMismatchError
            If the last axis of ``x`` is not ``in_features`` long.
        """
        W = self.weight.value
        xp = backend.namespace(W)
        x2, lead = _flatten_input(x, self.in_features, W.dtype)
        y = self._add_bias(xp.matmul(x2, xp.matrix_transpose(W)))
        return xp.reshape(y, lead + (self.out_features,)), (x2, lead)

    def backward_from_cache(self, dy, cache):
        """Input gradient for ``dy`` of the output's shape; adds ``dW = dy^T x`` and ``db``."""
        x2, lead = cache
        W = self.weight.value
        xp = backend.namespace(W)
        dy2 = _flatten_grad(dy, lead, self.out_features)
        _accumulate(self.weight, xp.matmul(xp.matrix_transpose(dy2), x2))
        self._bias_backward(dy2)
        return xp.reshape(xp.matmul(dy2, W), lead + (self.in_features,))

    def __repr__(self) -> str:
        return (
            f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None})"
        )


# --------------------------------------------------------------------------- the TT chain
#
# Every intermediate is a 3-d array whose contracted pair of axes (a rank and a
# mode) comes first or last as a block, with q, everything else, on the other
# side, so that each step is one matmul that reads and writes the big arrays as
# they lie, forward and backward alike. Between steps one 2-d transpose,
# (X, s) -> (s, X), brings the next pair together: the only copy of a big
# array per step.

_CORE = "aijb"  # (r_{k-1}, m_k, n_k, r_k): a, b ranks; i output mode; j input mode
# Per direction: the state a step contracts, its result, and the state's gradient.
_SUBSCRIPTS = {"left": ("ajq", "qib", "qaj"), "right": ("jbq", "aiq", "qjb")}


@dataclass(frozen=True)
class _Layout:
    """Shapes and transposes of the chain for one direction, batch and weight shape."""

    order: tuple[int, ...]  # core indices in forward order
    states: tuple[tuple[int, int, int], ...]  # per position
    results: tuple[tuple[int, int, int], ...]  # per position
    forward_moves: tuple[int, ...]  # moved to the front before each step and after the last
    backward_moves: tuple[int, ...]  # before the first backward step, after each, at the end


@functools.lru_cache(maxsize=1024)
def _layout(direction: str, batch: int, row_modes: tuple, col_modes: tuple, ranks: tuple):
    """The :class:`_Layout` of ``x @ W.T`` for a batch of ``batch`` rows, computed once."""
    d = len(row_modes)
    if direction == "left":  # q_k = (j_>k, B, i_<k)
        order = tuple(range(d))
        q = [math.prod(col_modes[k + 1 :]) * batch * math.prod(row_modes[:k]) for k in range(d)]
        states = tuple((ranks[k], col_modes[k], q[k]) for k in order)
        results = tuple((q[k], row_modes[k], ranks[k + 1]) for k in order)
        forward = (math.prod(col_modes), *(ranks[k + 1] for k in order))
        backward = (1, *(col_modes[k] for k in reversed(order)), batch)
    else:  # q_k = (i_>k, B, j_<k)
        order = tuple(reversed(range(d)))
        q = [math.prod(row_modes[k + 1 :]) * batch * math.prod(col_modes[:k]) for k in range(d)]
        states = tuple((col_modes[k], ranks[k + 1], q[k]) for k in order)
        results = tuple((ranks[k], row_modes[k], q[k]) for k in order)
        forward = (*(col_modes[k] for k in order), batch)
        backward = (math.prod(row_modes), *(ranks[k + 1] for k in reversed(order)), 1)
    return _Layout(order, states, results, forward, backward)


def _to_front(xp, a, size: int):
    """View ``a`` as ``(X, size)`` and transpose it to ``(size, X)`` (a view; reshaping copies)."""
    return xp.permute_dims(xp.reshape(a, (math.prod(a.shape) // size, size)), (1, 0))


def chain_flops(direction: str, row_modes, col_modes, ranks, batch: int = 1) -> int:
    """Flops of the sequential product ``x @ W.T`` through the cores in one direction.

    Step ``k`` costs ``2 * size(result_k) * (r_{k-1} n_k)`` from the left
    (``"left"``, core 1 first) and ``2 * size(result_k) * (n_k r_k)`` from the
    right (``"right"``, core d first); the backward pass costs twice the total.

    Parameters
    ----------
    direction : {"left", "right"}
    row_modes, col_modes, ranks : sequence of int
        Of the TT-matrix ``W``; ``ranks`` has length ``d + 1``.
    batch : int, default 1
    """
    if direction not in _SUBSCRIPTS:
        raise ValueError(f"direction must be 'left' or 'right', got {direction!r}")
    layout = _layout(direction, int(batch), tuple(row_modes), tuple(col_modes), tuple(ranks))
    return sum(
        2 * math.prod(result) * state[0] * state[1]
        for state, result in zip(layout.states, layout.results)
    )


@functools.lru_cache(maxsize=1024)
def chain_direction(row_modes: tuple, col_modes: tuple, ranks: tuple) -> str:
    """``"left"`` or ``"right"``: the cheaper direction of the chain (ties go left).

    Both counts are linear in the batch size, so the choice depends only on
    the modes and ranks and is made once per layer shape.
    """
    left = chain_flops("left", row_modes, col_modes, ranks)
    right = chain_flops("right", row_modes, col_modes, ranks)
    return "left" if left <= right else "right"


def _chain_forward(xp, cores, x2, row_modes, col_modes, ranks, direction=None):
    """``x2 @ W.T`` for ``x2`` of shape (B, N); returns the result and the stored states.

    ``direction`` defaults to :func:`chain_direction`; both give the same result.
    """
    batch = int(x2.shape[0])
    if direction is None:
        direction = chain_direction(row_modes, col_modes, ranks)
    layout = _layout(direction, batch, row_modes, col_modes, ranks)
    state_sub, result_sub, _ = _SUBSCRIPTS[direction]
    current, states = x2, []
    for position, k in enumerate(layout.order):
        moved = _to_front(xp, current, layout.forward_moves[position])
        state = xp.reshape(moved, layout.states[position])
        states.append(state)
        current = einsum(f"{state_sub},{_CORE}->{result_sub}", state, cores[k])
    y = _to_front(xp, current, layout.forward_moves[-1])
    return xp.reshape(y, (batch, math.prod(row_modes))), (layout, direction, states)


def _chain_backward(xp, cores, dy2, stored, row_modes, col_modes, ranks):
    """Core gradients and ``dx`` of :func:`_chain_forward` for the output gradient ``dy2``."""
    layout, direction, states = stored
    state_sub, result_sub, grad_sub = _SUBSCRIPTS[direction]
    core_grads = [None] * len(cores)
    current = _to_front(xp, dy2, layout.backward_moves[0])
    for step, position in enumerate(reversed(range(len(cores))), start=1):
        k = layout.order[position]
        d_result = xp.reshape(current, layout.results[position])
        core_grads[k] = einsum(f"{state_sub},{result_sub}->{_CORE}", states[position], d_result)
        d_state = einsum(f"{result_sub},{_CORE}->{grad_sub}", d_result, cores[k])
        current = _to_front(xp, d_state, layout.backward_moves[step])
    dx = _to_front(xp, current, layout.backward_moves[-1])
    return core_grads, xp.reshape(dx, (int(dy2.shape[0]), math.prod(col_modes)))


class TTLinear(_Layer):
    """Fully connected layer whose weight is a TT-matrix: ``y = x @ W.T + b``.

    ``W`` has ``row_modes = out_modes`` and ``col_modes = in_modes``, so
    ``W.shape == (out_features, in_features)`` as for :class:`Linear`.

    Parameters
    ----------
    in_modes, out_modes : sequence of int
        Same length ``d``; ``in_features = prod(in_modes)``,
        ``out_features = prod(out_modes)``. :func:`tensortrain.factor_modes`
        chooses balanced ones.
    ranks : int or sequence of int
        TT-ranks: one for every bond, ``d - 1`` values, or ``d + 1`` with 1 at
        both ends; ranks no exact TT-matrix of these modes needs are clipped
        (:func:`tensortrain.clip_ranks` on the fused modes ``m_k n_k``).
    bias : bool, default True
    rng : int or numpy.random.Generator, optional
    dtype : dtype, default float32
    like : array, optional
        The parameters are put in this array's library and device.

    Attributes
    ----------
    core0, ..., core{d-1} : Parameter
        The cores ``(r_{k-1}, out_modes[k], in_modes[k], r_k)``, i.i.d.
        Gaussian with the standard deviation :func:`~tensortrain.nn.init.tt_core_std`
        that gives the dense ``W`` the Glorot standard deviation
        ``sqrt(2 / (in_features + out_features))`` for any ranks and ``d``.
    bias : Parameter or None
        Zero at first.

    Raises
    ------
    ValueError
        For non-positive modes or ranks, or mode lists of different lengths.

    Notes
    -----
    Cost: forward :func:`chain_flops` of the cheaper direction,
    ``O(B d r^2 m max(in, out))`` for the largest mode ``m``; backward twice
    that; memory for the ``d`` intermediate results of the forward chain.

    Limitations: every core is one matmul plus one transpose of the
    intermediate, each with a fixed Python and dispatch cost (tens of
    microseconds on NumPy), so for small batches a TT layer is not faster
    than a dense one of the same shape even when it needs fewer flops.
    """

    def __init__(
        self, in_modes, out_modes, ranks, bias: bool = True, rng=None, dtype=None, like=None
    ):
        in_modes, out_modes = _check_mode_pair(in_modes, out_modes)
        r = clip_ranks([m * n for m, n in zip(out_modes, in_modes)], ranks)
        target = init.glorot_std(math.prod(in_modes), math.prod(out_modes))
        std = init.tt_core_std(out_modes, in_modes, r, target)
        generator = np.random.default_rng(rng)
        cores = [
            init.place(std * generator.standard_normal((r[k], m, n, r[k + 1])), dtype, like)
            for k, (m, n) in enumerate(zip(out_modes, in_modes))
        ]
        bias_value = _zero_bias(math.prod(out_modes), dtype, like) if bias else None
        self._set_parameters(cores, bias_value)

    def _set_parameters(self, cores, bias_value) -> None:
        self.in_modes = tuple(int(c.shape[2]) for c in cores)
        self.out_modes = tuple(int(c.shape[1]) for c in cores)
        self.in_features = math.prod(self.in_modes)
        self.out_features = math.prod(self.out_modes)
        for k, core in enumerate(cores):
            setattr(self, f"core{k}", Parameter(core))
        self.bias = None if bias_value is None else Parameter(bias_value)

    @classmethod
    def from_dense(
        cls, linear_or_weight, in_modes, out_modes, eps: float | None = None, max_rank=None
    ):
        """Compress a dense layer or an ``(out, in)`` weight matrix with TT-SVD.

        Parameters
        ----------
        linear_or_weight : Linear or array of shape (out_features, in_features)
            A :class:`Linear` gives its weight and a copy of its bias; an array
            gives a layer with a zero bias. The result has the dtype of the
            weight (float32 or float64) and lives in its library.
        in_modes, out_modes : sequence of int
            Modes with ``prod(in_modes) == in_features`` and
            ``prod(out_modes) == out_features``.
        eps : float, optional
            Relative Frobenius accuracy, ``||W - TT||_F <= eps ||W||_F`` when
            ``max_rank`` does not bind.
        max_rank : int or sequence of int, optional
            Upper bound on the TT-ranks. Either or both may be given; with
            neither, ``eps=0`` is used, which keeps every singular value
            (exact up to rounding, at the full ranks).

        Returns
        -------
        TTLinear

        Raises
        ------
        ShapeMismatchError
            When the modes do not multiply to the weight's shape.
        TypeError
            For a weight that is neither a :class:`Linear` nor an array, or of
            a dtype other than float32 or float64.

        Notes
        -----
        The decomposition runs in float64 and the cores are then cast to the
        layer dtype. Cost: one TT-SVD of the weight, ``O(out in r)``.
        """
        weight, bias_value = _dense_parts(linear_or_weight)
        xp = backend.namespace(weight)
        dtype = weight.dtype
        in_modes, out_modes = _check_mode_pair(in_modes, out_modes)
        tt = TTMatrix.from_dense(
            xp.astype(weight, xp.float64), out_modes, in_modes,
            eps=0.0 if eps is None else eps, max_rank=max_rank,
        )
        layer = cls.__new__(cls)
        layer._set_parameters([xp.astype(c, dtype) for c in tt.cores], bias_value)
        return layer

    @property
    def cores(self) -> list[Parameter]:
        """The core parameters, ``core0`` first."""
        return [getattr(self, f"core{k}") for k in range(len(self.in_modes))]

    @property
    def weight(self) -> TTMatrix:
        """The current weight as a :class:`tensortrain.TTMatrix` (shares the core arrays)."""
        return TTMatrix([p.value for p in self.cores])

    @property
    def ranks(self) -> tuple[int, ...]:
        """TT-ranks ``(1, r_1, ..., r_{d-1}, 1)``."""
        return tuple(int(p.value.shape[0]) for p in self.cores) + (1,)

    def forward_with_cache(self, x):
        """``(y, cache)`` for ``x`` of shape ``(..., in_features)``, cast to the layer dtype.

        Raises
        ------
        ShapeMismatchError
            If the last axis of ``x`` is not ``in_features`` long.
        """
        cores = [p.value for p in self.cores]
        xp = backend.namespace(*cores)
        x2, lead = _flatten_input(x, self.in_features, cores[0].dtype)
        y, stored = _chain_forward(xp, cores, x2, self.out_modes, self.in_modes, self.ranks)
        y = self._add_bias(y)
        return xp.reshape(y, lead + (self.out_features,)), (stored, lead)

    def backward_from_cache(self, dy, cache):
        """Input gradient for ``dy`` of the output's shape; adds the core gradients and ``db``."""
        stored, lead = cache
        cores = [p.value for p in self.cores]
        xp = backend.namespace(*cores)
        dy2 = _flatten_grad(dy, lead, self.out_features)
        core_grads, dx2 = _chain_backward(
            xp, cores, dy2, stored, self.out_modes, self.in_modes, self.ranks
        )
        for param, grad in zip(self.cores, core_grads):
            _accumulate(param, grad)
        self._bias_backward(dy2)
        return xp.reshape(dx2, lead + (self.in_features,))

    def __repr__(self) -> str:
        return (
            f"TTLinear(in_modes={self.in_modes}, out_modes={self.out_modes}, "
            f"ranks={self.ranks}, bias={self.bias is not None})"
        )


def _check_mode_pair(in_modes, out_modes):
    in_modes = check_modes(in_modes, "in_modes")
    out_modes = check_modes(out_modes, "out_modes")
    if len(in_modes) != len(out_modes):
        raise ShapeMismatchError(
            f"in_modes and out_modes must have the same length, got {in_modes} and {out_modes}"
        )
    return in_modes, out_modes


def _dense_parts(linear_or_weight):
    """The (out, in) weight array and a bias copy (zeros for a bare array)."""
    if isinstance(linear_or_weight, Linear):
        weight = linear_or_weight.weight.value
        bias = linear_or_weight.bias
        xp = backend.namespace(weight)
        return weight, (None if bias is None else xp.asarray(bias.value, copy=True))
    if not array_api_compat.is_array_api_obj(linear_or_weight):
        raise TypeError(
            f"linear_or_weight must be an nn.Linear or an (out, in) array, "
            f"got {type(linear_or_weight).__name__}"
        )
    weight = linear_or_weight
    xp = backend.namespace(weight)
    if weight.dtype not in (xp.float32, xp.float64):
        raise TypeError(f"linear_or_weight must have dtype float32 or float64, got {weight.dtype}")
    if weight.ndim != 2:
        raise ShapeMismatchError(
            f"linear_or_weight must be 2-d (out, in), got shape {tuple(weight.shape)}"
        )
    device = array_api_compat.device(weight)
    return weight, xp.zeros((int(weight.shape[0]),), dtype=weight.dtype, device=device)
