"""Adapters that give tensortrain and each peer library one interface.

Every adapter turns plain NumPy inputs (cores, dense arrays, batches) into the
library's own objects *outside* the timed region and hands back a zero-argument
callable that runs only the operation itself. An operation a library lacks
raises :class:`NotAvailable` (shown as ``n/a``); nothing is emulated densely.
Results are turned back into NumPy by ``to_cores``, ``to_array`` or ``to_float``.

Adding a library: subclass :class:`Peer`, set ``name``, ``distribution`` and
``modules``, implement the operations it has, and append the class to ``PEERS``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
import warnings
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["NotAvailable", "Peer", "PEERS", "DenseNumPy", "make_peers", "l2r_matmul_flops"]

NO_LIMIT = sys.maxsize


class NotAvailable(Exception):
    """The library has no routine for this operation."""


def l2r_matmul_flops(matrix_cores: Sequence[np.ndarray], batch: int) -> int:
    """Flops of ``X @ W.T`` contracted core by core from the left.

    Step ``k`` contracts the intermediate ``(B, m_<k, n_>=k, r_{k-1})`` with core
    ``(r_{k-1}, m_k, n_k, r_k)``; it costs ``2 * prod`` of all indices involved.
    """
    rows = [core.shape[1] for core in matrix_cores]
    cols = [core.shape[2] for core in matrix_cores]
    total = 0
    for k, core in enumerate(matrix_cores):
        left, m, n, right = core.shape
        total += 2 * batch * np.prod(rows[:k]) * np.prod(cols[k:]) * left * m * right
    return int(total)


class Peer:
    """Base adapter: knows how to import a library and lacks every operation.

    Attributes
    ----------
    name : str
        Name shown in the tables.
    distribution : str
        PyPI distribution whose version is reported.
    status : str
        ``"ok"`` once loaded, ``"not installed"`` (or the import error) otherwise.
    notes : dict of str to str
        Per-operation remarks printed under the tables (conventions, caveats).
    """

    name = "?"
    distribution = "?"
    modules: tuple = ()

    def __init__(self) -> None:
        self.status = "not loaded"
        self.version: str | None = None
        self.notes: dict[str, str] = {}
        self.mods: dict = {}

    def load(self) -> bool:
        """Import the library; on any failure record it and return ``False``."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for module in self.modules:
                    self.mods[module] = importlib.import_module(module)
        except Exception as exc:  # a broken peer must never stop the run
            self.status = _import_failure(exc, self.modules)
            return False
        self.version = _version(self.distribution)
        self.status = "ok"
        return True

    def set_threads(self, count: int) -> None:
        """Pin the library's own thread pool (BLAS is pinned by the environment)."""

    def matmul_flops(self, matrix_cores, batch: int) -> tuple[int, str]:
        """Flop count of this library's TT-matrix product and where it came from."""
        return l2r_matmul_flops(matrix_cores, batch), "left-to-right count"

    def tt_svd(self, array, eps, max_rank, true_rank) -> Callable:
        """Prepare TT-SVD of a dense array (``true_rank`` only for rank-only APIs)."""
        raise NotAvailable

    def round(self, cores, eps, max_rank) -> Callable:
        """Prepare TT-rounding of a TT-tensor given by its cores."""
        raise NotAvailable

    def dot(self, cores_a, cores_b) -> Callable:
        """Prepare the inner product of two TT-tensors."""
        raise NotAvailable

    def norm(self, cores) -> Callable:
        """Prepare the Frobenius norm of a TT-tensor."""
        raise NotAvailable

    def full(self, cores) -> Callable:
        """Prepare the conversion of a TT-tensor to a dense array."""
        raise NotAvailable

    def nn_variant(self) -> Callable:
        """Prepare an nn case; the peers have no layers with a hand-written backward."""
        raise NotAvailable

    def matmul(self, matrix_cores, batch) -> Callable:
        """Prepare ``batch @ W.T`` for a TT-matrix ``W`` and a dense ``(B, N)`` batch."""
        raise NotAvailable

    def to_cores(self, result) -> list:
        """Cores of a TT result as NumPy arrays."""
        return [np.asarray(core) for core in result]

    def to_array(self, result) -> np.ndarray:
        """A dense result as a NumPy array."""
        return np.asarray(result)

    def to_float(self, result) -> float:
        """A scalar result as a Python float."""
        return float(result)


def _import_failure(exc: Exception, modules: tuple) -> str:
    """``not installed`` when a package is absent, else the error (a broken install)."""
    tops = {module.split(".")[0] for module in modules}
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in tops:
        return "not installed"
    return f"import failed: {type(exc).__name__}: {exc}"[:200]


def _version(distribution: str) -> str | None:
    """Installed version of a distribution, or ``None``."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _copies(cores) -> list:
    """Private copies, so that no library can alter another's input."""
    return [np.array(core, dtype=np.float64, order="C") for core in cores]


class TensorTrainPeer(Peer):
    """This project: ``tensortrain``."""

    name = "tensortrain"
    distribution = "tensortrain"
    modules = ("tensortrain",)

    @property
    def tt(self):
        """The imported ``tensortrain`` module."""
        return self.mods["tensortrain"]

    def tt_svd(self, array, eps, max_rank, true_rank):
        tt = self.tt
        return lambda: tt.tt_svd(array, eps=eps, max_rank=max_rank)

    def round(self, cores, eps, max_rank):
        tt, x = self.tt, self.tt.TensorTrain(_copies(cores))
        return lambda: tt.round(x, eps=eps, max_rank=max_rank)

    def dot(self, cores_a, cores_b):
        tt = self.tt
        x, y = tt.TensorTrain(_copies(cores_a)), tt.TensorTrain(_copies(cores_b))
        return lambda: tt.dot(x, y)

    def norm(self, cores):
        tt, x = self.tt, self.tt.TensorTrain(_copies(cores))
        return lambda: tt.norm(x)

    def full(self, cores):
        x = self.tt.TensorTrain(_copies(cores))
        return x.full

    def matmul(self, matrix_cores, batch):
        transposed = self.tt.TTMatrix(_copies(matrix_cores)).T
        return lambda: batch @ transposed

    def matmul_flops(self, matrix_cores, batch):
        counted = _own_flops(self.tt, matrix_cores, batch)
        if counted is None:
            return super().matmul_flops(matrix_cores, batch)
        return counted, "tensortrain.plan_dense_product(...).flops: the order it runs"

    def to_cores(self, result):
        return [np.asarray(core) for core in result.cores]


def _own_flops(tt, matrix_cores, batch) -> int | None:
    """The flop count of the order tensortrain runs for ``X @ W.T``, if it exposes one."""
    planner = getattr(tt, "plan_dense_product", None)
    if planner is None:
        return None
    transposed = tt.TTMatrix(_copies(matrix_cores)).T
    return int(planner(transposed, (batch, transposed.shape[0]), side="left").flops)


class TenevaPeer(Peer):
    """``teneva``: cores are plain lists of NumPy arrays."""

    name = "teneva"
    distribution = "teneva"
    modules = ("teneva",)

    def __init__(self) -> None:
        super().__init__()
        self.notes = {
            "tt_svd": "teneva.svd truncates each step to an absolute error e; it is "
            "given e = eps * ||A|| / sqrt(d-1) (the norm is computed inside the timed call).",
            "round": "teneva.truncate with its defaults (orthogonalize, then Gram eigh).",
        }

    @property
    def lib(self):
        """The imported ``teneva`` module."""
        return self.mods["teneva"]

    def tt_svd(self, array, eps, max_rank, true_rank):
        lib, scale = self.lib, eps / np.sqrt(array.ndim - 1)
        rank = max_rank or 1e12
        return lambda: lib.svd(array, e=scale * np.linalg.norm(array), r=rank)

    def round(self, cores, eps, max_rank):
        lib, x = self.lib, _copies(cores)
        return lambda: lib.truncate(x, e=eps, r=max_rank or 1e12)

    def dot(self, cores_a, cores_b):
        lib, x, y = self.lib, _copies(cores_a), _copies(cores_b)
        return lambda: lib.mul_scalar(x, y)

    def norm(self, cores):
        lib, x = self.lib, _copies(cores)
        return lambda: lib.norm(x)

    def full(self, cores):
        lib, x = self.lib, _copies(cores)
        return lambda: lib.full(x)


class TensorlyPeer(Peer):
    """``tensorly`` on its NumPy backend (TT-SVD and reconstruction only)."""

    name = "tensorly"
    distribution = "tensorly"
    modules = ("tensorly", "tensorly.decomposition", "tensorly.tt_tensor")

    def __init__(self) -> None:
        super().__init__()
        self.notes = {
            "tt_svd": "tensorly.decomposition.tensor_train takes a rank, not an eps: "
            "where the case gives only eps it is handed the true rank (an oracle).",
            "norm": "TTTensor.norm densifies the tensor: shown as n/a.",
        }

    def load(self) -> bool:
        loaded = super().load()
        if loaded:
            self.mods["tensorly"].set_backend("numpy")
        return loaded

    def tt_svd(self, array, eps, max_rank, true_rank):
        decompose = self.mods["tensorly.decomposition"].tensor_train
        rank = max_rank or true_rank
        return lambda: decompose(array, rank=rank)

    def full(self, cores):
        to_tensor = self.mods["tensorly.tt_tensor"].tt_to_tensor
        x = _copies(cores)
        return lambda: to_tensor(x)

    def to_cores(self, result):
        return [np.asarray(core) for core in result.factors]


class TorchTTPeer(Peer):
    """``torchTT`` on CPU torch; NumPy inputs are shared, not copied, by ``from_numpy``."""

    name = "torchTT"
    distribution = "torchtt"
    modules = ("torch", "torchtt")

    def __init__(self) -> None:
        super().__init__()
        self.notes = {
            "matmul": "TT(cores) @ torch.Tensor of shape (B, n_1, ..., n_d).",
            "tt_svd": "torchtt.TT(tensor, eps=eps, rmax=max_rank) on a tensor sharing the "
            "NumPy input's memory (torch.from_numpy).",
        }

    @property
    def torch(self):
        """The imported ``torch`` module."""
        return self.mods["torch"]

    @property
    def lib(self):
        """The imported ``torchtt`` module."""
        return self.mods["torchtt"]

    def set_threads(self, count: int) -> None:
        self.torch.set_num_threads(count)

    def _tt(self, cores):
        """A torchtt.TT built from private copies of the cores."""
        return self.lib.TT([self.torch.from_numpy(core) for core in _copies(cores)])

    def tt_svd(self, array, eps, max_rank, true_rank):
        lib, tensor = self.lib, self.torch.from_numpy(array)
        rank = max_rank or NO_LIMIT
        return lambda: lib.TT(tensor, eps=eps, rmax=rank)

    def round(self, cores, eps, max_rank):
        x = self._tt(cores)
        return lambda: x.round(eps=eps, rmax=max_rank or NO_LIMIT)

    def dot(self, cores_a, cores_b):
        lib, x, y = self.lib, self._tt(cores_a), self._tt(cores_b)
        return lambda: lib.dot(x, y)

    def norm(self, cores):
        x = self._tt(cores)
        return x.norm

    def full(self, cores):
        x = self._tt(cores)
        return x.full

    def matmul(self, matrix_cores, batch):
        matrix = self._tt(matrix_cores)
        cols = [core.shape[2] for core in matrix_cores]
        shaped = self.torch.from_numpy(batch).reshape(batch.shape[0], *cols)
        return lambda: (matrix @ shaped).reshape(batch.shape[0], -1)

    def to_cores(self, result):
        return [core.numpy() for core in result.cores]

    def to_array(self, result):
        return result.numpy() if hasattr(result, "numpy") else np.asarray(result)


class DenseNumPy(Peer):
    """Baseline: the dense matrix product ``X @ W_full.T`` (matmul only)."""

    name = "NumPy dense"
    distribution = "numpy"
    modules = ("numpy",)

    def matmul(self, matrix_cores, batch):
        from benchmarks.reference import ttm_full

        dense_t = np.ascontiguousarray(ttm_full(matrix_cores).T)
        return lambda: batch @ dense_t

    def matmul_flops(self, matrix_cores, batch):
        rows = np.prod([core.shape[1] for core in matrix_cores])
        cols = np.prod([core.shape[2] for core in matrix_cores])
        return int(2 * rows * cols * batch), "2 M N B"


PEERS = (TensorTrainPeer, TenevaPeer, TensorlyPeer, TorchTTPeer)


def make_peers() -> list[Peer]:
    """Instantiate and load every peer; failed imports stay in the list as such."""
    peers = [cls() for cls in PEERS]
    for peer in peers:
        peer.load()
    return peers
