"""First-order optimizers (SGD with momentum, Adam) and gradient-norm clipping.

An optimizer holds named parameters. Its state (momentum buffers, moment
estimates, the step count) comes out of ``state_dict()`` as a flat ``dict``
of name to array whose names are stable, so it can be saved with :func:`tensortrain.nn.save` and given
back to a fresh optimizer over the same model. Hyperparameters (``lr`` and
the rest) are constructor arguments and not part of the state; changing
``optimizer.lr`` between steps is how a schedule is applied.
"""

from __future__ import annotations

import abc
import math
import numbers

import numpy as np

from .. import backend
from .module import Module, Parameter

__all__ = ["Optimizer", "SGD", "Adam", "clip_grad_norm"]


def _named(params) -> dict[str, Parameter]:
    """Parameters by name, from a Module, a dict of them or a sequence of them."""
    if isinstance(params, Module):
        named = params.named_parameters()
    elif isinstance(params, dict):
        named = dict(params)
    elif isinstance(params, (list, tuple)):
        named = {str(k): p for k, p in enumerate(params)}
    else:
        raise TypeError(
            "params must be a Module, a dict of Parameters or a list of them, "
            f"got {type(params).__name__}"
        )
    for name, p in named.items():
        if not isinstance(p, Parameter):
            raise TypeError(f"params[{name!r}] must be an nn.Parameter, got {type(p).__name__}")
    if not named:
        raise ValueError("params must hold at least one Parameter, got none")
    return named


def _check_nonnegative(value, name: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return value


def _check_fraction(value, name: str) -> float:
    value = _check_nonnegative(value, name)
    if value >= 1:
        raise ValueError(f"{name} must lie in [0, 1), got {value!r}")
    return value


class Optimizer(abc.ABC):
    """Shared behaviour: named parameters, ``zero_grad`` and the state dictionary.

    Subclasses list their per-parameter buffers in ``_buffers`` (each stored
    under ``"<buffer>.<parameter name>"``) and implement ``_update``.
    """

    _buffers: tuple[str, ...] = ()

    def __init__(self, params, lr: float, weight_decay: float = 0.0):
        self.params = _named(params)
        self.lr = _check_nonnegative(lr, "lr", positive=True)
        self.weight_decay = _check_nonnegative(weight_decay, "weight_decay")
        self.step_count = 0
        self.state: dict[str, dict] = {buf: {} for buf in self._buffers}

    def zero_grad(self) -> None:
        """Reset the gradient of every parameter."""
        for p in self.params.values():
            p.zero_grad()

    def step(self) -> None:
        """Update every parameter from its ``grad`` (``value`` is replaced, not mutated)."""
        self.step_count += 1
        for name, p in self.params.items():
            grad = p.grad
            if self.weight_decay:
                grad = grad + self.weight_decay * p.value
            p.value = p.value - self._update(name, p, grad)

    def _buffer(self, kind: str, name: str, like):
        buffers = self.state[kind]
        if name not in buffers:
            buffers[name] = backend.namespace(like).zeros_like(like)
        return buffers[name]

    def state_dict(self) -> dict:
        """The state, ``{"step": 0-d int64, "<buffer>.<param>": array, ...}``; arrays are shared."""
        state = {"step": np.asarray(self.step_count, dtype=np.int64)}
        for kind, buffers in self.state.items():
            for name, value in buffers.items():
                state[f"{kind}.{name}"] = value
        return state

    def check_state_dict(self, state: dict) -> None:
        """Raise ValueError unless ``state`` fits these parameters; changes nothing.

        Every buffer name must refer to a parameter of this optimizer and have
        its shape; buffers may be missing (they start at zero).
        """
        if not isinstance(state, dict) or "step" not in state:
            raise ValueError("state must be a dict with a 'step' entry, as made by state_dict()")
        step = np.asarray(backend.to_numpy(state["step"]))
        if step.shape != () or not np.issubdtype(step.dtype, np.integer) or step < 0:
            raise ValueError(f"state['step'] must be a non-negative integer scalar, got {step!r}")
        for key, value in state.items():
            if key == "step":
                continue
            kind, _, name = key.partition(".")
            if kind not in self.state or name not in self.params:
                raise ValueError(
                    f"state has an entry {key!r} that names no buffer of this optimizer"
                )
            if not hasattr(value, "shape"):
                raise ValueError(f"state[{key!r}] must be an array, got {type(value).__name__}")
            expected = self.params[name].shape
            if tuple(value.shape) != expected:
                raise ValueError(
                    f"state[{key!r}] must have shape {expected}, got {tuple(value.shape)}"
                )

    def load_state_dict(self, state: dict) -> None:
        """Replace the state with ``state`` (checked first; on error nothing changes).

        Arrays are copied into each parameter's library, device and dtype.
        """
        self.check_state_dict(state)
        buffers: dict[str, dict] = {kind: {} for kind in self._buffers}
        for key, value in state.items():
            if key == "step":
                continue
            kind, _, name = key.partition(".")
            like = self.params[name].value
            moved = backend.asarray_like(backend.to_numpy(value), like)
            buffers[kind][name] = backend.namespace(like).astype(moved, like.dtype)
        self.step_count = int(backend.to_numpy(state["step"]))
        self.state = buffers

    @abc.abstractmethod
    def _update(self, name: str, p: Parameter, grad):
        """The step to subtract from ``p.value`` for the (decayed) gradient ``grad``."""


class SGD(Optimizer):
    """Stochastic gradient descent with optional (heavy-ball) momentum and L2 weight decay.

    ``g = grad + weight_decay * value``; with momentum ``v = momentum * v + g``
    and ``value -= lr * v``, else ``value -= lr * g``.

    Parameters
    ----------
    params : Module, dict of Parameter or sequence of Parameter
        Names come from the module or the dict; a sequence is named "0", "1", ...
    lr : float
        Learning rate, ``> 0``.
    momentum : float, default 0.0
        In ``[0, 1)``.
    weight_decay : float, default 0.0
        L2 penalty coefficient, ``>= 0``.

    Raises
    ------
    ValueError, TypeError
        For hyperparameters out of range, or params that are not Parameters.
    """

    _buffers = ("momentum",)

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.momentum = _check_fraction(momentum, "momentum")

    def _update(self, name, p, grad):
        if not self.momentum:
            return self.lr * grad
        velocity = self.momentum * self._buffer("momentum", name, p.value) + grad
        self.state["momentum"][name] = velocity
        return self.lr * velocity


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction and optional L2 weight decay.

    With ``g = grad + weight_decay * value`` and step count ``t``:
    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2`` and
    ``value -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.
    The decay is added to the gradient (coupled L2, not AdamW's decoupled form).

    Parameters
    ----------
    params : Module, dict of Parameter or sequence of Parameter
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
        Each in ``[0, 1)``.
    eps : float, default 1e-8
        Added to the root of the second moment, ``> 0``.
    weight_decay : float, default 0.0

    Raises
    ------
    ValueError, TypeError
        For hyperparameters out of range, or params that are not Parameters.
    """

    _buffers = ("exp_avg", "exp_avg_sq")

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr, weight_decay)
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(f"betas must be a pair of numbers in [0, 1), got {betas!r}")
        self.betas = (_check_fraction(betas[0], "betas[0]"), _check_fraction(betas[1], "betas[1]"))
        self.eps = _check_nonnegative(eps, "eps", positive=True)

    def _update(self, name, p, grad):
        beta1, beta2 = self.betas
        xp = backend.namespace(grad)
        m = beta1 * self._buffer("exp_avg", name, p.value) + (1 - beta1) * grad
        v = beta2 * self._buffer("exp_avg_sq", name, p.value) + (1 - beta2) * grad * grad
        self.state["exp_avg"][name] = m
        self.state["exp_avg_sq"][name] = v
        m_hat = m / (1 - beta1**self.step_count)
        v_hat = v / (1 - beta2**self.step_count)
        return self.lr * m_hat / (xp.sqrt(v_hat) + self.eps)


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale all gradients together so that their joint 2-norm is at most ``max_norm``.

    Parameters
    ----------
    params : Module, dict of Parameter or sequence of Parameter
    max_norm : float
        ``> 0``.

    Returns
    -------
    float
        The joint norm before clipping. When it exceeds ``max_norm`` every
        gradient is multiplied by ``max_norm / norm``, so the new norm is
        ``max_norm`` up to rounding. A NaN or infinite norm is returned
        without touching the gradients (the caller should skip the step).

    Raises
    ------
    ValueError, TypeError
        For a non-positive ``max_norm`` or params that are not Parameters.

    Notes
    -----
    The squares are summed in the gradients' own dtype, so gradients beyond
    about 1e19 (float32) or 1e154 (float64) overflow to an infinite norm and
    are left unclipped; training has diverged long before that. Cost: one pass over the
    gradients and one scalar copied to the host.
    """
    max_norm = _check_nonnegative(max_norm, "max_norm", positive=True)
    named = _named(params)
    total_sq = None
    for p in named.values():
        square = backend.namespace(p.grad).sum(p.grad * p.grad)
        total_sq = square if total_sq is None else total_sq + square
    total = math.sqrt(float(total_sq))
    if math.isfinite(total) and total > max_norm:
        factor = max_norm / total
        for p in named.values():
            p.grad = p.grad * factor
    return total
