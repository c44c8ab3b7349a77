"""Initial values for layer weights: Glorot scales, TT core scales, orthogonal matrices.

Random values are drawn on the host with a NumPy generator (so a seed gives
the same numbers on every array library) and then placed in the library and
device of ``like`` with :func:`place`.
"""

from __future__ import annotations

import math
import numbers

import array_api_compat
import array_api_compat.numpy as np_xp
import numpy as np

from .. import backend
from ..construct import clip_ranks
from ..errors import ShapeMismatchError, check_modes, check_positive_int

__all__ = [
    "resolve_dtype",
    "place",
    "glorot_std",
    "glorot_uniform",
    "tt_core_std",
    "orthogonal",
]


def resolve_dtype(dtype=None, like=None):
    """The array namespace, device and real floating dtype a layer is built with.

    Parameters
    ----------
    dtype : dtype, optional
        float32 (the default) or float64 of the namespace of ``like``.
    like : array, optional
        An array whose library and device the layer uses (NumPy by default).

    Returns
    -------
    (namespace, device, dtype)

    Raises
    ------
    TypeError
        If ``dtype`` is not float32 or float64.
    """
    if like is None:
        xp, device = np_xp, None
    else:
        xp, device = backend.namespace(like), array_api_compat.device(like)
    if dtype is None:
        return xp, device, xp.float32
    if dtype not in (xp.float32, xp.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}")
    return xp, device, (xp.float32 if dtype == xp.float32 else xp.float64)


def place(values, dtype=None, like=None):
    """Copy host values into the library and device of ``like`` with ``dtype``.

    Parameters
    ----------
    values : numpy.ndarray or scalar
    dtype, like
        As for :func:`resolve_dtype` (float32 on NumPy by default).
    """
    xp, device, dtype = resolve_dtype(dtype, like)
    return xp.asarray(np.asarray(values), dtype=dtype, device=device)


def glorot_std(fan_in: int, fan_out: int) -> float:
    """Glorot (Xavier) standard deviation ``sqrt(2 / (fan_in + fan_out))``.

    Raises
    ------
    ValueError
        If either fan is not a positive integer.
    """
    fan_in = check_positive_int(fan_in, "fan_in")
    fan_out = check_positive_int(fan_out, "fan_out")
    return math.sqrt(2.0 / (fan_in + fan_out))


def glorot_uniform(shape, rng=None, dtype=None, like=None):
    """A ``(fan_out, fan_in)`` matrix drawn uniformly with the Glorot standard deviation.

    The entries are uniform on ``[-a, a]`` with ``a = sqrt(6 / (fan_in + fan_out))``,
    whose standard deviation is :func:`glorot_std`.

    Parameters
    ----------
    shape : (int, int)
        ``(fan_out, fan_in)``, the layout of :class:`~tensortrain.nn.Linear` weights.
    rng : int or numpy.random.Generator, optional
    dtype, like
        As for :func:`place`.
    """
    fan_out, fan_in = _matrix_shape(shape)
    limit = math.sqrt(3.0) * glorot_std(fan_in, fan_out)
    values = np.random.default_rng(rng).uniform(-limit, limit, size=(fan_out, fan_in))
    return place(values, dtype, like)


def tt_core_std(row_modes, col_modes, ranks, target_std: float) -> float:
    """Core standard deviation giving a TT-matrix entries of standard deviation ``target_std``.

    With i.i.d. ``N(0, sigma^2)`` cores, every entry of the implied dense
    matrix has mean 0 and variance ``prod(r_1..r_{d-1}) * sigma^(2d)``, so
    ``sigma = (target_std^2 / prod(r_1..r_{d-1}))^(1 / (2d))``. The ranks are
    first clipped with :func:`tensortrain.clip_ranks` on the fused modes
    ``m_k n_k``, exactly as :func:`tensortrain.random_matrix` clips them.

    Parameters
    ----------
    row_modes, col_modes : sequence of int
        Same length ``d``.
    ranks : int or sequence of int
        As for :func:`tensortrain.clip_ranks`.
    target_std : float
        Desired standard deviation of the dense entries, ``> 0``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For mode lists of different lengths, bad ranks or a non-positive
        ``target_std``.

    Notes
    -----
    The entries are uncorrelated but not Gaussian: a product of ``d``
    Gaussians is heavy-tailed, more so for small ranks and many cores.
    """
    row_modes = check_modes(row_modes, "row_modes")
    col_modes = check_modes(col_modes, "col_modes")
    if len(row_modes) != len(col_modes):
        raise ShapeMismatchError(
            f"row_modes and col_modes must have the same length, got {len(row_modes)} "
            f"and {len(col_modes)}"
        )
    if isinstance(target_std, bool) or not isinstance(target_std, numbers.Real):
        raise TypeError(f"target_std must be a positive real number, got {target_std!r}")
    if not (math.isfinite(target_std) and target_std > 0):
        raise ValueError(f"target_std must be a finite number > 0, got {target_std!r}")
    d = len(row_modes)
    clipped = clip_ranks([m * n for m, n in zip(row_modes, col_modes)], ranks)
    inner = math.prod(clipped[1:-1])
    # Work with logarithms: for large ranks and d the product can overflow.
    log_sigma = (2.0 * math.log(target_std) - math.log(inner)) / (2.0 * d)
    return math.exp(log_sigma)


def orthogonal(shape, rng=None, dtype=None, like=None, gain: float = 1.0):
    """A random matrix with orthonormal rows or columns (whichever are fewer), times ``gain``.

    Drawn as the Q factor of a Gaussian matrix with the signs of ``diag(R)``
    folded in, so the result is uniformly (Haar) distributed.

    Parameters
    ----------
    shape : (int, int)
    rng : int or numpy.random.Generator, optional
    dtype, like
        As for :func:`place`.
    gain : float, default 1.0

    Cost: one QR of the ``shape`` matrix on the host, ``O(rows cols min(rows, cols))``.
    """
    rows, cols = _matrix_shape(shape)
    tall = np.random.default_rng(rng).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(tall)
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    if rows < cols:
        q = q.T
    return place(gain * q, dtype, like)


def _matrix_shape(shape) -> tuple[int, int]:
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
        raise ValueError(f"shape must be a pair (rows, cols), got {shape!r}")
    return check_positive_int(shape[0], "shape[0]"), check_positive_int(shape[1], "shape[1]")
