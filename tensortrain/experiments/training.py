"""The training loop: Adam with gradient clipping, evaluation each epoch, checkpoints, resume.

Each epoch trains on shuffled batches, then evaluates the validation and test
splits (the protocol of the TT-GRU authors' code: the reported test numbers
are those of the epoch with the best validation NLL). After every epoch the
model, the optimizer state and the history are written to ``last.npz`` and,
when the validation NLL improved, the model to ``best.npz`` (both with
:func:`tensortrain.nn.save`, atomically). A run resumed from ``last.npz``
gives the same numbers as an uninterrupted one, because the batch order and
the dropout masks of epoch ``e`` are drawn from generators seeded with
``(seed, e)``. A NaN or infinite loss or gradient norm stops the run with
:class:`NonFiniteLoss` before anything is written, so the last checkpoint is
the last good one.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .. import backend, nn
from .config import RunConfig
from .models import metrics
from .tasks import TaskData

__all__ = ["NonFiniteLoss", "TrainResult", "train", "evaluate", "best_entry",
           "LAST_CHECKPOINT", "BEST_CHECKPOINT"]

LAST_CHECKPOINT = "last.npz"
BEST_CHECKPOINT = "best.npz"


class NonFiniteLoss(RuntimeError):
    """The loss or the gradient norm became NaN or infinite.

    Attributes
    ----------
    epoch, step : int
        Where it happened (1-based).
    checkpoint : pathlib.Path or None
        The last good checkpoint, None when no epoch had finished.
    """

    def __init__(self, what: str, value: float, epoch: int, step: int,
                 checkpoint: Path | None):
        self.epoch, self.step, self.checkpoint = epoch, step, checkpoint
        kept = (f"the last good checkpoint is {checkpoint}" if checkpoint is not None
                else "no epoch had finished, so there is no checkpoint")
        super().__init__(f"the {what} became {value} at epoch {epoch}, batch {step}; "
                         f"training stopped ({kept}); try a smaller --lr or --clip")


@dataclass
class TrainResult:
    """What a finished run reports.

    Attributes
    ----------
    history : list of dict
        One entry per epoch: ``epoch``, ``train_loss``, ``valid_nll``,
        ``valid_accuracy``, ``test_nll``, ``test_accuracy``, ``seconds``
        (training pass), ``eval_seconds``. Epoch 0, when present, is the
        model before training (for compressed models).
    best : dict
        The entry with the lowest validation NLL (the first on ties).
    """

    history: list
    best: dict

    @property
    def seconds_per_epoch(self) -> float | None:
        """Mean seconds of a training pass, over the epochs that trained."""
        times = [entry["seconds"] for entry in self.history if entry["epoch"] > 0]
        return sum(times) / len(times) if times else None


def best_entry(history: list) -> dict:
    """The history entry with the lowest validation NLL (earliest on ties)."""
    return min(history, key=lambda entry: (entry["valid_nll"], entry["epoch"]))


def _on_device(array, like):
    if array is None or like is None:
        return array
    return backend.asarray_like(array, like)


def evaluate(model: nn.Module, task_data: TaskData, split: str, like=None) -> tuple[float, float]:
    """``(nll, accuracy)`` of ``model`` on ``split``, in evaluation mode (no dropout)."""
    model.eval()
    totals: dict[str, float] = {}
    for inputs, targets, mask in task_data.eval_batches(split):
        inputs, targets, mask = (_on_device(a, like) for a in (inputs, targets, mask))
        stats = model.batch_stats(model.forward(inputs, mask), targets, mask)
        for key, value in stats.items():
            totals[key] = totals.get(key, 0.0) + value
    model.train()
    return metrics(totals)


def _steps_per_epoch(task_data, config) -> int:
    """Training batches per epoch, after ``--max-steps``."""
    steps = task_data.num_train_batches(config.batch_size)
    return steps if config.max_steps is None else min(steps, config.max_steps)


def _reseed_dropout(model: nn.Module, seed: int, epoch: int) -> None:
    """Give every dropout layer the generator of this epoch (same on resume)."""
    for index, module in enumerate(m for m in model.modules() if isinstance(m, nn.Dropout)):
        module.rng = np.random.default_rng([seed, epoch, 1 + index])


def _train_epoch(model, optimizer, task_data: TaskData, config: RunConfig, epoch: int,
                 progress, last_good: Path | None, like) -> tuple[float, float]:
    """One pass over the training batches; returns (mean loss, seconds)."""
    _reseed_dropout(model, config.seed, epoch)
    model.train()
    total_steps = _steps_per_epoch(task_data, config)
    unit = "frames/s" if task_data.task == "chorales" else "images/s"
    loss_sum = count = 0.0
    start = time.perf_counter()
    batches = task_data.train_batches(epoch, config.batch_size, config.seed)
    for step, (inputs, targets, mask) in enumerate(batches, start=1):
        if step > total_steps:
            break
        # Frames (or images) in the batch, read while the mask is still on the host.
        weight = float(np.sum(mask)) if mask is not None else float(inputs.shape[1])
        inputs, targets, mask = (_on_device(a, like) for a in (inputs, targets, mask))
        model.zero_grad()
        logits = model.forward(inputs, mask)
        loss, dlogits = model.loss(logits, targets, mask)
        if not math.isfinite(loss):
            raise NonFiniteLoss("training loss", loss, epoch, step, last_good)
        model.backward(dlogits)
        norm = nn.clip_grad_norm(optimizer.params, config.clip)
        if not math.isfinite(norm):
            raise NonFiniteLoss("gradient norm", norm, epoch, step, last_good)
        optimizer.step()

        loss_sum += loss * weight
        count += weight
        elapsed = time.perf_counter() - start
        progress.update(step, total_steps, loss=loss_sum / count,
                        **{unit: f"{count / max(elapsed, 1e-9):.0f}"})
    return loss_sum / max(count, 1.0), time.perf_counter() - start


def _checkpoint_extra(config: RunConfig, epoch: int, history: list) -> dict:
    return {"epoch": epoch, "history": json.dumps(history),
            "config": json.dumps(config.to_dict())}


def _evaluate_entry(model, task_data, like, epoch, train_loss, seconds) -> dict:
    start = time.perf_counter()
    valid_nll, valid_accuracy = evaluate(model, task_data, "valid", like)
    test_nll, test_accuracy = evaluate(model, task_data, "test", like)
    return {"epoch": epoch, "train_loss": train_loss, "valid_nll": valid_nll,
            "valid_accuracy": valid_accuracy, "test_nll": test_nll,
            "test_accuracy": test_accuracy, "seconds": seconds,
            "eval_seconds": time.perf_counter() - start}


def _save(run_dir: Path, model, optimizer, config, epoch, history, improved) -> None:
    extra = _checkpoint_extra(config, epoch, history)
    if improved:
        nn.save(run_dir / BEST_CHECKPOINT, model, extra=extra)
    nn.save(run_dir / LAST_CHECKPOINT, model, optimizer, extra=extra)


def train(model: nn.Module, config: RunConfig, task_data: TaskData, run_dir: Path, *,
          progress_factory: Callable, resume: bool = False, evaluate_initial: bool = False,
          label: str = "", like=None
          ) -> TrainResult:
    """Train ``model`` for ``config.epochs`` epochs (or the rest of them on resume).

    Parameters
    ----------
    model : Module
        A :class:`~tensortrain.experiments.models.PredictionModel` or
        :class:`~tensortrain.experiments.models.ClassificationModel`.
    config : RunConfig
        The training budget (``epochs``, ``batch_size``, ``lr``, ``clip``,
        ``seed``, ``max_steps``).
    task_data : TaskData
    run_dir : pathlib.Path
        Folder of ``last.npz`` and ``best.npz``.
    progress_factory : callable
        ``progress_factory(label, total)`` returns a progress bar
        (:class:`~tensortrain.experiments.progress.ProgressBar` or ``NullProgress``).
    resume : bool
        Continue from ``run_dir/last.npz``: model, optimizer state, epoch and history.
    evaluate_initial : bool
        Evaluate the untrained model first, as epoch 0 (for compressed models).
    label : str
        Name shown in the progress bars.
    like : array, optional
        Batches are moved to this array's library and device.

    Returns
    -------
    TrainResult

    Raises
    ------
    NonFiniteLoss
        When the loss or gradient norm is NaN or infinite; nothing is written
        for the failing epoch.
    ValueError, FileNotFoundError
        When resuming from a checkpoint that does not fit the model.
    """
    optimizer = nn.Adam(model, lr=config.lr)
    history: list = []
    last_good = None
    if resume:
        extra = nn.load(run_dir / LAST_CHECKPOINT, model, optimizer)
        history = json.loads(extra["history"])
        last_good = run_dir / LAST_CHECKPOINT
    elif evaluate_initial:
        entry = _evaluate_entry(model, task_data, like, 0, None, 0.0)
        history.append(entry)
        _save(run_dir, model, optimizer, config, 0, history, improved=True)
        last_good = run_dir / LAST_CHECKPOINT

    first_epoch = 1 + max((entry["epoch"] for entry in history), default=0)
    for epoch in range(first_epoch, config.epochs + 1):
        with progress_factory(f"{label}epoch {epoch}/{config.epochs}", 0) as bar:
            train_loss, seconds = _train_epoch(model, optimizer, task_data, config, epoch,
                                               bar, last_good, like)
            entry = _evaluate_entry(model, task_data, like, epoch, train_loss, seconds)
            bar.close(valid_nll=entry["valid_nll"])
        if not math.isfinite(entry["valid_nll"]):
            raise NonFiniteLoss("validation NLL", entry["valid_nll"], epoch,
                                _steps_per_epoch(task_data, config), last_good)
        improved = not history or entry["valid_nll"] < best_entry(history)["valid_nll"]
        history.append(entry)
        _save(run_dir, model, optimizer, config, epoch, history, improved)
        last_good = run_dir / LAST_CHECKPOINT
    if not history:
        raise ValueError(f"epochs must leave at least one epoch to run, got {config.epochs}")
    return TrainResult(history, best_entry(history))
