"""Specifications of a whole sequence model: pre-net, (TT-)GRU, post-net and masked BCE.

The model is the next-frame predictor of the TT-GRU experiments in miniature:
``Linear -> LeakyReLU -> GRU over a padded batch -> Linear`` with
:func:`tensortrain.nn.sigmoid_bce` averaged over the valid frames.
"""

from __future__ import annotations

import numpy as np
import pytest

from tensortrain import nn


class NextFramePredictor(nn.Module):
    """Logits of the next frame for every step of a batch of padded sequences."""

    def __init__(self, features, pre_size, hidden_size, rng=0, dtype=np.float64, **gru_kwargs):
        rng = np.random.default_rng(rng)
        self.pre = nn.Linear(features, pre_size, rng=rng, dtype=dtype)
        self.act = nn.LeakyReLU(0.1)
        self.gru = nn.GRU(pre_size, hidden_size, rng=rng, dtype=dtype, **gru_kwargs)
        self.post = nn.Linear(hidden_size, features, rng=rng, dtype=dtype)

    def forward(self, x, mask):
        hs = self.gru.forward(self.act.forward(self.pre.forward(x)), mask=mask)
        return self.post.forward(hs)

    def backward(self, dlogits):
        dhs = self.post.backward(dlogits)
        return self.pre.backward(self.act.backward(self.gru.backward(dhs)))


def loss_and_gradients(model, x, targets, mask):
    """Masked BCE of the model on one batch; adds the parameter gradients, returns (loss, dx)."""
    loss, dlogits = nn.sigmoid_bce(model.forward(x, mask), targets, mask)
    return loss, model.backward(dlogits)


def _mask(lengths, steps):
    return (np.arange(steps)[:, None] < np.asarray(lengths)[None, :]).astype(np.float64)


def periodic_batch(features=6, steps=16, batch=8, seed=0):
    """Binary sequences repeating a random pattern of period 2 to 4, padded to ``steps``.

    Returns inputs (frames 0..T-2), targets (frames 1..T-1) and their mask.
    """
    rng = np.random.default_rng(seed)
    frames = np.zeros((steps, batch, features))
    for b in range(batch):
        period = rng.integers(2, 5)
        pattern = rng.integers(0, 2, size=(period, features))
        frames[:, b] = pattern[np.arange(steps) % period]
    lengths = rng.integers(steps // 2, steps + 1, size=batch)
    mask = _mask(lengths - 1, steps - 1)
    frames[:-1] *= mask[:, :, None]  # padding holds zeros, as a loader would give
    return frames[:-1], frames[1:], mask


def train(model, data, steps, lr):
    """Adam with gradient clipping; returns the loss before each step and the final one."""
    x, targets, mask = data
    optimizer = nn.Adam(model, lr=lr)
    losses = []
    for _ in range(steps):
        model.zero_grad()
        loss, _ = loss_and_gradients(model, x, targets, mask)
        losses.append(loss)
        nn.clip_grad_norm(model, 5.0)
        optimizer.step()
    losses.append(nn.sigmoid_bce(model.forward(x, mask), targets, mask)[0])
    return losses


TT_GRU = dict(input_modes=(2, 4), hidden_modes=(4, 4), ranks=3, tt_input=True, tt_hidden=True)


def test_model_gradients_match_finite_differences_over_a_masked_batch():
    model = NextFramePredictor(
        3, 4, 4, rng=1, input_modes=(2, 2), hidden_modes=(2, 2), ranks=2,
        tt_input=True, tt_hidden=True,
    )
    rng = np.random.default_rng(2)
    mask = _mask([4, 2, 1], 4)
    x = nn.Parameter(rng.standard_normal((4, 3, 3)))
    targets = rng.integers(0, 2, size=(4, 3, 3)).astype(np.float64)

    def loss():
        value, dx = loss_and_gradients(model, x.value, targets, mask)
        x.grad = x.grad + dx
        return value

    errors = nn.gradient_errors(loss, {**model.named_parameters(), "x": x}, step=1e-5)
    assert max(errors.values()) <= 1e-6, errors


def test_padded_frames_change_neither_the_loss_nor_any_gradient():
    model = NextFramePredictor(4, 8, 16, rng=3, **TT_GRU)
    x, targets, mask = periodic_batch(features=4, seed=4)
    padded = mask[:, :, None] == 0
    assert padded.any()
    rng = np.random.default_rng(5)
    noisy_x = np.where(padded, 1e3 * rng.standard_normal(x.shape), x)
    noisy_targets = np.where(padded, rng.uniform(size=targets.shape), targets)

    runs = []
    for inputs, wanted in ((x, targets), (noisy_x, noisy_targets)):
        model.zero_grad()
        loss, dx = loss_and_gradients(model, inputs, wanted, mask)
        grads = {name: p.grad.copy() for name, p in model.named_parameters().items()}
        runs.append((loss, dx, grads))
    (loss, dx, grads), (noisy_loss, noisy_dx, noisy_grads) = runs
    assert noisy_loss == loss
    np.testing.assert_array_equal(noisy_dx[padded[:, :, 0]], 0.0)
    np.testing.assert_array_equal(noisy_dx, dx)
    for name in grads:
        np.testing.assert_allclose(noisy_grads[name], grads[name], rtol=1e-13, atol=1e-15)


def test_a_small_tt_gru_learns_periodic_sequences_within_a_few_hundred_steps():
    model = NextFramePredictor(6, 8, 16, rng=6, **TT_GRU)
    losses = train(model, periodic_batch(seed=7), steps=300, lr=1e-2)
    assert losses[0] > 3.5  # about 6 ln 2 nats per frame at the start
    assert losses[-1] < losses[0] / 10, losses[::50]


def test_a_compressed_dense_model_fine_tunes_back():
    data = periodic_batch(seed=8)
    dense = NextFramePredictor(6, 8, 16, rng=9)
    dense_losses = train(dense, data, steps=150, lr=1e-2)
    exact = nn.compress(dense, eps=0, input_modes=(2, 4), hidden_modes=(4, 4))
    x, targets, mask = data
    assert nn.sigmoid_bce(exact.forward(x, mask), targets, mask)[0] == pytest.approx(
        dense_losses[-1], rel=1e-10
    )

    small = nn.compress(dense, max_rank=2, input_modes=(2, 4), hidden_modes=(4, 4))
    assert nn.compression_ratio(dense, small) > 2
    tuned = train(small, data, steps=100, lr=5e-3)
    assert tuned[-1] < tuned[0] / 2
    assert isinstance(dense.gru.cell.w_hh, nn.Linear)  # the trained original is untouched


def test_a_tt_model_round_trips_through_a_checkpoint(tmp_path):
    model = NextFramePredictor(6, 8, 16, rng=10, **TT_GRU)
    data = periodic_batch(seed=11)
    optimizer = nn.Adam(model, lr=1e-2)
    model.zero_grad()
    loss_and_gradients(model, *data)
    optimizer.step()
    nn.save(tmp_path / "model.npz", model, optimizer, extra={"step": 1})

    restored = NextFramePredictor(6, 8, 16, rng=12, **TT_GRU)
    assert nn.load(tmp_path / "model.npz", restored, nn.Adam(restored, lr=1e-2))["step"] == 1
    x, _, mask = data
    np.testing.assert_array_equal(restored.forward(x, mask), model.forward(x, mask))
