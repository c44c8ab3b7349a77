"""Sequence layers: a recurrent cell run over a padded batch, with backprop through time.

The input projection of every time step is one product of the whole
``(T * B, N)`` input through ``w_ih``, forward and backward, so a TT input
projection pays its per-call overhead once per sequence; only the
hidden-to-hidden product runs step by step, keeping one cache per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import backend
from .cells import GRUCell, RecurrentCell, RNNCell
from .module import Module

__all__ = ["Recurrent", "RNN", "GRU"]


@dataclass
class _SequenceCache:
    input: Any  # w_ih's cache of the (T * B, N) projection
    steps: list  # one StepCache per time step
    mask: Any  # (T, B, 1) or None


class Recurrent(Module):
    """A recurrent cell unrolled over time, returning every hidden state.

    For each step ``t`` with mask value ``m_t`` (per sequence of the batch)::

        h_t = m_t * cell(x_t, h_{t-1}) + (1 - m_t) * h_{t-1}

    so a padded step (``m_t = 0``) keeps the previous state, and its output
    is that state. The backward pass differentiates exactly this formula.

    Parameters
    ----------
    cell : RecurrentCell
        An :class:`RNNCell` or :class:`GRUCell` (its parameters are ``cell.*``).

    Raises
    ------
    TypeError
        If ``cell`` is not a recurrent cell.

    Attributes
    ----------
    dh0 : array or None
        ``dL/dh0`` after :meth:`backward`, shape ``(B, H)``.

    Notes
    -----
    Limitations: one layer in one direction; stack layers (or run a
    reversed copy of the input for a bidirectional model) in the caller.
    Dropout applies to the returned states (:class:`~tensortrain.nn.Dropout`),
    not between time steps. A backward pass needs the caches of every step,
    so memory grows linearly with ``T``.
    """

    def __init__(self, cell):
        if not isinstance(cell, RecurrentCell):
            raise TypeError(f"cell must be an RNNCell or GRUCell, got {type(cell).__name__}")
        self.cell = cell
        self.dh0 = None
        self._cache = None

    @property
    def input_size(self) -> int:
        return self.cell.input_size

    @property
    def hidden_size(self) -> int:
        return self.cell.hidden_size

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.cell!r})"

    def _check_inputs(self, x, mask):
        if len(x.shape) != 3 or x.shape[2] != self.input_size or 0 in tuple(x.shape[:2]):
            raise ValueError(
                f"x must have shape (time, batch, {self.input_size}) with time, batch >= 1, "
                f"got {tuple(x.shape)}"
            )
        if mask is not None and tuple(mask.shape) != tuple(x.shape[:2]):
            raise ValueError(
                f"mask must have shape {tuple(x.shape[:2])} (time, batch), got {tuple(mask.shape)}"
            )

    def forward(self, x, h0=None, mask=None):
        """All hidden states of the batch of sequences ``x``.

        Parameters
        ----------
        x : array, shape (T, B, N)
            Time-major inputs.
        h0 : array, shape (B, H), optional
            Initial state; zeros by default.
        mask : array, shape (T, B), optional
            1 for real steps, 0 for padding (any values in ``[0, 1]`` mix the
            new and old state as in the class formula).

        Returns
        -------
        array, shape (T, B, H)

        Raises
        ------
        ValueError
            For inputs of the wrong shape.

        Notes
        -----
        Cost: one ``(T B, N) -> (T B, G H)`` product through ``w_ih`` and ``T``
        products ``(B, H) -> (B, G H)`` through ``w_hh``, plus ``O(T B H)``;
        the caches of all steps are kept for :meth:`backward`.
        """
        self._check_inputs(x, mask)
        xp = backend.namespace(x)
        steps, batch = x.shape[0], x.shape[1]
        cell = self.cell
        x2 = xp.reshape(x, (steps * batch, self.input_size))
        gx_all, input_cache = cell.w_ih.forward_with_cache(x2)
        gx_all = xp.reshape(gx_all, (steps, batch, gx_all.shape[-1]))
        h = cell.check_state(h0, batch, gx_all, "h0")
        if mask is not None:
            mask = xp.reshape(xp.astype(mask, gx_all.dtype), (steps, batch, 1))
        hs, caches = [], []
        for t in range(steps):
            h_new, step_cache = cell.step(gx_all[t, ...], h)
            if mask is not None:
                h_new = mask[t, ...] * h_new + (1.0 - mask[t, ...]) * h
            caches.append(step_cache)
            hs.append(h_new)
            h = h_new
        self._cache = _SequenceCache(input_cache, caches, mask)
        return xp.stack(hs, axis=0)

    def backward(self, dhs, dh_last=None):
        """Backprop through time: ``dL/dx`` from ``dL/dhs``, adding the parameter gradients.

        Parameters
        ----------
        dhs : array, shape (T, B, H)
            Gradient of the loss with respect to every returned state.
        dh_last : array, shape (B, H), optional
            Extra gradient with respect to the final state ``hs[-1]`` (for
            a loss that uses the last state besides the outputs).

        Returns
        -------
        array, shape (T, B, N)
            ``dL/dx``; ``dL/dh0`` is left in :attr:`dh0`.

        Raises
        ------
        ValueError
            Without a preceding :meth:`forward`, or for ``dhs`` of the wrong shape.

        Notes
        -----
        Cost: about twice the forward's.
        """
        cache = self._cache
        if cache is None:
            raise ValueError("backward needs the cache of a forward call; call forward first")
        steps, batch, hidden = len(cache.steps), cache.steps[0].h_prev.shape[0], self.hidden_size
        if tuple(dhs.shape) != (steps, batch, hidden):
            raise ValueError(
                f"dhs must have shape {(steps, batch, hidden)} like the forward's output, "
                f"got {tuple(dhs.shape)}"
            )
        xp = backend.namespace(dhs)
        cell = self.cell
        dh = cell.check_state(dh_last, batch, dhs, "dh_last")
        dgx_all = [None] * steps
        for t in reversed(range(steps)):
            dh = dh + dhs[t, ...]
            dh_keep = None
            if cache.mask is not None:
                dh_keep = (1.0 - cache.mask[t, ...]) * dh
                dh = cache.mask[t, ...] * dh
            dgx_all[t], dh = cell.step_backward(dh, cache.steps[t])
            if dh_keep is not None:
                dh = dh + dh_keep
        self.dh0 = dh
        dgx_all = xp.stack(dgx_all, axis=0)
        dgx_all = xp.reshape(dgx_all, (steps * batch, dgx_all.shape[-1]))
        dx = cell.w_ih.backward_from_cache(dgx_all, cache.input)
        return xp.reshape(dx, (steps, batch, self.input_size))


class RNN(Recurrent):
    """A simple RNN layer: ``Recurrent(RNNCell(input_size, hidden_size, **cell_kwargs))``.

    See :class:`RNNCell` for the cell's arguments and :class:`Recurrent` for
    forward and backward.
    """

    def __init__(self, input_size, hidden_size, **cell_kwargs):
        super().__init__(RNNCell(input_size, hidden_size, **cell_kwargs))


class GRU(Recurrent):
    """A GRU layer: ``Recurrent(GRUCell(input_size, hidden_size, **cell_kwargs))``.

    See :class:`GRUCell` for the cell's arguments and :class:`Recurrent` for
    forward and backward.
    """

    def __init__(self, input_size, hidden_size, **cell_kwargs):
        super().__init__(GRUCell(input_size, hidden_size, **cell_kwargs))
