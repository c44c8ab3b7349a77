"""The TT tensor: a d-way array stored as a chain of 3-d cores."""

from __future__ import annotations

import math
import numbers

import array_api_compat
import numpy as np

from . import backend
from ._base import TTBase
from .contract import einsum
from .errors import ShapeMismatchError

__all__ = ["TensorTrain"]


class TensorTrain(TTBase):
    """A tensor ``A`` of shape ``(n_1, ..., n_d)`` in Tensor-Train format.

    ``A[i_1, ..., i_d] = G_1[:, i_1, :] @ G_2[:, i_2, :] @ ... @ G_d[:, i_d, :]``
    with cores ``G_k`` of shape ``(r_{k-1}, n_k, r_k)`` and ``r_0 = r_d = 1``.

    Parameters
    ----------
    cores : sequence of arrays
        The cores, all from one array library and of one dtype. Integer and
        boolean cores are converted to float64. The sequence and the arrays
        are not modified.

    Raises
    ------
    TypeError
        For non-array cores, mixed array libraries or mixed dtypes.
    ShapeMismatchError
        (a ``ValueError``) for cores that are not 3-d or have an empty axis.
    RankMismatchError
        (a ``ValueError``) when the ranks do not chain or the boundary ranks
        are not 1.
    ValueError
        For NaN or Inf in a core.
    """

    _core_ndim = 3
    _layout = "(r_{k-1}, n_k, r_k)"

    @property
    def shape(self) -> tuple[int, ...]:
        """Mode sizes ``(n_1, ..., n_d)``."""
        return tuple(int(c.shape[1]) for c in self._cores)

    @property
    def ndim(self) -> int:
        """Number of modes ``d``."""
        return len(self._cores)

    @property
    def size(self) -> int:
        """Number of entries of the dense tensor, ``prod(shape)``."""
        return math.prod(self.shape)

    def __repr__(self) -> str:
        return f"TensorTrain(shape={self.shape}, ranks={self.ranks}, dtype={self.dtype})"

    def full(self):
        """The dense tensor of shape ``self.shape``.

        Cost: ``O(r^2 prod(shape))`` flops and ``prod(shape)`` memory.
        """
        return _full_chain(self.xp, self._cores, self.shape)

    def __getitem__(self, index):
        """Entries at integer positions, as NumPy's fancy indexing of ``full()``.

        ``tt[i_1, ..., i_d]`` with integers gives a 0-d array. With integer
        index arrays (any integer dtype, broadcast to one shape ``S``) the
        result has shape ``S``. Negative indices count from the end.

        Cost: ``O(d r^2 P)`` for ``P`` requested entries.

        Raises
        ------
        IndexError
            For the wrong number of indices or an index out of range.
        TypeError
            For slices, floats or other non-integer indices.
        """
        if not isinstance(index, tuple):
            index = (index,)
        if len(index) != self.ndim:
            raise IndexError(f"index must have {self.ndim} entries (one per mode), got {len(index)}")
        return gather(self._cores, index, self.shape)


def _full_chain(xp, cores, out_shape):
    """Contract 3-d cores into a dense array of ``out_shape``.

    The left and the right halves (split where the mode products balance) are
    contracted separately and joined by one matrix product, so the dense
    result is written once and no intermediate is as large as it.
    """
    sizes = [c.shape[1] for c in cores]
    split = 1
    while split < len(cores) - 1 and math.prod(sizes[:split]) < math.prod(sizes[split:]):
        split += 1
    left = xp.reshape(cores[0], (sizes[0], cores[0].shape[2]))
    for core in cores[1:split]:
        left = xp.reshape(einsum("pa,aib->pib", left, core), (-1, core.shape[2]))
    right = xp.reshape(cores[-1], (cores[-1].shape[0], -1)) if split < len(cores) else None
    for core in cores[split:-1][::-1]:
        right = xp.reshape(einsum("aib,bq->aiq", core, right), (core.shape[0], -1))
    dense = left if right is None else xp.matmul(left, right)
    return xp.reshape(dense, out_shape)


def _index_array(xp, like, value, mode: int, size: int):
    if isinstance(value, bool) or isinstance(value, (slice, type(Ellipsis))) or value is None:
        raise TypeError(f"index {mode} must be an integer or an integer array, got {value!r}")
    if isinstance(value, numbers.Integral):
        value = int(value)
        if not -size <= value < size:
            raise IndexError(f"index {value} is out of range for mode {mode} of size {size}")
        return xp.asarray(value % size, device=array_api_compat.device(like))
    if not array_api_compat.is_array_api_obj(value):
        value = np.asarray(value)
    vxp = backend.namespace(value)
    if not vxp.isdtype(value.dtype, "integral"):
        raise TypeError(f"index {mode} must have an integer dtype, got {value.dtype}")
    if vxp is not xp:
        value = backend.asarray_like(value, like)
    value = xp.astype(value, xp.int64)
    if value.size and not bool(xp.all((value >= -size) & (value < size))):
        raise IndexError(f"index {mode} holds values out of range for a mode of size {size}")
    return xp.where(value < 0, value + size, value)


def gather(cores, index, shape):
    """Entries of the TT at the positions ``index`` (a tuple of d indices)."""
    xp = backend.namespace(*cores)
    arrays = [_index_array(xp, cores[0], v, k, n) for k, (v, n) in enumerate(zip(index, shape))]
    try:
        arrays = xp.broadcast_arrays(*arrays)
    except ValueError as err:
        raise ShapeMismatchError(
            f"index arrays must broadcast to one shape, got shapes {[tuple(a.shape) for a in arrays]}"
        ) from err
    out_shape = tuple(arrays[0].shape)
    flat = [xp.reshape(a, (-1,)) for a in arrays]
    count = math.prod(out_shape)
    if count == 0:
        return xp.zeros(out_shape, dtype=cores[0].dtype, device=array_api_compat.device(cores[0]))
    result = xp.ones((count, 1), dtype=cores[0].dtype, device=array_api_compat.device(cores[0]))
    for core, idx in zip(cores, flat):
        result = einsum("pa,apb->pb", result, xp.take(core, idx, axis=1))
    return xp.reshape(result, out_shape)
