"""Recurrent layers of tensortrain.nn in one namespace.

The cells (one time step, dense or TT) live in :mod:`tensortrain.nn.cells`, the
sequence layers with backprop through time in :mod:`tensortrain.nn.sequence`.
"""

from .cells import GRUCell, RecurrentCell, RNNCell
from .sequence import GRU, RNN, Recurrent

__all__ = ["RecurrentCell", "RNNCell", "GRUCell", "Recurrent", "RNN", "GRU"]
