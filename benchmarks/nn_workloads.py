"""Workloads of ``tensortrain.nn``: TT layers and TT-GRUs set against their dense forms.

Three workloads, all float32 and all tensortrain only:

- ``nn_linear``: forward and backward of a ``TTLinear`` 256 -> 1536 and of the
  dense ``Linear`` holding the same matrix, batch 16;
- ``nn_gru_step``: one training step of a GRU (forward, backward through time,
  Adam), dense and with TT ``W_ih`` and ``W_hh`` at ranks 4, 8 and 16;
- ``nn_epoch``: one training epoch of the main job's chorale model
  (:func:`tensortrain.experiments.models.build_model`) on a synthetic stand-in
  of the chorale training split, so that no music21 is needed.

The peers have no neural-network layers with a hand-written backward pass, so
every library adapter of :mod:`benchmarks.peers` answers ``n/a`` here; the rows
of these cases are :class:`NNVariant` adapters, one per configuration, timed
interleaved by the same harness as the other workloads. A variant's
``notes[NN_OPERATION]`` holds its parameter count, and a case whose variants
come in ``"<layer> forward"`` / ``"<layer> backward"`` pairs is shown as one row
per layer (see :mod:`benchmarks.report`).

``nn_epoch`` runs in the one-thread pass only: an epoch lasts seconds, the
harness times every variant at least four times (the checked call and three
rounds), and with two BLAS threads on a loaded two-core machine each epoch
takes four to five times longer, which would not fit the run's budget.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from benchmarks import reference as ref
from benchmarks.harness import Case
from benchmarks.peers import Peer
from benchmarks.workloads import workload
from tensortrain import nn
from tensortrain.experiments.config import RunConfig
from tensortrain.experiments.models import build_model
from tensortrain.experiments.tasks import TaskData

__all__ = ["NN_OPERATION", "NNVariant", "synthetic_chorales", "nn_linear", "nn_gru_step",
           "nn_epoch"]

#: The :class:`~benchmarks.peers.Peer` method that prepares an nn call.
NN_OPERATION = "nn_variant"

BATCH = 16
LINEAR_IN_MODES, LINEAR_OUT_MODES, LINEAR_RANK = (4, 4, 4, 4), (12, 8, 4, 4), 8
INPUT_SIZE, HIDDEN = 256, 512
INPUT_MODES, HIDDEN_MODES = (4, 4, 4, 4), (8, 4, 4, 4)
STEPS = 32
TT_RANKS = (4, 8, 16)
LEARNING_RATE = 2.5e-3

#: The stand-in for the chorale training split: count, length range and typical length.
CHORALE_COUNT, SHORTEST, LONGEST, TYPICAL_LENGTH = 210, 24, 193, 48
KEYS, VOICES = 88, 4
EPOCH = 1  # the batch order of this epoch is used for every timed epoch


class NNVariant(Peer):
    """One tensortrain.nn configuration of a case: a row of the table.

    Parameters
    ----------
    name : str
        Row name; ``"... forward"`` / ``"... backward"`` pairs share one row.
    call : callable
        The prepared zero-argument call that is checked and timed.
    num_params : int
        Trainable numbers of the layer or model, shown beside the times.
    """

    distribution = "tensortrain"

    def __init__(self, name: str, call: Callable, num_params: int) -> None:
        super().__init__()
        self.name = name
        self.status = "ok"
        self.notes = {NN_OPERATION: f"{num_params:,}"}
        self._call = call

    def nn_variant(self) -> Callable:
        """The prepared call (inputs and models were built by the workload)."""
        return self._call


def _pass_threads() -> int | None:
    """The BLAS thread count this worker was pinned to, or None outside a pinned pass."""
    value = os.environ.get("OPENBLAS_NUM_THREADS")
    return int(value) if value and value.isdigit() else None


def _modes(modes: tuple) -> str:
    """``(4, 4, 4, 4)`` as ``4x4x4x4``."""
    return "x".join(str(mode) for mode in modes)


def _float32(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Standard normal float32 input, read-only so that an in-place change shows up."""
    array = rng.standard_normal(shape).astype(np.float32)
    array.setflags(write=False)
    return array


def _finite(result) -> tuple[None, None]:
    """Verifier that only demands finite numbers (there is no common reference)."""
    if not np.all(np.isfinite(np.asarray(result))):
        raise FloatingPointError("the result holds NaN or infinite values")
    return None, None


def _layer_variants(name: str, layer, inputs, upstream) -> list[NNVariant]:
    """Forward and backward calls of one layer; backward reuses one forward's cache."""
    _, cache = layer.forward_with_cache(inputs)
    return [
        NNVariant(f"{name} forward", lambda: layer.forward_with_cache(inputs)[0],
                  layer.num_params),
        NNVariant(f"{name} backward", lambda: layer.backward_from_cache(upstream, cache),
                  layer.num_params),
    ]


@workload("nn_linear")
def nn_linear() -> list[Case]:
    """TTLinear 256 -> 1536 at rank 8 and the dense Linear of the same matrix, batch 16."""
    rng = np.random.default_rng(70)
    tt_layer = nn.TTLinear(LINEAR_IN_MODES, LINEAR_OUT_MODES, LINEAR_RANK, rng=71)
    weight = ref.ttm_full([np.asarray(p.value, dtype=np.float64) for p in tt_layer.cores])
    dense_layer = nn.Linear(tt_layer.in_features, tt_layer.out_features, rng=72)
    dense_layer.weight.value = weight.astype(np.float32)
    inputs = _float32(rng, (BATCH, tt_layer.in_features))
    upstream = _float32(rng, (BATCH, tt_layer.out_features))

    # y and dx differ in shape (1536 vs. 256 columns), so the shape picks the reference.
    expected = {(BATCH, tt_layer.out_features): inputs.astype(np.float64) @ weight.T,
                (BATCH, tt_layer.in_features): upstream.astype(np.float64) @ weight}
    variants = [*_layer_variants("Linear", dense_layer, inputs, upstream),
                *_layer_variants(f"TTLinear rank {LINEAR_RANK}", tt_layer, inputs, upstream)]
    title = (f"TTLinear {tt_layer.in_features} -> {tt_layer.out_features} (in modes "
             f"{_modes(LINEAR_IN_MODES)}, out modes {_modes(LINEAR_OUT_MODES)}, ranks "
             f"{LINEAR_RANK}) vs. dense Linear of the same matrix, batch {BATCH}, float32")
    check = ("Error columns: forward y and backward dx against float64 products with the "
             "TT-matrix's dense form; the backward call reuses one forward's cache and adds "
             "the parameter gradients. Parameters: weight (or cores) and bias")
    return [Case("nn_linear", title, NN_OPERATION, (), "array",
                 lambda y: (ref.rel_error(y, expected[y.shape]), None), check,
                 extra_peers=variants)]


def _gru(rank: int | None, seed: int):
    """The benchmark's GRU layer, dense for ``rank=None``, else TT on both sides."""
    tt = rank is not None
    return nn.GRU(INPUT_SIZE, HIDDEN, input_modes=INPUT_MODES, hidden_modes=HIDDEN_MODES,
                  ranks=rank, tt_input=tt, tt_hidden=tt, rng=seed)


def _gru_step(gru, inputs, upstream) -> Callable:
    """One training step: forward over the sequence, backward through time, Adam."""
    optimizer = nn.Adam(gru, lr=LEARNING_RATE)

    def step():
        gru.zero_grad()
        states = gru.forward(inputs)
        gru.backward(upstream)
        optimizer.step()
        return states

    return step


@workload("nn_gru_step")
def nn_gru_step() -> list[Case]:
    """One GRU training step, T = 32, batch 16, 256 -> 512: dense vs. TT at ranks 4, 8, 16."""
    rng = np.random.default_rng(75)
    inputs = _float32(rng, (STEPS, BATCH, INPUT_SIZE))
    upstream = _float32(rng, (STEPS, BATCH, HIDDEN))
    variants = []
    for rank in (None, *TT_RANKS):
        gru = _gru(rank, seed=76)
        name = "dense GRU" if rank is None else f"TT-GRU rank {rank}"
        variants.append(NNVariant(name, _gru_step(gru, inputs, upstream),
                                  nn.recurrent_num_params(gru)))
    title = (f"GRU training step: batch {BATCH}, input {INPUT_SIZE}, hidden {HIDDEN}, "
             f"T = {STEPS}, forward + backward + Adam; TT rows: W_ih and W_hh TT "
             f"(input modes {_modes(INPUT_MODES)}, hidden modes {_modes(HIDDEN_MODES)})")
    check = ("The loss is sum(G * h) for a fixed random G (dL/dh = G), so the step times "
             "the GRU alone; the states are checked finite only (the gradients are checked "
             "by the test suite). Parameters: the recurrent cell (W_ih, W_hh, biases)")
    return [Case("nn_gru_step", title, NN_OPERATION, (), "array", _finite, check,
                 extra_peers=variants)]


def synthetic_chorales(count: int = CHORALE_COUNT, seed: int = 80) -> list[np.ndarray]:
    """A fixed stand-in for the chorale training split: binary piano rolls of 88 keys.

    Parameters
    ----------
    count : int
        Number of sequences.
    seed : int
        Seed of the lengths and the notes.

    Returns
    -------
    list of numpy.ndarray
        float32 rolls of shape ``(T_i, 88)``; the lengths are log-normal around
        48 frames, clipped to 24..193 with both ends present; each key is on
        with probability 4/88 (four voices).
    """
    rng = np.random.default_rng(seed)
    drawn = np.exp(rng.normal(np.log(TYPICAL_LENGTH), 0.45, count))
    lengths = np.clip(np.round(drawn), SHORTEST, LONGEST).astype(int)
    lengths[:2] = SHORTEST, LONGEST
    return [(rng.random((length, KEYS)) < VOICES / KEYS).astype(np.float32)
            for length in lengths]


def _chorale_config(rank: int | None) -> RunConfig:
    """The main job's default chorale run, dense or with both recurrent matrices TT."""
    tt = rank is not None
    ranks = None if rank is None else (rank,) * (len(INPUT_MODES) - 1)
    return RunConfig(task="chorales", cell="gru", tt_input=tt, tt_hidden=tt,
                     ranks=ranks).validate()


def _epoch(model, task_data: TaskData, config: RunConfig) -> Callable[[], float]:
    """One training epoch as the main job runs it: Adam, clipping, the same batches."""
    optimizer = nn.Adam(model, lr=config.lr)

    def epoch() -> float:
        loss_sum = frames = 0.0
        for inputs, targets, mask in task_data.train_batches(EPOCH, config.batch_size,
                                                             config.seed):
            model.zero_grad()
            loss, dlogits = model.loss(model.forward(inputs, mask), targets, mask)
            model.backward(dlogits)
            nn.clip_grad_norm(optimizer.params, config.clip)
            optimizer.step()
            weight = float(np.sum(mask))
            loss_sum, frames = loss_sum + loss * weight, frames + weight
        return loss_sum / frames

    return epoch


@workload("nn_epoch")
def nn_epoch() -> list[Case]:
    """One epoch of the chorale model, dense GRU and TT-GRU at ranks 4, 8, 16 (1 thread)."""
    threads = _pass_threads()
    if threads is not None and threads > 1:
        return []
    rolls = synthetic_chorales()
    task_data = TaskData("chorales", {"train": rolls, "valid": [], "test": []})
    variants = []
    for rank in (None, *TT_RANKS):
        config = _chorale_config(rank)
        model = build_model(config)
        name = "dense GRU" if rank is None else f"TT-GRU rank {rank}"
        variants.append(NNVariant(name, _epoch(model, task_data, config), model.num_params))
    config = _chorale_config(None)
    lengths = sorted(len(roll) for roll in rolls)
    title = (f"One training epoch of the chorale model (pre-net {KEYS} -> {config.input_size} "
             f"LeakyReLU, GRU {config.input_size} -> {config.hidden}, post-net "
             f"{config.hidden} -> {KEYS}; batch {config.batch_size}, Adam, clip "
             f"{config.clip}, dropout {config.dropout})")
    check = (f"Data: a seeded synthetic stand-in of the chorale training split, {len(rolls)} "
             f"random binary piano rolls of {lengths[0]}..{lengths[-1]} frames (median "
             f"{int(np.median(lengths))}, {sum(lengths)} frames), {KEYS} keys, so that no "
             "music21 is needed; models from tensortrain.experiments.models.build_model with "
             "the default chorale config. Timed in the 1-thread pass only. The mean training "
             "loss is checked finite. Parameters: the whole model")
    return [Case("nn_epoch", title, NN_OPERATION, (), "float", _finite, check,
                 extra_peers=variants)]
