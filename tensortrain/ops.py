"""Arithmetic on TT tensors and TT-matrices: sums, scaling, products, norms.

Every operation here works on the 3-d view of the cores and so serves both
types; the two operands of a binary operation must be of one type, with equal
modes, from one array library.
"""

from __future__ import annotations

import math
import numbers

import array_api_compat

from . import backend
from ._base import TTBase, _is_scalar, _scalar_value, check_tt
from .canonical import right_factors_norm, spread_power_of_two, times_power_of_two, unit_scaled
from .contract import einsum
from .errors import ShapeMismatchError

__all__ = ["add", "scale", "hadamard", "dot", "norm", "kron"]


def _modes(tt: TTBase):
    return tt.shape if not hasattr(tt, "row_modes") else (tt.row_modes, tt.col_modes)


def _check_pair(a, b, op: str):
    if not isinstance(a, TTBase) or not isinstance(b, TTBase):
        raise TypeError(f"{op} takes two TT objects, got {type(a).__name__} and {type(b).__name__}")
    if type(a) is not type(b):
        raise TypeError(
            f"{op} needs operands of one type, got {type(a).__name__} and {type(b).__name__}"
        )
    if _modes(a) != _modes(b):
        raise ShapeMismatchError(
            f"{op} needs operands of equal modes, got {_modes(a)} and {_modes(b)}"
        )
    xp = backend.namespace(a._cores[0], b._cores[0])
    common = xp.result_type(a.dtype, b.dtype)
    return xp, common


def _cast(xp, cores, dtype):
    return [c if c.dtype == dtype else xp.astype(c, dtype) for c in cores]


def add(a: TTBase, b: TTBase) -> TTBase:
    """``a + b`` with block cores; ranks add.

    Cost: ``O(d n r^2)`` memory and time; exact. Follow with
    :func:`tensortrain.round` to recompress.
    """
    xp, dtype = _check_pair(a, b, "add")
    A, B = _cast(xp, a._cores3d(), dtype), _cast(xp, b._cores3d(), dtype)
    d = len(A)
    if d == 1:
        return a._from_cores3d([A[0] + B[0]])
    cores = [xp.concat([A[0], B[0]], axis=2)]
    for k in range(1, d - 1):
        ra0, n, ra1 = A[k].shape
        rb0, _, rb1 = B[k].shape
        dev = array_api_compat.device(A[k])
        top = xp.concat([A[k], xp.zeros((ra0, n, rb1), dtype=dtype, device=dev)], axis=2)
        bottom = xp.concat([xp.zeros((rb0, n, ra1), dtype=dtype, device=dev), B[k]], axis=2)
        cores.append(xp.concat([top, bottom], axis=0))
    cores.append(xp.concat([A[-1], B[-1]], axis=0))
    return a._from_cores3d(cores)


def scale(tt: TTBase, alpha) -> TTBase:
    """``alpha * tt`` for a Python, NumPy or 0-d array scalar, complex included.

    ``alpha = m 2**e`` with ``1/2 <= |m| < 1``: the first core takes ``m``
    and the power of two is spread evenly over the cores, so no core over- or
    underflows unless the result does. A complex ``alpha`` makes a real TT
    complex.

    Raises
    ------
    TypeError
        For a non-scalar ``alpha``.
    ValueError
        For a NaN or infinite ``alpha``.
    """
    if not _is_scalar(alpha):
        raise TypeError(
            f"alpha must be a scalar (a number or a 0-d array), got {type(alpha).__name__}"
        )
    value = _scalar_value(alpha)
    if value != value or abs(value) == float("inf"):
        raise ValueError(f"alpha must be finite, got {value!r}")
    check_tt(tt)
    xp = tt.xp
    cores = tt.cores
    dtype = cores[0].dtype
    if not isinstance(value, numbers.Real):
        dtype = xp.complex64 if dtype in (xp.float32, xp.complex64) else xp.complex128
        cores = _cast(xp, cores, dtype)
    exponent = math.frexp(abs(value))[1]
    share, rest = divmod(exponent, len(cores))
    mantissa = value / 2.0**exponent * 2.0 ** (share + rest)
    dev = array_api_compat.device(cores[0])
    cores[0] = cores[0] * xp.asarray(mantissa, dtype=dtype, device=dev)
    if share != 0:
        factor = xp.asarray(2.0**share, dtype=dtype, device=dev)
        cores[1:] = [c * factor for c in cores[1:]]
    return type(tt)._trusted(cores)


def hadamard(a: TTBase, b: TTBase) -> TTBase:
    """Elementwise product ``a * b``; ranks multiply.

    Each pair of cores is multiplied after dividing both by powers of two near
    their largest magnitudes, and the collected factor is spread evenly over
    the result's cores: operands whose scale sits in one core (after
    ``1e200 * x``, say) give a finite product whenever the result is finite.

    Cost: ``O(d n r^4)``; exact up to rounding.
    """
    xp, dtype = _check_pair(a, b, "hadamard")
    A, B = _cast(xp, a._cores3d(), dtype), _cast(xp, b._cores3d(), dtype)
    cores, exponent = [], 0
    for ca, cb in zip(A, B):
        (ca, shift_a), (cb, shift_b) = unit_scaled(xp, ca), unit_scaled(xp, cb)
        exponent = exponent + shift_a + shift_b
        prod = einsum("aib,cid->acibd", ca, cb)
        r0, r1 = ca.shape[0] * cb.shape[0], ca.shape[2] * cb.shape[2]
        cores.append(xp.reshape(prod, (r0, ca.shape[1], r1)))
    return a._from_cores3d(spread_power_of_two(xp, cores, exponent))


def dot(a: TTBase, b: TTBase):
    """Inner product ``sum(conj(a) * b)``, conjugating the first argument.

    This is ``numpy.vdot(a.full(), b.full())``. Every core, and the matrix
    carried from core to core, is divided by a power of two near its largest
    magnitude and the exponents are summed, so no intermediate over- or
    underflows, whatever the number of cores and however the scale is spread
    over them.

    Returns
    -------
    0-d array of the cores' library.

    Cost: ``O(d n r^3)``.
    """
    xp, dtype = _check_pair(a, b, "dot")
    A, B = _cast(xp, a._cores3d(), dtype), _cast(xp, b._cores3d(), dtype)
    dev = array_api_compat.device(A[0])
    carry = xp.ones((1, 1), dtype=dtype, device=dev)
    exponent = xp.zeros((), dtype=backend.real_dtype(xp, dtype), device=dev)
    for ca, cb in zip(A, B):
        (ca, shift_a), (cb, shift_b) = unit_scaled(xp, ca), unit_scaled(xp, cb)
        carry, shift = unit_scaled(xp, einsum("ac,aib,cid->bd", carry, xp.conj(ca), cb))
        exponent = exponent + shift + shift_a + shift_b
    return times_power_of_two(xp, carry[0, 0], exponent)


def norm(tt: TTBase):
    """Frobenius norm, from an orthogonalized core.

    A right-to-left sweep of triangular factors (QR without forming Q) moves
    the whole norm into the first core, whose entries are then summed in
    squares; see :func:`tensortrain.canonical.right_factors_norm`. Unlike
    ``sqrt(dot(tt, tt))`` this does not square the condition number:
    ``norm(x - y)`` keeps its digits when ``x`` and ``y`` nearly cancel, and
    the carried factor is rescaled at each core so nothing over- or
    underflows for any number of cores.

    Returns
    -------
    0-d real array of the cores' library.

    Cost: ``O(d n r^3)``.
    """
    check_tt(tt)
    return right_factors_norm(tt._cores3d())


def kron(a: TTBase, b: TTBase) -> TTBase:
    """Kronecker product: the cores of ``a`` followed by those of ``b``.

    For TT tensors the result has shape ``a.shape + b.shape`` (the outer
    product); for TT-matrices it is ``numpy.kron(a.full(), b.full())`` with
    modes ``a.row_modes + b.row_modes`` and ``a.col_modes + b.col_modes``.

    Cost: none beyond the list; exact.
    """
    if not isinstance(a, TTBase) or type(a) is not type(b):
        raise TypeError(
            f"kron needs two TT objects of one type, got {type(a).__name__} and {type(b).__name__}"
        )
    xp = backend.namespace(a._cores[0], b._cores[0])
    dtype = xp.result_type(a.dtype, b.dtype)
    return type(a)._trusted(_cast(xp, a.cores, dtype) + _cast(xp, b.cores, dtype))
