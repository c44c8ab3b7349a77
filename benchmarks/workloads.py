"""The benchmark workloads, registered by name.

Each workload is a function without arguments that builds its inputs from a
fixed seed and returns a list of :class:`~benchmarks.harness.Case`. Adding one
takes a few lines::

    @workload("my_op")
    def my_op() -> list[Case]:
        rng = np.random.default_rng(7)
        ...
        return [Case("my_op", "title", "peer_method", args, "array", verify, "check")]

where ``peer_method`` is a method of :class:`~benchmarks.peers.Peer` (add it
there, raising ``NotAvailable`` by default, and implement it per library).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from benchmarks import reference as ref
from benchmarks.harness import Case, Settings
from benchmarks.peers import DenseNumPy

__all__ = ["WORKLOADS", "workload", "gemm_rates", "GEMM_SHAPES"]

WORKLOADS: dict[str, Callable[[], list[Case]]] = {}

#: Dense float64 products ``(m, k) @ (k, n)`` whose rate the TT products are set against.
GEMM_SHAPES = ((1024, 1024, 1024), (256, 1024, 1024), (1024, 1024, 256), (64, 4096, 4096))


def workload(name: str) -> Callable:
    """Register a workload function under ``name``."""

    def register(function: Callable[[], list[Case]]) -> Callable[[], list[Case]]:
        WORKLOADS[name] = function
        return function

    return register


def _frozen(array: np.ndarray) -> np.ndarray:
    """Mark a shared input read-only, so that an in-place change shows up as an error."""
    array.setflags(write=False)
    return array


def _cores_check(reference_dense: np.ndarray) -> Callable:
    """Verifier of a TT result against a dense tensor: ``(rel. error, max rank)``."""
    return lambda cores: (ref.rel_error(ref.tt_full(cores), reference_dense), ref.max_rank(cores))


def _array_check(reference_dense: np.ndarray) -> Callable:
    """Verifier of a dense result against a dense reference."""
    return lambda array: (ref.rel_error(array, reference_dense), None)


@workload("tt_svd")
def tt_svd() -> list[Case]:
    """TT-SVD of a noisy low-rank 4^10 tensor (by eps) and a random 16^5 one (by rank)."""
    rng = np.random.default_rng(10)
    low_rank = ref.tt_full(ref.random_cores((4,) * 10, 8, rng))
    rms = np.sqrt(np.mean(low_rank**2))
    noisy = _frozen(low_rank + 1e-8 * rms * rng.standard_normal(low_rank.shape))
    random = _frozen(rng.standard_normal((16,) * 5))
    check = "dense input, ||A - full(TT)|| / ||A||"
    return [
        Case("tt_svd", "4^10, TT-rank 8 + Gaussian noise of 1e-8 x RMS entry, eps=1e-6",
             "tt_svd", (noisy, 1e-6, None, 8), "cores", _cores_check(noisy), check),
        Case("tt_svd", "16^5 standard normal, max_rank=20 (eps=1e-6)",
             "tt_svd", (random, 1e-6, 20, 20), "cores", _cores_check(random), check),
    ]


def _round_check(cores: list) -> Callable:
    """Verifier of a rounded TT: relative error computed in TT format."""
    scale = ref.tt_norm(cores)
    return lambda out: (ref.tt_diff_norm(cores, out) / scale, ref.max_rank(out))


@workload("round")
def round_() -> list[Case]:
    """TT-rounding of a d=20, n=4, rank-40 sum of five random rank-8 TTs."""
    rng = np.random.default_rng(20)
    cores = ref.sum_cores([ref.random_cores((4,) * 20, 8, rng) for _ in range(5)])
    check = "||x - round(x)|| / ||x|| in TT format (QR sweep; 4^20 entries, no dense check)"
    verify = _round_check(cores)
    title = "d=20, n=4, rank 40 (sum of 5 random rank-8 TTs)"
    return [
        Case("round", f"{title}, eps=1e-8", "round", (cores, 1e-8, None), "cores", verify, check),
        Case("round", f"{title}, max_rank=10 (eps=1e-8)", "round", (cores, 1e-8, 10), "cores",
             verify, check),
    ]


def _matvec_case(modes: tuple, rank: int, batch: int, seed: int) -> Case:
    """One batch TT-matrix product ``X @ W.T`` with its dense check."""
    rng = np.random.default_rng(seed)
    cores = ref.random_matrix_cores(modes, modes, rank, rng)
    size = int(np.prod(modes))
    inputs = _frozen(rng.standard_normal((batch, size)))
    expected = ref.ttm_apply(cores, inputs)
    dense = DenseNumPy()
    dense.load()
    title = f"{size} x {size} (modes {modes}), rank {rank}, X of shape ({batch}, {size})"
    return Case("matvec", title, "matmul", (cores, inputs), "array", _array_check(expected),
                "the harness's own right-to-left sweep over the cores", extra_peers=[dense],
                flops=lambda peer: peer.matmul_flops(cores, batch))


@workload("matvec")
def matvec() -> list[Case]:
    """Batch TT-matrix products, 1024 x 1024 on 256 vectors and 4096 x 4096 on 64."""
    return [_matvec_case((4, 8, 8, 4), 8, 256, 30), _matvec_case((8, 8, 8, 8), 16, 64, 31)]


def _pair(d: int, seed: int) -> tuple[list, list]:
    """Two independent random TTs of shape 4^d and rank 20."""
    rng = np.random.default_rng(seed)
    return ref.random_cores((4,) * d, 20, rng), ref.random_cores((4,) * d, 20, rng)


@workload("dot")
def dot() -> list[Case]:
    """Inner product of two rank-20 TTs, d=30 (vs. a NumPy sweep) and d=10 (vs. dense)."""
    big_a, big_b = _pair(30, 40)
    expected = ref.tt_dot(big_a, big_b)
    small_a, small_b = _pair(10, 41)
    small_expected = float(np.sum(ref.tt_full(small_a) * ref.tt_full(small_b)))
    return [
        Case("dot", "d=30, n=4, rank 20", "dot", (big_a, big_b), "float",
             lambda v: (abs(v - expected) / abs(expected), None),
             "|dot - ref| / |ref|, ref = the harness's own NumPy sweep (4^30: no dense check)"),
        Case("dot", "d=10, n=4, rank 20 (accuracy check)", "dot", (small_a, small_b), "float",
             lambda v: (abs(v - small_expected) / abs(small_expected), None),
             "|dot - ref| / |ref|, ref = dense sum(X * Y)"),
    ]


@workload("norm")
def norm() -> list[Case]:
    """Frobenius norm of a rank-20 TT, d=30 (vs. a QR sweep) and d=10 (vs. dense)."""
    big, _ = _pair(30, 50)
    expected = ref.tt_norm(big)
    small, _ = _pair(10, 51)
    small_expected = float(np.linalg.norm(ref.tt_full(small)))
    return [
        Case("norm", "d=30, n=4, rank 20", "norm", (big,), "float",
             lambda v: (abs(v - expected) / expected, None),
             "relative to the harness's QR-sweep norm (4^30: no dense check)"),
        Case("norm", "d=10, n=4, rank 20 (accuracy check)", "norm", (small,), "float",
             lambda v: (abs(v - small_expected) / small_expected, None),
             "relative to the dense np.linalg.norm"),
    ]


@workload("full")
def full() -> list[Case]:
    """Conversion of a d=10, n=4, rank-8 TT to a dense 4^10 array."""
    cores = ref.random_cores((4,) * 10, 8, np.random.default_rng(60))
    expected = ref.tt_full(cores)
    return [Case("full", "d=10, n=4, rank 8 -> dense 4^10", "full", (cores,), "array",
                 _array_check(expected), "harness's own dense contraction")]


def gemm_rates(settings: Settings) -> list[dict]:
    """Achieved float64 GEMM rate of NumPy's BLAS at the sizes in ``GEMM_SHAPES``.

    Each size is timed ``settings.rounds`` times after one warm-up; the median
    sets the rate (GFLOP/s, ``2 m k n`` flops).
    """
    rng = np.random.default_rng(0)
    rows = []
    for m, k, n in GEMM_SHAPES:
        left, right = rng.standard_normal((m, k)), rng.standard_normal((k, n))
        left @ right
        times = []
        for _ in range(settings.rounds):
            start = time.perf_counter()
            left @ right
            times.append(time.perf_counter() - start)
        seconds = float(np.median(times))
        rate = 2 * m * k * n / seconds / 1e9
        rows.append({"shape": [m, k, n], "seconds": seconds, "gflops": rate})
    return rows


from benchmarks import nn_workloads  # noqa: E402,F401  (registers the nn_* workloads)
