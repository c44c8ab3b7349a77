"""Losses that return their value and the gradient with respect to the logits.

Both are written in the stable forms: a max-shifted log-sum-exp for the
softmax and ``max(x, 0) - x t + log1p(exp(-|x|))`` for the sigmoid, so
logits of any finite size give finite values and gradients.
"""

from __future__ import annotations

import array_api_compat
import numpy as np

from .. import backend
from ..errors import ShapeMismatchError
from .activations import sigmoid

__all__ = ["softmax_cross_entropy", "sigmoid_bce"]


def _as_array_like(value, like, name: str):
    """``value`` as an array of the library and device of ``like``."""
    if array_api_compat.is_array_api_obj(value):
        backend.namespace(value, like)  # refuses mixed libraries by name
        return value
    try:
        return backend.asarray_like(np.asarray(value), like)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array, got {type(value).__name__}") from err


def _check_floating(xp, logits) -> None:
    if logits.dtype not in (xp.float32, xp.float64):
        raise TypeError(f"logits must have dtype float32 or float64, got {logits.dtype}")


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of a softmax over classes, and its gradient.

    Parameters
    ----------
    logits : array of shape (B, C)
        Unnormalized class scores, float32 or float64.
    labels : array of shape (B,)
        Integer classes in ``[0, C)``.

    Returns
    -------
    loss : float
        ``mean_b (logsumexp(logits[b]) - logits[b, labels[b]])`` in nats.
    dlogits : array of shape (B, C)
        ``(softmax(logits) - onehot(labels)) / B``.

    Raises
    ------
    ShapeMismatchError
        For logits that are not 2-d, or labels not of shape (B,).
    TypeError
        For non-floating logits or non-integer labels.
    ValueError
        For an empty batch or a label outside ``[0, C)``.

    Notes
    -----
    Cost: ``O(B C)``; the range check and the loss value each copy one
    scalar to the host.
    """
    xp = backend.namespace(logits)
    _check_floating(xp, logits)
    if logits.ndim != 2:
        raise ShapeMismatchError(f"logits must have shape (B, C), got {tuple(logits.shape)}")
    batch, classes = (int(n) for n in logits.shape)
    labels = _as_array_like(labels, logits, "labels")
    if tuple(labels.shape) != (batch,):
        raise ShapeMismatchError(f"labels must have shape ({batch},), got {tuple(labels.shape)}")
    if not xp.isdtype(labels.dtype, "integral"):
        raise TypeError(f"labels must have an integer dtype, got {labels.dtype}")
    if batch == 0:
        raise ValueError("logits must hold at least one row, got an empty batch")
    if not bool(xp.all((labels >= 0) & (labels < classes))):
        raise ValueError(f"labels must lie in [0, {classes}), got a label outside that range")

    device = array_api_compat.device(logits)
    columns = xp.reshape(xp.arange(classes, device=device), (1, classes))
    onehot = xp.astype(xp.reshape(labels, (batch, 1)) == columns, logits.dtype)
    shifted = logits - xp.max(logits, axis=1, keepdims=True)
    exps = xp.exp(shifted)
    totals = xp.sum(exps, axis=1, keepdims=True)
    log_probs = shifted - xp.log(totals)
    loss = -xp.sum(log_probs * onehot) / batch
    dlogits = (exps / totals - onehot) / batch
    return float(loss), dlogits


def sigmoid_bce(logits, targets, mask=None):
    """Binary cross-entropy with logits, summed over features, averaged over valid frames.

    Parameters
    ----------
    logits : array of shape (..., K)
        For sequences ``(T, B, K)``; float32 or float64.
    targets : array of the same shape
        Targets in ``[0, 1]`` (0/1 piano-roll frames, or soft targets).
    mask : array of shape (...), optional
        1 for a valid frame and 0 for padding; every frame is valid by default.
        Any non-zero value counts as a valid frame with full weight (a mask
        marks padding; it does not weight frames).

    Returns
    -------
    loss : float
        ``sum over valid frames and K of bce / number of valid frames``: the
        negative log-likelihood per frame in nats. With no valid frame at all
        the loss is 0.
    dlogits : array of the shape of ``logits``
        ``(sigmoid(logits) - targets) * (mask != 0) / number of valid frames``; zero
        on padded frames, and everywhere when no frame is valid.

    Raises
    ------
    ShapeMismatchError
        When ``targets`` or ``mask`` do not match the shape of ``logits``.
    TypeError
        For non-floating logits.

    Notes
    -----
    Per entry ``bce(x, t) = max(x, 0) - x t + log1p(exp(-|x|))``, which is
    finite for all finite logits (``|x| = 1e4`` included). Padded frames are
    masked out before the sum, so whatever values they hold (even NaN in the
    targets' padding) do not reach the result. Cost: ``O(size of logits)``.
    """
    xp = backend.namespace(logits)
    _check_floating(xp, logits)
    if logits.ndim == 0:
        raise ShapeMismatchError("logits must have shape (..., K), got a 0-d array")
    targets = _as_array_like(targets, logits, "targets")
    if tuple(targets.shape) != tuple(logits.shape):
        raise ShapeMismatchError(
            f"targets must have the logits' shape {tuple(logits.shape)}, got {tuple(targets.shape)}"
        )
    targets = xp.astype(targets, logits.dtype)
    frames = tuple(logits.shape[:-1])
    if mask is None:
        mask = xp.ones(frames, dtype=logits.dtype, device=array_api_compat.device(logits))
    mask = _as_array_like(mask, logits, "mask")
    if tuple(mask.shape) != frames:
        raise ShapeMismatchError(f"mask must have shape {frames}, got {tuple(mask.shape)}")
    valid = xp.astype(mask != 0, logits.dtype)[..., None]

    per_entry = (
        xp.maximum(logits, xp.zeros_like(logits))
        - logits * targets
        + xp.log1p(xp.exp(-xp.abs(logits)))
    )
    num_valid = float(xp.sum(valid))
    if num_valid == 0:
        return 0.0, xp.zeros_like(logits)
    # where(), not a product, so that NaN or Inf in padding cannot leak in.
    loss = xp.sum(xp.where(valid > 0, per_entry, xp.zeros_like(per_entry))) / num_valid
    dlogits = xp.where(valid > 0, sigmoid(logits) - targets, xp.zeros_like(logits)) / num_valid
    return float(loss), dlogits
