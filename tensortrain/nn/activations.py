"""Elementwise activations, dropout, and the sequential container.

The functions :func:`sigmoid` and :func:`log_sigmoid` are numerically stable
for any finite input (no overflow in ``exp``); :func:`sigmoid` is shared with
the recurrent cells.
"""

from __future__ import annotations

import numbers

import array_api_compat
import numpy as np

from .. import backend
from .module import Module

__all__ = [
    "sigmoid",
    "log_sigmoid",
    "Tanh",
    "Sigmoid",
    "LeakyReLU",
    "Dropout",
    "Sequential",
]


def sigmoid(x):
    """``1 / (1 + exp(-x))`` without overflow: ``exp`` only ever sees ``-|x|``."""
    xp = backend.namespace(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def log_sigmoid(x):
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``, finite for every finite ``x``."""
    xp = backend.namespace(x)
    return xp.minimum(x, xp.zeros_like(x)) - xp.log1p(xp.exp(-xp.abs(x)))


class _Elementwise(Module):
    """An activation applied entry by entry; keeps what its derivative needs."""

    def _saved(self):
        saved = getattr(self, "_cache", None)
        if saved is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return saved

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Tanh(_Elementwise):
    """``y = tanh(x)``; backward ``dx = dy (1 - y^2)``."""

    def forward(self, x):
        y = backend.namespace(x).tanh(x)
        self._cache = y
        return y

    def backward(self, dy):
        y = self._saved()
        return dy * (1 - y * y)


class Sigmoid(_Elementwise):
    """``y = 1 / (1 + exp(-x))`` (stable form); backward ``dx = dy y (1 - y)``."""

    def forward(self, x):
        y = sigmoid(x)
        self._cache = y
        return y

    def backward(self, dy):
        y = self._saved()
        return dy * y * (1 - y)


class LeakyReLU(_Elementwise):
    """``y = x`` for ``x > 0`` and ``negative_slope * x`` otherwise.

    Parameters
    ----------
    negative_slope : float, default 0.01
        The slope for ``x <= 0`` (at 0 the derivative is taken as this slope).

    Raises
    ------
    TypeError
        If ``negative_slope`` is not a real number.
    """

    def __init__(self, negative_slope: float = 0.01):
        if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real):
            raise TypeError(f"negative_slope must be a real number, got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        xp = backend.namespace(x)
        positive = x > 0
        self._cache = positive
        return xp.where(positive, x, self.negative_slope * x)

    def backward(self, dy):
        positive = self._saved()
        return backend.namespace(dy).where(positive, dy, self.negative_slope * dy)

    def __repr__(self) -> str:
        return f"LeakyReLU(negative_slope={self.negative_slope})"


class Dropout(Module):
    """Inverted dropout: zero each entry with probability ``p``, scale the rest by ``1/(1-p)``.

    In evaluation mode (``module.eval()``) or with ``p == 0`` it is the identity.

    Parameters
    ----------
    p : float
        Drop probability, ``0 <= p < 1``.
    rng : int or numpy.random.Generator, optional
        Source of the masks.

    Attributes
    ----------
    mask : array or None
        The 0/1 keep-mask of the last training-mode forward (before scaling).

    Raises
    ------
    ValueError
        If ``p`` is outside ``[0, 1)``.

    Notes
    -----
    Limitation: masks are drawn on the host with NumPy and then copied to the
    input's device, one transfer per forward call.
    """

    def __init__(self, p: float, rng=None):
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < 1:
            raise ValueError(f"p must be a number in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = np.random.default_rng(rng)
        self.mask = None
        self._scale = None

    def sample_mask(self, shape, like):
        """A fresh 0/1 keep-mask of ``shape`` (each entry 1 with probability ``1 - p``)."""
        keep = self.rng.random(tuple(shape)) >= self.p
        xp = backend.namespace(like)
        return xp.asarray(keep, dtype=like.dtype, device=array_api_compat.device(like))

    def forward(self, x, mask=None):
        """Apply dropout to ``x``.

        Parameters
        ----------
        x : array
        mask : array, optional
            A 0/1 keep-mask broadcastable to ``x`` to use instead of a fresh
            one (for instance the same mask at every time step). Ignored in
            evaluation mode.

        Raises
        ------
        ValueError
            If ``mask`` does not broadcast to the shape of ``x``.
        """
        if not self.training or self.p == 0:
            self._scale = 1.0
            self.mask = None
            return x
        if mask is None:
            mask = self.sample_mask(x.shape, x)
        elif not _broadcasts_to(tuple(mask.shape), tuple(x.shape)):
            raise ValueError(
                f"mask must broadcast to x's shape {tuple(x.shape)}, got {tuple(mask.shape)}"
            )
        self.mask = mask
        self._scale = mask * (1 / (1 - self.p))
        return x * self._scale

    def backward(self, dy):
        """``dy`` times the last forward's scaled mask (``dy`` itself in evaluation mode)."""
        if self._scale is None:
            raise RuntimeError("Dropout.backward called before forward")
        return dy * self._scale

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


def _broadcasts_to(shape, target) -> bool:
    if len(shape) > len(target):
        return False
    return all(n in (1, t) for n, t in zip(reversed(shape), reversed(target)))


class Sequential(Module):
    """Modules applied one after another; backward runs them in reverse.

    Parameters
    ----------
    *modules : Module
        Their parameters are named ``"layers.<position>.<name>"``.

    Raises
    ------
    TypeError
        If an argument is not a :class:`Module`.
    """

    def __init__(self, *modules):
        for position, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(
                    f"modules[{position}] must be an nn.Module, got {type(module).__name__}"
                )
        self.layers = list(modules)

    def forward(self, x):
        """Each module's ``forward`` in turn."""
        for module in self.layers:
            x = module.forward(x)
        return x

    def backward(self, dy):
        """Each module's ``backward`` in reverse order; returns the input gradient."""
        for module in reversed(self.layers):
            dy = module.backward(dy)
        return dy

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, position: int) -> Module:
        return self.layers[position]

    def __repr__(self) -> str:
        inner = ", ".join(repr(m) for m in self.layers)
        return f"Sequential({inner})"
