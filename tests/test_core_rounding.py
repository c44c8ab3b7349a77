"""TT rounding and orthogonalization: accuracy, ranks, canonical forms."""

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
    dtype_str,
    eps_values,
    gaussian,
    relative_error,
    tensor_trains,
    tt_matrices,
    unit_roundoff,
)


def _slack(dtype) -> float:
    return 2e3 * unit_roundoff(dtype)


def _orthonormality_error(core, side: str) -> float:
    """``max |Q^H Q - I|`` of the core as a left (rows r0*n) or right (columns n*r1) factor."""
    core = backend.to_numpy(core)
    r0, r1 = core.shape[0], core.shape[-1]
    if side == "left":
        mat = core.reshape(-1, r1)
        gram = mat.conj().T @ mat
    else:
        mat = core.reshape(r0, -1)
        gram = mat @ mat.conj().T
    return float(np.abs(gram - np.eye(gram.shape[0])).max())


_WIDE_SHAPES = st.lists(st.integers(3, 5), min_size=2, max_size=4).map(tuple)


def _any_tt(xp, **kwargs):
    return tensor_trains(xp, **kwargs) | tt_matrices(xp, **kwargs)


def _orthogonal_sum(xp, shape, weights, dtype_name="float64", seed=0):
    """``sum_j w_j u_1^j (x) ... (x) u_d^j`` with orthonormal ``u_k^1..u_k^r`` in every mode.

    Every unfolding of this tensor has the singular values ``weights`` exactly
    (both sides of the bond are orthonormal families), so the ranks a
    rounding must find are known in advance.
    """
    rng = np.random.default_rng(seed)
    r = len(weights)
    cores = []
    for k, n in enumerate(shape):
        q, _ = np.linalg.qr(gaussian(rng, (n, r), dtype_name))
        if k == 0:
            core = (q * np.asarray(weights))[None, :, :]
        elif k == len(shape) - 1:
            core = q.T[:, :, None]
        else:
            core = np.stack([np.diag(q[i]) for i in range(n)], axis=1)
        cores.append(xp.asarray(core.astype(dtype_name)))
    return tt.TensorTrain(cores)


@given(data=st.data())
def test_round_never_exceeds_eps(xp, data):
    x = data.draw(_any_tt(xp, max_rank=4))
    eps = data.draw(eps_values(dtype_str(x.dtype)))
    y = tt.round(x, eps=eps)
    assert relative_error(y.full(), x.full()) <= eps + _slack(x.dtype)


@given(data=st.data())
def test_round_never_raises_ranks_beyond_the_unfolding_limits(xp, data):
    x = data.draw(tensor_trains(xp))
    y = tt.round(x, eps=data.draw(st.sampled_from((0.0, 1e-8, 0.2))))
    limits = tt.clip_ranks(x.shape, x.ranks)
    assert all(r <= limit for r, limit in zip(y.ranks, limits))


@given(data=st.data())
def test_round_with_max_rank_respects_it(xp, data):
    x = data.draw(_any_tt(xp))
    max_rank = data.draw(st.integers(1, 3))
    y = tt.round(x, eps=data.draw(st.sampled_from((0.0, 1e-3))), max_rank=max_rank)
    assert y.max_rank <= max_rank
    assert type(y) is type(x)


@given(data=st.data())
def test_round_with_max_rank_one_gives_a_rank_one_tt(xp, data):
    x = data.draw(tensor_trains(xp, dtypes=("float64",)))
    y = tt.round(x, eps=0.0, max_rank=1)
    assert y.ranks == (1,) * (x.ndim + 1)
    # Each truncation of the sweep is an orthogonal projection onto nested
    # subspaces, so y = P x with P an orthogonal projector: ||x - y|| <= ||x||.
    assert float(tt.norm(x - y)) <= float(tt.norm(x)) * (1 + 1e-12)


@given(data=st.data())
def test_round_twice_never_raises_ranks_and_stays_within_eps(xp, data):
    # Re-rounding can lower ranks: a bond whose discarded tail was nearly
    # delta keeps a smallest singular value below delta, which the second
    # pass then drops. It can never raise them, nor move farther than eps.
    x = data.draw(_any_tt(xp))
    eps = data.draw(eps_values(dtype_str(x.dtype)))
    once = tt.round(x, eps=eps)
    twice = tt.round(once, eps=eps)
    assert all(b <= a for a, b in zip(once.ranks, twice.ranks))
    assert relative_error(twice.full(), once.full()) <= eps + _slack(x.dtype)


@given(
    shape=_WIDE_SHAPES,
    weights=st.lists(st.floats(1.0, 2.0), min_size=1, max_size=3),
    eps=st.floats(1e-12, 0.25),
)
def test_round_is_idempotent_at_a_spectral_gap(xp, shape, weights, eps):
    # Every bond has the singular values `weights`, all >= 1, and the
    # threshold is delta = eps / sqrt(d-1) * ||w|| <= 0.25 * 2 sqrt(3) < 1:
    # no pass discards anything, so ranks and values are kept exactly.
    x = _orthogonal_sum(xp, shape, weights)
    expected = (1,) + (len(weights),) * (len(shape) - 1) + (1,)
    once = tt.round(x, eps=eps)
    twice = tt.round(once, eps=eps)
    assert once.ranks == twice.ranks == expected
    assert_close(twice.full(), once.full(), xp.float64)
    assert_close(once.full(), x.full(), xp.float64)


@given(shape=_WIDE_SHAPES)
def test_round_drops_exactly_the_singular_values_below_its_threshold(xp, shape):
    # Weights (1, 0.5, 1e-6): at eps = 1e-3 the per-bond threshold is
    # 1e-3 * sqrt(1.25) / sqrt(d-1), between 5e-4 and 1.2e-3 for d <= 4, so
    # exactly the last term goes and the error is 1e-6 / ||w||.
    x = _orthogonal_sum(xp, shape, (1.0, 0.5, 1e-6))
    y = tt.round(x, eps=1e-3)
    assert y.ranks == (1,) + (2,) * (len(shape) - 1) + (1,)
    assert relative_error(y.full(), x.full()) == pytest.approx(1e-6 / math.sqrt(1.25), rel=1e-6)


@given(data=st.data())
def test_round_of_a_rank_deficient_tt_finds_the_true_ranks(xp, data):
    # x + x has ranks 2r but represents 2x, whose TT-SVD ranks are those of x.
    x = data.draw(tensor_trains(xp, dtypes=("float64", "complex128")))
    reference = tt.round(x, eps=1e-8)
    doubled = tt.round(x + x, eps=1e-8)
    assert doubled.ranks == reference.ranks
    assert relative_error(doubled.full(), 2 * backend.to_numpy(x.full())) <= 1e-8 + _slack(x.dtype)


@given(data=st.data())
def test_round_result_is_left_orthogonal(xp, data):
    x = data.draw(_any_tt(xp))
    y = tt.round(x, eps=data.draw(eps_values(dtype_str(x.dtype))))
    for core in y.cores[:-1]:
        assert _orthonormality_error(core, "left") <= 100 * unit_roundoff(x.dtype)


@pytest.mark.parametrize("mode", ["left", "right"])
@given(data=st.data())
def test_orthogonalized_cores_are_orthonormal(xp, data, mode):
    x = data.draw(_any_tt(xp))
    y = tt.orthogonalize(x, mode)
    assert type(y) is type(x)
    cores = y.cores[:-1] if mode == "left" else y.cores[1:]
    for core in cores:
        assert _orthonormality_error(core, mode) <= 100 * unit_roundoff(x.dtype)


@pytest.mark.parametrize("mode", ["left", "right"])
@given(data=st.data())
def test_orthogonalize_preserves_the_tensor(xp, data, mode):
    x = data.draw(_any_tt(xp))
    y = x.orthogonalize(mode)
    assert_close(y.full(), x.full(), x.dtype)
    assert all(a <= b for a, b in zip(y.ranks, x.ranks))


@pytest.mark.parametrize("mode", ["left", "right"])
def test_orthogonalize_carries_the_norm_in_the_free_core(xp, mode):
    x = tt.random((3, 4, 2, 5), 3, rng=11, like=xp.zeros(1))
    y = tt.orthogonalize(x, mode)
    carrier = y.cores[-1] if mode == "left" else y.cores[0]
    assert float(np.linalg.norm(backend.to_numpy(carrier))) == pytest.approx(
        float(np.linalg.norm(backend.to_numpy(x.full()))), rel=1e-12
    )


@pytest.mark.parametrize(
    "sweep", [lambda x: x.orthogonalize("left"), lambda x: x.orthogonalize("right"), tt.round],
    ids=["left", "right", "round"],
)
def test_canonical_sweeps_survive_partial_products_beyond_the_float_range(xp, sweep):
    # 20 cores of size ~1e20 then 20 of size ~1e-20: the tensor's entries are
    # of order 1, but a sweep that carried unnormalized factors would pass
    # through 1e400 (overflow) from the left or 1e-400 (underflow) from the
    # right. The entry is checked against a sum of logarithms.
    rng = np.random.default_rng(3)
    values = [scale * rng.uniform(0.5, 1.5, (1, 2, 1)) for scale in [1e20] * 20 + [1e-20] * 20]
    x = tt.TensorTrain([xp.asarray(v) for v in values])
    y = sweep(x)
    index = (1,) * 40
    expected = sum(math.log(v[0, 1, 0]) for v in values)
    got = float(backend.to_numpy(y[index]))
    assert got > 0 and math.log(got) == pytest.approx(expected, abs=1e-10)
