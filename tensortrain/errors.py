"""Exceptions and the argument checks that raise them.

The exception classes subclass ``ValueError`` so that callers who only know
the standard library can still catch them, while callers who care can tell a
shape problem from a rank problem.
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence

__all__ = [
    "ShapeMismatchError",
    "RankMismatchError",
    "check_eps",
    "check_max_rank",
    "check_modes",
    "check_finite",
    "check_positive_int",
]


class ShapeMismatchError(ValueError):
    """Mode sizes, tensor shapes or operand sizes do not fit together."""


class RankMismatchError(ValueError):
    """TT-ranks do not chain from one core to the next, or are not positive."""


def check_eps(eps, name: str = "eps") -> float:
    """Return ``eps`` as a float after checking it is a finite number >= 0."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"{name} must be a real number >= 0, got {eps!r}")
    eps = float(eps)
    if not math.isfinite(eps) or eps < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {eps!r}")
    return eps


def _as_int_list(value):
    """A 1-d integer array (NumPy or other) as a list; anything else unchanged."""
    if hasattr(value, "ndim") and hasattr(value, "tolist") and getattr(value, "ndim", 0) == 1:
        return value.tolist()
    return value


def check_max_rank(max_rank, num_bonds: int, name: str = "max_rank"):
    """Return ``max_rank`` as a tuple of ``num_bonds`` positive ints, or None.

    ``max_rank`` may be None (no limit), one positive integer for every bond,
    or a sequence with one positive integer per bond.
    """
    if max_rank is None:
        return None
    max_rank = _as_int_list(max_rank)
    if isinstance(max_rank, numbers.Integral) and not isinstance(max_rank, bool):
        values = [max_rank] * num_bonds
    elif isinstance(max_rank, Sequence) and not isinstance(max_rank, str):
        values = list(max_rank)
        if len(values) != num_bonds:
            raise ValueError(
                f"{name} must be one integer or {num_bonds} integers (one per bond), "
                f"got {len(values)} values"
            )
    else:
        raise TypeError(f"{name} must be a positive integer or a sequence of them, got {max_rank!r}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return tuple(int(v) for v in values)


def check_modes(modes, name: str = "modes") -> tuple[int, ...]:
    """Return ``modes`` (a sequence or 1-d array) as a non-empty tuple of positive ints."""
    modes = _as_int_list(modes)
    if isinstance(modes, numbers.Integral) and not isinstance(modes, bool):
        modes = (modes,)
    if not isinstance(modes, Sequence) or isinstance(modes, str) or len(modes) == 0:
        raise TypeError(f"{name} must be a non-empty sequence of positive integers, got {modes!r}")
    for n in modes:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"{name} must hold positive integers, got {tuple(modes)!r}")
    return tuple(int(n) for n in modes)


def check_positive_int(value, name: str) -> int:
    """Return ``value`` as an int after checking it is an integer >= 1 (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_finite(xp, array, name: str) -> None:
    """Raise ValueError if ``array`` holds NaN or Inf."""
    if not bool(xp.all(xp.isfinite(array))):
        raise ValueError(f"{name} must hold only finite values, got NaN or Inf")
