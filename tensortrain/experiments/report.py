"""The results of a run as a Markdown table, a JSON document and PNG plots, written atomically.

A result row is a plain dict (see :data:`ROW_KEYS`); the same rows give the
table printed on stdout, ``results.md``, ``results.json`` and the plots.
Every file is written to a temporary file in its folder and moved into place
with ``os.replace``, so a reader never sees half a file.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Mapping, Sequence

from .._io import write_atomic

__all__ = [
    "ROW_KEYS",
    "METRIC_LABELS",
    "markdown_table",
    "write_bytes_atomic",
    "write_text_atomic",
    "write_json",
    "json_ready",
    "plot_learning_curves",
    "plot_metric_vs_params",
]

#: Keys of every result row; None where a key does not apply (baselines have
#: no parameters, epochs or timings).
ROW_KEYS = (
    "name", "kind", "cell", "ranks", "rnn_params", "compression_ratio", "best_epoch",
    "valid_nll", "valid_accuracy", "test_nll", "test_accuracy", "seconds_per_epoch",
    "epochs_run", "history",
)

#: Column titles of the two metrics, per task.
METRIC_LABELS = {
    "chorales": {"nll": "NLL/frame (nats)", "accuracy": "frame acc"},
    "mnist": {"nll": "CE (nats)", "accuracy": "accuracy"},
}


# --------------------------------------------------------------------------- files

def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    write_atomic(path, lambda stream: stream.write(data))


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json(path: Path, document) -> None:
    """Write ``document`` as indented JSON atomically; NaN and inf become null."""
    write_text_atomic(path, json.dumps(json_ready(document), indent=2) + "\n")


def json_ready(value):
    """``value`` with every NaN or infinite float replaced by None (standard JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


# --------------------------------------------------------------------------- table

def _cell(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _params(value) -> str:
    return "-" if value is None else f"{value:,}"


def _ratio(value) -> str:
    return "-" if value is None else f"{value:.1f}x"


def markdown_table(rows: Sequence[Mapping], task: str) -> str:
    """The comparison table in Markdown, one line per row.

    Parameters
    ----------
    rows : sequence of dict
        Result rows with the keys of :data:`ROW_KEYS`.
    task : {"chorales", "mnist"}
        Chooses the metric titles.

    Returns
    -------
    str
        The table, ending with a newline.
    """
    labels = METRIC_LABELS[task]
    header = ["model", "RNN params", "compression", "best epoch",
              f"valid {labels['nll']}", f"valid {labels['accuracy']}",
              f"test {labels['nll']}", f"test {labels['accuracy']}", "s/epoch"]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for row in rows:
        cells = [row["name"], _params(row["rnn_params"]), _ratio(row["compression_ratio"]),
                 _cell(row["best_epoch"]), _cell(row["valid_nll"]),
                 _cell(row["valid_accuracy"]), _cell(row["test_nll"]),
                 _cell(row["test_accuracy"]), _cell(row["seconds_per_epoch"], 1)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- plots

_BASELINE_STYLES = [":", "--", "-."]

def _figure(width: float, height: float):
    """A matplotlib Figure drawn by the Agg canvas; no global backend is touched."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save_png(figure, path: Path) -> None:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_bytes_atomic(path, buffer.getvalue())


def plot_learning_curves(rows: Sequence[Mapping], task: str, path: Path) -> None:
    """Plot training loss and validation NLL per epoch for every trained model.

    Baselines (rows without history) are drawn as horizontal lines at their
    validation NLL. The PNG is written atomically to ``path``.
    """
    labels = METRIC_LABELS[task]
    figure = _figure(11, 4.2)
    train_axes, valid_axes = figure.subplots(1, 2)
    baseline_styles = iter(_BASELINE_STYLES * len(rows))
    for row in rows:
        history = row.get("history") or []
        if history:
            trained = [entry for entry in history if entry["train_loss"] is not None]
            line, = valid_axes.plot([entry["epoch"] for entry in history],
                                    [entry["valid_nll"] for entry in history],
                                    marker=".", label=row["name"])
            train_axes.plot([entry["epoch"] for entry in trained],
                            [entry["train_loss"] for entry in trained],
                            marker=".", color=line.get_color(), label=row["name"])
        elif row.get("valid_nll") is not None:
            valid_axes.axhline(row["valid_nll"], color="grey", label=row["name"],
                               linestyle=next(baseline_styles))
    train_axes.set(title="training loss", xlabel="epoch", ylabel=labels["nll"], yscale="log")
    valid_axes.set(title="validation", xlabel="epoch", ylabel=labels["nll"])
    valid_axes.legend(fontsize=7)
    figure.tight_layout()
    _save_png(figure, path)


def plot_metric_vs_params(rows: Sequence[Mapping], task: str, path: Path) -> None:
    """Plot test NLL against RNN parameters (log-scale x) for every trained model.

    Dense, TT and compressed models get their own markers; baselines are
    horizontal lines. The PNG is written atomically to ``path``.
    """
    labels = METRIC_LABELS[task]
    markers = {"dense": "s", "tt": "o", "compressed": "^"}
    figure = _figure(7, 4.5)
    axes = figure.subplots()
    for kind, marker in markers.items():
        chosen = [row for row in rows if row["kind"] == kind and row["test_nll"] is not None]
        if not chosen:
            continue
        axes.plot([row["rnn_params"] for row in chosen], [row["test_nll"] for row in chosen],
                  marker=marker, linestyle="-" if kind == "tt" else "none", label=kind)
        for row in chosen:
            axes.annotate(row["name"], (row["rnn_params"], row["test_nll"]), fontsize=7,
                          textcoords="offset points", xytext=(4, 4))
    baseline_styles = iter(_BASELINE_STYLES * len(rows))
    for row in rows:
        if row["kind"] == "baseline" and row["test_nll"] is not None:
            axes.axhline(row["test_nll"], color="grey", label=row["name"],
                         linestyle=next(baseline_styles))
    axes.set_xscale("log")
    axes.set(xlabel="RNN parameters (log scale)", ylabel=f"test {labels['nll']}",
             title=f"test {labels['nll']} vs RNN parameters")
    axes.legend(fontsize=8)
    figure.tight_layout()
    _save_png(figure, path)
