"""Tests of tensortrain.experiments: settings, progress bar, reports, batching, models."""

from __future__ import annotations

import dataclasses
import io
import json
import math

import numpy as np
import pytest

from tensortrain import nn
from tensortrain.experiments import config as cfg
from tensortrain.experiments.config import ConfigError, RunConfig
from tensortrain.experiments.models import (ClassificationModel, PredictionModel, build_model,
                                            compress_model, metrics)
from tensortrain.experiments.progress import NullProgress, ProgressBar
from tensortrain.experiments.report import (ROW_KEYS, json_ready, markdown_table,
                                            plot_learning_curves, plot_metric_vs_params,
                                            write_json, write_text_atomic)
from tensortrain.experiments.tasks import TaskData
from tensortrain.experiments.training import best_entry

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def tiny_config(**changes) -> RunConfig:
    values = dict(task="chorales", input_size=8, hidden=8, input_modes=(2, 2, 2),
                  hidden_modes=(2, 2, 2), epochs=1, batch_size=2, dropout=0.0)
    values.update(changes)
    return RunConfig(**values).validate()


def as_float64(model):
    for parameter in model.parameters():
        parameter.value = parameter.value.astype(np.float64)
        parameter.zero_grad()
    return model


# --------------------------------------------------------------------------- settings

def test_parse_ints_reads_commas_and_x():
    assert cfg.parse_ints("4,4,8", "--ranks") == (4, 4, 8)
    assert cfg.parse_ints("4x7", "--input-modes") == (4, 7)


@pytest.mark.parametrize("text", ["", "0", "4,-1", "a,b"])
def test_parse_ints_names_the_option_for_bad_text(text):
    with pytest.raises(ConfigError, match="--ranks must be positive integers"):
        cfg.parse_ints(text, "--ranks")


def test_gate_modes_multiply_the_first_hidden_mode():
    layers = cfg.tt_layer_modes("gru", (4, 4, 4, 4), (8, 4, 4, 4))
    assert layers["w_ih"] == ((24, 4, 4, 4), (4, 4, 4, 4))
    assert layers["w_hh"] == ((24, 4, 4, 4), (8, 4, 4, 4))
    assert cfg.tt_layer_modes("rnn", (4, 7), (8, 8))["w_hh"] == ((8, 8), (8, 8))


def test_check_ranks_accepts_the_clip_ranks_bound_and_rejects_one_more():
    layers = cfg.tt_layer_modes("gru", (4, 4, 4, 4), (8, 4, 4, 4))
    assert cfg.check_ranks((16,), layers) == (16, 16, 16)
    with pytest.raises(ConfigError, match="rank 17 at bond 3 is above the largest useful rank 16"):
        cfg.check_ranks((17,), layers)


def test_check_ranks_rejects_a_wrong_count_and_non_positive_ranks():
    layers = cfg.tt_layer_modes("gru", (4, 4, 4, 4), (8, 4, 4, 4))
    with pytest.raises(ConfigError, match="must give 1 or 3 ranks"):
        cfg.check_ranks((2, 2), layers)
    with pytest.raises(ConfigError, match="positive"):
        cfg.check_ranks((0,), layers)


def test_validate_rejects_modes_that_do_not_multiply_to_the_size():
    with pytest.raises(ConfigError, match="--hidden-modes 2,2,3 multiply to 12, but --hidden is 8"):
        tiny_config(hidden_modes=(2, 2, 3))


def test_validate_rejects_modes_of_different_lengths():
    with pytest.raises(ConfigError, match="same number of modes"):
        tiny_config(hidden_modes=(4, 2))


def test_validate_asks_for_ranks_only_with_a_tt_matrix():
    with pytest.raises(ConfigError, match="--ranks is needed"):
        tiny_config(tt_input=True)
    with pytest.raises(ConfigError, match="--ranks applies to TT matrices"):
        tiny_config(ranks=(2,))


@pytest.mark.parametrize("change, message", [
    ({"lr": 0.0}, "--lr must be a positive finite number"),
    ({"dropout": 1.0}, r"--dropout must be in \[0, 1\)"),
    ({"epochs": 0}, "--epochs must be a positive integer"),
    ({"cell": "lstm"}, "--cell must be one of gru, rnn"),
])
def test_validate_names_the_bad_option(change, message):
    with pytest.raises(ConfigError, match=message):
        tiny_config(**change)


def test_config_round_trips_through_json():
    config = tiny_config(tt_input=True, tt_hidden=True, ranks=(2,))
    again = RunConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config


def test_from_dict_refuses_unknown_keys():
    with pytest.raises(ConfigError, match="unknown keys"):
        RunConfig.from_dict({**tiny_config().to_dict(), "colour": "red"})


def test_default_modes_follow_the_paper_layout():
    assert cfg.default_modes("chorales", 256, 512) == ((4, 4, 4, 4), (8, 4, 4, 4))
    assert cfg.default_modes("mnist", 28, 64) == ((4, 7), (8, 8))


# --------------------------------------------------------------------------- progress

def test_progress_bar_off_a_terminal_writes_one_final_line():
    stream = io.StringIO()
    bar = ProgressBar("epoch 1/2", 4, stream=stream)
    for done in range(1, 5):
        bar.update(done, loss=1.23456)
    assert stream.getvalue() == ""
    bar.close()
    text = stream.getvalue()
    assert text.count("\n") == 1
    assert "epoch 1/2 [" in text and "4/4" in text and "loss 1.235" in text


def test_progress_bar_on_a_terminal_redraws_in_place():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    with ProgressBar("build", 2, stream=stream) as bar:
        bar.update(1)
    assert stream.getvalue().startswith("\r")
    assert stream.getvalue().endswith("\n")


def test_null_progress_records_but_shows_nothing(capsys):
    with NullProgress("x", 3) as bar:
        bar.update(2, 5)
    assert (bar.done, bar.total) == (2, 5)
    assert capsys.readouterr() == ("", "")


# --------------------------------------------------------------------------- reports

def sample_rows():
    history = [{"epoch": 0, "train_loss": None, "valid_nll": 12.0},
               {"epoch": 1, "train_loss": 11.0, "valid_nll": 10.5},
               {"epoch": 2, "train_loss": 10.0, "valid_nll": 10.8}]
    trained = {"cell": "gru", "ranks": None, "best_epoch": 1, "valid_nll": 10.5,
               "valid_accuracy": 0.2, "test_nll": 10.6, "test_accuracy": 0.21,
               "seconds_per_epoch": 3.25, "epochs_run": 2, "history": history}
    return [
        {**trained, "name": "dense GRU", "kind": "dense", "rnn_params": 1000,
         "compression_ratio": 1.0},
        {**trained, "name": "TT-GRU rank 2", "kind": "tt", "rnn_params": 100,
         "compression_ratio": 10.0},
        {**trained, "name": "compressed", "kind": "compressed", "rnn_params": 200,
         "compression_ratio": 5.0},
        {key: None for key in ROW_KEYS} | {"name": "baseline", "kind": "baseline",
                                           "valid_nll": 11.4, "test_nll": 11.3,
                                           "valid_accuracy": float("nan"), "history": []},
    ]


def test_markdown_table_has_one_line_per_row_and_dashes_for_missing_values():
    table = markdown_table(sample_rows(), "chorales")
    lines = table.strip().split("\n")
    assert len(lines) == 2 + 4
    assert lines[0].startswith("| model | RNN params | compression | best epoch |")
    assert "| dense GRU | 1,000 | 1.0x | 1 | 10.500 | 0.200 | 10.600 | 0.210 | 3.2 |" in table
    assert lines[-1] == "| baseline | - | - | - | 11.400 | - | 11.300 | - | - |"


def test_markdown_table_uses_the_task_metric_names():
    assert "valid CE (nats)" in markdown_table(sample_rows(), "mnist")


def test_json_ready_turns_non_finite_floats_into_null():
    document = {"a": [1.0, float("nan")], "b": {"c": float("inf")}, "d": "x"}
    assert json_ready(document) == {"a": [1.0, None], "b": {"c": None}, "d": "x"}


def test_atomic_writes_leave_only_the_target(tmp_path):
    write_text_atomic(tmp_path / "a.md", "hello\n")
    write_json(tmp_path / "b.json", {"x": float("nan")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.json"]
    assert json.loads((tmp_path / "b.json").read_text()) == {"x": None}


def test_plots_are_png_files(tmp_path):
    pytest.importorskip("matplotlib")
    plot_learning_curves(sample_rows(), "chorales", tmp_path / "curves.png")
    plot_metric_vs_params(sample_rows(), "chorales", tmp_path / "params.png")
    for name in ("curves.png", "params.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE


def test_best_entry_is_the_lowest_validation_nll_earliest_on_ties():
    history = [{"epoch": 1, "valid_nll": 2.0}, {"epoch": 2, "valid_nll": 1.0},
               {"epoch": 3, "valid_nll": 1.0}]
    assert best_entry(history)["epoch"] == 2


# --------------------------------------------------------------------------- batches

def chorale_task(num_pieces=6, seed=0) -> TaskData:
    rng = np.random.default_rng(seed)
    rolls = [(rng.random((int(rng.integers(3, 9)), 88)) < 0.05).astype(np.uint8)
             for _ in range(num_pieces)]
    return TaskData("chorales", {"train": rolls, "valid": rolls[:2], "test": rolls[2:4]})


def test_training_batches_depend_only_on_seed_and_epoch():
    task = chorale_task()
    first = [x for x, _, _ in task.train_batches(3, 2, seed=7)]
    again = [x for x, _, _ in task.train_batches(3, 2, seed=7)]
    other = [x for x, _, _ in task.train_batches(4, 2, seed=7)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, other))
    assert task.num_train_batches(4) == 2


def test_mnist_batches_are_time_major_rows():
    images = np.arange(3 * 28 * 28, dtype=np.float32).reshape(3, 28, 28)
    task = TaskData("mnist", {"train": (images, np.array([0, 1, 2])),
                              "valid": (images, np.array([0, 1, 2]))})
    x, labels, mask = next(task.eval_batches("valid"))
    assert x.shape == (28, 3, 28) and mask is None
    assert np.array_equal(x[:, 1, :], images[1])
    assert labels.tolist() == [0, 1, 2]


# --------------------------------------------------------------------------- models

def test_prediction_model_gradients_match_finite_differences():
    config = tiny_config(tt_input=True, tt_hidden=True, ranks=(2,))
    model = as_float64(build_model(config))
    rng = np.random.default_rng(1)
    x = (rng.random((4, 2, 88)) < 0.1).astype(np.float64)
    targets = (rng.random((4, 2, 88)) < 0.1).astype(np.float64)
    mask = np.array([[1, 1], [1, 1], [1, 0], [1, 0]], dtype=np.float64)

    def loss():
        value, dlogits = model.loss(model.forward(x, mask), targets, mask)
        model.backward(dlogits)
        return value

    # The dense weights are left out only to keep the test short; the biases
    # of the pre-net and post-net see every layer of the chain.
    checked = {name: p for name, p in model.named_parameters().items()
               if not name.endswith("net.weight")}
    assert "prenet.bias" in checked and "rnn.cell.w_hh.core0" in checked
    assert nn.gradcheck(loss, checked) < 1e-5


def test_classification_model_gradients_reach_every_step():
    config = tiny_config(task="mnist", input_size=28, input_modes=(4, 7), hidden=8,
                         hidden_modes=(4, 2), cell="rnn", tt_input=True, ranks=(2,))
    model = as_float64(build_model(config))
    rng = np.random.default_rng(2)
    x = rng.random((5, 3, 28))
    labels = np.array([1, 7, 3])

    def loss():
        value, dlogits = model.loss(model.forward(x), labels)
        model.backward(dlogits)
        return value

    assert isinstance(model, ClassificationModel)
    assert nn.gradcheck(loss, model) < 1e-5


def test_chorale_stats_count_frames_and_keys_under_the_mask():
    logits = np.full((2, 1, 88), -5.0, dtype=np.float32)
    logits[:, :, :2] = 5.0                       # keys 0 and 1 predicted on
    targets = np.zeros((2, 1, 88), dtype=np.float32)
    targets[:, :, 1:3] = 1.0                     # keys 1 and 2 on
    mask = np.array([[1.0], [0.0]], dtype=np.float32)
    stats = PredictionModel.batch_stats(logits, targets, mask)
    assert (stats["count"], stats["tp"], stats["fp"], stats["fn"]) == (1.0, 1.0, 1.0, 1.0)
    nll, accuracy = metrics(stats)
    assert accuracy == pytest.approx(1 / 3)
    assert nll == pytest.approx(nn.sigmoid_bce(logits, targets, mask)[0])


def test_compressed_model_keeps_the_dense_model_and_its_outer_layers():
    dense = build_model(tiny_config())
    config = dataclasses.replace(tiny_config(), tt_input=True, tt_hidden=True,
                                 compress_rank=(2, 2), compressed_from="test")
    compressed = compress_model(dense, config)
    assert isinstance(compressed.rnn.cell.w_ih, nn.TTLinear)
    assert not isinstance(dense.rnn.cell.w_ih, nn.TTLinear)
    assert np.array_equal(compressed.prenet.weight.value, dense.prenet.weight.value)
    assert max(compressed.rnn.cell.w_hh.ranks) <= 2
    assert nn.num_params(compressed.rnn) < nn.num_params(dense.rnn)


def test_metrics_of_mnist_stats_is_the_fraction_correct():
    assert metrics({"nll_sum": 3.0, "count": 4.0, "correct": 3.0}) == (0.75, 0.75)
    assert math.isnan(metrics({"nll_sum": 1.0, "count": 1.0, "tp": 0, "fp": 0, "fn": 0})[1])
