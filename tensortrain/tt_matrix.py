"""The TT-matrix (TT-operator): a matrix stored as a chain of 4-d cores."""

from __future__ import annotations

import math

from ._base import TTBase
from .tensor_train import _full_chain

__all__ = ["TTMatrix"]


class TTMatrix(TTBase):
    """A matrix ``W`` of shape ``(prod(row_modes), prod(col_modes))`` in TT format.

    ``W[(i_1..i_d), (j_1..j_d)] = G_1[:, i_1, j_1, :] @ ... @ G_d[:, i_d, j_d, :]``
    with cores ``G_k`` of shape ``(r_{k-1}, m_k, n_k, r_k)``; row and column
    multi-indices are in C order (``i_1`` slowest).

    Parameters
    ----------
    cores : sequence of arrays
        The 4-d cores, all from one array library and of one dtype. Integer
        and boolean cores are converted to float64; the sequence and the arrays
        are not modified.

    Raises
    ------
    TypeError, ShapeMismatchError, RankMismatchError, ValueError
        As for :class:`TensorTrain`, with 4-d cores.

    Notes
    -----
    ``W @ x``, ``x @ W``, ``W @ tt`` and ``W @ V`` follow NumPy's matmul rules;
    see :func:`tensortrain.matmul`. ``W.T`` transposes and ``W.conj()``
    conjugates core by core, at no cost beyond views.
    """

    _core_ndim = 4
    _layout = "(r_{k-1}, m_k, n_k, r_k)"

    @property
    def row_modes(self) -> tuple[int, ...]:
        """Row mode sizes ``(m_1, ..., m_d)``."""
        return tuple(int(c.shape[1]) for c in self._cores)

    @property
    def col_modes(self) -> tuple[int, ...]:
        """Column mode sizes ``(n_1, ..., n_d)``."""
        return tuple(int(c.shape[2]) for c in self._cores)

    @property
    def shape(self) -> tuple[int, int]:
        """``(prod(row_modes), prod(col_modes))``."""
        return math.prod(self.row_modes), math.prod(self.col_modes)

    @property
    def size(self) -> int:
        """Number of entries of the dense matrix."""
        rows, cols = self.shape
        return rows * cols

    def __repr__(self) -> str:
        return (
            f"TTMatrix(row_modes={self.row_modes}, col_modes={self.col_modes}, "
            f"ranks={self.ranks}, dtype={self.dtype})"
        )

    @property
    def T(self) -> "TTMatrix":
        """The transpose, with row and column modes swapped."""
        xp = self.xp
        return TTMatrix._trusted([xp.permute_dims(c, (0, 2, 1, 3)) for c in self._cores])

    @property
    def H(self) -> "TTMatrix":
        """The conjugate transpose."""
        return self.conj().T

    def full(self):
        """The dense ``(M, N)`` matrix.

        Cost: ``O(r^2 M N)`` flops and ``M N`` memory.
        """
        xp = self.xp
        d = self.num_cores
        interleaved = []
        for m, n in zip(self.row_modes, self.col_modes):
            interleaved += [m, n]
        dense = _full_chain(xp, self._cores3d(), tuple(interleaved))
        dense = xp.permute_dims(dense, tuple(range(0, 2 * d, 2)) + tuple(range(1, 2 * d, 2)))
        return xp.reshape(dense, self.shape)

    @classmethod
    def from_dense(cls, matrix, row_modes, col_modes, eps: float = 1e-10, max_rank=None):
        """TT-matrix approximation of a dense matrix; see :func:`tensortrain.matrix_from_dense`."""
        from .decompositions import matrix_from_dense

        return matrix_from_dense(matrix, row_modes, col_modes, eps=eps, max_rank=max_rank)

    def __matmul__(self, other):
        from .products import matmul

        return matmul(self, other)

    def __rmatmul__(self, other):
        from .products import matmul

        return matmul(other, self)
