"""Baselines for next-frame prediction of piano rolls, and their scores.

What a sequence model must beat: each key on with its training frequency,
and each key predicted from its own previous frame. Both are scored with the
models' metrics: negative log-likelihood in nats per predicted frame (summed
over keys, averaged over all predicted frames) and frame accuracy
TP / (TP + FP + FN).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .batching import check_sequences

__all__ = [
    "BaselineScore",
    "baseline_scores",
    "fit_key_frequency",
    "fit_previous_frame",
    "key_frequency_predictions",
    "next_frame_accuracy",
    "next_frame_nll",
    "previous_frame_predictions",
]


@dataclass(frozen=True)
class BaselineScore:
    """How well a baseline predicts the next frame.

    Attributes
    ----------
    nll : float
        Negative log-likelihood in nats per predicted frame (summed over keys).
    accuracy : float
        Frame accuracy TP / (TP + FP + FN) at threshold 0.5.
    """

    nll: float
    accuracy: float



def _check_eps(eps: float) -> float:
    """Return ``eps`` as a float after checking 0 <= eps < 0.5."""
    if not 0.0 <= float(eps) < 0.5:
        raise ValueError(f"eps must be in [0, 0.5), got {eps!r}")
    return float(eps)


def _binary_rolls(seqs: Sequence[np.ndarray], name: str, min_length: int) -> list[np.ndarray]:
    """Check that ``seqs`` are 0/1 rolls of one key count; return them as bool."""
    arrays = check_sequences(seqs, name, min_length=min_length)
    for index, array in enumerate(arrays):
        if not np.isin(array, (0, 1)).all():
            raise ValueError(f"{name}[{index}] must hold only 0 and 1")
    return [array.astype(bool) for array in arrays]


def fit_key_frequency(train: Sequence[np.ndarray], eps: float = 1e-6) -> np.ndarray:
    """Estimate each key's probability of being on, from its training frequency.

    Parameters
    ----------
    train : sequence of numpy.ndarray
        Binary rolls of shape (T_i, K).
    eps : float
        Probabilities are clipped to ``[eps, 1 - eps]`` so that a key never
        (or always) on in training costs at most ``-log(eps)`` nats elsewhere.

    Returns
    -------
    numpy.ndarray
        float64 of shape (K,): the fraction of all training frames (0..T-1 of
        every piece) in which the key is on, clipped.
    """
    rolls = _binary_rolls(train, "train", min_length=1)
    frames = np.concatenate(rolls, axis=0)
    return np.clip(frames.mean(axis=0), _check_eps(eps), 1.0 - eps)


def fit_previous_frame(train: Sequence[np.ndarray], eps: float = 1e-6) -> np.ndarray:
    """Estimate P(key on | same key's state one frame before), per key.

    Parameters
    ----------
    train : sequence of numpy.ndarray
        Binary rolls of shape (T_i, K), each with at least 2 frames.
    eps : float
        Clip to ``[eps, 1 - eps]`` as in :func:`fit_key_frequency`.

    Returns
    -------
    numpy.ndarray
        float64 of shape (2, K): row 0 is P(on at t | off at t-1), row 1 is
        P(on at t | on at t-1), counted over all transitions of all pieces.
        A state never seen for a key falls back to the key's frequency.
    """
    rolls = _binary_rolls(train, "train", min_length=2)
    previous = np.concatenate([roll[:-1] for roll in rolls], axis=0)
    current = np.concatenate([roll[1:] for roll in rolls], axis=0)
    fallback = fit_key_frequency(rolls, eps)

    table = np.empty((2, previous.shape[1]))
    for state in (0, 1):
        was = previous == bool(state)
        seen = was.sum(axis=0)
        became_on = (was & current).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            table[state] = np.where(seen > 0, became_on / seen, fallback)
    return np.clip(table, _check_eps(eps), 1.0 - eps)


def key_frequency_predictions(seqs: Sequence[np.ndarray],
                              key_probs: np.ndarray) -> list[np.ndarray]:
    """Predict frames 1..T-1 of each roll as the fixed key probabilities.

    Returns a list of float64 arrays of shape (T_i - 1, K).
    """
    rolls = _binary_rolls(seqs, "seqs", min_length=2)
    key_probs = np.asarray(key_probs, dtype=np.float64)
    if key_probs.shape != (rolls[0].shape[1],):
        raise ValueError(f"key_probs must have shape ({rolls[0].shape[1]},), "
                         f"got {key_probs.shape}")
    return [np.broadcast_to(key_probs, (len(roll) - 1, key_probs.size)).copy()
            for roll in rolls]


def previous_frame_predictions(seqs: Sequence[np.ndarray],
                               table: np.ndarray) -> list[np.ndarray]:
    """Predict frame t of each roll from frame t-1 with :func:`fit_previous_frame`'s table.

    Returns a list of float64 arrays of shape (T_i - 1, K).
    """
    rolls = _binary_rolls(seqs, "seqs", min_length=2)
    table = np.asarray(table, dtype=np.float64)
    if table.shape != (2, rolls[0].shape[1]):
        raise ValueError(f"table must have shape (2, {rolls[0].shape[1]}), "
                         f"got {table.shape}")
    return [np.where(roll[:-1], table[1], table[0]) for roll in rolls]


def _paired(predictions, seqs) -> list[tuple[np.ndarray, np.ndarray]]:
    """Check predictions against the rolls they predict; pair probabilities and targets."""
    rolls = _binary_rolls(seqs, "seqs", min_length=2)
    if len(predictions) != len(rolls):
        raise ValueError(f"predictions must hold one array per sequence ({len(rolls)}), "
                         f"got {len(predictions)}")
    pairs = []
    for index, (probs, roll) in enumerate(zip(predictions, rolls)):
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (len(roll) - 1, roll.shape[1]):
            raise ValueError(f"predictions[{index}] must have shape "
                             f"{(len(roll) - 1, roll.shape[1])}, got {probs.shape}")
        if np.any((probs < 0) | (probs > 1)) or np.isnan(probs).any():
            raise ValueError(f"predictions[{index}] must be probabilities in [0, 1]")
        pairs.append((probs, roll[1:]))
    return pairs


def next_frame_nll(predictions: Sequence[np.ndarray], seqs: Sequence[np.ndarray]) -> float:
    """Negative log-likelihood of frames 1..T-1 in nats per predicted frame.

    Parameters
    ----------
    predictions : sequence of numpy.ndarray
        ``predictions[i][t]`` holds the probability that each key is on in
        frame ``t + 1`` of ``seqs[i]``; shape (T_i - 1, K).
    seqs : sequence of numpy.ndarray
        The binary rolls, shape (T_i, K), T_i >= 2.

    Returns
    -------
    float
        The binary cross-entropy summed over the K keys and over all
        predicted frames of all pieces, divided by the number of predicted
        frames (a mean over frames, so long pieces weigh more). Not clipped:
        a probability of exactly 0 for a key that is on gives ``inf``.
    """
    total, frames = 0.0, 0
    for probs, target in _paired(predictions, seqs):
        with np.errstate(divide="ignore"):
            log_likelihood = np.where(target, np.log(probs), np.log1p(-probs))
        total -= float(log_likelihood.sum())
        frames += len(target)
    return total / frames


def next_frame_accuracy(predictions: Sequence[np.ndarray], seqs: Sequence[np.ndarray],
                        threshold: float = 0.5) -> float:
    """Frame accuracy TP / (TP + FP + FN) of the next-frame predictions.

    A key counts as predicted on when its probability is ``>= threshold``.
    TP, FP and FN are summed over all keys and predicted frames of all pieces
    before dividing; the result is NaN when there is neither a note nor a
    predicted note.
    """
    true_pos = false_pos = false_neg = 0
    for probs, target in _paired(predictions, seqs):
        predicted = probs >= threshold
        true_pos += int(np.sum(predicted & target))
        false_pos += int(np.sum(predicted & ~target))
        false_neg += int(np.sum(~predicted & target))
    denominator = true_pos + false_pos + false_neg
    return true_pos / denominator if denominator else float("nan")


def baseline_scores(train: Sequence[np.ndarray], seqs: Sequence[np.ndarray],
                    eps: float = 1e-6) -> dict[str, BaselineScore]:
    """Score the two reference baselines, fitted on ``train``, on ``seqs``.

    Parameters
    ----------
    train : sequence of numpy.ndarray
        Binary rolls to fit on.
    seqs : sequence of numpy.ndarray
        Binary rolls to score (frames 1..T-1 of each are predicted).
    eps : float
        Probability clip of both baselines.

    Returns
    -------
    dict of str to BaselineScore
        ``"key_frequency"``: each key on with its training frequency;
        ``"previous_frame"``: each key predicted from its own previous frame.
    """
    key_probs = fit_key_frequency(train, eps)
    table = fit_previous_frame(train, eps)
    scores = {}
    for name, predictions in (
        ("key_frequency", key_frequency_predictions(seqs, key_probs)),
        ("previous_frame", previous_frame_predictions(seqs, table)),
    ):
        scores[name] = BaselineScore(next_frame_nll(predictions, seqs),
                                     next_frame_accuracy(predictions, seqs))
    return scores
