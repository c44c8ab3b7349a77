"""TT-SVD and the dense-matrix-to-TT-matrix decomposition: accuracy, ranks, canonical form."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensortrain as tt
from tensortrain import backend

from strategies import (
    assert_close,
    dense_tensors,
    dtype_str,
    dtype_names,
    eps_values,
    gaussian,
    matrix_modes,
    relative_error,
    shapes,
    tt_matrices,
    unit_roundoff,
)


def _rank_limits(shape):
    """``min(prod(shape[:k]), prod(shape[k:]))`` for every bond ``k = 1..d-1``."""
    return [min(math.prod(shape[:k]), math.prod(shape[k:])) for k in range(1, len(shape))]


def _slack(dtype) -> float:
    """What rounding adds to an error bound: a few thousand roundoffs, relative."""
    return 2e3 * unit_roundoff(dtype)


def _left_orthogonality_error(core) -> float:
    core = backend.to_numpy(core)
    r0, n, r1 = core.shape
    mat = core.reshape(r0 * n, r1)
    return float(np.abs(mat.conj().T @ mat - np.eye(r1)).max())


@given(data=st.data())
def test_tt_svd_meets_eps_bound(xp, data):
    array = data.draw(dense_tensors(xp))
    dtype_name = dtype_str(array.dtype)
    eps = data.draw(eps_values(dtype_name))
    x = tt.tt_svd(array, eps=eps)
    assert relative_error(x.full(), array) <= eps + _slack(array.dtype)


@given(data=st.data())
def test_tt_svd_ranks_are_bounded_by_unfoldings_and_max_rank(xp, data):
    array = data.draw(dense_tensors(xp))
    max_rank = data.draw(st.none() | st.integers(1, 5))
    eps = data.draw(st.sampled_from((0.0, 1e-6, 0.1)))
    x = tt.tt_svd(array, eps=eps, max_rank=max_rank)
    assert x.shape == tuple(array.shape)
    assert x.ranks[0] == x.ranks[-1] == 1
    for rank, limit in zip(x.ranks[1:-1], _rank_limits(x.shape)):
        assert 1 <= rank <= limit
        assert max_rank is None or rank <= max_rank


@given(data=st.data())
def test_tt_svd_with_per_bond_max_rank_respects_each_bond(xp, data):
    array = data.draw(dense_tensors(xp, max_dims=5))
    d = array.ndim
    bounds = data.draw(st.lists(st.integers(1, 4), min_size=d - 1, max_size=d - 1))
    x = tt.tt_svd(array, eps=0.0, max_rank=bounds)
    assert all(r <= b for r, b in zip(x.ranks[1:-1], bounds))


@given(data=st.data())
def test_tt_svd_of_a_generic_tensor_at_eps_zero_has_the_clipped_ranks(xp, data):
    # A Gaussian tensor has full-rank unfoldings, and a capped rank r_{k-1}
    # caps the next unfolding's rows at r_{k-1} n_k >= min(max_rank, ...), so
    # the ranks are exactly the clipping rule of tensortrain.clip_ranks.
    shape = data.draw(shapes(max_dims=5, max_size=1024))
    max_rank = data.draw(st.integers(1, 6))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    array = xp.asarray(gaussian(rng, shape, "float64"))
    x = tt.tt_svd(array, eps=0.0, max_rank=max_rank)
    assert x.ranks == tt.clip_ranks(shape, max_rank)


@given(data=st.data())
def test_tt_svd_result_is_left_orthogonal(xp, data):
    array = data.draw(dense_tensors(xp))
    eps = data.draw(eps_values(dtype_str(array.dtype)))
    x = tt.tt_svd(array, eps=eps)
    for core in x.cores[:-1]:
        assert _left_orthogonality_error(core) <= 100 * unit_roundoff(array.dtype)


@pytest.mark.parametrize("factor", [1e-150, 1e-3, 1e3, 1e150])
@given(data=st.data())
def test_tt_svd_ranks_are_invariant_under_scaling(xp, data, factor):
    array = data.draw(dense_tensors(xp, dtypes=("float64",)))
    eps = data.draw(st.sampled_from((1e-10, 1e-6, 1e-3, 0.1, 0.4)))
    reference = tt.tt_svd(array, eps=eps)
    scaled = tt.tt_svd(array * factor, eps=eps)
    assert scaled.ranks == reference.ranks
    assert relative_error(scaled.full() / factor, reference.full()) <= eps + _slack(xp.float64)


@given(data=st.data())
def test_tt_svd_at_eps_zero_reproduces_the_tensor(xp, data):
    array = data.draw(dense_tensors(xp))
    x = tt.tt_svd(array, eps=0.0)
    assert_close(x.full(), array, array.dtype)


@given(shape=shapes(), dtype_name=dtype_names(), eps=st.sampled_from((0.0, 1e-10, 0.3)))
def test_tt_svd_of_zero_tensor_is_an_exact_rank_one_zero(xp, shape, dtype_name, eps):
    array = xp.zeros(shape, dtype=getattr(xp, dtype_name))
    x = tt.tt_svd(array, eps=eps)
    assert x.ranks == (1,) * (len(shape) + 1)
    dense = backend.to_numpy(x.full())
    assert not np.isnan(dense).any()
    assert np.array_equal(dense, np.zeros(shape))
    assert all(not np.isnan(backend.to_numpy(c)).any() for c in x.cores)


@given(shape=shapes(max_dims=5), dtype_name=dtype_names())
def test_tt_svd_keeps_dtype_and_backend(xp, shape, dtype_name):
    rng = np.random.default_rng(0)
    array = xp.asarray(gaussian(rng, shape, dtype_name))
    x = tt.tt_svd(array, eps=1e-3)
    assert x.dtype == array.dtype
    assert all(backend.namespace(c) is xp for c in x.cores)


def test_tt_svd_converts_integer_and_bool_input_to_float64(xp):
    ints = xp.reshape(xp.arange(24, dtype=xp.int32), (2, 3, 4))
    assert tt.tt_svd(ints).dtype == xp.float64
    assert_close(tt.tt_svd(ints, eps=0).full(), xp.astype(ints, xp.float64), xp.float64)
    bools = xp.asarray(np.eye(4, dtype=bool))
    assert tt.tt_svd(bools).dtype == xp.float64


# --------------------------------------------------------------------------- matrices


@given(data=st.data())
def test_matrix_from_dense_at_eps_zero_reproduces_the_matrix(xp, data):
    row_modes, col_modes = data.draw(matrix_modes())
    dtype_name = data.draw(dtype_names())
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    dense = gaussian(rng, (math.prod(row_modes), math.prod(col_modes)), dtype_name)
    W = tt.TTMatrix.from_dense(xp.asarray(dense), row_modes, col_modes, eps=0.0)
    assert (W.row_modes, W.col_modes) == (row_modes, col_modes)
    assert_close(W.full(), dense, dense.dtype)


@st.composite
def _noisy_matrices(draw, xp):
    """``(dense, row_modes, col_modes)``: a TT-matrix's dense form plus relative noise."""
    W = draw(tt_matrices(xp))
    noise = draw(st.sampled_from((0.0, 1e-6, 1e-2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    dense = backend.to_numpy(W.full())
    rms = np.linalg.norm(dense) / math.sqrt(dense.size)
    dense = dense + noise * rms * gaussian(rng, dense.shape, dense.dtype.name)
    return xp.asarray(dense), W.row_modes, W.col_modes


@given(data=st.data())
def test_matrix_from_dense_meets_eps_bound(xp, data):
    dense, row_modes, col_modes = data.draw(_noisy_matrices(xp))
    eps = data.draw(eps_values(dtype_str(dense.dtype)))
    W = tt.matrix_from_dense(dense, row_modes, col_modes, eps=eps)
    assert relative_error(W.full(), dense) <= eps + _slack(dense.dtype)
    fused = [m * n for m, n in zip(row_modes, col_modes)]
    assert all(r <= limit for r, limit in zip(W.ranks[1:-1], _rank_limits(fused)))


@given(data=st.data())
def test_matrix_from_dense_with_max_rank_respects_it(xp, data):
    row_modes, col_modes = data.draw(matrix_modes(min_dims=2))
    max_rank = data.draw(st.integers(1, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    dense = xp.asarray(gaussian(rng, (math.prod(row_modes), math.prod(col_modes)), "float64"))
    W = tt.matrix_from_dense(dense, row_modes, col_modes, eps=0.0, max_rank=max_rank)
    assert W.max_rank <= max_rank


# --------------------------------------------------------------------------- pinned values


def test_tt_svd_of_a_seeded_exact_tt_finds_its_ranks(xp):
    # A Gaussian TT of ranks (1, 2, 3, 2, 1) has unfoldings of exactly those
    # ranks (the rank cannot be larger, and Gaussian cores make it maximal
    # with probability 1). Noise of relative size 1e-9 is far below the
    # per-bond threshold 1e-6 / sqrt(3), so eps=1e-6 returns the true ranks,
    # and eps=0 keeps the noise and so every rank the shapes allow.
    rng = np.random.default_rng(20170523)
    shape, ranks = (4, 5, 6, 3), (2, 3, 2)
    exact = tt.TensorTrain([gaussian(rng, (r0, n, r1), "float64")
                            for r0, n, r1 in zip((1, *ranks), shape, (*ranks, 1))]).full()
    rms = np.linalg.norm(exact) / math.sqrt(exact.size)
    noisy = exact + 1e-9 * rms * rng.standard_normal(shape)
    assert tt.tt_svd(xp.asarray(noisy), eps=1e-6).ranks == (1, 2, 3, 2, 1)
    assert tt.tt_svd(xp.asarray(noisy), eps=0.0).ranks == (1, 4, 18, 3, 1)


def test_tt_svd_of_sin_of_an_index_sum_has_rank_two(xp):
    # sin(a + b) = sin(a) cos(b) + cos(a) sin(b): every unfolding of
    # sin(i_1 + ... + i_d) has rank exactly 2 (3 and 7 are not multiples of pi).
    shape = (3, 4, 5, 4, 3)
    grids = np.meshgrid(*[np.arange(n) * 0.7 for n in shape], indexing="ij")
    array = np.sin(sum(grids))
    x = tt.tt_svd(xp.asarray(array), eps=1e-10)
    assert x.ranks == (1, 2, 2, 2, 2, 1)
    assert relative_error(x.full(), array) <= 1e-10


def test_tt_svd_of_a_sum_of_indices_has_rank_two_and_an_exponential_rank_one(xp):
    # i_1 + ... + i_d = [i_1 1] [[1 0] [i_2 1]] ... : rank 2.
    # exp(i_1 + ... + i_d) is an outer product: rank 1.
    shape = (4, 3, 5, 2)
    total = sum(np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij"))
    assert tt.tt_svd(xp.asarray(total), eps=1e-12).ranks == (1, 2, 2, 2, 1)
    assert tt.tt_svd(xp.asarray(np.exp(total / 4)), eps=1e-12).ranks == (1, 1, 1, 1, 1)


def test_matrix_from_dense_of_a_kronecker_product_has_rank_one(xp):
    # kron(A, B) with A (2x3), B (4x5) on modes (2, 4) x (3, 5) is rank 1.
    rng = np.random.default_rng(7)
    A, B = rng.standard_normal((2, 3)), rng.standard_normal((4, 5))
    W = tt.matrix_from_dense(xp.asarray(np.kron(A, B)), (2, 4), (3, 5), eps=1e-12)
    assert W.ranks == (1, 1, 1)
    assert relative_error(W.full(), np.kron(A, B)) <= 1e-13
