"""Planned tensor contractions: the one module that talks to opt_einsum.

A contraction is described by an einsum string and its operands' shapes.
:func:`plan` asks opt_einsum for the pairwise order that minimizes the flop
count and compiles each pairwise step into a permutation, a reshape and one
``matmul``; the plan is cached, so a training loop that calls the same product
a million times plans it once. :func:`einsum` runs a cached plan with the
operands' own array library, so the same plan serves NumPy, CuPy and any other
Array API library.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import opt_einsum

from .backend import namespace

__all__ = ["Plan", "plan", "einsum", "symbols", "cache_info", "clear_cache"]

# Beyond this many operands the exhaustive search gets slow; opt_einsum's
# dynamic-programming search is still optimal for the chain-like networks
# that TT algorithms build.
_OPTIMAL_UP_TO = 6


@dataclass(frozen=True)
class _Step:
    """One pairwise (or single-operand) contraction of a plan."""

    positions: tuple[int, ...]
    sum_axes: tuple[tuple[int, ...], ...]   # per operand, axes summed away first
    perms: tuple[tuple[int, ...] | None, ...]  # per operand, permutation or None
    shapes3: tuple[tuple[int, int, int], ...]  # per operand, (batch, rows, cols)
    transpose: tuple[bool, bool]             # use the 3-d operand transposed
    out_shape: tuple[int, ...]
    out_perm: tuple[int, ...] | None


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
    """

    subscripts: str
    path: tuple
    flops: int
    steps: tuple
    final_perm: tuple[int, ...] | None

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
        return result


def _run_step(xp, step: _Step, args):
    prepared = []
    for a, axes, perm, shape3, trans in zip(
        args, step.sum_axes, step.perms, step.shapes3, step.transpose
    ):
        if axes:
            a = xp.sum(a, axis=axes)
        if perm is not None:
            a = xp.permute_dims(a, perm)
        a = xp.reshape(a, shape3 if shape3[0] > 1 else shape3[1:])
        if trans:
            a = xp.matrix_transpose(a)
        prepared.append(a)
    if len(prepared) == 1:
        out = prepared[0]
    else:
        out = xp.matmul(prepared[0], prepared[1])
    out = xp.reshape(out, step.out_shape)
    if step.out_perm is not None:
        out = xp.permute_dims(out, step.out_perm)
    return out


def _perm_or_none(perm):
    perm = tuple(perm)
    return None if perm == tuple(range(len(perm))) else perm


def _compile_single(index, keep, dims):
    """A step that only sums away axes of one operand."""
    sum_axes = tuple(k for k, c in enumerate(index) if c not in keep)
    out = "".join(c for c in index if c in keep)
    size = math.prod(dims[c] for c in out)
    step = _Step(
        positions=(),
        sum_axes=(sum_axes,),
        perms=(None,),
        shapes3=((1, 1, size),),
        transpose=(False, False),
        out_shape=tuple(dims[c] for c in out),
        out_perm=None,
    )
    return step, out, 0


def _compile_pair(a, b, keep, dims):
    """Compile ``a, b -> (indices in keep)`` into permute + reshape + matmul.

    Index groups: batch (in both, kept), contracted (in both, dropped), left
    (only in a, kept), right (only in b, kept). Indices present in one operand
    and nowhere else are summed away first. Within each group the operands'
    own order is kept, and an operand whose contracted axes already sit on the
    wrong side is used transposed, so most steps need no copy at all.
    """
    a_kept = "".join(c for c in a if c in keep or c in b)
    b_kept = "".join(c for c in b if c in keep or c in a)
    sum_a = tuple(k for k, c in enumerate(a) if c not in a_kept)
    sum_b = tuple(k for k, c in enumerate(b) if c not in b_kept)

    batch = "".join(c for c in a_kept if c in b_kept and c in keep)
    contracted = "".join(c for c in a_kept if c in b_kept and c not in keep)
    left = "".join(c for c in a_kept if c not in b_kept)
    right = "".join(c for c in b_kept if c not in a_kept)

    def size(group):
        return math.prod(dims[c] for c in group)

    # Pick the contracted order (as in a or as in b) that needs fewer copies.
    best = None
    orders = [contracted, "".join(c for c in b_kept if c in contracted)]
    for order in dict.fromkeys(orders):
        layout_a = [(batch + left + order, False), (batch + order + left, True)]
        layout_b = [(batch + order + right, False), (batch + right + order, True)]
        la = next((lay for lay in layout_a if lay[0] == a_kept), layout_a[0])
        lb = next((lay for lay in layout_b if lay[0] == b_kept), layout_b[0])
        copies = (la[0] != a_kept) + (lb[0] != b_kept)
        if best is None or copies < best[0]:
            best = (copies, la, lb)
    _, (target_a, trans_a), (target_b, trans_b) = best

    shape_a = (size(batch), size(left), size(contracted))
    shape_b = (size(batch), size(contracted), size(right))
    if trans_a:
        shape_a = (shape_a[0], shape_a[2], shape_a[1])
    if trans_b:
        shape_b = (shape_b[0], shape_b[2], shape_b[1])

    out = batch + left + right
    flops = 2 * size(batch) * size(left) * size(right) * max(size(contracted), 1)
    step = _Step(
        positions=(),
        sum_axes=(sum_a, sum_b),
        perms=(
            _perm_or_none(a_kept.index(c) for c in target_a),
            _perm_or_none(b_kept.index(c) for c in target_b),
        ),
        shapes3=(shape_a, shape_b),
        transpose=(trans_a, trans_b),
        out_shape=tuple(dims[c] for c in out),
        out_perm=None,
    )
    return step, out, flops


def _parse(subscripts: str, num_operands: int):
    if "->" not in subscripts:
        raise ValueError(f"subscripts must give the output explicitly with '->', got {subscripts!r}")
    inputs, output = subscripts.replace(" ", "").split("->")
    inputs = inputs.split(",")
    if len(inputs) != num_operands:
        raise ValueError(
            f"subscripts {subscripts!r} name {len(inputs)} operands, got {num_operands}"
        )
    for index in inputs + [output]:
        if len(set(index)) != len(index):
            raise ValueError(f"repeated index within one operand is not supported: {subscripts!r}")
    return inputs, output


@functools.lru_cache(maxsize=4096)
def _plan_cached(subscripts: str, shapes: tuple) -> Plan:
    inputs, output = _parse(subscripts, len(shapes))
    dims = {}
    for index, shape in zip(inputs, shapes):
        if len(index) != len(shape):
            raise ValueError(
                f"operand with indices {index!r} must have {len(index)} axes, got shape {shape}"
            )
        for c, n in zip(index, shape):
            if dims.setdefault(c, n) != n:
                raise ValueError(f"index {c!r} has size {dims[c]} in one operand and {n} in another")
    if len(shapes) == 1:
        path = ((0,),)
    else:
        strategy = "optimal" if len(shapes) <= _OPTIMAL_UP_TO else "dp"
        path, _ = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize=strategy)
        path = tuple(tuple(p) for p in path)

    current = list(inputs)
    steps, total = [], 0
    for positions in path:
        picked = [current[p] for p in positions]
        for p in sorted(positions, reverse=True):
            del current[p]
        others = set("".join(current)) | set(output)
        if len(picked) > 2:
            raise RuntimeError(f"opt_einsum returned a {len(picked)}-operand step in {path}")
        if len(picked) == 1:
            step, out, flops = _compile_single(picked[0], others, dims)
        else:
            step, out, flops = _compile_pair(picked[0], picked[1], others, dims)
        steps.append(_Step(**{**step.__dict__, "positions": tuple(positions)}))
        current.append(out)
        total += flops

    final_perm = _perm_or_none(current[0].index(c) for c in output)
    return Plan(subscripts, path, total, tuple(steps), final_perm)


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
    """
    return _plan_cached(subscripts.replace(" ", ""), tuple(tuple(int(n) for n in s) for s in shapes))


def einsum(subscripts: str, *operands):
    """Contract ``operands`` as ``numpy.einsum(subscripts, ...)`` would.

    The contraction runs with the operands' own array library in the
    flop-optimal pairwise order that opt_einsum finds, planned once per
    (subscripts, shapes) and reused from a cache afterwards.

    Cost: the plan's ``flops``; planning costs a few hundred microseconds once.
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
