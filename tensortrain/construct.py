"""Constructors: zeros, ones, identity, random TTs, and the choice of modes and ranks."""

from __future__ import annotations

import math
import numbers

import array_api_compat
import numpy as np

from . import backend
from .errors import check_max_rank, check_modes, check_positive_int
from .tensor_train import TensorTrain
from .tt_matrix import TTMatrix

__all__ = ["zeros", "ones", "eye", "random", "random_matrix", "factor_modes", "clip_ranks"]


def clip_ranks(modes, ranks) -> tuple[int, ...]:
    """Full rank tuple ``(1, r_1, ..., r_{d-1}, 1)`` with unreachable ranks clipped.

    The one rule used everywhere: ``r_k <= min(prod(modes[:k]), prod(modes[k:]))``,
    the largest rank an exact TT of these mode sizes can need at bond ``k``.

    Parameters
    ----------
    modes : sequence of int
        Mode sizes (for a TT-matrix, the products ``m_k n_k``).
    ranks : int or sequence of int
        One rank for every bond, ``d - 1`` ranks, or ``d + 1`` ranks with 1
        at both ends.
    """
    modes = check_modes(modes)
    d = len(modes)
    if hasattr(ranks, "ndim") and hasattr(ranks, "tolist") and ranks.ndim == 1:
        ranks = ranks.tolist()
    if not isinstance(ranks, numbers.Integral) and not isinstance(ranks, (list, tuple)):
        raise TypeError(f"ranks must be an integer or a sequence of integers, got {ranks!r}")
    if not isinstance(ranks, numbers.Integral) and len(ranks) == d + 1:
        if ranks[0] != 1 or ranks[-1] != 1:
            raise ValueError(f"ranks of length d + 1 must start and end with 1, got {tuple(ranks)}")
        ranks = ranks[1:-1]
    inner = check_max_rank(ranks, d - 1, name="ranks") or ()
    clipped = [
        min(r, math.prod(modes[: k + 1]), math.prod(modes[k + 1 :])) for k, r in enumerate(inner)
    ]
    return (1, *clipped, 1)


def factor_modes(n: int, d: int | None = None) -> tuple[int, ...]:
    """Split ``n`` into ``d`` balanced integer modes, largest first.

    ``factor_modes(256) == (4, 4, 4, 4)``, ``factor_modes(512) == (8, 4, 4, 4)``,
    ``factor_modes(1536, 4) == (8, 8, 6, 4)``. Prime factors are dealt, largest
    first, to the mode with the smallest product so far; a prime larger than
    the balance point gives unbalanced modes (or modes of 1).

    Parameters
    ----------
    n : int
        The size to factor, ``>= 1``.
    d : int, optional
        Number of modes; by default about ``log_4 n`` (modes near 4).
    """
    n = check_positive_int(n, "n")
    d = check_positive_int(max(1, round(math.log2(n) / 2)) if d is None else d, "d")
    primes, rest, p = [], int(n), 2
    while p * p <= rest:
        while rest % p == 0:
            primes.append(p)
            rest //= p
        p += 1
    if rest > 1:
        primes.append(rest)
    modes = [1] * d
    for prime in sorted(primes, reverse=True):
        modes[modes.index(min(modes))] *= prime
    return tuple(sorted(modes, reverse=True))


def _namespace_for(like):
    if like is None:
        return backend.namespace(np.empty(0)), None
    return backend.namespace(like), array_api_compat.device(like)


def _dtype(xp, dtype):
    return backend.working_dtype(xp, xp.float64 if dtype is None else dtype, "dtype")


def zeros(shape, dtype=None, like=None) -> TensorTrain:
    """The zero tensor, as an exact TT of rank 1.

    ``like`` is an array whose library and device the cores use (NumPy by default).
    """
    shape = check_modes(shape, "shape")
    xp, dev = _namespace_for(like)
    dtype = _dtype(xp, dtype)
    return TensorTrain._trusted([xp.zeros((1, n, 1), dtype=dtype, device=dev) for n in shape])


def ones(shape, dtype=None, like=None) -> TensorTrain:
    """The all-ones tensor, rank 1."""
    shape = check_modes(shape, "shape")
    xp, dev = _namespace_for(like)
    dtype = _dtype(xp, dtype)
    return TensorTrain._trusted([xp.ones((1, n, 1), dtype=dtype, device=dev) for n in shape])


def eye(modes, dtype=None, like=None) -> TTMatrix:
    """The identity TT-matrix of size ``prod(modes)``, rank 1."""
    modes = check_modes(modes, "modes")
    xp, dev = _namespace_for(like)
    dtype = _dtype(xp, dtype)
    return TTMatrix._trusted(
        [xp.reshape(xp.eye(n, dtype=dtype, device=dev), (1, n, n, 1)) for n in modes]
    )


def _gaussian_cores(core_shapes, rng, xp, dev, dtype, std: float):
    rng = np.random.default_rng(rng)
    complex_ = backend.is_complex_dtype(xp, dtype)
    cores = []
    for shape in core_shapes:
        values = rng.standard_normal(shape)
        if complex_:
            values = (values + 1j * rng.standard_normal(shape)) / math.sqrt(2)
        cores.append(xp.asarray(values * std, dtype=dtype, device=dev))
    return cores


def random(shape, ranks, rng=None, dtype=None, like=None, std: float = 1.0) -> TensorTrain:
    """A TT with i.i.d. Gaussian cores of standard deviation ``std``.

    Parameters
    ----------
    shape : sequence of int
    ranks : int or sequence of int
        As for :func:`clip_ranks`; unreachable ranks are clipped.
    rng : int or numpy.random.Generator, optional
        Seed or generator (the values are drawn on the host).
    dtype : dtype, default float64
        Complex dtypes draw real and imaginary parts, each of variance 1/2.
    like : array, optional
        The cores are put in this array's library and device.
    """
    shape = check_modes(shape, "shape")
    r = clip_ranks(shape, ranks)
    xp, dev = _namespace_for(like)
    dtype = _dtype(xp, dtype)
    core_shapes = [(r[k], n, r[k + 1]) for k, n in enumerate(shape)]
    return TensorTrain._trusted(_gaussian_cores(core_shapes, rng, xp, dev, dtype, std))


def random_matrix(
    row_modes, col_modes, ranks, rng=None, dtype=None, like=None, std: float = 1.0
) -> TTMatrix:
    """A TT-matrix with i.i.d. Gaussian cores; see :func:`random`.

    Ranks are clipped with the fused mode sizes ``m_k n_k``.
    """
    row_modes = check_modes(row_modes, "row_modes")
    col_modes = check_modes(col_modes, "col_modes")
    if len(row_modes) != len(col_modes):
        raise ValueError(
            f"row_modes and col_modes must have the same length, got {len(row_modes)} and {len(col_modes)}"
        )
    r = clip_ranks([m * n for m, n in zip(row_modes, col_modes)], ranks)
    xp, dev = _namespace_for(like)
    dtype = _dtype(xp, dtype)
    core_shapes = [(r[k], m, n, r[k + 1]) for k, (m, n) in enumerate(zip(row_modes, col_modes))]
    return TTMatrix._trusted(_gaussian_cores(core_shapes, rng, xp, dev, dtype, std))
