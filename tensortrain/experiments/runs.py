"""One model trained end to end, as a result row; the baselines as rows; the output files.

Shared by ``tensortrain train`` (one model) and ``tensortrain compare`` (a
grid): build or compress the model, train it with checkpoints in its own
folder, and turn the history into a row of the results table.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__, nn
from .config import ConfigError, RunConfig
from .models import build_model, compress_model
from .progress import NullProgress, ProgressBar
from .report import (METRIC_LABELS, markdown_table, plot_learning_curves,
                     plot_metric_vs_params, write_json, write_text_atomic)
from .tasks import TaskData
from .training import BEST_CHECKPOINT, LAST_CHECKPOINT, train

__all__ = ["Session", "run_model", "baseline_rows", "load_checkpoint_config",
           "load_dense_model", "write_outputs", "CONFIG_FILE", "OUTPUT_FILES"]

CONFIG_FILE = "config.json"
OUTPUT_FILES = {"table": "results.md", "json": "results.json",
                "learning_curves": "learning_curves.png",
                "metric_vs_params": "test_nll_vs_params.png"}
BASELINE_NAMES = {"key_frequency": "baseline: each key at its training frequency",
                  "previous_frame": "baseline: each key from its own previous frame"}


@dataclass
class Session:
    """Where a command writes and how it talks to the terminal.

    Attributes
    ----------
    out_dir : pathlib.Path
    quiet : bool
        No progress bars and no notes.
    like : array or None
        A CuPy array for ``--device gpu``, None for NumPy.
    """

    out_dir: Path
    quiet: bool = False
    like: Any = None

    def progress(self, label: str, total: int = 0):
        """A progress bar on the stream, or a silent one when quiet."""
        if self.quiet:
            return NullProgress(label, total)
        return ProgressBar(label, total, sys.stderr)

    def note(self, message: str) -> None:
        """A line of information on the stream (not when quiet)."""
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)


def load_checkpoint_config(path: Path) -> RunConfig:
    """The :class:`RunConfig` stored inside a checkpoint of ``tensortrain train``.

    Raises
    ------
    ConfigError
        When the file is missing, unreadable or not written by this tool.
    """
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as archive:
            stored = str(archive["extra/config"])
    except FileNotFoundError:
        raise ConfigError(f"--compress-from {path} does not exist") from None
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(f"--compress-from {path} is not a checkpoint of tensortrain train "
                          f"({type(error).__name__}: {error})") from None
    return RunConfig.from_dict(json.loads(stored))


def load_dense_model(path: Path, like=None) -> tuple[nn.Module, RunConfig]:
    """Rebuild the dense model stored at ``path`` and read its parameters into it."""
    config = load_checkpoint_config(path)
    if config.is_tt:
        raise ConfigError(f"--compress-from needs a dense model, but {path} holds a TT model")
    model = build_model(config, like)
    try:
        nn.load(path, model)
    except ValueError as error:
        raise ConfigError(f"--compress-from {path}: {error}") from None
    return model, config


def _dense_rnn_params(config: RunConfig) -> int:
    """Parameters of the dense recurrent layer of the same sizes (the reference)."""
    cell_class = nn.GRUCell if config.cell == "gru" else nn.RNNCell
    return nn.num_params(cell_class(config.input_size, config.hidden, rng=0))


def _layer_ranks(model: nn.Module) -> dict | None:
    cell = model.rnn.cell
    ranks = {name: list(layer.ranks) for name, layer in (("w_ih", cell.w_ih),
                                                        ("w_hh", cell.w_hh))
             if isinstance(layer, nn.TTLinear)}
    return ranks or None


def make_model(config: RunConfig, session: Session, dense_model: nn.Module | None = None):
    """The model of ``config``: freshly initialized, or compressed from a dense one."""
    if config.compressed_from is None:
        return build_model(config, session.like)
    if dense_model is None:
        dense_model, _ = load_dense_model(Path(config.compressed_from), session.like)
    return compress_model(dense_model, config)


def run_model(config: RunConfig, task_data: TaskData, session: Session, run_dir: Path,
              name: str, kind: str, *, resume: bool = False,
              dense_model: nn.Module | None = None) -> tuple[dict, nn.Module]:
    """Train one model in ``run_dir`` and return its result row and the best model.

    Parameters
    ----------
    config : RunConfig
    task_data : TaskData
    session : Session
    run_dir : pathlib.Path
        Gets ``config.json``, ``last.npz`` and ``best.npz``.
    name, kind : str
        Row name and kind (``"dense"``, ``"tt"`` or ``"compressed"``).
    resume : bool
        Continue from ``run_dir/last.npz``.
    dense_model : Module, optional
        The trained dense model a compressed config starts from (otherwise
        it is read from ``config.compressed_from``).

    Returns
    -------
    (dict, Module)
        The row (keys of :data:`~tensortrain.experiments.report.ROW_KEYS`)
        and the model with the parameters of its best epoch.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / CONFIG_FILE, config.to_dict())
    model = make_model(config, session, dense_model)
    label = f"{name}: " if name else ""
    start = time.perf_counter()
    result = train(model, config, task_data, run_dir, progress_factory=session.progress,
                   resume=resume, evaluate_initial=config.compressed_from is not None,
                   label=label, like=session.like)
    nn.load(run_dir / BEST_CHECKPOINT, model)
    rnn_params = nn.num_params(model.rnn)
    best = result.best
    row = {
        "name": name, "kind": kind, "cell": config.cell, "ranks": _layer_ranks(model),
        "rnn_params": rnn_params, "compression_ratio": _dense_rnn_params(config) / rnn_params,
        "best_epoch": best["epoch"],
        "valid_nll": best["valid_nll"], "valid_accuracy": best["valid_accuracy"],
        "test_nll": best["test_nll"], "test_accuracy": best["test_accuracy"],
        "seconds_per_epoch": result.seconds_per_epoch,
        "epochs_run": max(entry["epoch"] for entry in result.history),
        "history": result.history,
        "checkpoints": {"best": str(run_dir / BEST_CHECKPOINT),
                        "last": str(run_dir / LAST_CHECKPOINT)},
        "wall_seconds": time.perf_counter() - start,
    }
    return row, model


def baseline_rows(task_data: TaskData) -> list[dict]:
    """The data module's two chorale baselines as rows (none for MNIST)."""
    rows = []
    for key, title in BASELINE_NAMES.items():
        if key not in task_data.baselines.get("valid", {}):
            continue
        valid, test = task_data.baselines["valid"][key], task_data.baselines["test"][key]
        rows.append({"name": title, "kind": "baseline", "cell": None, "ranks": None,
                     "rnn_params": None, "compression_ratio": None, "best_epoch": None,
                     "valid_nll": valid.nll, "valid_accuracy": valid.accuracy,
                     "test_nll": test.nll, "test_accuracy": test.accuracy,
                     "seconds_per_epoch": None, "epochs_run": None, "history": []})
    return rows


def write_outputs(document: dict, out_dir: Path, task: str) -> dict[str, str]:
    """Write the table, the JSON document and the plots; return their paths by role."""
    files = {role: str(out_dir / name) for role, name in OUTPUT_FILES.items()}
    document["files"] = files
    document["version"] = __version__
    document["metrics"] = METRIC_LABELS[task]
    rows = document["rows"]
    heading = f"# tensortrain {document['command']}: {task}\n\n"
    notes = "".join(f"- {line}\n" for line in document.get("notes", []))
    write_text_atomic(out_dir / OUTPUT_FILES["table"],
                      heading + markdown_table(rows, task) + ("\n" + notes if notes else ""))
    plot_learning_curves(rows, task, out_dir / OUTPUT_FILES["learning_curves"])
    plot_metric_vs_params(rows, task, out_dir / OUTPUT_FILES["metric_vs_params"])
    write_json(out_dir / OUTPUT_FILES["json"], document)
    return files
