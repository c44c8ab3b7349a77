"""Padded, time-major batches from ragged sequences, for next-frame prediction.

Every array here is time-major: axis 0 is the frame, axis 1 the sequence in
the batch, axis 2 the feature, which is the order a recurrent layer steps in.
A mask marks real frames with 1 and padding with 0, so a loss summed under
the mask and divided by ``mask.sum()`` is a mean over real frames.
"""

from __future__ import annotations

from numbers import Integral
from typing import Iterator, Sequence

import numpy as np

__all__ = ["next_frame_batches", "pad_batch"]


def check_sequences(seqs: Sequence[np.ndarray], name: str = "seqs",
                    min_length: int = 1) -> list[np.ndarray]:
    """Check that ``seqs`` is a non-empty list of 2-D arrays of one feature size.

    Parameters
    ----------
    seqs : sequence of array_like
        Each item of shape (frames, features).
    name : str
        The argument name to put in error messages.
    min_length : int
        Fewest frames an item may have.

    Returns
    -------
    list of numpy.ndarray
        The items as arrays (no copy where they already are arrays).

    Raises
    ------
    TypeError
        If ``seqs`` is a bare array or not a sequence.
    ValueError
        If it is empty, an item is not 2-D, is shorter than ``min_length``,
        or the feature sizes differ.
    """
    if isinstance(seqs, np.ndarray) or not isinstance(seqs, Sequence):
        raise TypeError(
            f"{name} must be a list of 2-D arrays (frames, features), "
            f"got {type(seqs).__name__}"
        )
    if len(seqs) == 0:
        raise ValueError(f"{name} must hold at least one sequence, got an empty list")

    arrays = [np.asarray(seq) for seq in seqs]
    num_features = None
    for index, array in enumerate(arrays):
        if array.ndim != 2:
            raise ValueError(
                f"{name}[{index}] must be a 2-D array (frames, features), "
                f"got shape {array.shape}"
            )
        if array.shape[0] < min_length:
            raise ValueError(
                f"{name}[{index}] must have at least {min_length} frame(s), "
                f"got {array.shape[0]}"
            )
        if num_features is None:
            num_features = array.shape[1]
        elif array.shape[1] != num_features:
            raise ValueError(
                f"{name} must share one feature size: {name}[0] has {num_features}, "
                f"{name}[{index}] has {array.shape[1]}"
            )
    return arrays


def pad_batch(seqs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Stack ragged sequences into one zero-padded, time-major batch.

    Parameters
    ----------
    seqs : sequence of array_like
        ``B`` arrays of shape (T_i, F), T_i >= 1, one feature size F.

    Returns
    -------
    x : numpy.ndarray
        float32 of shape (T_max, B, F); ``x[t, b]`` is frame t of ``seqs[b]``
        for t < T_b and zero after.
    mask : numpy.ndarray
        float32 of shape (T_max, B); 1 where ``x`` holds a real frame, else 0.

    Raises
    ------
    TypeError, ValueError
        As :func:`check_sequences` with ``min_length=1``.
    """
    arrays = check_sequences(seqs, "seqs", min_length=1)
    lengths = np.array([array.shape[0] for array in arrays])
    num_frames, num_features = int(lengths.max()), arrays[0].shape[1]

    x = np.zeros((num_frames, len(arrays), num_features), dtype=np.float32)
    for column, array in enumerate(arrays):
        x[: array.shape[0], column] = array
    mask = (np.arange(num_frames)[:, None] < lengths[None, :]).astype(np.float32)
    return x, mask


def next_frame_batches(
    seqs: Sequence[np.ndarray],
    batch_size: int,
    rng: np.random.Generator | int | None = None,
    shuffle: bool = True,
    sort_by_length: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Iterate over padded batches of (inputs, targets, mask) for next-frame prediction.

    For a sequence of T frames the inputs are frames 0..T-2 and the targets
    frames 1..T-1, so step t of a model reads frame t and predicts frame t+1.

    Parameters
    ----------
    seqs : sequence of array_like
        Arrays of shape (T_i, F) with T_i >= 2 and one feature size F.
    batch_size : int
        Sequences per batch, positive. The last batch holds the remainder and
        may be smaller; every sequence appears exactly once per pass.
    rng : numpy.random.Generator or int or None
        Source of the shuffle, or a seed for one. None draws a fresh,
        unseeded generator. Unused when ``shuffle`` is False.
    shuffle : bool
        Whether to visit the sequences in random order. When False the order
        is that of ``seqs`` (or by length, see ``sort_by_length``).
    sort_by_length : bool
        If True, sequences are grouped by length so a batch holds similar
        lengths and little padding (lengths tied are ordered at random when
        shuffling), and with ``shuffle`` the batch order is then shuffled.
        If False (default) batches are plain slices of the (shuffled) order.

    Yields
    ------
    inputs : numpy.ndarray
        float32 of shape (T_max - 1, B, F), zero-padded.
    targets : numpy.ndarray
        float32 of shape (T_max - 1, B, F), zero-padded.
    mask : numpy.ndarray
        float32 of shape (T_max - 1, B); 1 where the target is a real frame.
        ``T_max`` is the longest sequence of the batch.

    Raises
    ------
    TypeError
        If ``batch_size`` is not an integer or ``seqs`` not a list of arrays.
    ValueError
        If ``batch_size`` < 1, ``seqs`` is empty, a sequence has fewer than
        2 frames, or the feature sizes differ.
    """
    # Check here, before the generator starts, so a bad call fails at once.
    arrays = check_sequences(seqs, "seqs", min_length=2)
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral):
        raise TypeError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    order = _visit_order(arrays, int(batch_size), rng, shuffle, sort_by_length)
    return _iterate_batches(arrays, order)


def _visit_order(arrays: list[np.ndarray], batch_size: int,
                 rng: np.random.Generator | int | None, shuffle: bool,
                 sort_by_length: bool) -> list[np.ndarray]:
    """Return the index sets of the batches, in the order they are yielded."""
    generator = np.random.default_rng(rng) if shuffle else None
    order = generator.permutation(len(arrays)) if shuffle else np.arange(len(arrays))
    if sort_by_length:
        lengths = np.array([array.shape[0] for array in arrays])
        # A stable sort keeps the shuffled order among equal lengths.
        order = order[np.argsort(lengths[order], kind="stable")]
    batches = [order[start:start + batch_size]
               for start in range(0, len(order), batch_size)]
    if shuffle and sort_by_length:
        batches = [batches[i] for i in generator.permutation(len(batches))]
    return batches


def _iterate_batches(arrays: list[np.ndarray], batches: list[np.ndarray]):
    """Yield (inputs, targets, mask) for each index set in ``batches``."""
    for indices in batches:
        x, mask = pad_batch([arrays[i] for i in indices])
        yield x[:-1], x[1:], mask[1:]
