"""Tests of tensortrain.nn optimizers (SGD, Adam) and gradient-norm clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tensortrain import nn

TARGET = np.array([1.0, -2.0, 0.5])


def _quadratic_param(start=(3.0, 3.0, -3.0)):
    return nn.Parameter(np.array(start))


def _quadratic_loss(param):
    """``0.5 ||p - TARGET||^2`` with its gradient accumulated into ``param.grad``."""
    diff = param.value - TARGET
    param.grad = param.grad + diff
    return 0.5 * float(diff @ diff)


def _minimize(optimizer, param, steps):
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        losses.append(_quadratic_loss(param))
        optimizer.step()
    return losses


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: nn.SGD(ps, lr=0.1),
        lambda ps: nn.SGD(ps, lr=0.05, momentum=0.9),
        lambda ps: nn.Adam(ps, lr=0.1),
    ],
    ids=["sgd", "sgd-momentum", "adam"],
)
def test_optimizers_minimize_a_quadratic(make):
    param = _quadratic_param()
    losses = _minimize(make([param]), param, 200)
    assert losses[-1] < 1e-3 * losses[0]
    np.testing.assert_allclose(param.value, TARGET, atol=0.05)


def test_sgd_step_is_minus_lr_times_gradient():
    param = _quadratic_param()
    optimizer = nn.SGD([param], lr=0.25)
    _quadratic_loss(param)
    optimizer.step()
    np.testing.assert_allclose(param.value, [3, 3, -3] - 0.25 * (np.array([3, 3, -3]) - TARGET))


def test_sgd_momentum_accumulates_velocity():
    param = nn.Parameter(np.zeros(2))
    optimizer = nn.SGD([param], lr=1.0, momentum=0.5)
    for expected in ([-1, -1], [-2.5, -2.5], [-4.25, -4.25]):
        param.grad = np.ones(2)
        optimizer.step()
        np.testing.assert_allclose(param.value, expected)


def test_adam_first_step_matches_the_formula():
    param = nn.Parameter(np.array([1.0, -2.0, 0.0, 4.0]))
    grad = np.array([0.3, -4.0, 1e-3, 0.0])
    optimizer = nn.Adam([param], lr=0.01, betas=(0.8, 0.99), eps=1e-8)
    param.grad = grad.copy()
    optimizer.step()
    m_hat = (1 - 0.8) * grad / (1 - 0.8)
    v_hat = (1 - 0.99) * grad**2 / (1 - 0.99)
    expected = np.array([1.0, -2.0, 0.0, 4.0]) - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(param.value, expected, rtol=1e-14)
    # bias correction makes the first step lr * sign(g) wherever |g| >> eps
    np.testing.assert_allclose(param.value[:2], [1.0 - 0.01, -2.0 + 0.01], rtol=1e-6)


def test_adam_second_step_uses_both_moments():
    param = nn.Parameter(np.array([0.0]))
    optimizer = nn.Adam([param], lr=0.1, betas=(0.9, 0.999), eps=0.0 + 1e-12)
    for g in (1.0, 3.0):
        param.grad = np.array([g])
        optimizer.step()
    m = 0.9 * 0.1 * 1.0 + 0.1 * 3.0
    v = 0.999 * 0.001 * 1.0 + 0.001 * 9.0
    second = 0.1 * (m / (1 - 0.9**2)) / (math.sqrt(v / (1 - 0.999**2)) + 1e-12)
    np.testing.assert_allclose(param.value, [-0.1 - second], rtol=1e-12)


def test_weight_decay_adds_an_l2_gradient():
    sgd_param = nn.Parameter(np.array([2.0, -4.0]))
    optimizer = nn.SGD([sgd_param], lr=0.1, weight_decay=0.5)
    optimizer.step()  # zero gradient: only the decay acts
    np.testing.assert_allclose(sgd_param.value, [2.0 * 0.95, -4.0 * 0.95])

    adam_param = nn.Parameter(np.array([2.0, -4.0]))
    nn.Adam([adam_param], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(adam_param.value, [2.0 - 0.1, -4.0 + 0.1], rtol=1e-7)


def test_clip_grad_norm_scales_to_exactly_max_norm():
    params = [nn.Parameter(np.zeros(3)), nn.Parameter(np.zeros((2, 2)))]
    params[0].grad = np.array([3.0, 0.0, 4.0])
    params[1].grad = np.full((2, 2), 6.0)
    before = nn.clip_grad_norm(params, max_norm=5.0)
    assert before == pytest.approx(13.0, rel=1e-15)
    after = math.sqrt(sum(float(np.sum(p.grad**2)) for p in params))
    assert after == pytest.approx(5.0, rel=1e-14)
    np.testing.assert_allclose(params[0].grad, np.array([3.0, 0.0, 4.0]) * 5 / 13)


def test_clip_grad_norm_leaves_small_and_non_finite_gradients_alone():
    param = nn.Parameter(np.zeros(2))
    param.grad = np.array([0.3, 0.4])
    assert nn.clip_grad_norm([param], 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(param.grad, [0.3, 0.4])
    param.grad = np.array([np.inf, 1.0])
    assert math.isinf(nn.clip_grad_norm([param], 1.0))
    np.testing.assert_array_equal(param.grad, [np.inf, 1.0])


def _model():
    return nn.Sequential(
        nn.TTLinear((2, 3), (2, 2), 2, rng=0, dtype=np.float64),
        nn.Tanh(),
        nn.Linear(4, 2, rng=1, dtype=np.float64),
    )


def _train_step(model, optimizer, seed):
    rng = np.random.default_rng(seed)
    x, dy = rng.standard_normal((5, 6)), rng.standard_normal((5, 2))
    optimizer.zero_grad()
    model(x)
    model.backward(dy)
    optimizer.step()


@pytest.mark.parametrize(
    "make", [lambda m: nn.Adam(m, lr=0.01), lambda m: nn.SGD(m, lr=0.1, momentum=0.9)]
)
def test_state_dict_covers_tt_cores_and_dense_weights_and_resumes_exactly(make):
    model, twin = _model(), _model()
    optimizer = make(model)
    for seed in range(3):
        _train_step(model, optimizer, seed)
    state = optimizer.state_dict()
    buffers = {key.partition(".")[2] for key in state if key != "step"}
    assert buffers == set(model.named_parameters())
    assert int(state["step"]) == 3

    for p, q in zip(twin.parameters(), model.parameters()):
        p.value = q.value.copy()
    resumed = make(twin)
    resumed.load_state_dict({k: np.array(v) for k, v in state.items()})
    _train_step(model, optimizer, 7)
    _train_step(twin, resumed, 7)
    for p, q in zip(twin.parameters(), model.parameters()):
        np.testing.assert_array_equal(p.value, q.value)


def test_load_state_dict_refuses_a_wrong_shape_and_changes_nothing():
    model = _model()
    optimizer = nn.Adam(model, lr=0.01)
    _train_step(model, optimizer, 0)
    before = {k: np.array(v) for k, v in optimizer.state_dict().items()}
    bad = dict(before)
    bad["exp_avg.layers.0.core0"] = np.zeros((9, 9))
    with pytest.raises(ValueError, match=r"state\['exp_avg.layers.0.core0'\] must have shape"):
        optimizer.load_state_dict(bad)
    bad = dict(before, **{"exp_avg.nothing": np.zeros(1)})
    with pytest.raises(ValueError, match="names no buffer"):
        optimizer.load_state_dict(bad)
    for key, value in optimizer.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


def test_optimizers_refuse_bad_hyperparameters_by_name():
    params = [nn.Parameter(np.zeros(1))]
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        nn.SGD(params, lr=0.0)
    with pytest.raises(ValueError, match=r"momentum must lie in \[0, 1\)"):
        nn.SGD(params, lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match=r"betas\[1\] must lie in \[0, 1\)"):
        nn.Adam(params, betas=(0.9, 1.5))
    with pytest.raises(ValueError, match="max_norm must be a finite number > 0"):
        nn.clip_grad_norm(params, 0)
    with pytest.raises(TypeError, match=r"params\['0'\] must be an nn.Parameter"):
        nn.SGD([np.zeros(1)], lr=0.1)


def test_optimizers_and_clipping_run_on_array_api_strict_arrays():
    xps = pytest.importorskip("array_api_strict")
    like = xps.asarray([0.0], dtype=xps.float64)
    x = np.random.default_rng(0).standard_normal((3, 4))
    results = []
    runs = ((xps.asarray(x), {"dtype": xps.float64, "like": like}), (x, {"dtype": np.float64}))
    for xp_x, options in runs:
        model = nn.TTLinear((2, 2), (2, 2), 2, rng=0, **options)
        optimizer = nn.Adam(model, lr=0.1, weight_decay=0.01)
        y = model(xp_x)
        model.backward(y)
        nn.clip_grad_norm(model, 0.5)
        optimizer.step()
        results.append([np.asarray(p.value) for p in model.parameters()])
    for strict, reference in zip(*results):
        np.testing.assert_allclose(strict, reference, rtol=1e-12)
