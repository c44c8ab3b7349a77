"""The settings of one training run, their defaults per task, and their checks.

A :class:`RunConfig` is everything that decides a run's numbers: the task and
data budget, the model layout (cell, sizes, modes, which matrices are TT and
their ranks) and the training budget. It is stored as ``config.json`` beside a
run's checkpoints, so ``--resume`` and ``--compress-from`` rebuild the same model.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Mapping

from ..construct import clip_ranks, factor_modes

__all__ = [
    "CHORALE_KEYS",
    "MNIST_CLASSES",
    "MNIST_PIXELS",
    "ConfigError",
    "RunConfig",
    "gate_count",
    "parse_ints",
    "tt_layer_modes",
    "check_ranks",
    "default_modes",
]

CHORALE_KEYS = 88
MNIST_PIXELS = 28
MNIST_CLASSES = 10
TASKS = ("chorales", "mnist")
CELLS = ("gru", "rnn")


class ConfigError(ValueError):
    """A setting is out of range or settings do not fit together (the CLI exits 2)."""


def parse_ints(text: str, name: str) -> tuple[int, ...]:
    """Parse ``"4,4,8"`` or ``"4x4x8"`` into a tuple of positive ints.

    Raises
    ------
    ConfigError
        Naming ``name`` when a part is not a positive integer.
    """
    parts = [part for part in text.replace("x", ",").split(",") if part.strip()]
    try:
        values = tuple(int(part) for part in parts)
    except ValueError:
        values = ()
    if not values or any(value < 1 for value in values):
        raise ConfigError(f"{name} must be positive integers such as 4,4,4,4, got {text!r}")
    return values


def gate_count(cell: str) -> int:
    """Number of stacked gate blocks of a cell: 3 for the GRU, 1 for the simple RNN."""
    return 3 if cell == "gru" else 1


def tt_layer_modes(cell: str, input_modes, hidden_modes) -> dict[str, tuple[tuple, tuple]]:
    """The (out_modes, in_modes) of the two recurrent matrices of a cell.

    The gate blocks are stacked by multiplying the first output mode by the
    gate count, so the contiguous blocks of the output are the gates.
    """
    out_modes = (gate_count(cell) * hidden_modes[0], *hidden_modes[1:])
    return {"w_ih": (out_modes, tuple(input_modes)), "w_hh": (out_modes, tuple(hidden_modes))}


def check_ranks(ranks, layers: Mapping[str, tuple[tuple, tuple]], flag: str = "--ranks"):
    """Check the inner TT-ranks against every TT layer; return them as a tuple.

    Parameters
    ----------
    ranks : sequence of int
        One rank for every bond, or a single value for all bonds.
    layers : mapping of str to (out_modes, in_modes)
        The TT layers the ranks are used for.
    flag : str
        The option name for the messages.

    Raises
    ------
    ConfigError
        When a rank is <= 0, the count does not match the bonds, or a rank is
        above :func:`tensortrain.clip_ranks`' bound for one of the layers.
    """
    ranks = given = tuple(int(rank) for rank in ranks)
    if any(rank < 1 for rank in ranks):
        raise ConfigError(f"{flag} must be positive integers, got {_text(ranks)}")
    for name, (out_modes, in_modes) in layers.items():
        num_bonds = len(out_modes) - 1
        if len(ranks) == 1:
            ranks = ranks * num_bonds
        if len(ranks) != num_bonds:
            raise ConfigError(f"{flag} must give 1 or {num_bonds} ranks (one per bond of "
                              f"{len(out_modes)} modes), got {len(ranks)}: {_text(ranks)}")
        fused = [m * n for m, n in zip(out_modes, in_modes)]
        bounds = clip_ranks(fused, [max(ranks)] * num_bonds)[1:-1]
        for bond, (rank, bound) in enumerate(zip(ranks, bounds), start=1):
            if rank > bound:
                raise ConfigError(
                    f"{flag} {_text(given)} does not fit {name} with out modes "
                    f"{_text(out_modes)} and in modes {_text(in_modes)}: rank {rank} at "
                    f"bond {bond} is above the largest useful rank {bound}")
    return ranks


def _text(values) -> str:
    return ",".join(str(value) for value in values)


@dataclass
class RunConfig:
    """Every setting of one training run.

    Attributes
    ----------
    task : {"chorales", "mnist"}
        Next-frame prediction of Bach chorales or row-by-row MNIST classification.
    cell : {"gru", "rnn"}
    tt_input, tt_hidden : bool
        Whether W_ih (input to gates) and W_hh (hidden to gates) are TT-matrices.
    input_size : int
        Width of the recurrent layer's input: the pre-net output for the
        chorales, 28 pixels for MNIST.
    hidden : int
        Hidden state size H.
    input_modes, hidden_modes : tuple of int
        Factorizations of ``input_size`` and ``hidden`` of one length d.
    ranks : tuple of int or None
        The d - 1 inner TT-ranks; None for a dense model.
    epochs, batch_size, lr, clip, dropout, seed
        The training budget: Adam with learning rate ``lr``, gradients
        clipped to norm ``clip``, dropout ``dropout`` on the recurrent output.
    limit : int or None
        Chorales: build from the first ``limit`` pieces; MNIST: ``limit``
        training images per class (a third of that, at least 1, for valid and test).
    max_steps : int or None
        At most this many batches per training epoch.
    compress_eps, compress_rank, compressed_from : optional
        Set when the model was compressed from a dense checkpoint.
    """

    task: str = "chorales"
    cell: str = "gru"
    tt_input: bool = False
    tt_hidden: bool = False
    input_size: int = 256
    hidden: int = 512
    input_modes: tuple = (4, 4, 4, 4)
    hidden_modes: tuple = (8, 4, 4, 4)
    ranks: tuple | None = None
    epochs: int = 10
    batch_size: int = 16
    lr: float = 2.5e-3
    clip: float = 5.0
    dropout: float = 0.3
    seed: int = 0
    limit: int | None = None
    max_steps: int | None = None
    compress_eps: float | None = None
    compress_rank: tuple | None = None
    compressed_from: str | None = None

    @property
    def is_tt(self) -> bool:
        """True when at least one recurrent matrix is a TT-matrix."""
        return self.tt_input or self.tt_hidden

    @property
    def tt_layers(self) -> dict[str, tuple[tuple, tuple]]:
        """(out_modes, in_modes) of the recurrent matrices that are TT."""
        layers = tt_layer_modes(self.cell, self.input_modes, self.hidden_modes)
        wanted = {"w_ih": self.tt_input, "w_hh": self.tt_hidden}
        return {name: modes for name, modes in layers.items() if wanted[name]}

    def validate(self) -> "RunConfig":
        """Check every setting and their fit; return self.

        Raises
        ------
        ConfigError
            Naming the option, what it must be and what it is.
        """
        _choice(self.task, TASKS, "--task")
        _choice(self.cell, CELLS, "--cell")
        for name in ("hidden", "epochs", "batch_size"):
            _positive_int(getattr(self, name), "--" + name.replace("_", "-"))
        for name in ("limit", "max_steps"):
            if getattr(self, name) is not None:
                _positive_int(getattr(self, name), "--" + name.replace("_", "-"))
        _positive_float(self.lr, "--lr")
        _positive_float(self.clip, "--clip")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.seed < 0:
            raise ConfigError(f"--seed must be a non-negative integer, got {self.seed}")
        self._check_modes()
        if self.compressed_from is not None:
            self._check_compression()
        elif self.is_tt:
            if self.ranks is None:
                raise ConfigError("--ranks is needed when a recurrent matrix is TT")
            self.ranks = check_ranks(self.ranks, self.tt_layers)
        elif self.ranks is not None:
            raise ConfigError("--ranks applies to TT matrices; add --tt-input and/or "
                              "--tt-hidden (or use --compress-from)")
        return self

    def _check_compression(self) -> None:
        if self.compress_rank is None and self.compress_eps is None:
            raise ConfigError("compressing a dense model needs --ranks or --eps")
        if self.compress_eps is not None and not (
                math.isfinite(self.compress_eps) and 0 < self.compress_eps < 1):
            raise ConfigError(f"--eps must be a number in (0, 1), got {self.compress_eps}")
        if self.compress_rank is not None:
            self.compress_rank = check_ranks(self.compress_rank, self.tt_layers)

    def _check_modes(self) -> None:
        for modes, size, flag, what in (
            (self.input_modes, self.input_size, "--input-modes", "the recurrent input size"),
            (self.hidden_modes, self.hidden, "--hidden-modes", "--hidden"),
        ):
            if math.prod(modes) != size:
                raise ConfigError(f"{flag} {_text(modes)} multiply to {math.prod(modes)}, "
                                  f"but {what} is {size}")
        if len(self.input_modes) != len(self.hidden_modes):
            raise ConfigError(
                f"--input-modes and --hidden-modes must have the same number of modes, "
                f"got {len(self.input_modes)} ({_text(self.input_modes)}) and "
                f"{len(self.hidden_modes)} ({_text(self.hidden_modes)})")

    def to_dict(self) -> dict:
        """The settings as JSON-ready values (tuples become lists)."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping) -> "RunConfig":
        """Rebuild a config from :meth:`to_dict` output.

        Raises
        ------
        ConfigError
            If a key is unknown.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"the stored run configuration has unknown keys {unknown}")
        tuples = {"input_modes", "hidden_modes", "ranks", "compress_rank"}
        converted = {key: tuple(value) if key in tuples and value is not None else value
                     for key, value in values.items()}
        return cls(**converted)


def default_modes(task: str, input_size: int, hidden: int) -> tuple[tuple, tuple]:
    """Input and hidden modes of one length for a task's sizes.

    Chorales: balanced factors in 4 modes (``(4, 4, 4, 4)`` for 256, ``(8, 4, 4, 4)``
    for 512); MNIST: ``(4, 7)`` for the 28 pixels and 2 balanced hidden modes.
    """
    _positive_int(hidden, "--hidden")
    if task == "mnist" and input_size == MNIST_PIXELS:
        input_modes = (4, 7)
    else:
        input_modes = factor_modes(input_size, 4 if task == "chorales" else 2)
    return input_modes, factor_modes(hidden, len(input_modes))


def _choice(value, choices, flag: str) -> None:
    if value not in choices:
        raise ConfigError(f"{flag} must be one of {', '.join(choices)}, got {value!r}")


def _positive_int(value, flag: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{flag} must be a positive integer, got {value!r}")


def _positive_float(value, flag: str) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{flag} must be a positive finite number, got {value!r}")
