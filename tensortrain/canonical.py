"""Orthogonalization (canonical forms) and TT rounding.

Both work on the 3-d view of the cores, so they serve TT tensors and
TT-matrices alike. The QR sweeps keep every carried factor at unit norm and
collect the scale as a power of two, so tensors whose norm does not fit in a
float still sweep safely and only the final result can over- or underflow.
"""

from __future__ import annotations

import math

import array_api_compat

from . import backend
from ._base import TTBase, check_tt
from .decompositions import safe_norm, truncation_rank
from .errors import check_eps, check_max_rank

__all__ = [
    "orthogonalize",
    "round",
    "qr_sweep",
    "right_factors_norm",
    "unit_scaled",
    "times_power_of_two",
    "spread_power_of_two",
]


def unit_scaled(xp, a):
    """``a / 2**k`` and ``k``, with ``2**k`` near ``max|a|`` (``a`` and 0 for a zero ``a``).

    The sweeps carry small matrices whose scale can grow or shrink
    geometrically with the number of cores; dividing each by a power of two
    near its largest magnitude keeps every intermediate in range, and, being
    a power of two, changes no digit. ``k`` is returned as a real 0-d array
    holding an integer.
    """
    peak = xp.max(xp.abs(a))
    k = xp.where(
        peak > 0,
        xp.floor(xp.log2(xp.where(peak > 0, peak, xp.ones_like(peak)))),
        xp.zeros_like(peak),
    )
    return a * xp.astype(2.0**-k, a.dtype), k


def times_power_of_two(xp, value, exponent):
    """``value * 2**exponent`` in two halves, so that neither factor overflows alone."""
    half = xp.floor(exponent / 2)
    return (
        value * xp.astype(2.0**half, value.dtype) * xp.astype(2.0 ** (exponent - half), value.dtype)
    )


def spread_power_of_two(xp, cores, exponent):
    """Multiply a train by ``2**exponent``, spreading the factor evenly over its cores."""
    d = len(cores)
    share = xp.floor(exponent / d)
    cores = [times_power_of_two(xp, c, share) for c in cores]
    cores[0] = times_power_of_two(xp, cores[0], exponent - share * d)
    return cores


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
        The represented tensor divided by ``2**exponent``.
    exponent : 0-d array
        Base-2 exponent of the scale taken out (an integer value).

    Cost: ``O(d n r^3)``. Ranks may shrink where a core has fewer rows than
    columns (economic QR).
    """
    xp = backend.namespace(*cores)
    cores = list(cores)
    real = backend.real_dtype(xp, cores[0].dtype)
    exponent = xp.zeros((), dtype=real, device=array_api_compat.device(cores[0]))
    d = len(cores)
    if direction == "left":
        for k in range(d - 1):
            r0, n, r1 = cores[k].shape
            Q, R = backend.qr(xp, xp.reshape(cores[k], (r0 * n, r1)))
            R, shift = unit_scaled(xp, R)
            cores[k] = xp.reshape(Q, (r0, n, Q.shape[1]))
            nxt = cores[k + 1]
            cores[k + 1] = xp.reshape(
                xp.matmul(R, xp.reshape(nxt, (nxt.shape[0], -1))),
                (R.shape[0],) + tuple(nxt.shape[1:]),
            )
            exponent = exponent + shift
    elif direction == "right":
        for k in range(d - 1, 0, -1):
            r0, n, r1 = cores[k].shape
            Q, R = backend.qr(xp, xp.matrix_transpose(xp.reshape(cores[k], (r0, n * r1))))
            R, shift = unit_scaled(xp, R)
            cores[k] = xp.reshape(xp.matrix_transpose(Q), (Q.shape[1], n, r1))
            prev = cores[k - 1]
            cores[k - 1] = xp.reshape(
                xp.matmul(xp.reshape(prev, (-1, prev.shape[2])), xp.matrix_transpose(R)),
                tuple(prev.shape[:2]) + (R.shape[0],),
            )
            exponent = exponent + shift
    else:
        raise ValueError(f"direction must be 'left' or 'right', got {direction!r}")
    return cores, exponent


def right_factors_norm(cores):
    """Frobenius norm of a train of 3-d cores by a sweep of triangular factors.

    Right to left, the part of the train right of bond ``k`` is written as
    ``W_k Z_k`` with orthonormal rows ``Z_k``; only ``W_k`` is carried. It is
    the conjugate transpose of the triangular factor of
    ``(G_k W_{k+1})^H`` (no orthogonal factor is ever formed), and the norm
    is that of ``G_1 W_2``. Backward stable like a QR sweep, and unlike
    ``sqrt(dot(x, x))`` it does not square the condition number.

    Returns
    -------
    0-d real array. Cost: ``O(d n r^3)``.
    """
    xp = backend.namespace(*cores)
    exponent = xp.zeros(
        (), dtype=backend.real_dtype(xp, cores[0].dtype), device=array_api_compat.device(cores[0])
    )
    adjoint = backend.adjoint_for(xp, cores[0].dtype)
    carry = None
    for core in cores[:0:-1]:
        r0, n, r1 = core.shape
        block = xp.reshape(core, (r0 * n, r1))
        if carry is not None:
            block = xp.matmul(block, carry)
        R = backend.r_factor(xp, adjoint(xp.reshape(block, (r0, -1))))
        carry, shift = unit_scaled(xp, adjoint(R))
        exponent = exponent + shift
    first = xp.reshape(cores[0], (-1, cores[0].shape[2]))
    if carry is not None:
        first = xp.matmul(first, carry)
    return times_power_of_two(xp, safe_norm(xp, first), exponent)


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
    check_tt(tt)
    if mode not in ("left", "right"):
        raise ValueError(f"mode must be 'left' or 'right', got {mode!r}")
    xp = tt.xp
    cores, exponent = qr_sweep(tt._cores3d(), mode)
    carrier = -1 if mode == "left" else 0
    cores[carrier] = times_power_of_two(xp, cores[carrier], exponent)
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
    not bind. Rounding an already rounded tensor with the same arguments never
    raises its ranks, but may lower them: a bond whose discarded tail came
    close to the threshold keeps a last singular value that is below the
    threshold on its own, and a second pass drops it (the ranks of
    ``round(tt_svd(diag([1, .05, .05, .05])), 0.08)`` are ``(1, 2, 1)``, and
    rounding that again gives ``(1, 1, 1)``). Where every kept singular value
    is above the threshold, a second pass keeps ranks and values.

    Cost: ``O(d n r^3)``.
    """
    check_tt(tt)
    eps = check_eps(eps)
    d = tt.num_cores
    max_rank = check_max_rank(max_rank, d - 1)
    xp = tt.xp
    cores, exponent = qr_sweep(tt._cores3d(), "right")
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
    cores[-1] = times_power_of_two(xp, cores[-1], exponent)
    return tt._from_cores3d(cores)
