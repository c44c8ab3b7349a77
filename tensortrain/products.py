"""Products with TT-matrices: by dense vectors and batches, by TT tensors, by each other.

The dense products contract the cores and the reshaped operand as one
network whose pairwise order is chosen by :mod:`tensortrain.contract` to
minimize flops for the given shapes and ranks (so it is not always left to
right), planned once per shape and reused. The same plan lays out every
intermediate so that each step reads the previous one as it lies: for a batch
of vectors only products of cores are ever copied, the batch and the
intermediates built from it never are, and the result comes out in the
requested order.
"""

from __future__ import annotations

import functools
import math

import array_api_compat
import numpy as np

from . import backend
from ._base import TTBase
from .contract import einsum, plan, symbols
from .errors import ShapeMismatchError
from .tensor_train import TensorTrain
from .tt_matrix import TTMatrix

__all__ = ["matmul", "plan_dense_product"]


@functools.lru_cache(maxsize=256)
def _network(d: int, side: str, batch: bool, trailing: bool) -> str:
    """Einsum string of cores (boundary ranks squeezed) with a dense operand.

    ``side="right"``: ``W @ X`` with X reshaped to ``([z,] n_1..n_d [, k])``.
    ``side="left"``: ``X @ W`` with X reshaped to ``([z,] m_1..m_d)``.
    """
    sym = symbols(3 * d + 3)
    ranks, rows, cols = sym[: d + 1], sym[d + 1 : 2 * d + 1], sym[2 * d + 1 : 3 * d + 1]
    z, k = sym[3 * d + 1], sym[3 * d + 2]
    cores = []
    for p in range(d):
        left = ranks[p] if p > 0 else ""
        right = ranks[p + 1] if p < d - 1 else ""
        cores.append(left + rows[p] + cols[p] + right)
    head = z if batch else ""
    if side == "right":
        operand = head + "".join(cols) + (k if trailing else "")
        out = head + "".join(rows) + (k if trailing else "")
    else:
        operand = head + "".join(rows)
        out = head + "".join(cols)
    return ",".join(cores + [operand]) + "->" + out


def _squeezed_cores(xp, W: TTMatrix):
    cores = W.cores
    d = len(cores)
    if d == 1:
        return [xp.reshape(cores[0], cores[0].shape[1:3])]
    first, last = cores[0], cores[-1]
    return (
        [xp.reshape(first, first.shape[1:])]
        + cores[1:-1]
        + [xp.reshape(last, last.shape[:-1])]
    )


def _operand_layout(W: TTMatrix, x_shape, side: str):
    """Network layout of a dense operand: (operand shape, output shape, batch?, trailing?)."""
    rows, cols = W.shape
    x_shape = tuple(int(n) for n in x_shape)
    if len(x_shape) == 0:
        raise ShapeMismatchError(
            "x must have at least one axis for a matrix product, got a 0-d array"
        )
    if side == "right":  # W @ x
        size = x_shape[0] if len(x_shape) == 1 else x_shape[-2]
        if size != cols:
            raise ShapeMismatchError(
                f"W @ x needs x with {cols} rows (W has shape {W.shape}), got x of shape {x_shape}"
            )
        if len(x_shape) == 1:
            return W.col_modes, (rows,), False, False
        batch, trailing = x_shape[:-2], x_shape[-1]
        head = (math.prod(batch),) if batch else ()
        return head + W.col_modes + (trailing,), batch + (rows, trailing), bool(batch), True
    if x_shape[-1] != rows:  # x @ W
        raise ShapeMismatchError(
            f"x @ W needs x with {rows} columns (W has shape {W.shape}), got x of shape {x_shape}"
        )
    batch = x_shape[:-1]
    head = (math.prod(batch),) if batch else ()
    return head + W.row_modes, batch + (cols,), bool(batch), False


def _dense_product(W: TTMatrix, x, side: str):
    if not array_api_compat.is_array_api_obj(x):
        x = np.asarray(x)
    xp = backend.namespace(W._cores[0], x)
    dtype = backend.working_dtype(xp, x.dtype, "x")
    if x.dtype != dtype:
        x = xp.astype(x, dtype)
    operand_shape, out_shape, batch, trailing = _operand_layout(W, x.shape, side)
    subscripts = _network(W.num_cores, side, batch, trailing)
    result = einsum(subscripts, *_squeezed_cores(xp, W), xp.reshape(x, operand_shape))
    return xp.reshape(result, out_shape)


def plan_dense_product(W: TTMatrix, x_shape, side: str = "right"):
    """The cached :class:`~tensortrain.contract.Plan` of ``W @ x`` (``side="right"``) or ``x @ W``.

    Parameters
    ----------
    W : TTMatrix
    x_shape : tuple of int
        Shape of the dense operand, as :func:`matmul` takes it.
    side : {"right", "left"}, default "right"

    Returns
    -------
    Plan
        Its ``flops`` is the flop count of the order that is run and its
        ``elements_moved`` the elements its permutations copy.

    Raises
    ------
    ShapeMismatchError
        When ``x_shape`` does not fit ``W``.
    ValueError
        For a ``side`` other than "right" or "left".
    """
    if side not in ("right", "left"):
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    operand_shape, _, batch, trailing = _operand_layout(W, x_shape, side)
    subscripts = _network(W.num_cores, side, batch, trailing)
    return plan(subscripts, *(c.shape for c in _squeezed_cores(W.xp, W)), operand_shape)


def _tt_product(a: TTMatrix, b: TTBase):
    if a.col_modes != (b.shape if isinstance(b, TensorTrain) else b.row_modes):
        other = b.shape if isinstance(b, TensorTrain) else b.row_modes
        raise ShapeMismatchError(
            f"a @ b needs b's row modes to equal a's column modes {a.col_modes}, got {other}"
        )
    xp = backend.namespace(a._cores[0], b._cores[0])
    cores = []
    for ca, cb in zip(a.cores, b.cores):
        if isinstance(b, TensorTrain):
            prod = einsum("aijb,cjd->acibd", ca, cb)
            shape = (ca.shape[0] * cb.shape[0], ca.shape[1], ca.shape[3] * cb.shape[2])
        else:
            prod = einsum("aijb,cjld->acilbd", ca, cb)
            shape = (ca.shape[0] * cb.shape[0], ca.shape[1], cb.shape[2], ca.shape[3] * cb.shape[3])
        cores.append(xp.reshape(prod, shape))
    return type(b)._trusted(cores)


def matmul(a, b, eps: float | None = None, max_rank=None):
    """Matrix product involving a TT-matrix, with NumPy's matmul rules.

    ========================  ==================  ==========================
    a                         b                   result
    ========================  ==================  ==========================
    TTMatrix ``(M, N)``       dense ``(N,)``      dense ``(M,)``
    TTMatrix ``(M, N)``       dense ``(..., N, K)``  dense ``(..., M, K)``
    dense ``(..., M)``        TTMatrix ``(M, N)``  dense ``(..., N)``
    TTMatrix                  TensorTrain         TensorTrain (ranks multiply)
    TTMatrix                  TTMatrix            TTMatrix (ranks multiply)
    ========================  ==================  ==========================

    So a batch ``X`` of shape ``(B, N)`` is multiplied by ``W.T`` as ``X @ W.T``.

    Parameters
    ----------
    a, b
        The operands, from one array library.
    eps, max_rank : optional
        For the TT results only: round the product (see
        :func:`tensortrain.round`); by default it is returned exactly.

    Raises
    ------
    ShapeMismatchError
        When the inner sizes or modes differ.
    TypeError
        For operand types with no product here.

    Notes
    -----
    Cost of a dense product: the flop count of the planned order, at most
    ``O(d r^2 m max(M, N) K)`` for ``K`` vectors.
    """
    if isinstance(a, TTMatrix) and isinstance(b, TTBase):
        result = _tt_product(a, b)
        if eps is None and max_rank is None:
            return result
        from .canonical import round as round_tt

        return round_tt(result, eps=0.0 if eps is None else eps, max_rank=max_rank)
    if eps is not None or max_rank is not None:
        raise TypeError("eps and max_rank apply only to products whose result is in TT format")
    if isinstance(a, TTMatrix) and not isinstance(b, TTBase):
        return _dense_product(a, b, "right")
    if isinstance(b, TTMatrix) and not isinstance(a, TTBase):
        return _dense_product(b, a, "left")
    raise TypeError(
        f"matmul has no product of {type(a).__name__} and {type(b).__name__}; "
        "one operand must be a TTMatrix"
    )
