"""Tests of tensortrain.nn.init: Glorot scales, TT core scales, orthogonal matrices.

The TT initialization is judged on the implied dense weight. Its entries are
products of ``d`` Gaussians, heavy-tailed, and every entry of one layer shares
the same few cores, so one layer's sample standard deviation can be 40% off
for small ranks. The estimate here pools the squared Frobenius norms of many
independently drawn layers (computed in TT format, without forming the
matrix); with these pool sizes the estimate stays within 10% for every base
seed from 0 to 20 (the slow test checks all of them).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tensortrain as tt
from tensortrain import nn

# (in_modes, out_modes, ranks, layers pooled); d = 1 is exactly Gaussian.
INIT_CASES = [
    ((4, 4, 4, 4), (8, 4, 4, 4), 2, 64),
    ((4, 4, 4, 4), (8, 4, 4, 4), 4, 64),
    ((4, 4, 4, 4), (8, 4, 4, 4), 8, 64),
    ((16, 16), (32, 16), 1, 64),
    ((16, 16), (32, 16), 16, 16),
    ((8, 8, 4), (8, 8, 8), 3, 64),
    ((8, 8, 4), (8, 8, 8), (6, 2), 64),
    ((256,), (512,), 1, 2),
]


def _pooled_std_ratio(in_modes, out_modes, ranks, layers, seed):
    """RMS of the dense weights of ``layers`` fresh TTLinears, over the Glorot std."""
    squares = []
    for k in range(layers):
        layer = nn.TTLinear(in_modes, out_modes, ranks, bias=False, rng=[seed, k], dtype=np.float64)
        squares.append(float(tt.norm(layer.weight)) ** 2)
    size = layer.in_features * layer.out_features
    target = nn.init.glorot_std(layer.in_features, layer.out_features)
    return math.sqrt(np.mean(squares) / size) / target


@pytest.mark.parametrize("in_modes, out_modes, ranks, layers", INIT_CASES)
def test_fresh_tt_linear_has_the_glorot_std_within_ten_percent(in_modes, out_modes, ranks, layers):
    assert abs(_pooled_std_ratio(in_modes, out_modes, ranks, layers, seed=0) - 1) < 0.10


@pytest.mark.slow
@pytest.mark.parametrize("in_modes, out_modes, ranks, layers", INIT_CASES[:-1])
def test_tt_init_std_check_is_not_flaky_over_seeds_0_to_20(in_modes, out_modes, ranks, layers):
    ratios = [_pooled_std_ratio(in_modes, out_modes, ranks, layers, seed) for seed in range(21)]
    assert max(abs(r - 1) for r in ratios) < 0.10, ratios


def test_pooled_norm_estimate_agrees_with_the_entries_of_the_full_matrix():
    layers = [nn.TTLinear((16, 16), (32, 16), 4, rng=s, dtype=np.float64) for s in range(4)]
    entries = np.concatenate([layer.weight.full().ravel() for layer in layers])
    assert abs(entries.std() / nn.init.glorot_std(256, 512) - 1) < 0.10
    assert abs(entries.mean()) < 0.1 * entries.std()


def test_tt_core_std_follows_the_variance_formula():
    # Var(W_ij) = prod(r_1..r_{d-1}) sigma^(2d)
    sigma = nn.init.tt_core_std((8, 4, 4, 4), (4, 4, 4, 4), (1, 11, 11, 11, 1), 0.05)
    assert sigma == pytest.approx(0.192, abs=5e-4)
    assert 11**3 * sigma**8 == pytest.approx(0.05**2, rel=1e-12)


def test_tt_core_std_uses_the_clipped_ranks():
    # Fused modes (2, 2): the only reachable bond rank is 2, whatever is asked.
    reachable = nn.init.tt_core_std((2, 1), (1, 2), 2, 0.1)
    assert nn.init.tt_core_std((2, 1), (1, 2), 50, 0.1) == pytest.approx(reachable)
    assert nn.init.tt_core_std((2, 1), (1, 2), 2, 0.1) ** 4 * 2 == pytest.approx(0.01)


def test_tt_core_std_refuses_bad_arguments_by_name():
    with pytest.raises(ValueError, match="target_std must be a finite number > 0"):
        nn.init.tt_core_std((2,), (2,), 1, 0.0)
    with pytest.raises(ValueError, match="row_modes and col_modes must have the same length"):
        nn.init.tt_core_std((2, 2), (2,), 1, 0.1)
    with pytest.raises(ValueError, match="ranks must be a positive integer"):
        nn.init.tt_core_std((2, 2), (2, 2), 0, 0.1)


def test_glorot_std_and_uniform():
    assert nn.init.glorot_std(256, 512) == pytest.approx(math.sqrt(2 / 768))
    weight = nn.init.glorot_uniform((400, 300), rng=0, dtype=np.float64)
    assert weight.shape == (400, 300) and weight.dtype == np.float64
    assert np.abs(weight).max() <= math.sqrt(6 / 700)
    assert weight.std() == pytest.approx(nn.init.glorot_std(300, 400), rel=0.02)
    with pytest.raises(ValueError, match="fan_in must be a positive integer"):
        nn.init.glorot_std(0, 3)


@pytest.mark.parametrize("shape", [(5, 5), (8, 3), (3, 8)])
def test_orthogonal_has_orthonormal_rows_or_columns(shape):
    q = nn.init.orthogonal(shape, rng=1, dtype=np.float64)
    assert q.shape == shape
    gram = q.T @ q if shape[0] >= shape[1] else q @ q.T
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-12)
    np.testing.assert_allclose(nn.init.orthogonal(shape, rng=1, dtype=np.float64), q)


def test_orthogonal_gain_scales_the_matrix():
    q = nn.init.orthogonal((4, 4), rng=0, dtype=np.float64, gain=2.0)
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(4), atol=1e-12)


def test_init_refuses_unsupported_dtypes_and_shapes():
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        nn.init.glorot_uniform((2, 2), dtype=np.int32)
    with pytest.raises(ValueError, match=r"shape must be a pair \(rows, cols\)"):
        nn.init.orthogonal((2, 2, 2))


def test_init_places_values_in_the_library_of_like():
    xps = pytest.importorskip("array_api_strict")
    like = xps.asarray([1.0])
    weight = nn.init.orthogonal((3, 3), rng=0, dtype=xps.float64, like=like)
    assert isinstance(weight, type(like)) and weight.dtype == xps.float64
    assert nn.init.place(np.ones(2), like=like).dtype == xps.float32
