"""Specifications of the recurrent cells, the sequence layers and their compression.

Gradients are checked against central differences in float64 with
:func:`tensortrain.nn.gradient_errors` (relative Frobenius error per array).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensortrain as tt
from tensortrain import nn

CELLS = (nn.RNNCell, nn.GRUCell)
LAYERS = (nn.RNN, nn.GRU)
SIDES = ((False, False), (False, True), (True, False), (True, True))
GRAD_TOL = 1e-6
# Central differences with this step: truncation error ~1e-10 relative, and
# rounding error ~1e-11 * |loss| / |gradient|, small even for tiny gradients.
FD_STEP = 1e-5


def _ids(sides):
    tt_input, tt_hidden = sides
    return f"{'tt' if tt_input else 'dense'}-{'tt' if tt_hidden else 'dense'}"


def _mask(lengths, steps):
    """(T, B) mask with ones on the first ``lengths[b]`` steps of sequence ``b``."""
    return (np.arange(steps)[:, None] < np.asarray(lengths)[None, :]).astype(np.float64)


def _sequence_errors(layer, x, h0, mask, dh_last=None, seed=0):
    """Relative gradient errors of a sequence layer's parameters, x and h0."""
    rng = np.random.default_rng(seed)
    x_param, h0_param = nn.Parameter(x), nn.Parameter(h0)
    weights = rng.standard_normal((x.shape[0], x.shape[1], layer.hidden_size))

    def loss():
        hs = layer.forward(x_param.value, h0_param.value, mask)
        x_param.grad = x_param.grad + layer.backward(weights, dh_last)
        h0_param.grad = h0_param.grad + layer.dh0
        value = np.sum(hs * weights)
        if dh_last is not None:
            value += np.sum(hs[-1] * dh_last)
        return value

    named = {**layer.named_parameters(), "x": x_param, "h0": h0_param}
    return nn.gradient_errors(loss, named, step=FD_STEP)


# ----------------------------------------------------------------- gradients


@pytest.mark.parametrize("sides", SIDES, ids=_ids)
@pytest.mark.parametrize("cell_type", CELLS, ids=lambda c: c.__name__)
def test_cell_step_gradients_match_finite_differences(cell_type, sides):
    tt_input, tt_hidden = sides
    cell = cell_type(
        6, 4, input_modes=(3, 2), hidden_modes=(2, 2), ranks=2,
        tt_input=tt_input, tt_hidden=tt_hidden, rng=1, dtype=np.float64,
    )
    rng = np.random.default_rng(2)
    x_param = nn.Parameter(rng.standard_normal((3, 6)))
    h_param = nn.Parameter(rng.standard_normal((3, 4)))
    weights = rng.standard_normal((3, 4))

    def loss():
        h = cell.forward_step(x_param.value, h_param.value)
        dx, dh_prev = cell.backward_step(weights)
        x_param.grad = x_param.grad + dx
        h_param.grad = h_param.grad + dh_prev
        return np.sum(h * weights)

    named = {**cell.named_parameters(), "x": x_param, "h": h_param}
    errors = nn.gradient_errors(loss, named, step=FD_STEP)
    assert max(errors.values()) <= GRAD_TOL, errors


_MODES = st.integers(1, 3)


@st.composite
def layer_configs(draw):
    """A small RNN/GRU layer, a masked batch of sequences of different lengths, h0."""
    d = draw(st.integers(1, 3))
    modes = st.lists(_MODES, min_size=d, max_size=d).filter(lambda m: math.prod(m) <= 8)
    input_modes, hidden_modes = tuple(draw(modes)), tuple(draw(modes))
    steps, batch = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    return {
        "layer_type": draw(st.sampled_from(LAYERS)),
        "sides": draw(st.sampled_from(SIDES)),
        "input_modes": input_modes,
        "hidden_modes": hidden_modes,
        "ranks": draw(st.integers(1, 3)),
        "steps": steps,
        "lengths": draw(st.lists(st.integers(0, steps), min_size=batch, max_size=batch)),
        "seed": draw(st.integers(0, 2**16)),
        "dh_last": draw(st.booleans()),
    }


def _build(config):
    tt_input, tt_hidden = config["sides"]
    input_size, hidden_size = math.prod(config["input_modes"]), math.prod(config["hidden_modes"])
    layer = config["layer_type"](
        input_size, hidden_size, input_modes=config["input_modes"],
        hidden_modes=config["hidden_modes"], ranks=config["ranks"], tt_input=tt_input,
        tt_hidden=tt_hidden, rng=config["seed"], dtype=np.float64,
    )
    rng = np.random.default_rng(config["seed"] + 1)
    batch = len(config["lengths"])
    x = rng.standard_normal((config["steps"], batch, input_size))
    h0 = rng.standard_normal((batch, hidden_size))
    return layer, x, h0, _mask(config["lengths"], config["steps"]), rng


@settings(max_examples=30)
@given(layer_configs())
def test_sequence_gradients_match_finite_differences_over_masked_batches(config):
    layer, x, h0, mask, rng = _build(config)
    dh_last = rng.standard_normal(h0.shape) if config["dh_last"] else None
    errors = _sequence_errors(layer, x, h0, mask, dh_last)
    assert max(errors.values()) <= GRAD_TOL, errors


def test_sequence_gradients_without_mask_or_h0_match_finite_differences():
    layer = nn.GRU(4, 3, rng=0, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((3, 2, 4))
    assert nn.gradcheck_module(layer, x, step=FD_STEP) <= GRAD_TOL


# ---------------------------------------------------------------- masking


@pytest.mark.parametrize("layer_type", LAYERS, ids=lambda c: c.__name__)
def test_padded_steps_keep_the_state_exactly(layer_type):
    layer = layer_type(3, 5, rng=0, dtype=np.float64)
    rng = np.random.default_rng(1)
    lengths = [4, 1, 0]
    x, h0 = rng.standard_normal((4, 3, 3)), rng.standard_normal((3, 5))
    hs = layer.forward(x, h0, _mask(lengths, 4))
    for b, length in enumerate(lengths):
        final = h0[b] if length == 0 else hs[length - 1, b]
        for t in range(length, 4):
            np.testing.assert_array_equal(hs[t, b], final)


@pytest.mark.parametrize("sides", SIDES, ids=_ids)
def test_padded_batch_matches_each_sequence_run_alone(sides):
    tt_input, tt_hidden = sides
    kwargs = dict(ranks=2, tt_input=tt_input, tt_hidden=tt_hidden, dtype=np.float64)
    layer = nn.GRU(4, 6, rng=3, **kwargs)
    alone = nn.GRU(4, 6, rng=3, **kwargs)
    rng = np.random.default_rng(4)
    lengths, steps = [5, 2, 3], 5
    x, h0 = rng.standard_normal((steps, 3, 4)), rng.standard_normal((3, 6))
    mask = _mask(lengths, steps)
    weights = rng.standard_normal((steps, 3, 6)) * mask[:, :, None]
    hs = layer.forward(x, h0, mask)
    dx = layer.backward(weights)
    for b, length in enumerate(lengths):
        hs_b = alone.forward(x[:length, b : b + 1], h0[b : b + 1])
        dx_b = alone.backward(weights[:length, b : b + 1])
        np.testing.assert_allclose(hs[:length, b : b + 1], hs_b, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(dx[:length, b : b + 1], dx_b, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(layer.dh0[b : b + 1], alone.dh0, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(dx[length:, b], 0.0)
    # Parameter gradients of the batch are the sums over the sequences alone.
    for name, p in layer.named_parameters().items():
        np.testing.assert_allclose(
            p.grad, alone.named_parameters()[name].grad, rtol=1e-10, atol=1e-13
        )


# --------------------------------------------------- sequences versus steps


@pytest.mark.parametrize("sides", SIDES, ids=_ids)
@pytest.mark.parametrize("cell_type", CELLS, ids=lambda c: c.__name__)
def test_sequence_layer_equals_stepping_the_cell_by_hand(cell_type, sides):
    tt_input, tt_hidden = sides
    cell = cell_type(
        4, 4, ranks=2, tt_input=tt_input, tt_hidden=tt_hidden, rng=5, dtype=np.float64
    )
    layer = nn.Recurrent(cell)
    rng = np.random.default_rng(6)
    x, h0 = rng.standard_normal((3, 2, 4)), rng.standard_normal((2, 4))
    dhs = rng.standard_normal((3, 2, 4))
    hs = layer.forward(x, h0)
    dx = layer.backward(dhs)
    grads = {name: p.grad for name, p in cell.named_parameters().items()}

    cell.zero_grad()
    h, caches = h0, []
    for t in range(3):
        h = cell.forward_step(x[t], h)
        caches.append(cell.cache)
        np.testing.assert_allclose(h, hs[t], rtol=1e-13, atol=1e-15)
    dh = np.zeros_like(h0)
    for t in reversed(range(3)):
        dx_t, dh = cell.backward_step(dh + dhs[t], caches[t])
        np.testing.assert_allclose(dx_t, dx[t], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dh, layer.dh0, rtol=1e-12, atol=1e-14)
    for name, p in cell.named_parameters().items():
        np.testing.assert_allclose(p.grad, grads[name], rtol=1e-12, atol=1e-14)


# ------------------------------------------------------- TT equals dense


def _implied_dense_direction(cores, directions):
    """d/ds of full(cores + s * directions) at s = 0 (product rule over the cores)."""
    total = 0.0
    for k, direction in enumerate(directions):
        replaced = list(cores)
        replaced[k] = direction
        total = total + tt.TTMatrix(replaced).full()
    return total


@pytest.mark.parametrize("layer_type", LAYERS, ids=lambda c: c.__name__)
def test_exact_tt_layer_from_dense_gives_the_dense_outputs_and_gradients(layer_type):
    dense = layer_type(12, 8, rng=7, dtype=np.float64)
    exact = nn.compress(dense, eps=0, input_modes=(3, 4), hidden_modes=(2, 4))
    assert exact.cell.tt_input and exact.cell.tt_hidden
    rng = np.random.default_rng(8)
    lengths, steps = [4, 2], 4
    x, h0 = rng.standard_normal((steps, 2, 12)), rng.standard_normal((2, 8))
    mask = _mask(lengths, steps)
    dhs = rng.standard_normal((steps, 2, 8))
    outputs = [layer.forward(x, h0, mask) for layer in (dense, exact)]
    np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-10, atol=1e-12)
    dxs = [layer.backward(dhs) for layer in (dense, exact)]
    np.testing.assert_allclose(dxs[1], dxs[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(exact.dh0, dense.dh0, rtol=1e-10, atol=1e-12)

    for side in ("w_ih", "w_hh"):
        dense_layer, tt_layer = getattr(dense.cell, side), getattr(exact.cell, side)
        np.testing.assert_allclose(
            tt_layer.bias.grad, dense_layer.bias.grad, rtol=1e-10, atol=1e-12
        )
        cores = [p.value for p in tt_layer.cores]
        directions = [rng.standard_normal(c.shape) for c in cores]
        along_cores = sum(np.sum(p.grad * v) for p, v in zip(tt_layer.cores, directions))
        along_dense = np.sum(dense_layer.weight.grad * _implied_dense_direction(cores, directions))
        assert along_cores == pytest.approx(along_dense, rel=1e-10, abs=1e-12)


# ------------------------------------------------------------ compression


def test_compress_copies_the_model_and_leaves_the_original_unchanged():
    dense = nn.GRU(16, 32, rng=0, dtype=np.float64)
    dense.cell.w_hh.bias.value[:] = np.arange(96.0)
    before = {name: p.value.copy() for name, p in dense.named_parameters().items()}
    compressed = nn.compress(dense, max_rank=3)
    for name, p in dense.named_parameters().items():
        np.testing.assert_array_equal(p.value, before[name])
    assert isinstance(dense.cell.w_ih, nn.Linear) and isinstance(dense.cell.w_hh, nn.Linear)
    np.testing.assert_array_equal(compressed.cell.w_hh.bias.value, np.arange(96.0))
    assert compressed.cell.w_hh.bias.value is not dense.cell.w_hh.bias.value


def test_compress_defaults_to_factor_modes_with_the_first_output_mode_stacking_the_gates():
    compressed = nn.compress(nn.GRU(16, 32, rng=0), max_rank=2)
    hidden_modes = tt.factor_modes(32)
    input_modes = tt.factor_modes(16, len(hidden_modes))
    gates = (3 * hidden_modes[0],) + hidden_modes[1:]
    assert compressed.cell.w_ih.in_modes == input_modes
    assert compressed.cell.w_hh.in_modes == hidden_modes
    assert compressed.cell.w_ih.out_modes == compressed.cell.w_hh.out_modes == gates
    assert max(compressed.cell.w_hh.ranks) <= 2


def test_gate_blocks_of_a_tt_projection_are_contiguous_thirds():
    """Zeroing the first mode's slices of one gate zeroes exactly that gate's H outputs."""
    cell = nn.GRUCell(4, 8, hidden_modes=(2, 4), input_modes=(2, 2), ranks=2, tt_input=True,
                      rng=0, dtype=np.float64)
    core0 = cell.w_ih.core0.value
    x = np.random.default_rng(1).standard_normal((2, 4))
    for gate in range(3):
        kept = core0.copy()
        kept[:, gate * 2 : (gate + 1) * 2] = 0.0
        cell.w_ih.core0.value = kept
        out = cell.w_ih.forward(x)
        cell.w_ih.core0.value = core0
        np.testing.assert_array_equal(out[:, gate * 8 : (gate + 1) * 8], 0.0)
        assert np.all(np.delete(out, np.s_[gate * 8 : (gate + 1) * 8], axis=1) != 0.0)


def test_compress_reaches_cells_inside_a_model_and_only_the_chosen_sides():
    class Model(nn.Module):
        def __init__(self):
            self.pre = nn.Linear(8, 8, rng=0)
            self.rnn = nn.RNN(8, 16, rng=1)

    model = Model()
    compressed = nn.compress(model, eps=0.5, tt_hidden=False)
    assert isinstance(compressed, Model)
    assert isinstance(compressed.pre, nn.Linear)
    assert compressed.rnn.cell.tt_input and not compressed.rnn.cell.tt_hidden
    assert list(compressed.named_parameters())[:2] == ["pre.weight", "pre.bias"]


def test_compress_keeps_the_modes_of_a_side_that_is_tt_already():
    half = nn.GRU(8, 16, input_modes=(2, 4), hidden_modes=(4, 4), ranks=2, tt_hidden=True, rng=0)
    full = nn.compress(half, eps=0.0)
    assert full.cell.w_ih.in_modes == (2, 4)
    assert full.cell.w_ih.out_modes == (12, 4)
    assert full.cell.w_hh is not half.cell.w_hh
    for p, q in zip(full.cell.w_hh.parameters(), half.cell.w_hh.parameters()):
        np.testing.assert_array_equal(p.value, q.value)


def test_compression_ratio_counts_the_recurrent_parameters():
    dense = nn.GRU(256, 512, rng=0)
    small = nn.GRU(256, 512, input_modes=(4, 4, 4, 4), hidden_modes=(8, 4, 4, 4), ranks=11,
                   tt_input=True, tt_hidden=True, rng=0)
    assert nn.num_params(dense) == nn.recurrent_num_params(dense) == 1536 * (256 + 512 + 2)
    tt_count = sum(p.size for p in small.parameters())
    assert nn.compression_ratio(dense, small) == pytest.approx(nn.num_params(dense) / tt_count)
    assert nn.compression_ratio(dense, small) > 50
    assert nn.compression_ratio(dense, small, part="all") == nn.compression_ratio(dense, small)


def test_compression_ratio_of_layers_without_cells_needs_part_all():
    dense, small = nn.Linear(16, 16), nn.TTLinear((4, 4), (4, 4), 2)
    assert nn.compression_ratio(dense, small, part="all") == (16 * 16 + 16) / small.num_params
    with pytest.raises(ValueError, match="dense_module"):
        nn.compression_ratio(dense, small)
    with pytest.raises(ValueError, match="part"):
        nn.compression_ratio(dense, small, part="rnn")


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: nn.compress("gru"), TypeError, "model"),
        (lambda: nn.compress(nn.Linear(4, 4)), ValueError, "model"),
        (lambda: nn.compress(nn.GRU(6, 4), input_modes=(2, 2)), ValueError, "input_modes"),
        (lambda: nn.compress(nn.GRU(4, 4), tt_input=False, tt_hidden=False), ValueError, "tt_"),
        (lambda: nn.num_params([1, 2]), TypeError, "module"),
    ],
)
def test_compress_rejects_bad_arguments_by_name(call, error, words):
    with pytest.raises(error, match=words):
        call()


# ------------------------------------------------------------ construction


@pytest.mark.parametrize("cell_type", CELLS, ids=lambda c: c.__name__)
def test_dense_hidden_weights_start_orthogonal_per_gate_and_biases_at_zero(cell_type):
    cell = cell_type(5, 7, rng=0, dtype=np.float64)
    weight = cell.w_hh.weight.value
    assert weight.shape == (cell.num_gates * 7, 7)
    for gate in range(cell.num_gates):
        block = weight[gate * 7 : (gate + 1) * 7]
        np.testing.assert_allclose(block.T @ block, np.eye(7), atol=1e-12)
    if cell.num_gates > 1:
        assert not np.allclose(weight[:7], weight[7:14])
    for layer in (cell.w_ih, cell.w_hh):
        np.testing.assert_array_equal(layer.bias.value, 0.0)


def test_layers_default_to_float32_and_a_seed_fixes_the_weights():
    first, second = (nn.GRU(4, 4, ranks=2, tt_input=True, rng=9) for _ in range(2))
    hs = first.forward(np.ones((2, 1, 4), dtype=np.float32))
    assert hs.dtype == np.float32
    for (name, p), q in zip(first.named_parameters().items(), second.parameters()):
        assert p.value.dtype == np.float32, name
        np.testing.assert_array_equal(p.value, q.value)


def test_tt_cell_names_its_core_parameters():
    cell = nn.GRUCell(16, 16, ranks=2, tt_input=True, tt_hidden=True)
    assert list(cell.named_parameters()) == [
        "w_ih.core0", "w_ih.core1", "w_ih.bias", "w_hh.core0", "w_hh.core1", "w_hh.bias"
    ]
    assert cell.w_ih.out_modes == (12, 4) and cell.w_hh.in_modes == (4, 4)


@pytest.mark.parametrize(
    "build, words",
    [
        (lambda: nn.RNNCell(0, 4), "input_size"),
        (lambda: nn.GRUCell(4, 2.5), "hidden_size"),
        (lambda: nn.GRUCell(4, 4, tt_input=True), "ranks"),
        (lambda: nn.GRUCell(6, 4, input_modes=(2, 2), tt_input=True, ranks=2), "input_modes"),
        (lambda: nn.GRUCell(4, 6, hidden_modes=(2, 2), tt_hidden=True, ranks=2), "hidden_modes"),
        (
            lambda: nn.GRUCell(
                8, 4, input_modes=(2, 2, 2), hidden_modes=(2, 2), tt_input=True, ranks=2
            ),
            "same length",
        ),
    ],
)
def test_cells_reject_bad_sizes_and_modes_by_name(build, words):
    with pytest.raises(ValueError, match=words):
        build()


def test_recurrent_needs_a_cell():
    with pytest.raises(TypeError, match="cell"):
        nn.Recurrent(nn.Linear(4, 4))


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda g: g.forward(np.zeros((2, 4))), "x must have shape"),
        (lambda g: g.forward(np.zeros((2, 3, 5))), "x must have shape"),
        (lambda g: g.forward(np.zeros((0, 3, 4))), "time, batch >= 1"),
        (lambda g: g.forward(np.zeros((2, 3, 4)), mask=np.ones((3, 2))), "mask"),
        (lambda g: g.forward(np.zeros((2, 3, 4)), h0=np.zeros((3, 4))), "h0"),
        (lambda g: g.backward(np.zeros((2, 3, 6))), "forward first"),
        (lambda g: g.cell.backward_step(np.zeros((3, 6))), "forward_step"),
        (lambda g: g.cell.forward_step(np.zeros((3, 5))), "x_t"),
    ],
)
def test_sequence_layers_reject_bad_shapes_by_name(call, words):
    with pytest.raises(ValueError, match=words):
        call(nn.GRU(4, 6))


def test_backward_rejects_gradients_of_the_wrong_shape():
    layer = nn.GRU(4, 6)
    layer.forward(np.zeros((2, 3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="dhs"):
        layer.backward(np.zeros((2, 3, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="dh_last"):
        layer.backward(np.zeros((2, 3, 6), dtype=np.float32), dh_last=np.zeros((6,)))


# ------------------------------------------------------------ other arrays


@pytest.mark.parametrize("sides", ((False, False), (True, True)), ids=_ids)
def test_layers_run_on_array_api_strict_arrays_like_on_numpy(sides):
    xps = pytest.importorskip("array_api_strict")
    tt_input, tt_hidden = sides
    kwargs = dict(ranks=2, tt_input=tt_input, tt_hidden=tt_hidden, rng=0)
    strict = nn.GRU(4, 6, dtype=xps.float64, like=xps.zeros(1, dtype=xps.float64), **kwargs)
    plain = nn.GRU(4, 6, dtype=np.float64, **kwargs)
    rng = np.random.default_rng(1)
    x, mask, dhs = rng.standard_normal((3, 2, 4)), _mask([3, 1], 3), rng.standard_normal((3, 2, 6))
    hs = strict.forward(xps.asarray(x), mask=xps.asarray(mask))
    dx = strict.backward(xps.asarray(dhs))
    np.testing.assert_allclose(np.asarray(hs), plain.forward(x, mask=mask), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(dx), plain.backward(dhs), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(strict.dh0), plain.dh0, rtol=1e-12)


def test_compress_keeps_the_modes_of_a_side_that_is_tt_already():
    cell = nn.GRUCell(8, 8, input_modes=(2, 4), hidden_modes=(2, 4), ranks=2, tt_hidden=True, rng=0)
    compressed = nn.compress(cell, max_rank=2)
    assert compressed.hidden_modes == compressed.w_hh.in_modes == (2, 4)
    with pytest.raises(ValueError, match="hidden_modes must match the projection"):
        nn.compress(cell, max_rank=2, hidden_modes=(4, 2))
