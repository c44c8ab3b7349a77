"""Finite-difference checks of hand-written gradients, in float64.

:func:`gradcheck` compares the gradients a loss function accumulates into its
parameters with central differences ``(f(p + h e_i) - f(p - h e_i)) / 2h``,
entry by entry; :func:`gradcheck_module` does so for a module's parameters
and its input under a fixed random linear loss.
"""

from __future__ import annotations

import logging
import numbers

import numpy as np

from .. import backend
from .module import Module, Parameter
from .optim import _named

__all__ = ["numerical_grad", "gradient_errors", "gradcheck", "gradcheck_module"]

logger = logging.getLogger(__name__)


def _check_step(step) -> float:
    if isinstance(step, bool) or not isinstance(step, numbers.Real) or not (0 < step < 1):
        raise ValueError(f"step must be a number in (0, 1), got {step!r}")
    return float(step)


def _check_float64(named: dict[str, Parameter]) -> None:
    for name, p in named.items():
        xp = backend.namespace(p.value)
        if p.value.dtype != xp.float64:
            raise TypeError(
                f"gradient checks need float64 parameters, got {p.value.dtype} for {name!r}"
            )


def numerical_grad(f, param: Parameter, step: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to ``param.value``.

    Parameters
    ----------
    f : callable
        Takes no argument and returns a real scalar (float or 0-d array) that
        depends on ``param.value``.
    param : Parameter
        Perturbed one entry at a time; its value is restored afterwards.
    step : float, default 1e-6

    Returns
    -------
    numpy.ndarray
        Same shape as ``param.value``, float64, on the host.

    Notes
    -----
    Cost: ``2 * param.size`` calls of ``f``. The error is ``O(step^2)``
    truncation plus ``O(eps_machine * |f| / step)`` rounding.
    """
    step = _check_step(step)
    original = param.value
    base = np.array(backend.to_numpy(original), dtype=np.float64)
    grad = np.zeros_like(base)
    try:
        for index in np.ndindex(base.shape):
            values = []
            for sign in (1.0, -1.0):
                shifted = base.copy()
                shifted[index] += sign * step
                param.value = backend.asarray_like(shifted, original)
                values.append(float(f()))
            grad[index] = (values[0] - values[1]) / (2 * step)
    finally:
        param.value = original
    return grad


def gradient_errors(f, params, step: float = 1e-6) -> dict[str, float]:
    """Relative error of each parameter's analytic gradient against central differences.

    Parameters
    ----------
    f : callable
        Takes no argument, runs the forward and backward pass and returns the
        loss; the backward pass must *add* the gradients into ``Parameter.grad``
        (the :class:`Module` contract). Gradients are zeroed before the call.
    params : Module, dict of Parameter or sequence of Parameter
        All float64 (real).
    step : float, default 1e-6

    Returns
    -------
    dict of str to float
        ``||g_analytic - g_numeric|| / max(||g_analytic||, ||g_numeric||)`` per
        parameter (Frobenius norms; 0 when both gradients are exactly zero).
        On return every ``grad`` holds the analytic gradient again.

    Raises
    ------
    TypeError
        For parameters that are not float64.
    """
    named = _named(params)
    _check_float64(named)
    for p in named.values():
        p.zero_grad()
    f()
    analytic = {name: p.grad for name, p in named.items()}
    errors = {}
    for name, p in named.items():
        numeric = numerical_grad(f, p, step)
        exact = np.asarray(backend.to_numpy(analytic[name]), dtype=np.float64)
        scale = max(np.linalg.norm(exact), np.linalg.norm(numeric))
        errors[name] = 0.0 if scale == 0 else float(np.linalg.norm(exact - numeric) / scale)
        logger.debug("gradcheck %s: relative error %.3g (norm %.3g)", name, errors[name], scale)
    for name, p in named.items():
        p.grad = analytic[name]
    return errors


def gradcheck(f, params, step: float = 1e-6) -> float:
    """The largest relative gradient error over ``params``; see :func:`gradient_errors`."""
    return max(gradient_errors(f, params, step).values())


def gradcheck_module(module: Module, x, rng=0, step: float = 1e-6, **forward_kwargs) -> float:
    """Check a module's parameter and input gradients under a random linear loss.

    The loss is ``sum(forward(x, **forward_kwargs) * R)`` for a fixed Gaussian
    ``R`` of the output's shape, so ``backward(R)`` is the input gradient.

    Parameters
    ----------
    module : Module
        With float64 parameters; its ``forward`` must be deterministic for the
        given arguments (pass a fixed ``mask`` to dropout, for instance).
    x : array
        Float64 input.
    rng : int or numpy.random.Generator, default 0
        For ``R``.
    step : float, default 1e-6
    **forward_kwargs
        Passed to every ``forward`` call.

    Returns
    -------
    float
        The largest relative error over the parameters and the input
        (the input is named ``"input"`` in the debug log).
    """
    xp = backend.namespace(x)
    x_param = Parameter(x)
    y = module.forward(x, **forward_kwargs)
    weights = backend.asarray_like(np.random.default_rng(rng).standard_normal(tuple(y.shape)), y)
    weights = xp.astype(weights, y.dtype)

    def loss():
        out = module.forward(x_param.value, **forward_kwargs)
        x_param.grad = x_param.grad + module.backward(weights)
        return xp.sum(out * weights)

    named = {**module.named_parameters(), "input": x_param}
    return max(gradient_errors(loss, named, step).values())
