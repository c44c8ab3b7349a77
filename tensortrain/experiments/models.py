"""The two models of the experiments, built from :mod:`tensortrain.nn`.

Next-frame prediction of piano rolls (the layout of the TT-GRU authors' later
code): pre-net ``Linear(88, input_size)`` with ``LeakyReLU(0.1)``, a GRU or
simple RNN ``input_size -> hidden``, dropout on its outputs, post-net
``Linear(hidden, 88)`` giving one logit per key; the loss is
:func:`tensortrain.nn.sigmoid_bce`, the NLL per valid frame in nats.

Sequence classification of MNIST read row by row: a GRU or RNN over the 28
rows of 28 pixels, dropout on the last state, ``Linear(hidden, 10)``; the loss
is :func:`tensortrain.nn.softmax_cross_entropy`.

Both models expose the same small interface to the training loop:
``forward(x, mask)``, ``backward(dlogits)``, ``loss(logits, targets, mask)``
and ``batch_stats(logits, targets, mask)`` whose sums :func:`metrics` turns
into ``(nll, accuracy)``.
"""

from __future__ import annotations

import array_api_compat
import numpy as np

from .. import backend, nn
from .config import CHORALE_KEYS, MNIST_CLASSES, RunConfig

__all__ = ["PredictionModel", "ClassificationModel", "build_model", "compress_model",
           "metrics"]

PRENET_SLOPE = 0.1


def _cell(config: RunConfig, rng: np.random.Generator, like=None):
    """The recurrent cell a config describes (dense or TT on each side)."""
    cell_class = nn.GRUCell if config.cell == "gru" else nn.RNNCell
    return cell_class(
        config.input_size, config.hidden,
        input_modes=config.input_modes, hidden_modes=config.hidden_modes,
        ranks=config.ranks, tt_input=config.tt_input, tt_hidden=config.tt_hidden,
        rng=rng, like=like,
    )


class PredictionModel(nn.Module):
    """Pre-net, recurrent layer, dropout and post-net for next-frame prediction.

    Parameters
    ----------
    config : RunConfig
        Sizes, modes, ranks and dropout.
    rng : numpy.random.Generator
        Draws the initial weights (training gives the dropout layers a
        generator of their own at every epoch).
    like : array, optional
        Library and device of the parameters (NumPy by default).
    """

    def __init__(self, config: RunConfig, rng: np.random.Generator, like=None):
        self.prenet = nn.Linear(CHORALE_KEYS, config.input_size, rng=rng, like=like)
        self.act = nn.LeakyReLU(PRENET_SLOPE)
        self.rnn = nn.Recurrent(_cell(config, rng, like))
        self.dropout = nn.Dropout(config.dropout, rng=rng)
        self.postnet = nn.Linear(config.hidden, CHORALE_KEYS, rng=rng, like=like)

    def forward(self, x, mask=None):
        """Logits ``(T, B, 88)`` of frame t+1 from frames ``x`` ``(T, B, 88)`` up to t."""
        hidden = self.act.forward(self.prenet.forward(x))
        states = self.rnn.forward(hidden, mask=mask)
        return self.postnet.forward(self.dropout.forward(states))

    def backward(self, dlogits):
        """Backprop from ``dL/dlogits``; adds every parameter gradient."""
        dstates = self.dropout.backward(self.postnet.backward(dlogits))
        dhidden = self.rnn.backward(dstates)
        return self.prenet.backward(self.act.backward(dhidden))

    @staticmethod
    def loss(logits, targets, mask):
        """``(NLL per valid frame, dL/dlogits)`` of the next-frame predictions."""
        return nn.sigmoid_bce(logits, targets, mask)

    @staticmethod
    def batch_stats(logits, targets, mask) -> dict[str, float]:
        """Sums over a batch: NLL, valid frames and TP / FP / FN at probability 0.5."""
        xp = backend.namespace(logits)
        loss, _ = nn.sigmoid_bce(logits, targets, mask)
        valid = xp.astype(mask, logits.dtype)[..., None] > 0
        on = targets > 0.5
        predicted = logits >= 0.0  # sigmoid(logit) >= 0.5
        count = float(xp.sum(xp.astype(mask > 0, xp.float64)))

        def total(selected):
            return float(xp.sum(xp.astype(selected & valid, xp.float64)))

        return {"nll_sum": loss * count, "count": count, "tp": total(predicted & on),
                "fp": total(predicted & ~on), "fn": total(~predicted & on)}


class ClassificationModel(nn.Module):
    """Recurrent layer over image rows, dropout on the last state, linear classifier.

    Parameters
    ----------
    config : RunConfig
    rng : numpy.random.Generator
    like : array, optional
    """

    def __init__(self, config: RunConfig, rng: np.random.Generator, like=None):
        self.rnn = nn.Recurrent(_cell(config, rng, like))
        self.dropout = nn.Dropout(config.dropout, rng=rng)
        self.head = nn.Linear(config.hidden, MNIST_CLASSES, rng=rng, like=like)
        self._steps = None

    def forward(self, x, mask=None):
        """Class logits ``(B, 10)`` from rows ``x`` ``(28, B, 28)``."""
        states = self.rnn.forward(x, mask=mask)
        self._steps = tuple(states.shape)
        return self.head.forward(self.dropout.forward(states[-1, ...]))

    def backward(self, dlogits):
        """Backprop from ``dL/dlogits`` through the last state only."""
        xp = backend.namespace(dlogits)
        dlast = self.dropout.backward(self.head.backward(dlogits))
        dstates = xp.zeros(self._steps, dtype=dlast.dtype,
                           device=array_api_compat.device(dlast))
        return self.rnn.backward(dstates, dh_last=dlast)

    @staticmethod
    def loss(logits, labels, mask=None):
        """``(mean cross-entropy, dL/dlogits)`` over the batch."""
        return nn.softmax_cross_entropy(logits, labels)

    @staticmethod
    def batch_stats(logits, labels, mask=None) -> dict[str, float]:
        """Sums over a batch: cross-entropy, examples and correct predictions."""
        xp = backend.namespace(logits)
        loss, _ = nn.softmax_cross_entropy(logits, labels)
        count = float(logits.shape[0])
        correct = float(xp.sum(xp.astype(xp.argmax(logits, axis=1) == labels, xp.float64)))
        return {"nll_sum": loss * count, "count": count, "correct": correct}


def metrics(stats: dict[str, float]) -> tuple[float, float]:
    """``(nll, accuracy)`` from summed :meth:`batch_stats`.

    The NLL is a mean over all frames (or examples); the chorale accuracy is
    TP / (TP + FP + FN) over all keys and frames (NaN when all three are 0),
    the MNIST accuracy the fraction of correct classes.
    """
    nll = stats["nll_sum"] / stats["count"]
    if "correct" in stats:
        return nll, stats["correct"] / stats["count"]
    denominator = stats["tp"] + stats["fp"] + stats["fn"]
    return nll, (stats["tp"] / denominator if denominator else float("nan"))


def build_model(config: RunConfig, like=None) -> nn.Module:
    """The model of ``config.task``, initialized from ``config.seed``."""
    rng = np.random.default_rng(config.seed)
    model_class = PredictionModel if config.task == "chorales" else ClassificationModel
    return model_class(config, rng, like)


def compress_model(dense_model: nn.Module, config: RunConfig) -> nn.Module:
    """A TT copy of a trained dense model: both recurrent matrices by TT-SVD.

    ``config`` gives the modes and the caps: ``compress_rank`` (inner ranks,
    or None) and ``compress_eps`` (relative accuracy, or None). The pre-net,
    post-net and biases are copied.
    """
    return nn.compress(dense_model, eps=config.compress_eps, max_rank=config.compress_rank,
                       input_modes=config.input_modes, hidden_modes=config.hidden_modes)

