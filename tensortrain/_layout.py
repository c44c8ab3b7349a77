"""The memory layouts of planned contractions: the search behind :mod:`tensortrain.contract`.

Given the pairwise path opt_einsum chose, a small dynamic programme over the
contraction tree picks, for each step, which operand is the left factor of
``matmul``, which index groups become its batch dimensions and in which order
the result's axes come out, so that the next step can read the result as it
lies. Each step is compiled into at most a sum, a permutation and a reshape per
operand, one (broadcasting) ``matmul`` and a reshape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Operand", "Step", "Search", "step_flops"]

# The layout cost model, in flop equivalents at the machine's GEMM rate
# (measured on one CPU core against a 1024 x 1024 x 256 GEMM): a strided
# permutation moves an element in the time of about 100 flops, a sum reads one
# in about 30; a matmul pays about 50 per element of its factors and result
# beyond its flops (which is why the thin products of a TT chain run at about
# half the GEMM rate), and a fixed price per matrix of a batch and per step.
_COPY_COST = 96
_SUM_COST = 30
_TOUCH_COST = 48
_PACK_COST = 8
_CALL_COST = 20_000
_STEP_COST = 150_000
# Layouts kept per intermediate by the search.
_KEPT_LAYOUTS = 4


@dataclass(frozen=True)
class Operand:
    """How one operand enters a step: summed, permuted, reshaped, transposed."""

    sum_axes: tuple[int, ...]
    perm: tuple[int, ...] | None
    shape: tuple[int, ...]
    transpose: bool


@dataclass(frozen=True)
class Step:
    """One pairwise (or single-operand) contraction of a plan.

    ``operands`` lists the left and the right ``matmul`` factor; ``swapped``
    says that the left factor is the second operand of the step.
    """

    positions: tuple[int, ...]
    operands: tuple[Operand, ...]
    swapped: bool
    out_shape: tuple[int, ...]


@dataclass(frozen=True)
class _View:
    """An operand seen as a stack of matrices.

    ``layout`` is the order of its non-singleton axes (after summing) that the
    view needs (a copy when it is not the stored one); ``prefix`` its leading
    batch runs as ``(role, indices)``, role ``"T"`` for shared batch indices
    and ``"F"`` for own free ones (broadcast against the other factor); then
    the matrix: ``free`` rows and ``contracted`` columns for the left factor
    (the other way round for the right one), stored transposed when
    ``transpose``.
    """

    layout: str
    prefix: tuple
    free: str
    contracted: str
    transpose: bool


@dataclass(frozen=True)
class _Choice:
    """A layout decision for one pair step, compiled once the search ends."""

    swapped: bool
    views: tuple[_View, _View]
    batch: tuple  # ((indices, owner), ...), owner "T", "X" (left) or "Y" (right)


def _runs(layout: str, role) -> list[tuple[str, str]]:
    """Maximal runs of consecutive indices with the same role."""
    runs: list[list[str]] = []
    for c in layout:
        if runs and runs[-1][0] == role[c]:
            runs[-1][1] += c
        else:
            runs.append([role[c], c])
    return [(r, s) for r, s in runs]


def _kept_view(layout: str, role, left: bool) -> _View | None:
    """The view of an operand stored as ``layout`` that needs no copy, if any.

    The stored matrix is the last run of free indices next to the run of
    contracted ones, at the end of the layout; every run before it must be a
    batch run.
    """
    runs = _runs(layout, role)
    roles = [r for r, _ in runs]
    if roles.count("C") > 1:
        return None
    if roles[-1:] == ["C"]:  # stored [free][contracted]
        head, contracted, transpose = runs[:-1], runs[-1][1], not left
        free = head[-1][1] if head and head[-1][0] == "F" else ""
        head = head[:-1] if free else head
    elif roles[-2:] == ["C", "F"]:  # stored [contracted][free]
        head, contracted, free, transpose = runs[:-2], runs[-2][1], runs[-1][1], left
    elif "C" in roles:
        return None
    else:
        free = runs[-1][1] if roles[-1:] == ["F"] else ""
        head, contracted, transpose = (runs[:-1] if free else runs), "", False
    return _View(layout, tuple(head), free, contracted, transpose)


def _merge_batch(px, py):
    """Aligned batch dimensions of two prefixes, or None when they clash."""
    tx = [s for r, s in px if r == "T"]
    if tx != [s for r, s in py if r == "T"]:
        return None

    def segments(prefix):
        segs: list[list[str]] = [[]]
        for r, s in prefix:
            if r == "T":
                segs.append([])
            else:
                segs[-1].append(s)
        return segs

    sx, sy = segments(px), segments(py)
    batch = []
    for k in range(len(tx) + 1):
        batch += [(s, "X") for s in sx[k]] + [(s, "Y") for s in sy[k]]
        if k < len(tx):
            batch.append((tx[k], "T"))
    return tuple(batch)


class Search:
    """The layouts of one path's intermediates, chosen by dynamic programming.

    Every intermediate is consumed by exactly one later step, so the cheapest
    way to produce it in a given layout depends only on its own subtree: each
    step keeps, per output layout, the cheapest choice over its inputs'
    layouts, and the few most promising layouts travel on to the next step.
    """

    def __init__(self, inputs, output: str, dims: dict):
        self.inputs, self.output, self.dims = inputs, output, dims
        order = dict.fromkeys(output + "".join(inputs))
        self.rank = {c: k for k, c in enumerate(order)}

    def size(self, indices) -> int:
        """Number of elements spanned by ``indices``."""
        return math.prod(self.dims[c] for c in indices)

    def eff(self, layout: str) -> str:
        """The layout without its size-1 axes, which reshapes add and drop for free."""
        return "".join(c for c in layout if self.dims[c] != 1)

    def canonical(self, indices) -> str:
        """``indices`` in output order first, then in order of first appearance."""
        return "".join(sorted(indices, key=self.rank.__getitem__))

    def roles(self, a: str, b: str, keep) -> dict:
        """Role of every non-singleton index of a pair step (``b=""`` for one operand).

        ``T`` batch (both, kept), ``C`` contracted (both, dropped), ``F`` free
        (one, kept), ``S`` summed first (one, dropped).
        """
        role = {}
        for c in set(a) | set(b):
            if self.dims[c] != 1:
                both = c in a and c in b
                role[c] = ("T" if both else "F") if c in keep else ("C" if both else "S")
        return role

    def matrix_layout(self, layout: str, role) -> str:
        """The axes an operand stored as ``layout`` still has after its sums."""
        return "".join(c for c in self.eff(layout) if role[c] != "S")

    # -- candidate steps -------------------------------------------------------------

    def _copied_view(self, t_runs, free: str, contracted: str, left: bool) -> _View:
        """The view of an operand permuted to ``[batch][free][contracted]`` (left
        factor) or ``[batch][contracted][free]`` (right factor)."""
        layout = "".join(t_runs) + (free + contracted if left else contracted + free)
        return _View(layout, tuple(("T", t) for t in t_runs), free, contracted, False)

    def _view_pairs(self, ex: str, ey: str, role, after):
        """Left/right views worth trying: as stored, or one or both copied."""
        kx, ky = _kept_view(ex, role, True), _kept_view(ey, role, False)
        if kx is not None and ky is not None and kx.contracted == ky.contracted:
            yield kx, ky
        for kept, other, left in ((kx, ey, False), (ky, ex, True)):
            if kept is None:
                continue
            t_runs = [s for r, s in kept.prefix if r == "T"]
            for free in self._free_orders(other, role, after):
                copy = self._copied_view(t_runs, free, kept.contracted, left)
                yield (copy, kept) if left else (kept, copy)
        batch = self.canonical(c for c in ex if role[c] == "T")
        t_runs = [batch] if batch else []
        contracted = self.canonical(c for c in ex if role[c] == "C")
        orders_x, orders_y = self._free_orders(ex, role, after), self._free_orders(ey, role, after)
        pairs = [(fx, orders_y[0]) for fx in orders_x] + [(orders_x[0], fy) for fy in orders_y[1:]]
        for fx, fy in pairs:
            yield (
                self._copied_view(t_runs, fx, contracted, True),
                self._copied_view(t_runs, fy, contracted, False),
            )

    def _free_orders(self, layout: str, role, after) -> list[str]:
        """Orders to copy an operand's free indices in: as stored, canonical, and
        with the indices its result's consumer contracts moved to either end."""
        stable = "".join(c for c in layout if role[c] == "F")
        orders = [stable, self.canonical(stable)]
        if after is not None:
            for base in orders[:2]:
                inner = "".join(c for c in base if after.get(c) == "C")
                outer = "".join(c for c in base if after.get(c) != "C")
                orders += [inner + outer, outer + inner]
        return list(dict.fromkeys(orders))

    def _matmul_cost(self, vx: _View, vy: _View, batch) -> int:
        """Modelled cost of the (batched) ``matmul`` of two views."""
        count = self.size("".join(s for s, _ in batch))
        rows, inner, cols = self.size(vx.free), self.size(vx.contracted), self.size(vy.free)
        touched = count * rows * cols + self.size(vx.layout) + self.size(vy.layout)
        packed = count * (rows * inner + inner * cols)
        flops = 2 * count * rows * inner * cols
        return flops + _TOUCH_COST * touched + _PACK_COST * packed + _CALL_COST * count

    def pair_options(self, la: str, lb: str, keep, after=None):
        """``(output layout, cost, choice)`` of every candidate for ``la, lb -> keep``.

        ``after`` is the role map of the step that consumes the result (None
        for the final result).
        """
        role = self.roles(la, lb, keep)
        ea, eb = self.matrix_layout(la, role), self.matrix_layout(lb, role)
        summed = sum(
            _SUM_COST * self.size(lay) for lay in (la, lb) if any(role.get(c) == "S" for c in lay)
        )
        singles = self.canonical(c for c in set(la) | set(lb) if self.dims[c] == 1 and c in keep)
        for swapped in (False, True):
            ex, ey = (eb, ea) if swapped else (ea, eb)
            for vx, vy in self._view_pairs(ex, ey, role, after):
                batch = _merge_batch(vx.prefix, vy.prefix)
                if batch is None:
                    continue
                moved = sum(self.size(v.layout) for v, e in ((vx, ex), (vy, ey)) if v.layout != e)
                cost = _STEP_COST + summed + _COPY_COST * moved + self._matmul_cost(vx, vy, batch)
                out = "".join(s for s, _ in batch) + vx.free + vy.free + singles
                yield out, cost, _Choice(swapped, (vx, vy), batch)

    def penalty(self, layout: str, role) -> int:
        """Estimated copy that the consumer (role map ``role``; None for the final
        result, which must come out in the output's order) of an intermediate
        stored as ``layout`` must make."""
        if role is None:
            same = self.eff(layout) == self.eff(self.output)
            return 0 if same else _COPY_COST * self.size(layout)
        matrix = self.matrix_layout(layout, role)
        if _kept_view(matrix, role, True) or _kept_view(matrix, role, False):
            return 0
        return _COPY_COST * self.size(matrix)

    # -- the search over the path --------------------------------------------------

    def _walk(self, path):
        """The path's steps as ``(picked nodes, kept indices)`` and, per node, the
        role map of the step that consumes it."""
        indices = list(self.inputs)
        current, steps, consumer = list(range(len(self.inputs))), [], {}
        for positions in path:
            picked = tuple(current[p] for p in positions)
            if len(picked) > 2:
                raise RuntimeError(f"opt_einsum returned a {len(picked)}-operand step in {path}")
            for p in sorted(positions, reverse=True):
                del current[p]
            keep = set("".join(indices[n] for n in current)) | set(self.output)
            joined = "".join(indices[n] for n in picked)
            pair = [indices[n] for n in picked] + [""] * (2 - len(picked))
            consumer.update({n: self.roles(*pair, keep) for n in picked})
            steps.append((picked, keep))
            indices.append("".join(c for c in dict.fromkeys(joined) if c in keep))
            current.append(len(indices) - 1)
        return steps, consumer

    def run(self, path):
        """The steps of ``path``, the chosen layout of every node and each step's choice."""
        steps, consumer = self._walk(path)
        first = len(self.inputs)
        tables = [{layout: (0, None, ())} for layout in self.inputs]
        for number, (picked, keep) in enumerate(steps):
            table = self._step_table(picked, keep, tables, consumer.get(first + number))
            last = number == len(steps) - 1
            tables.append(table if last else self._prune(table, consumer[first + number]))

        root = len(tables) - 1
        best = min(tables[root], key=lambda lay: tables[root][lay][0] + self.penalty(lay, None))
        layouts = {root: best}
        for node in range(root, first - 1, -1):  # parents before children
            layouts.update(tables[node][layouts[node]][2])
        choices = [tables[first + k][layouts[first + k]][1] for k in range(len(steps))]
        return steps, layouts, choices

    def _step_table(self, picked, keep, tables, after) -> dict:
        """Cheapest ``(cost, choice, input layouts)`` per output layout of one step."""
        table: dict = {}
        if len(picked) == 1:
            (node,) = picked
            for layout, (cost, _, _) in tables[node].items():
                role = self.roles(layout, "", keep)
                summed = _SUM_COST * self.size(layout) if "S" in role.values() else 0
                out = "".join(c for c in layout if c in keep)
                if out not in table or cost + summed < table[out][0]:
                    table[out] = (cost + summed, None, ((node, layout),))
            return table
        node_a, node_b = picked
        for la, (cost_a, _, _) in tables[node_a].items():
            for lb, (cost_b, _, _) in tables[node_b].items():
                for out, cost, choice in self.pair_options(la, lb, keep, after):
                    total = cost_a + cost_b + cost
                    if out not in table or total < table[out][0]:
                        table[out] = (total, choice, ((node_a, la), (node_b, lb)))
        return table

    def _prune(self, table: dict, role) -> dict:
        """The few layouts worth passing on, counting what their consumer must copy."""
        ranked = sorted(table, key=lambda lay: table[lay][0] + self.penalty(lay, role))
        return {lay: table[lay] for lay in ranked[:_KEPT_LAYOUTS]}

    # -- compiling the chosen layouts ------------------------------------------------

    def compile_pair(self, la: str, lb: str, keep, choice: _Choice):
        """The executable step and the elements its permutations move."""
        role = self.roles(la, lb, keep)
        stored = (lb, la) if choice.swapped else (la, lb)
        operands, moved = [], 0
        for layout, view, owner in zip(stored, choice.views, "XY"):
            sum_axes = tuple(k for k, c in enumerate(layout) if role.get(c) == "S")
            kept = "".join(c for c in layout if role.get(c) != "S")
            perm = None
            if self.eff(kept) != view.layout:
                moved += self.size(view.layout)
                rest = tuple(k for k, c in enumerate(kept) if c not in view.layout)
                perm = tuple(kept.index(c) for c in view.layout) + rest
            shape = [self.size(s) if o in ("T", owner) else 1 for s, o in choice.batch]
            while shape and shape[0] == 1:
                del shape[0]
            rows, cols = self.size(view.free), self.size(view.contracted)
            matrix = (rows, cols) if owner == "X" else (cols, rows)
            if view.transpose:
                matrix = matrix[::-1]
            operands.append(Operand(sum_axes, perm, tuple(shape) + matrix, view.transpose))
        return operands, moved

    def compile(self, path):
        """The plan's steps, its final permutation and the elements moved."""
        steps, layouts, choices = self.run(path)
        compiled, moved = [], 0
        for number, ((picked, keep), choice, positions) in enumerate(zip(steps, choices, path)):
            out = layouts[len(self.inputs) + number]
            out_shape = tuple(self.dims[c] for c in out)
            if choice is None:
                (layout,) = (layouts[n] for n in picked)
                role = self.roles(layout, "", keep)
                sum_axes = tuple(k for k, c in enumerate(layout) if role.get(c) == "S")
                operands, swapped = [Operand(sum_axes, None, out_shape, False)], False
            else:
                stored = (layouts[n] for n in picked)
                operands, step_moved = self.compile_pair(*stored, keep, choice)
                moved, swapped = moved + step_moved, choice.swapped
            compiled.append(Step(tuple(positions), tuple(operands), swapped, out_shape))
        result = layouts[max(layouts)]
        final_perm = None
        if self.eff(result) != self.eff(self.output):
            final_perm = tuple(result.index(c) for c in self.output)
            moved += self.size(result)
        return tuple(compiled), final_perm, moved


def step_flops(a: str, b: str, keep, dims) -> int:
    """Flops of one pair step (2 per multiply-add), whatever the layouts."""
    def size(group):
        return math.prod(dims[c] for c in group)

    shared = set(a) & set(b)
    batch = [c for c in shared if c in keep]
    contracted = [c for c in shared if c not in keep]
    left = [c for c in set(a) - shared if c in keep]
    right = [c for c in set(b) - shared if c in keep]
    return 2 * size(batch) * size(left) * size(right) * max(size(contracted), 1)
