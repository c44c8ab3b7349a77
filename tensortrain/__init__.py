"""tensortrain: Tensor-Train tensors and TT-matrices on NumPy, CuPy and the Array API.

The arrays decide where the work runs: NumPy cores give NumPy results, CuPy
cores CuPy results on their device. ``tensortrain.nn`` builds dense and TT
layers and recurrent cells with hand-written backward passes on top.
"""

from .canonical import orthogonalize, round
from .construct import clip_ranks, eye, factor_modes, ones, random, random_matrix, zeros
from .decompositions import matrix_from_dense, tt_svd
from .errors import RankMismatchError, ShapeMismatchError
from .ops import add, dot, hadamard, kron, norm, scale
from .products import matmul, plan_dense_product
from .tensor_train import TensorTrain
from .tt_matrix import TTMatrix

__version__ = "0.1.0"

__all__ = [
    "TensorTrain",
    "TTMatrix",
    "tt_svd",
    "matrix_from_dense",
    "round",
    "orthogonalize",
    "add",
    "scale",
    "hadamard",
    "dot",
    "norm",
    "kron",
    "matmul",
    "plan_dense_product",
    "zeros",
    "ones",
    "eye",
    "random",
    "random_matrix",
    "factor_modes",
    "clip_ranks",
    "ShapeMismatchError",
    "RankMismatchError",
]
