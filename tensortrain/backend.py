"""The one place that decides which array library runs a computation.

Every routine of tensortrain asks :func:`namespace` for the array namespace
of its inputs and calls only functions of the Python Array API standard on it,
so NumPy arrays give NumPy results, CuPy arrays give CuPy results on the same
device, and any other Array API library (``array-api-strict`` in the tests)
works as well. The few operations that need more than the standard (a robust
SVD fallback, conversion to NumPy) live here too.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import array_api_compat
import numpy as np

__all__ = [
    "namespace",
    "is_numpy",
    "to_numpy",
    "asarray_like",
    "working_dtype",
    "is_complex_dtype",
    "real_dtype",
    "svd",
    "qr",
    "r_factor",
    "adjoint_for",
    "conj_transpose",
    "to_int",
]

logger = logging.getLogger(__name__)


def namespace(*arrays: Any):
    """Return the Array API namespace shared by ``arrays``.

    NumPy and CuPy arrays get the ``array_api_compat`` wrapper namespace, whose
    functions take and return the library's own array type.

    Raises
    ------
    TypeError
        If the arrays come from different libraries or are not arrays.
    """
    try:
        return array_api_compat.array_namespace(*arrays)
    except TypeError as err:
        kinds = sorted({type(a).__module__ + "." + type(a).__name__ for a in arrays})
        raise TypeError(
            f"arrays must all come from one array library, got {', '.join(kinds)}"
        ) from err


def is_numpy(xp) -> bool:
    """True when ``xp`` is NumPy or the compat wrapper around it."""
    return array_api_compat.is_numpy_namespace(xp)


def to_numpy(x) -> np.ndarray:
    """Copy an array of any supported library to a NumPy array on the host."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get"):  # CuPy
        return x.get()
    # DLPack is the standard's exchange protocol; "cpu" is not a device name
    # every library accepts (array-api-strict refuses it), so no to_device.
    try:
        return np.from_dlpack(x).copy()
    except (AttributeError, BufferError, RuntimeError, TypeError):
        return np.array(x)


def asarray_like(value, like):
    """Convert ``value`` to an array of the library and device of ``like``."""
    xp = namespace(like)
    return xp.asarray(value, device=array_api_compat.device(like))


def is_complex_dtype(xp, dtype) -> bool:
    """True for complex floating dtypes."""
    return xp.isdtype(dtype, "complex floating")


def real_dtype(xp, dtype):
    """The real dtype of the same precision (float64 for complex128)."""
    if dtype == xp.complex64:
        return xp.float32
    if dtype == xp.complex128:
        return xp.float64
    return dtype


def working_dtype(xp, dtype, name: str = "array"):
    """Map an input dtype to the floating dtype tensortrain computes in.

    Floating and complex dtypes of single or double precision are kept.
    Booleans and integers are converted to float64 (this is the documented
    rule: they are exact in float64 up to 2**53). Anything else, half
    precision included, is refused.

    Raises
    ------
    TypeError
        For dtypes that have no such mapping.
    """
    if dtype in (xp.float32, xp.float64, xp.complex64, xp.complex128):
        return dtype
    if dtype == xp.bool or xp.isdtype(dtype, "integral"):
        return xp.float64
    raise TypeError(
        f"{name} must have a float32, float64, complex64, complex128, integer or "
        f"bool dtype, got {dtype}"
    )


def adjoint_for(xp, dtype):
    """The function ``a -> a^H`` for matrices of ``dtype`` (a plain transpose when real).

    Deciding once per routine keeps a dtype test off the inner loops.
    """
    if is_complex_dtype(xp, dtype):
        return lambda a: xp.conj(xp.matrix_transpose(a))
    return xp.matrix_transpose


def conj_transpose(xp, a):
    """``a^H`` of a matrix; only a view for real dtypes."""
    return adjoint_for(xp, a.dtype)(a)


def to_int(x) -> int:
    """Read a 0-d integer array as a Python int (one scalar transfer)."""
    return int(x)


def svd(xp, a):
    """Thin SVD ``a = U @ diag(s) @ Vh`` with a fallback driver.

    NumPy's default driver (divide and conquer, ``gesdd``) occasionally fails
    to converge; the result is then recomputed with SciPy's ``gesvd``, which is
    slower and more robust. Other libraries fall back to the same host routine.

    Raises
    ------
    numpy.linalg.LinAlgError
        Only when both drivers fail.
    """
    try:
        U, s, Vh = xp.linalg.svd(a, full_matrices=False)
        return U, s, Vh
    except np.linalg.LinAlgError:
        logger.info("SVD of a %s matrix failed to converge; retrying with gesvd", a.shape)
    import scipy.linalg

    U, s, Vh = scipy.linalg.svd(to_numpy(a), full_matrices=False, lapack_driver="gesvd")
    if is_numpy(xp):
        return U, s, Vh
    return tuple(asarray_like(m, a) for m in (U, s, Vh))


def qr(xp, a):
    """Reduced QR ``a = Q @ R``."""
    return xp.linalg.qr(a, mode="reduced")


def r_factor(xp, a):
    """Triangular factor ``R`` of the reduced QR of a matrix ``a``, ``(min(m, n), n)``.

    Only ``R`` is formed: for NumPy arrays LAPACK's ``geqrf`` is called
    directly, which skips building ``Q`` and is several times faster than an
    SVD of the same matrix. Other libraries use their ``linalg.qr``.
    """
    if is_numpy(xp):
        packed, _, _, info = _geqrf(a.dtype.char)(a, overwrite_a=False)
        if info != 0:
            raise np.linalg.LinAlgError(f"geqrf failed with info={info}")
        rows = min(a.shape)
        return packed[:rows] * _upper_mask(rows, a.shape[1])
    return xp.linalg.qr(a, mode="reduced")[1]


@functools.lru_cache(maxsize=8)
def _geqrf(dtype_char: str):
    """LAPACK's geqrf for one dtype (looked up once: the lookup costs more than a small QR)."""
    import scipy.linalg

    (geqrf,) = scipy.linalg.get_lapack_funcs(("geqrf",), dtype=np.dtype(dtype_char))
    return geqrf


@functools.lru_cache(maxsize=256)
def _upper_mask(rows: int, cols: int) -> np.ndarray:
    return np.triu(np.ones((rows, cols), dtype=bool))
