"""Planned tensor contractions: the one module that talks to opt_einsum.

A contraction is described by an einsum string and its operands' shapes.
:func:`plan` asks opt_einsum for the pairwise order that minimizes the flop
count and compiles each pairwise step into at most a sum, a permutation and a
reshape per operand, one (broadcasting) ``matmul`` and a reshape. The memory
layout of every intermediate is planned together with the steps (by
:mod:`tensortrain._layout`): for each step, which operand is the left factor,
which index groups become ``matmul`` batch dimensions and in which order the
result's axes come out, so that the next step can read it as it lies. Its
cost model counts flops, elements moved by permutations and a price per
``matmul`` call, and so copies the small operands (TT cores) rather than the
big intermediates; the last step writes the requested output order directly
whenever some layout allows it.

The plan is cached, so a training loop that calls the same product a million
times plans it once. :func:`einsum` runs a cached plan with the operands' own
array library, so the same plan serves NumPy, CuPy and any other Array API
library.

Limitations
-----------
The flop-optimal order is taken from opt_einsum as it comes; among several
orders of equal flop count the layout search sees only that one. Operands are
assumed to be stored in the order of their axes (C-contiguous); a strided view
costs the copy its library makes when it is reshaped. Repeated indices within
one operand and implicit outputs (no ``->``) are not supported.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import opt_einsum

from ._layout import Operand, Search, Step, step_flops
from .backend import namespace

__all__ = ["Plan", "plan", "einsum", "symbols", "cache_info", "clear_cache"]

# Beyond this many operands the exhaustive search gets slow; opt_einsum's
# dynamic-programming search is still optimal for the chain-like networks
# that TT algorithms build.
_OPTIMAL_UP_TO = 6

@dataclass(frozen=True)
class Plan:
    """A compiled contraction: the opt_einsum path and its pairwise steps.

    Attributes
    ----------
    subscripts : str
        The einsum string, with an explicit output.
    path : tuple of tuple of int
        The opt_einsum contraction path.
    flops : int
        Floating point operations of the planned order (2 per multiply-add).
    elements_moved : int
        Elements copied by permutations when the plan runs (reshapes of
        contiguous arrays and transposed ``matmul`` operands copy nothing).
    """

    subscripts: str
    path: tuple
    flops: int
    elements_moved: int
    steps: tuple
    final_perm: tuple[int, ...] | None
    out_shape: tuple[int, ...]

    def __call__(self, *operands):
        xp = namespace(*operands)
        ops = list(operands)
        for step in self.steps:
            args = [ops[p] for p in step.positions]
            for p in sorted(step.positions, reverse=True):
                del ops[p]
            ops.append(_run_step(xp, step, args))
        (result,) = ops
        if self.final_perm is not None:
            result = xp.permute_dims(result, self.final_perm)
        if tuple(result.shape) != self.out_shape:
            result = xp.reshape(result, self.out_shape)
        return result


def _prepare(xp, a, how: Operand):
    """One operand of a step as the stack of matrices its ``matmul`` takes."""
    if how.sum_axes:
        a = xp.sum(a, axis=how.sum_axes)
    if how.perm is not None:
        a = xp.permute_dims(a, how.perm)
    a = xp.reshape(a, how.shape)
    return xp.matrix_transpose(a) if how.transpose else a


def _run_step(xp, step: Step, args):
    """Run one step on its operands, in the order the path lists them."""
    if step.swapped:
        args = args[::-1]
    prepared = [_prepare(xp, a, how) for a, how in zip(args, step.operands)]
    out = prepared[0] if len(prepared) == 1 else xp.matmul(prepared[0], prepared[1])
    return xp.reshape(out, step.out_shape)


def _parse(subscripts: str, num_operands: int):
    """Input and output index strings of ``subscripts``, validated."""
    if "->" not in subscripts:
        raise ValueError(
            f"subscripts must give the output explicitly with '->', got {subscripts!r}"
        )
    inputs, output = subscripts.replace(" ", "").split("->")
    inputs = inputs.split(",")
    if len(inputs) != num_operands:
        raise ValueError(
            f"subscripts {subscripts!r} name {len(inputs)} operands, got {num_operands}"
        )
    for index in inputs + [output]:
        if len(set(index)) != len(index):
            raise ValueError(f"repeated index within one operand is not supported: {subscripts!r}")
    missing = set(output) - set("".join(inputs))
    if missing:
        raise ValueError(
            f"subscripts {subscripts!r} must take every output index from an operand, "
            f"got {''.join(sorted(missing))!r} in the output only"
        )
    return inputs, output


def _dims(inputs, shapes) -> dict:
    """Size of every index, checked for agreement between operands."""
    dims: dict = {}
    for index, shape in zip(inputs, shapes):
        if len(index) != len(shape):
            raise ValueError(
                f"operand with indices {index!r} must have {len(index)} axes, got shape {shape}"
            )
        for c, n in zip(index, shape):
            if dims.setdefault(c, n) != n:
                raise ValueError(
                    f"index {c!r} has size {dims[c]} in one operand and {n} in another"
                )
    return dims


@functools.lru_cache(maxsize=4096)
def _plan_cached(subscripts: str, shapes: tuple) -> Plan:
    inputs, output = _parse(subscripts, len(shapes))
    dims = _dims(inputs, shapes)
    if len(shapes) == 1:
        path = ((0,),)
    else:
        strategy = "optimal" if len(shapes) <= _OPTIMAL_UP_TO else "dp"
        path, _ = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize=strategy)
        path = tuple(tuple(p) for p in path)

    current, total = list(inputs), 0
    for positions in path:
        picked = [current[p] for p in positions]
        for p in sorted(positions, reverse=True):
            del current[p]
        keep = set("".join(current)) | set(output)
        if len(picked) == 2:
            total += step_flops(*picked, keep, dims)
        current.append("".join(c for c in dict.fromkeys("".join(picked)) if c in keep))

    steps, final_perm, moved = Search(inputs, output, dims).compile(path)
    out_shape = tuple(dims[c] for c in output)
    return Plan(subscripts, path, total, moved, steps, final_perm, out_shape)


def plan(subscripts: str, *shapes) -> Plan:
    """Return the cached plan for ``subscripts`` on operands of ``shapes``.

    The plan depends only on the subscripts and the shapes (the dtype does not
    change the flop-optimal order), and is computed once per such pair.

    Parameters
    ----------
    subscripts : str
        An einsum string with an explicit output, e.g. ``"ij,jk->ik"``.
    *shapes : tuple of int
        One shape per operand.

    Returns
    -------
    Plan
        Callable on operands of these shapes.

    Raises
    ------
    ValueError
        For subscripts without ``->``, a repeated index within one operand, an
        output index no operand has, or shapes that do not match them.
    """
    shapes = tuple(tuple(int(n) for n in shape) for shape in shapes)
    return _plan_cached(subscripts.replace(" ", ""), shapes)


def einsum(subscripts: str, *operands):
    """Contract ``operands`` as ``numpy.einsum(subscripts, ...)`` would.

    The contraction runs with the operands' own array library in the
    flop-optimal pairwise order that opt_einsum finds, with the layouts of its
    intermediates planned to avoid copies, planned once per (subscripts,
    shapes) and reused from a cache afterwards.

    Parameters
    ----------
    subscripts : str
        An einsum string with an explicit output.
    *operands : arrays
        From one Array API library.

    Returns
    -------
    array
        Of the operands' library, with the output's axes in the order given.

    Raises
    ------
    ValueError
        As :func:`plan`.

    Notes
    -----
    Cost: the plan's ``flops`` and its ``elements_moved`` copied once each.
    Planning takes a millisecond for a pair of operands and up to about a
    second for a chain of 16 cores (most of it opt_einsum's path search), once.
    """
    return plan(subscripts, *(a.shape for a in operands))(*operands)


def cache_info():
    """Hit and miss counts of the plan cache (see ``functools.lru_cache``)."""
    return _plan_cached.cache_info()


def clear_cache() -> None:
    """Forget every cached plan."""
    _plan_cached.cache_clear()


def symbols(count: int) -> list[str]:
    """``count`` distinct index characters for building einsum strings."""
    return [opt_einsum.get_symbol(k) for k in range(count)]
