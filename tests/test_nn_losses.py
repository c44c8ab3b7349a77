"""Tests of tensortrain.nn losses: softmax cross-entropy and masked sigmoid BCE."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensortrain import nn

TOL = 1e-6


def _loss_gradient_error(loss_fn, logits):
    """Relative error of a loss's returned gradient against finite differences."""
    param = nn.Parameter(logits)

    def f():
        loss, dlogits = loss_fn(param.value)
        param.grad = param.grad + dlogits
        return loss

    return nn.gradcheck(f, [param])


# --------------------------------------------------------------------------- softmax CE

def _naive_cross_entropy(logits, labels):
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return -np.mean(np.log(probs[np.arange(len(labels)), labels]))


def test_softmax_cross_entropy_matches_the_definition():
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    loss, dlogits = nn.softmax_cross_entropy(logits, labels)
    assert loss == pytest.approx(_naive_cross_entropy(logits, labels), rel=1e-13)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probs[np.arange(6), labels] -= 1
    np.testing.assert_allclose(dlogits, probs / 6, rtol=1e-12)
    assert isinstance(loss, float)


@settings(max_examples=15)
@given(st.integers(1, 5), st.integers(2, 6), st.integers(0, 2**16))
def test_softmax_cross_entropy_gradient_matches_finite_differences(batch, classes, seed):
    rng = np.random.default_rng(seed)
    logits, labels = 3 * rng.standard_normal((batch, classes)), rng.integers(0, classes, batch)
    assert _loss_gradient_error(lambda z: nn.softmax_cross_entropy(z, labels), logits) <= TOL


def test_softmax_cross_entropy_is_finite_for_extreme_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dlogits = nn.softmax_cross_entropy(logits, np.array([1, 2]))
    assert loss == pytest.approx(2e4 / 2, rel=1e-6)  # first row costs 2e4 nats, second 0
    assert np.all(np.isfinite(dlogits))


def test_softmax_cross_entropy_refuses_bad_labels_by_name():
    logits = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        nn.softmax_cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        nn.softmax_cross_entropy(logits, np.array([0, 1, 2]))
    with pytest.raises(TypeError, match="labels must have an integer dtype"):
        nn.softmax_cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"logits must have shape \(B, C\)"):
        nn.softmax_cross_entropy(np.zeros(3), np.array([0]))


# --------------------------------------------------------------------------- sigmoid BCE

def _naive_bce(logits, targets, mask):
    probs = 1 / (1 + np.exp(-logits))
    per_frame = -(targets * np.log(probs) + (1 - targets) * np.log(1 - probs)).sum(axis=-1)
    return (per_frame * mask).sum() / mask.sum()


def _sequence_batch(seed=0, shape=(5, 3, 4)):
    rng = np.random.default_rng(seed)
    logits = 2 * rng.standard_normal(shape)
    targets = (rng.random(shape) < 0.3).astype(np.float64)
    mask = np.ones(shape[:2])
    mask[3:, 0] = 0  # a shorter first sequence
    return logits, targets, mask


def test_sigmoid_bce_is_the_nll_per_valid_frame():
    logits, targets, mask = _sequence_batch()
    loss, dlogits = nn.sigmoid_bce(logits, targets, mask)
    assert loss == pytest.approx(_naive_bce(logits, targets, mask), rel=1e-12)
    expected = (1 / (1 + np.exp(-logits)) - targets) * mask[..., None] / mask.sum()
    np.testing.assert_allclose(dlogits, expected, rtol=1e-12, atol=1e-15)


def test_sigmoid_bce_without_mask_averages_over_every_frame():
    logits, targets, _ = _sequence_batch(1)
    loss, _ = nn.sigmoid_bce(logits, targets)
    assert loss == pytest.approx(_naive_bce(logits, targets, np.ones((5, 3))), rel=1e-12)


@settings(max_examples=15)
@given(st.integers(0, 2**16))
def test_sigmoid_bce_gradient_matches_finite_differences(seed):
    logits, targets, mask = _sequence_batch(seed, shape=(4, 2, 3))
    error = _loss_gradient_error(lambda z: nn.sigmoid_bce(z, targets, mask), logits)
    assert error <= TOL


def test_a_fully_masked_sequence_contributes_nothing():
    logits, targets, mask = _sequence_batch(2)
    mask[:, 1] = 0
    loss, dlogits = nn.sigmoid_bce(logits, targets, mask)
    kept = [0, 2]
    alone, _ = nn.sigmoid_bce(logits[:, kept], targets[:, kept], mask[:, kept])
    assert loss == pytest.approx(alone, rel=1e-12)
    assert not np.any(dlogits[:, 1])


def test_a_fully_masked_batch_gives_zero_loss_and_zero_gradient():
    logits, targets, mask = _sequence_batch(3)
    loss, dlogits = nn.sigmoid_bce(logits, targets, np.zeros_like(mask))
    assert loss == 0.0
    assert dlogits.shape == logits.shape and not np.any(dlogits)


def test_padding_values_never_reach_the_loss():
    logits, targets, mask = _sequence_batch(4)
    logits[3:, 0] = np.nan
    targets[3:, 0] = np.inf
    loss, dlogits = nn.sigmoid_bce(logits, targets, mask)
    assert math.isfinite(loss) and np.all(np.isfinite(dlogits))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_bce_is_finite_and_exact_for_extreme_logits(dtype):
    logits = np.array([[[1e4, -1e4, 1e4, -1e4]]], dtype=dtype)
    targets = np.array([[[1.0, 0.0, 0.0, 1.0]]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dlogits = nn.sigmoid_bce(logits, targets, np.ones((1, 1)))
    assert loss == pytest.approx(2e4, rel=1e-6)  # the two wrong ones cost 1e4 nats each
    np.testing.assert_allclose(dlogits, [[[0, 0, 1, -1]]], atol=1e-6)


def test_sigmoid_bce_refuses_mismatched_shapes_by_name():
    logits = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match="targets must have the logits' shape"):
        nn.sigmoid_bce(logits, np.zeros((2, 3, 5)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"mask must have shape \(2, 3\)"):
        nn.sigmoid_bce(logits, np.zeros((2, 3, 4)), np.ones((3, 2)))
    with pytest.raises(TypeError, match="logits must have dtype float32 or float64"):
        nn.sigmoid_bce(np.zeros((2, 3), dtype=np.int64), np.zeros((2, 3)))


def test_gradcheck_notices_a_wrong_gradient():
    logits, targets, mask = _sequence_batch(5, shape=(3, 2, 2))

    def half_gradient(z):
        loss, dlogits = nn.sigmoid_bce(z, targets, mask)
        return loss, 0.5 * dlogits

    assert _loss_gradient_error(half_gradient, logits) > 0.1
