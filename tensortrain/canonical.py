"""Orthogonalization (canonical forms) and TT rounding.

Both work on the 3-d view of the cores, so they serve TT tensors and
TT-matrices alike. The QR sweeps keep every carried factor at unit norm and
collect the scale as a logarithm, so tensors whose norm does not fit in a
float still sweep safely and only the final result can over- or underflow.
"""

from __future__ import annotations

import math

import array_api_compat

from . import backend
from ._base import TTBase
from .decompositions import safe_norm, truncation_rank
from .errors import check_eps, check_max_rank

__all__ = ["orthogonalize", "round", "qr_sweep"]


def _normalized(xp, R):
    """``R / ||R||`` and ``log ||R||`` (0 for a zero ``R``), as arrays."""
    nrm = safe_norm(xp, R)
    unit = xp.where(nrm > 0, nrm, xp.ones_like(nrm))
    return R / xp.astype(unit, R.dtype), xp.log(unit)


def qr_sweep(cores, direction: str):
    """QR-orthogonalize 3-d cores, carrying unit-norm factors.

    Parameters
    ----------
    cores : list of arrays
        3-d cores ``(r_{k-1}, n_k, r_k)``.
    direction : {"left", "right"}
        ``"left"`` sweeps left to right, leaving cores ``0..d-2`` left-
        orthogonal; ``"right"`` sweeps right to left, leaving cores ``1..d-1``
        right-orthogonal.

    Returns
    -------
    cores : list of arrays
        The represented tensor divided by ``exp(log_scale)``.
    log_scale : 0-d array
        Natural logarithm of the scale taken out.

    Cost: ``O(d n r^3)``. Ranks may shrink where a core has fewer rows than
    columns (economic QR).
    """
    xp = backend.namespace(*cores)
    cores = list(cores)
    real = backend.real_dtype(xp, cores[0].dtype)
    log_scale = xp.zeros((), dtype=real, device=array_api_compat.device(cores[0]))
    d = len(cores)
    if direction == "left":
        for k in range(d - 1):
            r0, n, r1 = cores[k].shape
            Q, R = backend.qr(xp, xp.reshape(cores[k], (r0 * n, r1)))
            R, log_r = _normalized(xp, R)
            cores[k] = xp.reshape(Q, (r0, n, Q.shape[1]))
            nxt = cores[k + 1]
            cores[k + 1] = xp.reshape(
                xp.matmul(R, xp.reshape(nxt, (nxt.shape[0], -1))), (R.shape[0],) + tuple(nxt.shape[1:])
            )
            log_scale = log_scale + log_r
    elif direction == "right":
        for k in range(d - 1, 0, -1):
            r0, n, r1 = cores[k].shape
            Q, R = backend.qr(xp, xp.matrix_transpose(xp.reshape(cores[k], (r0, n * r1))))
            R, log_r = _normalized(xp, R)
            cores[k] = xp.reshape(xp.matrix_transpose(Q), (Q.shape[1], n, r1))
            prev = cores[k - 1]
            cores[k - 1] = xp.reshape(
                xp.matmul(xp.reshape(prev, (-1, prev.shape[2])), xp.matrix_transpose(R)),
                tuple(prev.shape[:2]) + (R.shape[0],),
            )
            log_scale = log_scale + log_r
    else:
        raise ValueError(f"direction must be 'left' or 'right', got {direction!r}")
    return cores, log_scale


def _apply_scale(xp, core, log_scale):
    return core * xp.astype(xp.exp(log_scale), core.dtype)


def orthogonalize(tt: TTBase, mode: str = "left") -> TTBase:
    """Bring a TT tensor or TT-matrix to left or right canonical form.

    Parameters
    ----------
    tt : TensorTrain or TTMatrix
    mode : {"left", "right"}
        ``"left"``: cores ``1..d-1`` (all but the last) are left-orthogonal,
        ``G.reshape(r0 * n, r1)`` has orthonormal columns, and the last core
        carries the norm. ``"right"``: cores ``2..d`` are right-orthogonal,
        ``G.reshape(r0, n * r1)`` has orthonormal rows, and the first core
        carries the norm.

    Returns
    -------
    Same type as ``tt``
        The same tensor (up to rounding), possibly with smaller ranks.

    Cost: ``O(d n r^3)``; exact up to rounding.
    """
    if mode not in ("left", "right"):
        raise ValueError(f"mode must be 'left' or 'right', got {mode!r}")
    xp = tt.xp
    cores, log_scale = qr_sweep(tt._cores3d(), mode)
    carrier = -1 if mode == "left" else 0
    cores[carrier] = _apply_scale(xp, cores[carrier], log_scale)
    return tt._from_cores3d(cores)


def round(tt: TTBase, eps: float = 1e-10, max_rank=None) -> TTBase:  # noqa: A001
    """TT rounding: recompress to the smallest ranks within a relative accuracy.

    A right-to-left QR sweep followed by a left-to-right sweep of truncated
    SVDs (Oseledets 2011, Algorithm 2).

    Parameters
    ----------
    tt : TensorTrain or TTMatrix
    eps : float, default 1e-10
        Relative Frobenius accuracy of the whole result.
    max_rank : int or sequence of int, optional
        Upper bound on every TT-rank, or one per bond.

    Returns
    -------
    Same type as ``tt``, left-orthogonal.

    Notes
    -----
    Guarantee: ``||tt - result||_F <= eps * ||tt||_F`` when ``max_rank`` does
    not bind. Rounding an already rounded tensor with the same arguments keeps
    its ranks.

    Cost: ``O(d n r^3)``.
    """
    eps = check_eps(eps)
    d = tt.num_cores
    max_rank = check_max_rank(max_rank, d - 1)
    xp = tt.xp
    cores, log_scale = qr_sweep(tt._cores3d(), "right")
    eps_bond = eps / math.sqrt(d - 1) if d > 1 else 0.0
    delta = 0.0 if eps_bond == 0 else eps_bond * safe_norm(xp, cores[0])
    for k in range(d - 1):
        r0, n, r1 = cores[k].shape
        U, s, Vh = backend.svd(xp, xp.reshape(cores[k], (r0 * n, r1)))
        rank = truncation_rank(xp, s, delta, None if max_rank is None else max_rank[k])
        cores[k] = xp.reshape(U[:, :rank], (r0, n, rank))
        carry = s[:rank, None] * Vh[:rank, :]
        nxt = cores[k + 1]
        cores[k + 1] = xp.reshape(
            xp.matmul(xp.astype(carry, nxt.dtype), xp.reshape(nxt, (nxt.shape[0], -1))),
            (rank,) + tuple(nxt.shape[1:]),
        )
    cores[-1] = _apply_scale(xp, cores[-1], log_scale)
    return tt._from_cores3d(cores)
