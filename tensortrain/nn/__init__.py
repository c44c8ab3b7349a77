"""Neural-network layers with hand-written backward passes, dense and in TT format.

Nothing is differentiated automatically: every module's ``forward`` keeps what
its ``backward`` needs, and ``backward`` returns the input gradient and adds
the parameter gradients into :attr:`Parameter.grad`.
"""

from . import init
from .activations import Dropout, LeakyReLU, Sequential, Sigmoid, Tanh, log_sigmoid, sigmoid
from .gradcheck import gradcheck, gradcheck_module, gradient_errors, numerical_grad
from .linear import Linear, TTLinear
from .losses import sigmoid_bce, softmax_cross_entropy
from .module import Module, Parameter
from .optim import SGD, Adam, Optimizer, clip_grad_norm
from .cells import GRUCell, RecurrentCell, RNNCell
from .sequence import GRU, RNN, Recurrent
from .compress import compress, compression_ratio, num_params, recurrent_num_params
from .serialize import load, save

__all__ = [
    "Module",
    "Parameter",
    "Linear",
    "TTLinear",
    "Tanh",
    "Sigmoid",
    "LeakyReLU",
    "Dropout",
    "Sequential",
    "sigmoid",
    "log_sigmoid",
    "softmax_cross_entropy",
    "sigmoid_bce",
    "Optimizer",
    "SGD",
    "Adam",
    "clip_grad_norm",
    "init",
    "numerical_grad",
    "gradient_errors",
    "gradcheck",
    "gradcheck_module",
    "save",
    "load",
    "RecurrentCell",
    "RNNCell",
    "GRUCell",
    "Recurrent",
    "RNN",
    "GRU",
    "compress",
    "num_params",
    "recurrent_num_params",
    "compression_ratio",
]
