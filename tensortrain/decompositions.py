"""TT-SVD: dense tensors and matrices to TT format with a relative accuracy.

The truncation rule used here (:func:`truncation_rank`) is shared with TT
rounding: at each of the ``d - 1`` bonds the discarded singular values have a
Frobenius norm of at most ``eps / sqrt(d - 1)`` times the norm of the whole
tensor, so the result satisfies ``||A - TT||_F <= eps * ||A||_F``.
"""

from __future__ import annotations

import math

import array_api_compat
import numpy as np

from . import backend
from .errors import ShapeMismatchError, check_eps, check_finite, check_max_rank, check_modes
from .tensor_train import TensorTrain
from .tt_matrix import TTMatrix

__all__ = ["tt_svd", "matrix_from_dense", "truncation_rank", "safe_norm"]


def safe_norm(xp, a):
    """Frobenius norm of ``a`` that neither overflows nor underflows (0-d array)."""
    mags = xp.abs(a)
    peak = xp.max(mags)
    unit = xp.where(peak > 0, peak, xp.ones_like(peak))
    return peak * xp.sqrt(xp.sum((mags / unit) ** 2))


def truncation_rank(xp, s, delta, max_rank=None) -> int:
    """Smallest rank whose discarded singular values have norm ``<= delta``.

    Parameters
    ----------
    s : array
        Singular values in descending order.
    delta : float or 0-d array
        Absolute threshold on the Frobenius norm of the discarded tail. A
        ``delta`` of exactly 0 keeps every singular value (unless all are 0).
    max_rank : int, optional
        Upper bound on the result.

    Returns
    -------
    int
        A rank ``>= 1``; an all-zero ``s`` gives 1.

    Notes
    -----
    The values are divided by the largest one before squaring, so nothing
    overflows, and the tail sums are accumulated from the smallest value up,
    so a long tail of tiny values is not lost to rounding. Only the final
    count is copied to the host.
    """
    size = s.shape[0]
    if isinstance(delta, (int, float)) and delta == 0:
        rank = size if bool(s[0] > 0) else 1
    else:
        peak = s[0]
        unit = xp.where(peak > 0, peak, xp.ones_like(peak))
        rel = s / unit
        tails = xp.flip(xp.cumulative_sum(xp.flip(rel * rel)))
        threshold = (delta / unit) ** 2
        rank = max(backend.to_int(xp.sum(xp.astype(tails > threshold, xp.int64))), 1)
    if max_rank is not None:
        rank = min(rank, max_rank)
    return rank


def _left_factor(xp, C):
    """Left singular vectors and values of ``C``, and the right factor or None.

    For a short, wide ``C`` (the usual first unfoldings) only the triangular
    factor of ``C^H = Q R`` is computed and the small ``R^H`` is decomposed:
    ``C = R^H Q^H = U S (Q W)^H``. This is as accurate as an SVD of ``C``
    (Householder QR is backward stable; no Gram matrix is formed) and several
    times faster. The right factor is then ``U^H C``, formed by the caller for
    the kept columns only.
    """
    rows, cols = C.shape
    if 2 * rows <= cols:
        R = backend.r_factor(xp, backend.conj_transpose(xp, C))
        U, s, _ = backend.svd(xp, backend.conj_transpose(xp, R))
        return U, s, None
    return backend.svd(xp, C)


def _prepare(array, name: str):
    if not array_api_compat.is_array_api_obj(array):
        array = np.asarray(array)
    xp = backend.namespace(array)
    dtype = backend.working_dtype(xp, array.dtype, name)
    if array.dtype != dtype:
        array = xp.astype(array, dtype)
    if array.ndim == 0 or any(n == 0 for n in array.shape):
        raise ShapeMismatchError(
            f"{name} must have at least one axis and no empty axis, got shape {tuple(array.shape)}"
        )
    check_finite(xp, array, name)
    return xp, array


def _tt_svd_cores(xp, array, shape, eps, max_rank):
    d = len(shape)
    eps_bond = eps / math.sqrt(d - 1) if d > 1 else 0.0
    cores, rank, delta = [], 1, None
    rest = xp.reshape(array, (shape[0], -1))
    for k in range(d - 1):
        rest = xp.reshape(rest, (rank * shape[k], -1))
        U, s, Vh = _left_factor(xp, rest)
        if delta is None:  # the first unfolding holds the whole norm
            delta = 0.0 if eps_bond == 0 else eps_bond * safe_norm(xp, s)
        new_rank = truncation_rank(xp, s, delta, None if max_rank is None else max_rank[k])
        U = U[:, :new_rank]
        cores.append(xp.reshape(U, (rank, shape[k], new_rank)))
        if Vh is None:
            rest = xp.matmul(backend.conj_transpose(xp, U), rest)
        else:
            rest = s[:new_rank, None] * Vh[:new_rank, :]
        rank = new_rank
    cores.append(xp.reshape(rest, (rank, shape[-1], 1)))
    return cores


def tt_svd(array, eps: float = 1e-10, max_rank=None) -> TensorTrain:
    """Decompose a dense tensor into TT format (Oseledets' TT-SVD).

    Parameters
    ----------
    array : array
        Dense tensor with at least one axis, of a float, complex, integer or
        bool dtype (integers and bools are converted to float64), from any
        supported array library; the result lives in the same library.
    eps : float, default 1e-10
        Relative Frobenius accuracy of the whole result. ``eps=0`` keeps every
        singular value (exact up to rounding).
    max_rank : int or sequence of int, optional
        Upper bound on every TT-rank, or one bound per bond.

    Returns
    -------
    TensorTrain
        Left-orthogonal: every core but the last has orthonormal columns
        when reshaped to ``(r_{k-1} n_k, r_k)``.

    Raises
    ------
    ValueError
        For a negative or NaN ``eps``, a non-positive ``max_rank``, an empty
        axis, or NaN/Inf in ``array``.
    TypeError
        For an unsupported dtype.

    Notes
    -----
    Guarantee: ``||A - TT||_F <= eps * ||A||_F`` whenever ``max_rank`` does
    not bind; the ranks are at most ``sqrt(d-1)`` times worse than the best
    possible at this accuracy. Ranks depend on the relative decay of the
    singular values, not on the scale of ``array``; a zero tensor gives an
    exact zero TT of rank 1.

    Cost: ``O(n_1 N r)`` for ``N = prod(shape)`` (dominated by a QR of the
    first unfolding), with peak memory a small multiple of the input.
    """
    eps = check_eps(eps)
    xp, array = _prepare(array, "array")
    shape = tuple(int(n) for n in array.shape)
    max_rank = check_max_rank(max_rank, len(shape) - 1)
    return TensorTrain._trusted(_tt_svd_cores(xp, array, shape, eps, max_rank))


def matrix_from_dense(matrix, row_modes, col_modes, eps: float = 1e-10, max_rank=None) -> TTMatrix:
    """Decompose a dense ``(M, N)`` matrix into a TT-matrix.

    Row ``i`` and column ``j`` are split into C-order multi-indices over
    ``row_modes`` and ``col_modes``; mode pairs ``(m_k, n_k)`` are fused and
    the resulting ``d``-way tensor goes through :func:`tt_svd`.

    Parameters
    ----------
    matrix : array of shape (M, N)
    row_modes, col_modes : sequence of int
        Same length ``d``, with ``prod(row_modes) == M`` and
        ``prod(col_modes) == N``. Use :func:`tensortrain.factor_modes` to
        choose them.
    eps, max_rank
        As for :func:`tt_svd`; the guarantee is ``||W - TT||_F <= eps ||W||_F``.

    Returns
    -------
    TTMatrix

    Raises
    ------
    ShapeMismatchError
        When the modes do not multiply to the matrix's sizes or have different
        lengths.
    """
    eps = check_eps(eps)
    row_modes = check_modes(row_modes, "row_modes")
    col_modes = check_modes(col_modes, "col_modes")
    if len(row_modes) != len(col_modes):
        raise ShapeMismatchError(
            f"row_modes and col_modes must have the same length, got {len(row_modes)} and {len(col_modes)}"
        )
    xp, matrix = _prepare(matrix, "matrix")
    if matrix.ndim != 2:
        raise ShapeMismatchError(f"matrix must be 2-d, got shape {tuple(matrix.shape)}")
    rows, cols = (int(n) for n in matrix.shape)
    if math.prod(row_modes) != rows or math.prod(col_modes) != cols:
        raise ShapeMismatchError(
            f"row_modes {row_modes} and col_modes {col_modes} multiply to "
            f"({math.prod(row_modes)}, {math.prod(col_modes)}), but matrix has shape ({rows}, {cols})"
        )
    d = len(row_modes)
    max_rank = check_max_rank(max_rank, d - 1)
    tensor = xp.reshape(matrix, row_modes + col_modes)
    order = tuple(p for k in range(d) for p in (k, d + k))
    fused = tuple(m * n for m, n in zip(row_modes, col_modes))
    tensor = xp.reshape(xp.permute_dims(tensor, order), fused)
    cores = _tt_svd_cores(xp, tensor, fused, eps, max_rank)
    return TTMatrix._trusted(
        [
            xp.reshape(c, (c.shape[0], m, n, c.shape[2]))
            for c, m, n in zip(cores, row_modes, col_modes)
        ]
    )
