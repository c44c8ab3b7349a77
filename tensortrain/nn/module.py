"""The layer contract: parameters with gradients, and modules that hold them.

A module's ``forward(x)`` keeps what its ``backward`` needs; ``backward(dy)``
returns the gradient with respect to the input and *adds* the parameter
gradients into ``Parameter.grad``. Nothing is differentiated automatically.
"""

from __future__ import annotations

import math

from .. import backend

__all__ = ["Parameter", "Module"]


class Parameter:
    """A trainable array and the gradient accumulated for it.

    Attributes
    ----------
    value : array
        The current value; optimizers replace it in place of the attribute.
    grad : array
        Same shape and library as ``value``; zero after :meth:`zero_grad`.
    """

    def __init__(self, value):
        self.value = value
        self.zero_grad()

    def zero_grad(self) -> None:
        """Reset the gradient to zeros."""
        self.grad = backend.namespace(self.value).zeros_like(self.value)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    @property
    def size(self) -> int:
        return math.prod(self.value.shape)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.value.dtype})"


class Module:
    """Base class of every layer and model.

    Subclasses assign :class:`Parameter` and :class:`Module` attributes in
    ``__init__`` (lists of modules are allowed) and implement ``forward`` and
    ``backward``. Parameters are found recursively, named by their attribute
    path, e.g. ``"gru.cell.w_ih.core0"``.
    """

    training: bool = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _children(self):
        for name, value in vars(self).items():
            if isinstance(value, (Parameter, Module)):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for k, item in enumerate(value):
                    if isinstance(item, (Parameter, Module)):
                        yield f"{name}.{k}", item

    def named_parameters(self, prefix: str = "") -> dict[str, Parameter]:
        """All parameters of this module and its children, by dotted name."""
        found: dict[str, Parameter] = {}
        for name, child in self._children():
            full = f"{prefix}{name}"
            if isinstance(child, Parameter):
                found[full] = child
            else:
                found.update(child.named_parameters(prefix=f"{full}."))
        return found

    def parameters(self) -> list[Parameter]:
        """All parameters, in a fixed order."""
        return list(self.named_parameters().values())

    @property
    def num_params(self) -> int:
        """Number of trainable numbers."""
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        """Reset every parameter's gradient."""
        for p in self.parameters():
            p.zero_grad()

    def modules(self):
        """This module and all modules below it."""
        yield self
        for _, child in self._children():
            if isinstance(child, Module):
                yield from child.modules()

    def train(self, mode: bool = True) -> "Module":
        """Switch this module and its children to training (or eval) mode."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> "Module":
        """Switch to evaluation mode (dropout off)."""
        return self.train(False)
