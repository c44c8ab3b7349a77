"""The data of each task, as padded time-major batches for the models.

``chorales``: the Bach chorales of :func:`tensortrain.data.load_chorales`
(its seeded 60/20/20 split by piece, always with split seed 0 so that runs
with different ``--seed`` see the same pieces), batched by
:func:`tensortrain.data.next_frame_batches` with length-sorted batches (little
padding) in a shuffled order. ``mnist``: the 5,000-digit subset of
:func:`tensortrain.data.load_mnist` (split seed 0), 28 rows of 28 pixels.

The training batches of epoch ``e`` are drawn from ``numpy.random.default_rng([seed, e])``,
so a resumed run visits them in the same order as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from .. import data
from .config import ConfigError, RunConfig

__all__ = ["TaskData", "load_task", "DATA_SPLIT_SEED", "EVAL_BATCH_SIZE"]

DATA_SPLIT_SEED = 0
EVAL_BATCH_SIZE = 64
MNIST_TRAIN_PER_CLASS = 300
MNIST_HELD_OUT_PER_CLASS = 100

Batch = tuple  # (inputs (T, B, F), targets, mask (T, B) or None), NumPy arrays


@dataclass
class TaskData:
    """The three splits of a task and how to batch them.

    Attributes
    ----------
    task : str
    splits : dict
        ``"train"``, ``"valid"``, ``"test"``: chorale rolls (list of arrays) or
        MNIST ``(images, labels)``.
    baselines : dict
        Chorales only: ``{"valid": {...}, "test": {...}}`` of
        :class:`tensortrain.data.BaselineScore` by baseline name.
    summary : str
        One line on what was loaded.
    """

    task: str
    splits: dict
    baselines: dict = field(default_factory=dict)
    summary: str = ""

    def train_batches(self, epoch: int, batch_size: int, seed: int) -> Iterator[Batch]:
        """Shuffled training batches of epoch ``epoch`` (1-based)."""
        rng = np.random.default_rng([seed, epoch])
        if self.task == "chorales":
            return data.next_frame_batches(self.splits["train"], batch_size, rng=rng,
                                           shuffle=True, sort_by_length=True)
        images, labels = self.splits["train"]
        return _image_batches(images, labels, batch_size, rng.permutation(len(labels)))

    def eval_batches(self, split: str) -> Iterator[Batch]:
        """Batches of ``split`` ("valid" or "test") in a fixed order."""
        if self.task == "chorales":
            return data.next_frame_batches(self.splits[split], EVAL_BATCH_SIZE,
                                           shuffle=False, sort_by_length=True)
        images, labels = self.splits[split]
        return _image_batches(images, labels, EVAL_BATCH_SIZE, np.arange(len(labels)))

    def num_train_batches(self, batch_size: int) -> int:
        """How many batches one training epoch has."""
        count = len(self.splits["train"]) if self.task == "chorales" else len(
            self.splits["train"][1])
        return -(-count // batch_size)


def _image_batches(images, labels, batch_size: int, order) -> Iterator[Batch]:
    """Time-major image batches: rows are the time steps."""
    for start in range(0, len(order), batch_size):
        chosen = order[start:start + batch_size]
        yield np.ascontiguousarray(np.transpose(images[chosen], (1, 0, 2))), labels[chosen], None


def load_task(config: RunConfig, progress: Callable[[int, int], None] | None = None,
              cache_dir=None) -> TaskData:
    """Load (and for the chorales, on first use, build) the data of ``config.task``.

    Parameters
    ----------
    config : RunConfig
        ``task`` and ``limit`` are used.
    progress : callable, optional
        ``progress(done, total)`` while the chorale cache is built.
    cache_dir : path, optional
        The chorale cache folder; ``$TENSORTRAIN_CACHE`` or the default otherwise.

    Raises
    ------
    ConfigError
        When ``--limit`` / ``--max-pieces`` leaves a split empty.
    ImportError
        When the task's optional package is missing.
    """
    if config.task == "chorales":
        return _load_chorales(config, progress, cache_dir)
    return _load_mnist(config)


def _load_chorales(config: RunConfig, progress, cache_dir) -> TaskData:
    loaded = data.load_chorales(cache_dir=cache_dir, seed=DATA_SPLIT_SEED, progress=progress,
                                limit=config.limit)
    splits = {"train": loaded.train, "valid": loaded.valid, "test": loaded.test}
    empty = [name for name, rolls in splits.items() if not rolls]
    if empty:
        raise ConfigError(f"--max-pieces {config.limit} leaves the {' and '.join(empty)} "
                          f"split empty; use at least 5 pieces")
    baselines = {name: data.baseline_scores(loaded.train, splits[name])
                 for name in ("valid", "test")}
    frames = {name: sum(len(roll) for roll in rolls) for name, rolls in splits.items()}
    summary = (f"chorales: {len(loaded.train)}/{len(loaded.valid)}/{len(loaded.test)} pieces, "
               f"{frames['train']}/{frames['valid']}/{frames['test']} frames "
               f"(train/valid/test), cache {loaded.cache_path}")
    return TaskData("chorales", splits, baselines, summary)


def _load_mnist(config: RunConfig) -> TaskData:
    train = MNIST_TRAIN_PER_CLASS if config.limit is None else config.limit
    held_out = MNIST_HELD_OUT_PER_CLASS if config.limit is None else max(1, config.limit // 3)
    if train + 2 * held_out > 500:
        raise ConfigError(f"--limit must be at most 300 images per class for mnist, "
                          f"got {config.limit}")
    loaded = data.load_mnist(seed=DATA_SPLIT_SEED, train_per_class=train,
                             valid_per_class=held_out, test_per_class=held_out)
    splits = {"train": loaded.train, "valid": loaded.valid, "test": loaded.test}
    summary = (f"mnist: {len(loaded.train[1])}/{len(loaded.valid[1])}/{len(loaded.test[1])} "
               f"images (train/valid/test), 28 steps of 28 pixels")
    return TaskData("mnist", splits, {}, summary)
