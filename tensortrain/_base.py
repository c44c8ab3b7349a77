"""What TT tensors and TT-matrices share: validated cores and the 3-d view.

A TT-matrix core ``(r, m, n, r')`` read as ``(r, m*n, r')`` is a TT tensor core
with the same entries, so every algorithm that does not care about the split
of a mode into rows and columns (addition, scaling, the Hadamard product,
dot, norm, orthogonalization, rounding) is written once, on 3-d cores.
"""

from __future__ import annotations

import math
import numbers

import array_api_compat
import numpy as np

from . import backend
from .errors import RankMismatchError, ShapeMismatchError, check_finite

__all__ = ["TTBase", "check_tt"]


def check_tt(value, name: str = "tt") -> None:
    """Raise TypeError unless ``value`` is a TensorTrain or a TTMatrix."""
    if not isinstance(value, TTBase):
        raise TypeError(f"{name} must be a TensorTrain or a TTMatrix, got {type(value).__name__}")


def _as_array(core, position: int):
    if array_api_compat.is_array_api_obj(core):
        return core
    try:
        return np.asarray(core)
    except (TypeError, ValueError) as err:
        raise TypeError(f"cores[{position}] must be an array, got {type(core).__name__}") from err


def validate_cores(cores, core_ndim: int, layout: str):
    """Check a list of cores and return them as a tuple of arrays.

    Integer and boolean cores are converted to float64; the caller's list and
    arrays are left untouched.
    """
    if isinstance(cores, (str, bytes)) or not hasattr(cores, "__len__"):
        raise TypeError(f"cores must be a sequence of arrays, got {type(cores).__name__}")
    if len(cores) == 0:
        raise ValueError("cores must hold at least one core, got an empty sequence")
    arrays = [_as_array(core, k) for k, core in enumerate(cores)]
    xp = backend.namespace(*arrays)

    dtypes = []
    for k, core in enumerate(arrays):
        if core.ndim != core_ndim:
            raise ShapeMismatchError(
                f"cores[{k}] must have {core_ndim} axes {layout}, got shape {tuple(core.shape)}"
            )
        if any(n == 0 for n in core.shape):
            raise ShapeMismatchError(
                f"cores[{k}] must have no empty axis, got shape {tuple(core.shape)}"
            )
        dtypes.append(backend.working_dtype(xp, core.dtype, f"cores[{k}]"))
    if len(set(dtypes)) > 1:
        raise TypeError(f"cores must share one dtype, got {sorted({str(d) for d in dtypes})}")
    dtype = dtypes[0]
    arrays = [core if core.dtype == dtype else xp.astype(core, dtype) for core in arrays]

    if arrays[0].shape[0] != 1:
        raise RankMismatchError(
            f"cores[0] must have left rank 1, got shape {tuple(arrays[0].shape)}"
        )
    if arrays[-1].shape[-1] != 1:
        raise RankMismatchError(
            f"cores[{len(arrays) - 1}] must have right rank 1, got shape {tuple(arrays[-1].shape)}"
        )
    for k in range(1, len(arrays)):
        left, right = arrays[k - 1].shape[-1], arrays[k].shape[0]
        if left != right:
            raise RankMismatchError(
                f"ranks must chain: cores[{k - 1}] ends with rank {left} but cores[{k}] "
                f"starts with rank {right}"
            )
    for k, core in enumerate(arrays):
        check_finite(xp, core, f"cores[{k}]")
    return tuple(arrays)


class TTBase:
    """Shared behaviour of :class:`TensorTrain` and :class:`TTMatrix`."""

    # NumPy arrays hand every binary operator with a TT back to the TT object
    # (so `ndarray @ W` reaches __rmatmul__ and `tt * ndarray` is a TypeError,
    # not an object array of TTs).
    __array_ufunc__ = None
    _core_ndim = 3
    _layout = "(r_{k-1}, n_k, r_k)"

    def __init__(self, cores):
        self._cores = validate_cores(cores, self._core_ndim, self._layout)

    @classmethod
    def _trusted(cls, cores):
        """Build from cores produced by tensortrain itself, skipping the checks."""
        obj = cls.__new__(cls)
        obj._cores = tuple(cores)
        return obj

    # --- the 3-d view used by the shared algorithms -----------------------
    def _cores3d(self):
        if self._core_ndim == 3:
            return list(self._cores)
        xp = self.xp
        return [
            xp.reshape(c, (c.shape[0], c.shape[1] * c.shape[2], c.shape[3])) for c in self._cores
        ]

    def _from_cores3d(self, cores3d):
        """A new object of this type and these modes from 3-d cores."""
        if self._core_ndim == 3:
            return type(self)._trusted(cores3d)
        xp = backend.namespace(*cores3d)
        cores = [
            xp.reshape(c, (c.shape[0], old.shape[1], old.shape[2], c.shape[2]))
            for c, old in zip(cores3d, self._cores)
        ]
        return type(self)._trusted(cores)

    # --- properties -------------------------------------------------------
    @property
    def cores(self) -> list:
        """The cores, as a new list (the arrays themselves are shared)."""
        return list(self._cores)

    @property
    def xp(self):
        """The array namespace of the cores."""
        return backend.namespace(*self._cores)

    @property
    def device(self):
        """The device the cores live on."""
        return array_api_compat.device(self._cores[0])

    @property
    def num_cores(self) -> int:
        """Number of cores ``d``."""
        return len(self._cores)

    @property
    def ranks(self) -> tuple[int, ...]:
        """TT-ranks ``(1, r_1, ..., r_{d-1}, 1)``, length ``d + 1``."""
        return tuple(int(c.shape[0]) for c in self._cores) + (1,)

    @property
    def max_rank(self) -> int:
        """The largest TT-rank."""
        return max(self.ranks)

    @property
    def dtype(self):
        """The dtype of the cores."""
        return self._cores[0].dtype

    @property
    def num_params(self) -> int:
        """Number of stored numbers, the sum of the core sizes."""
        return sum(math.prod(c.shape) for c in self._cores)

    # --- arithmetic -------------------------------------------------------
    def __add__(self, other):
        from .ops import add

        return add(self, _tt_operand(self, other, "+"))

    __radd__ = __add__

    def __sub__(self, other):
        from .ops import add, scale

        return add(self, scale(_tt_operand(self, other, "-"), -1))

    def __rsub__(self, other):
        from .ops import add, scale

        return add(scale(self, -1), _tt_operand(self, other, "-"))

    def __neg__(self):
        from .ops import scale

        return scale(self, -1)

    def __pos__(self):
        return self

    def __mul__(self, other):
        from .ops import hadamard, scale

        if isinstance(other, TTBase):
            return hadamard(self, other)
        if _is_scalar(other):
            return scale(self, other)
        return NotImplemented

    def __rmul__(self, other):
        return self.__mul__(other) if _is_scalar(other) else NotImplemented

    def __truediv__(self, other):
        from .ops import scale

        if not _is_scalar(other):
            return NotImplemented
        return scale(self, 1 / _scalar_value(other))

    def norm(self):
        """Frobenius norm; see :func:`tensortrain.norm`."""
        from .ops import norm

        return norm(self)

    def round(self, eps: float = 1e-10, max_rank=None):
        """Rounded copy; see :func:`tensortrain.round`."""
        from .canonical import round as round_tt

        return round_tt(self, eps=eps, max_rank=max_rank)

    def orthogonalize(self, mode: str = "left"):
        """Canonical form; see :func:`tensortrain.orthogonalize`."""
        from .canonical import orthogonalize

        return orthogonalize(self, mode=mode)

    def conj(self):
        """Complex conjugate (a copy with conjugated cores)."""
        xp = self.xp
        if not backend.is_complex_dtype(xp, self.dtype):
            return self
        return type(self)._trusted([xp.conj(c) for c in self._cores])

    def astype(self, dtype):
        """Copy with cores cast to ``dtype``."""
        xp = self.xp
        dtype = backend.working_dtype(xp, dtype, "dtype")
        return type(self)._trusted([xp.astype(c, dtype) for c in self._cores])


def _tt_operand(tt, other, op: str):
    """``other`` if it can meet ``tt`` in a sum, else a TypeError that says why."""
    if isinstance(other, TTBase):
        return other
    raise TypeError(
        f"{type(tt).__name__} {op} {type(other).__name__}: both operands must be TT objects "
        "(convert a dense array with tensortrain.tt_svd or TTMatrix.from_dense first)"
    )


def _is_scalar(value) -> bool:
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return True
    return array_api_compat.is_array_api_obj(value) and value.ndim == 0


def _scalar_value(value):
    """A Python number from a Python, NumPy or 0-d array scalar.

    NumPy scalars are converted too: ``1 / numpy.float32(3)`` would otherwise
    be computed in single precision and scale a float64 TT by a rounded value.
    """
    if isinstance(value, (int, float, complex)):
        return value
    if hasattr(value, "dtype") and "complex" in str(value.dtype):
        return complex(value)
    return float(value)
