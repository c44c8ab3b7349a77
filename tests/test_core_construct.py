"""Construction: validated cores, properties, and the constructors zeros/ones/eye/random."""

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
    bond_ranks,
    dtype_names,
    matrix_modes,
    random_cores,
    seeds,
    shapes,
)


def _np(a) -> np.ndarray:
    return backend.to_numpy(a)


@given(shape=shapes(), dtype_name=dtype_names(), data=st.data())
def test_tensor_train_properties_describe_its_cores(xp, shape, dtype_name, data):
    ranks = data.draw(bond_ranks(len(shape) - 1))
    rng = np.random.default_rng(data.draw(seeds()))
    cores = random_cores(rng, [(n,) for n in shape], ranks, dtype_name, xp)
    x = tt.TensorTrain(cores)
    assert x.shape == shape and x.ndim == x.num_cores == len(shape)
    assert x.ranks == (1, *ranks, 1) and x.max_rank == max(x.ranks)
    assert x.size == math.prod(shape)
    assert x.num_params == sum(math.prod(c.shape) for c in cores)
    assert x.dtype == getattr(xp, dtype_name)
    assert x.xp is backend.namespace(cores[0])
    assert isinstance(x.cores, list) and x.cores is not x.cores
    assert tuple(x.full().shape) == shape


@given(modes=matrix_modes(), dtype_name=dtype_names(), data=st.data())
def test_tt_matrix_properties_describe_its_cores(xp, modes, dtype_name, data):
    row_modes, col_modes = modes
    ranks = data.draw(bond_ranks(len(row_modes) - 1))
    rng = np.random.default_rng(data.draw(seeds()))
    W = tt.TTMatrix(random_cores(rng, list(zip(row_modes, col_modes)), ranks, dtype_name, xp))
    assert (W.row_modes, W.col_modes) == modes
    assert W.shape == (math.prod(row_modes), math.prod(col_modes))
    assert W.size == W.shape[0] * W.shape[1]
    assert W.ranks == (1, *ranks, 1)
    assert tuple(W.full().shape) == W.shape


def test_tt_matrix_full_uses_c_order_multi_indices(xp):
    # Two cores of rank 1: W = kron(A, B), with row i = i_1 * m_2 + i_2.
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((2, 3)), rng.standard_normal((4, 2))
    W = tt.TTMatrix([xp.asarray(A[None, :, :, None]), xp.asarray(B[None, :, :, None])])
    assert_close(W.full(), np.kron(A, B), xp.float64, factor=4)


def test_integer_and_bool_cores_become_float64(xp):
    x = tt.TensorTrain([xp.ones((1, 2, 2), dtype=xp.int32), xp.ones((2, 3, 1), dtype=xp.int64)])
    assert x.dtype == xp.float64
    assert tt.TensorTrain([xp.ones((1, 2, 1), dtype=xp.bool)]).dtype == xp.float64


def test_nested_lists_are_accepted_as_numpy_cores():
    x = tt.TensorTrain([[[[1.0], [2.0]]], [[[3.0], [4.0]]]])
    assert x.shape == (2, 2) and x.ranks == (1, 1, 1)
    np.testing.assert_array_equal(x.full(), [[3.0, 4.0], [6.0, 8.0]])


@given(shape=shapes(), dtype_name=dtype_names())
def test_zeros_is_exact_and_rank_one(xp, shape, dtype_name):
    x = tt.zeros(shape, dtype=getattr(xp, dtype_name), like=xp.zeros(1))
    assert x.ranks == (1,) * (len(shape) + 1) and x.dtype == getattr(xp, dtype_name)
    assert backend.namespace(x.cores[0]) is xp
    assert np.array_equal(_np(x.full()), np.zeros(shape))
    assert float(_np(tt.norm(x))) == 0.0


@given(shape=shapes())
def test_ones_is_exact_and_rank_one(xp, shape):
    x = tt.ones(shape, like=xp.zeros(1))
    assert x.ranks == (1,) * (len(shape) + 1)
    assert np.array_equal(_np(x.full()), np.ones(shape))
    # <ones, ones> = prod(shape) and ||ones|| = sqrt(prod(shape)), up to the
    # rounding of the logarithmic scale that dot and norm carry.
    assert float(_np(tt.dot(x, x))) == pytest.approx(math.prod(shape), rel=1e-14)
    assert float(_np(tt.norm(x))) == pytest.approx(math.sqrt(math.prod(shape)), rel=1e-14)


@given(modes=shapes(max_dims=4, max_size=64))
def test_eye_is_the_identity_matrix(xp, modes):
    eye = tt.eye(modes, like=xp.zeros(1))
    assert eye.row_modes == eye.col_modes == modes and eye.ranks == (1,) * (len(modes) + 1)
    assert np.array_equal(_np(eye.full()), np.eye(math.prod(modes)))


def test_constructors_default_to_numpy_float64():
    for x in (tt.zeros((2, 3)), tt.ones((2, 3)), tt.eye((2, 3)), tt.random((2, 3), 2)):
        assert isinstance(x.cores[0], np.ndarray) and x.dtype == np.float64


@given(
    shape=shapes(),
    ranks=st.integers(1, 6) | st.lists(st.integers(1, 6), min_size=7, max_size=7),
    dtype_name=dtype_names(),
    seed=seeds(),
)
def test_random_clips_ranks_to_the_unfolding_limits(xp, shape, ranks, dtype_name, seed):
    if not isinstance(ranks, int):
        ranks = ranks[: len(shape) - 1]
    x = tt.random(shape, ranks, rng=seed, dtype=getattr(xp, dtype_name), like=xp.zeros(1))
    requested = [ranks] * (len(shape) - 1) if isinstance(ranks, int) else ranks
    expected = [min(r, math.prod(shape[: k + 1]), math.prod(shape[k + 1:]))
                for k, r in enumerate(requested)]
    assert x.ranks == (1, *expected, 1) == tt.clip_ranks(shape, ranks)
    assert x.dtype == getattr(xp, dtype_name)
    assert backend.namespace(x.cores[0]) is xp


@given(modes=matrix_modes(), ranks=st.integers(1, 8), seed=seeds())
def test_random_matrix_clips_ranks_with_the_fused_modes(xp, modes, ranks, seed):
    row_modes, col_modes = modes
    W = tt.random_matrix(row_modes, col_modes, ranks, rng=seed, like=xp.zeros(1))
    fused = [m * n for m, n in zip(row_modes, col_modes)]
    assert W.ranks == tt.clip_ranks(fused, ranks)
    assert (W.row_modes, W.col_modes) == modes


def test_clip_ranks_accepts_one_rank_a_rank_per_bond_or_the_full_tuple():
    assert tt.clip_ranks((2, 3, 4), 5) == (1, 2, 4, 1)
    assert tt.clip_ranks((2, 3, 4), (1, 3)) == (1, 1, 3, 1)
    assert tt.clip_ranks((2, 3, 4), (1, 9, 9, 1)) == (1, 2, 4, 1)
    assert tt.clip_ranks((7,), 3) == (1, 1)


def test_random_is_reproducible_from_a_seed_and_scales_with_std(xp):
    like = xp.zeros(1)
    a = tt.random((3, 4, 2), 3, rng=42, like=like)
    b = tt.random((3, 4, 2), 3, rng=np.random.default_rng(42), like=like)
    c = tt.random((3, 4, 2), 3, rng=42, like=like, std=0.5)
    assert all(np.array_equal(_np(p), _np(q)) for p, q in zip(a.cores, b.cores))
    # Every core is scaled by std, so the tensor by std ** d.
    assert_close(c.full(), 0.5**3 * _np(a.full()), xp.float64, factor=4)


def test_random_complex_cores_have_unit_variance(xp):
    # Real and imaginary parts of variance 1/2 each: E|g|^2 = 1. With 4096
    # draws the sample mean of |g|^2 is within 0.1 of 1 (about 6 standard errors).
    x = tt.random((4096,), (), rng=0, dtype=xp.complex128, like=xp.zeros(1))
    values = _np(x.cores[0])
    assert abs(np.mean(np.abs(values) ** 2) - 1) < 0.1
    assert abs(np.mean(values.real**2) - 0.5) < 0.05


def test_num_params_of_the_tt_gru_input_matrix():
    # Row modes (8, 4, 4, 4), column modes (4, 4, 4, 4), ranks (1, 11, 11, 11, 1):
    # 1*8*4*11 + 11*4*4*11 + 11*4*4*11 + 11*4*4*1 = 352 + 1936 + 1936 + 176.
    W = tt.random_matrix((8, 4, 4, 4), (4, 4, 4, 4), 11, rng=0)
    assert W.shape == (512, 256)
    assert W.num_params == 4400


# --------------------------------------------------------------------------- factor_modes


@given(n=st.integers(1, 10**6), d=st.none() | st.integers(1, 8))
def test_factor_modes_multiply_to_n(n, d):
    modes = tt.factor_modes(n, d)
    assert math.prod(modes) == n
    assert list(modes) == sorted(modes, reverse=True)
    if d is not None:
        assert len(modes) == d


def _largest_prime_factor(n: int) -> int:
    largest, p = 1, 2
    while p * p <= n:
        while n % p == 0:
            largest, n = p, n // p
        p += 1
    return max(largest, n) if n > 1 else largest


@given(n=st.integers(2, 10**6), d=st.integers(1, 6))
def test_factor_modes_are_balanced(n, d):
    # Dealing primes, largest first, to the smallest mode so far keeps every
    # mode within a factor p (the largest prime) of the smallest: the largest
    # mode was the smallest when it got its last prime.
    modes = tt.factor_modes(n, d)
    assert modes[0] <= _largest_prime_factor(n) * modes[-1]


@given(k=st.integers(1, 20), d=st.integers(1, 8))
def test_factor_modes_of_a_power_of_two_differ_by_at_most_a_factor_two(k, d):
    modes = tt.factor_modes(2**k, d)
    assert modes[0] <= 2 * modes[-1]


@pytest.mark.parametrize(
    "n, d, expected",
    [
        (256, None, (4, 4, 4, 4)),  # 4^4, and log_4(256) = 4 modes by default
        (512, None, (8, 4, 4, 4)),  # 2^9 over round(4.5) = 4 modes: one gets 2^3
        (1536, 4, (8, 8, 6, 4)),  # 2^9 * 3: the 3 first, then 2s to the smallest
        (1, None, (1,)),
        (7, 2, (7, 1)),  # a prime cannot be split
        (768, 3, (12, 8, 8)),  # 2^8 * 3 = 768, cube root ~9.2
    ],
)
def test_factor_modes_examples(n, d, expected):
    assert tt.factor_modes(n, d) == expected
