"""Tests of tensortrain.nn layers: Linear, TTLinear, activations, Dropout, Sequential.

Gradients are checked by central finite differences in float64 (relative
error <= 1e-6), and TTLinear is checked against its dense twin.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensortrain as tt
from tensortrain import contract, nn
from tensortrain.nn.linear import _chain_backward, _chain_forward, chain_direction, chain_flops

TOL = 1e-6
HYPOTHESIS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- strategies

@st.composite
def tt_layer_shapes(draw, max_d=4, max_mode=3, max_rank=3):
    """(in_modes, out_modes, ranks, leading dims) of a small TTLinear problem."""
    d = draw(st.integers(1, max_d))
    in_modes = tuple(draw(st.lists(st.integers(1, max_mode), min_size=d, max_size=d)))
    out_modes = tuple(draw(st.lists(st.integers(1, max_mode), min_size=d, max_size=d)))
    ranks = draw(st.integers(1, max_rank))
    lead = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    return in_modes, out_modes, ranks, lead


def _inputs(lead, features, seed=0):
    return np.random.default_rng(seed).standard_normal(lead + (features,))


def _dense_twin(layer: nn.TTLinear) -> nn.Linear:
    twin = nn.Linear(layer.in_features, layer.out_features, dtype=np.float64)
    twin.weight.value = layer.weight.full()
    twin.bias.value = layer.bias.value
    return twin


def _random_bias(layer, seed=5):
    layer.bias.value = np.random.default_rng(seed).standard_normal(layer.out_features)


# --------------------------------------------------------------------------- Linear

def test_linear_computes_x_times_weight_transposed_plus_bias():
    layer = nn.Linear(5, 3, rng=0, dtype=np.float64)
    _random_bias(layer)
    x = _inputs((2, 4), 5)
    expected = x @ layer.weight.value.T + layer.bias.value
    np.testing.assert_allclose(layer(x), expected, rtol=1e-13)


def test_linear_defaults_to_float32_glorot_uniform_and_zero_bias():
    layer = nn.Linear(300, 200, rng=1)
    weight = layer.weight.value
    assert weight.dtype == np.float32 and weight.shape == (200, 300)
    limit = math.sqrt(6 / 500)
    assert np.abs(weight).max() <= limit
    assert abs(weight.std() / nn.init.glorot_std(300, 200) - 1) < 0.02
    assert not np.any(layer.bias.value)
    assert list(layer.named_parameters()) == ["weight", "bias"]


def test_linear_without_bias_has_only_a_weight():
    layer = nn.Linear(4, 2, bias=False, rng=0, dtype=np.float64)
    assert list(layer.named_parameters()) == ["weight"]
    x = _inputs((3,), 4)
    np.testing.assert_allclose(layer(x), x @ layer.weight.value.T)
    assert nn.gradcheck_module(layer, x) <= TOL


@pytest.mark.parametrize("lead", [(), (4,), (2, 3)])
def test_linear_gradients_match_finite_differences(lead):
    layer = nn.Linear(4, 3, rng=2, dtype=np.float64)
    _random_bias(layer)
    assert nn.gradcheck_module(layer, _inputs(lead, 4)) <= TOL


def test_linear_backward_adds_into_existing_gradients():
    layer = nn.Linear(3, 2, rng=0, dtype=np.float64)
    x = _inputs((4,), 3)
    dy = np.ones((4, 2))
    layer(x)
    layer.backward(dy)
    once = layer.weight.grad.copy()
    layer(x)
    layer.backward(dy)
    np.testing.assert_allclose(layer.weight.grad, 2 * once)


def test_linear_refuses_a_wrong_input_width_by_name():
    layer = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 3\)"):
        layer(np.ones((2, 4)))
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        nn.Linear(0, 2)


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Linear(2, 2).backward(np.ones((1, 2)))
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Tanh().backward(np.ones(2))


def test_caches_from_forward_with_cache_are_independent():
    layer = nn.TTLinear((2, 3), (3, 2), 2, rng=0, dtype=np.float64)
    x1, x2 = _inputs((2,), 6, 1), _inputs((2,), 6, 2)
    _, cache1 = layer.forward_with_cache(x1)
    _, cache2 = layer.forward_with_cache(x2)
    dy = np.ones((2, 6))
    dense = layer.weight.full()
    np.testing.assert_allclose(layer.backward_from_cache(dy, cache1), dy @ dense, rtol=1e-12)
    layer.zero_grad()
    layer.backward_from_cache(dy, cache2)
    np.testing.assert_allclose(layer.bias.grad, dy.sum(axis=0))


# --------------------------------------------------------------------------- TTLinear

def test_tt_linear_weight_maps_in_modes_to_out_modes():
    layer = nn.TTLinear((4, 4, 4, 4), (12, 8, 4, 4), 8, rng=0)
    assert layer.weight.row_modes == (12, 8, 4, 4)
    assert layer.weight.col_modes == (4, 4, 4, 4)
    assert layer.weight.shape == (1536, 256)
    assert layer.ranks == (1, 8, 8, 8, 1)
    assert list(layer.named_parameters()) == ["core0", "core1", "core2", "core3", "bias"]
    assert all(p.value.dtype == np.float32 for p in layer.parameters())
    assert layer.num_params == sum(p.size for p in layer.parameters())


def test_tt_linear_clips_unreachable_ranks():
    layer = nn.TTLinear((2, 2), (2, 1), 10, rng=0)
    assert layer.ranks == (1, 2, 1)


@HYPOTHESIS
@given(tt_layer_shapes())
def test_tt_linear_equals_its_dense_twin_forward_and_backward(shapes):
    in_modes, out_modes, ranks, lead = shapes
    layer = nn.TTLinear(in_modes, out_modes, ranks, rng=3, dtype=np.float64)
    _random_bias(layer)
    twin = _dense_twin(layer)
    x = _inputs(lead, layer.in_features)
    y = layer(x)
    np.testing.assert_allclose(y, twin(x), rtol=1e-10, atol=1e-12)
    dy = np.random.default_rng(4).standard_normal(y.shape)
    np.testing.assert_allclose(layer.backward(dy), twin.backward(dy), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, twin.bias.grad, rtol=1e-12, atol=1e-12)


@HYPOTHESIS
@given(tt_layer_shapes())
def test_tt_linear_gradients_match_finite_differences(shapes):
    in_modes, out_modes, ranks, lead = shapes
    layer = nn.TTLinear(in_modes, out_modes, ranks, rng=5, dtype=np.float64)
    _random_bias(layer)
    assert nn.gradcheck_module(layer, _inputs(lead, layer.in_features, 6)) <= TOL


def test_tt_linear_core_gradients_are_the_dense_gradient_pulled_back():
    # d<W, dW_dense> along a core direction equals <dG_k, direction>: the chain rule.
    layer = nn.TTLinear((2, 3, 2), (3, 2, 2), 2, rng=7, dtype=np.float64)
    x = _inputs((5,), layer.in_features)
    dy = np.random.default_rng(8).standard_normal((5, layer.out_features))
    layer(x)
    layer.backward(dy)
    dense_grad = dy.T @ x
    rng = np.random.default_rng(9)
    for k, core in enumerate(layer.cores):
        direction = rng.standard_normal(core.shape)
        cores = [p.value for p in layer.cores]
        cores[k] = direction
        along = tt.TTMatrix(cores).full()  # W is linear in each core
        expected = np.sum(dense_grad * along)
        np.testing.assert_allclose(np.sum(core.grad * direction), expected, rtol=1e-10)


@HYPOTHESIS
@given(tt_layer_shapes(), st.sampled_from(["left", "right"]))
def test_both_chain_directions_give_the_same_product_and_gradients(shapes, direction):
    in_modes, out_modes, ranks, _ = shapes
    layer = nn.TTLinear(in_modes, out_modes, ranks, rng=1, dtype=np.float64)
    cores = [p.value for p in layer.cores]
    x = _inputs((3,), layer.in_features)
    dense = layer.weight.full()
    xp = layer.weight.xp
    y, stored = _chain_forward(xp, cores, x, out_modes, in_modes, layer.ranks, direction)
    np.testing.assert_allclose(y, x @ dense.T, rtol=1e-10, atol=1e-12)
    dy = np.random.default_rng(2).standard_normal(y.shape)
    _, dx = _chain_backward(xp, cores, dy, stored, out_modes, in_modes, layer.ranks)
    np.testing.assert_allclose(dx, dy @ dense, rtol=1e-10, atol=1e-12)


def test_chain_direction_picks_the_direction_with_fewer_flops():
    wide = ((12, 8, 4, 4), (4, 4, 4, 4), (1, 8, 8, 8, 1))  # 256 -> 1536
    narrow = ((4, 4, 4, 4), (12, 8, 4, 4), (1, 8, 8, 8, 1))  # 1536 -> 256
    assert chain_flops("right", *wide) < chain_flops("left", *wide)
    assert chain_direction(*wide) == "right"
    assert chain_direction(*narrow) == "left"


@pytest.mark.parametrize("direction", ["left", "right"])
def test_chain_flops_equal_the_planned_contractions(direction):
    row_modes, col_modes, ranks = (3, 4, 2), (2, 5, 3), (1, 4, 3, 1)
    layer = nn.TTLinear(col_modes, row_modes, ranks[1:-1], rng=0, dtype=np.float64)
    cores = [p.value for p in layer.cores]
    layout = nn.linear._layout(direction, 7, row_modes, col_modes, ranks)
    state_sub, result_sub, _ = nn.linear._SUBSCRIPTS[direction]
    planned = sum(
        contract.plan(f"{state_sub},aijb->{result_sub}", shape, cores[k].shape).flops
        for k, shape in zip(layout.order, layout.states)
    )
    assert chain_flops(direction, row_modes, col_modes, ranks, batch=7) == planned


def test_tt_linear_from_dense_reproduces_a_linear_layer_exactly():
    dense = nn.Linear(12, 6, rng=0, dtype=np.float64)
    _random_bias(dense)
    layer = nn.TTLinear.from_dense(dense, (3, 4), (2, 3))
    assert layer.weight.shape == (6, 12)
    np.testing.assert_allclose(layer.weight.full(), dense.weight.value, atol=1e-12)
    np.testing.assert_array_equal(layer.bias.value, dense.bias.value)
    assert layer.bias.value is not dense.bias.value
    x = _inputs((4,), 12)
    np.testing.assert_allclose(layer(x), dense(x), atol=1e-12)


def test_tt_linear_from_dense_respects_max_rank_and_eps_and_dtype():
    weight = np.random.default_rng(1).standard_normal((16, 16)).astype(np.float32)
    capped = nn.TTLinear.from_dense(weight, (4, 4), (4, 4), max_rank=3)
    assert capped.ranks == (1, 3, 1)
    assert capped.core0.value.dtype == np.float32
    assert not np.any(capped.bias.value)
    loose = nn.TTLinear.from_dense(weight, (4, 4), (4, 4), eps=0.5)
    error = np.linalg.norm(loose.weight.full() - weight) / np.linalg.norm(weight)
    assert error <= 0.5 and loose.ranks[1] < 16


def test_tt_linear_from_dense_refuses_modes_that_do_not_fit():
    with pytest.raises(ValueError, match="multiply to"):
        nn.TTLinear.from_dense(np.ones((6, 12)), (3, 3), (2, 3))
    with pytest.raises(TypeError, match="linear_or_weight"):
        nn.TTLinear.from_dense("weights", (2,), (2,))


def test_tt_linear_refuses_mismatched_mode_lists_by_name():
    with pytest.raises(ValueError, match="in_modes and out_modes must have the same length"):
        nn.TTLinear((2, 2), (4,), 2)
    with pytest.raises(ValueError, match="in_modes must hold positive integers"):
        nn.TTLinear((2, 0), (2, 2), 2)


def test_layers_run_on_array_api_strict_arrays():
    xps = pytest.importorskip("array_api_strict")
    like = xps.asarray([0.0], dtype=xps.float64)
    layer = nn.TTLinear((2, 3), (3, 2), 2, rng=0, dtype=xps.float64, like=like)
    reference = nn.TTLinear((2, 3), (3, 2), 2, rng=0, dtype=np.float64)
    x = _inputs((2, 4), 6)
    y = layer(xps.asarray(x))
    np.testing.assert_allclose(np.asarray(y), reference(x), rtol=1e-12)
    dx = layer.backward(xps.ones(y.shape, dtype=xps.float64))
    np.testing.assert_allclose(np.asarray(dx), reference.backward(np.ones((2, 4, 6))), rtol=1e-12)
    dense = nn.Linear(6, 3, rng=0, dtype=xps.float64, like=like)
    assert dense(xps.asarray(x)).shape == (2, 4, 3)


# --------------------------------------------------------------------------- activations

@pytest.mark.parametrize("module", [nn.Tanh(), nn.Sigmoid(), nn.LeakyReLU(0.1)], ids=repr)
def test_activation_gradients_match_finite_differences(module):
    x = _inputs((3, 4), 5)
    x = np.where(np.abs(x) < 1e-3, 0.5, x)  # keep away from LeakyReLU's kink
    assert nn.gradcheck_module(module, x) <= TOL


def test_activations_compute_their_formulas():
    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(nn.Tanh()(x), np.tanh(x))
    np.testing.assert_allclose(nn.Sigmoid()(x), 1 / (1 + np.exp(-x)), rtol=1e-14)
    np.testing.assert_allclose(nn.LeakyReLU(0.2)(x), np.where(x > 0, x, 0.2 * x))


def test_sigmoid_is_finite_and_warning_free_at_extreme_inputs():
    x = np.array([-1e4, -800.0, 0.0, 800.0, 1e4], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = nn.sigmoid(x)
        log_y = nn.log_sigmoid(x)
    np.testing.assert_array_equal(y, [0, 0, 0.5, 1, 1])
    assert np.all(np.isfinite(log_y)) and log_y[0] == -1e4


def test_dropout_gradients_match_finite_differences_with_a_fixed_mask():
    layer = nn.Dropout(0.4, rng=0)
    x = _inputs((4, 6), 5)
    mask = layer.sample_mask(x.shape, x)
    assert nn.gradcheck_module(layer, x, mask=mask) <= TOL


def test_dropout_zeroes_a_fraction_p_and_keeps_the_mean():
    layer = nn.Dropout(0.3, rng=1)
    x = np.ones((400, 500))
    y = layer(x)
    dropped = np.mean(y == 0)
    assert abs(dropped - 0.3) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.7)
    assert abs(y.mean() - 1) < 0.01
    np.testing.assert_array_equal(layer.backward(x), y)


def test_dropout_is_the_identity_in_eval_mode():
    layer = nn.Dropout(0.5, rng=0).eval()
    x = _inputs((3,), 4)
    assert layer(x) is x
    np.testing.assert_array_equal(layer.backward(x), x)


def test_dropout_refuses_bad_probabilities_and_masks():
    with pytest.raises(ValueError, match=r"p must be a number in \[0, 1\)"):
        nn.Dropout(1.0)
    with pytest.raises(ValueError, match="mask must broadcast"):
        nn.Dropout(0.5)(np.ones((2, 3)), mask=np.ones((3, 3)))


# --------------------------------------------------------------------------- Sequential

def _stack():
    return nn.Sequential(
        nn.Linear(6, 4, rng=0, dtype=np.float64),
        nn.LeakyReLU(0.1),
        nn.TTLinear((2, 2), (2, 3), 2, rng=1, dtype=np.float64),
        nn.Tanh(),
    )


def test_sequential_names_its_parameters_by_position():
    names = list(_stack().named_parameters())
    assert names == [
        "layers.0.weight", "layers.0.bias", "layers.2.core0", "layers.2.core1", "layers.2.bias"
    ]


def test_sequential_gradients_match_finite_differences():
    model = _stack()
    for p in model.parameters():
        p.value = p.value + 0.1 * np.random.default_rng(3).standard_normal(p.shape)
    assert nn.gradcheck_module(model, _inputs((5,), 6)) <= TOL


def test_sequential_train_and_eval_reach_every_child():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model.eval()
    assert not model[1].training
    model.train()
    assert model[1].training


def test_sequential_refuses_non_modules():
    with pytest.raises(TypeError, match=r"modules\[1\] must be an nn.Module"):
        nn.Sequential(nn.Tanh(), np.tanh)
