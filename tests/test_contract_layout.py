"""Layout-planned contractions: equal to numpy.einsum, cached, and free of needless copies."""

from __future__ import annotations

import math

import numpy as np
import opt_einsum
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensortrain as tt
from tensortrain import backend, contract

from strategies import assert_close, gaussian, least_precise, seeds, tt_matrices

_KINDS = ("batch", "contracted", "free", "summed")


@st.composite
def _networks(draw):
    """Subscripts and shapes of a random einsum of 2 to 6 operands.

    Every index gets a kind: ``batch`` (in two or more operands and the
    output), ``contracted`` (in two or more operands only), ``free`` (in one
    operand and the output) or ``summed`` (in one operand only); sizes 1 to 3,
    so size-1 axes turn up in every role. Axis orders and the output order are
    shuffled.
    """
    count = draw(st.integers(2, 6))
    letters = contract.symbols(draw(st.integers(1, 7)))
    dims = {c: draw(st.sampled_from((1, 1, 2, 3))) for c in letters}
    operands: list[list[str]] = [[] for _ in range(count)]
    output = []
    for c in letters:
        kind = draw(st.sampled_from(_KINDS))
        shared = kind in ("batch", "contracted")
        holders = draw(st.lists(st.integers(0, count - 1), unique=True,
                                min_size=2 if shared else 1, max_size=count if shared else 1))
        for h in holders:
            operands[h].append(c)
        if kind in ("batch", "free"):
            output.append(c)
    operands = [draw(st.permutations(op)) for op in operands]
    output = draw(st.permutations(output))
    subscripts = ",".join("".join(op) for op in operands) + "->" + "".join(output)
    return subscripts, [tuple(dims[c] for c in op) for op in operands]


def _check_einsum(xp, subscripts, operands, dtype):
    """Run ``contract.einsum`` on the backend and compare with ``numpy.einsum``."""
    got = contract.einsum(subscripts, *(xp.asarray(a) for a in operands))
    assert backend.namespace(got) is xp
    expected = np.einsum(subscripts, *operands)
    # Rounding is relative to the sum of the magnitudes of the terms.
    scale = max(float(np.linalg.norm(np.einsum(subscripts, *map(np.abs, operands)))), 1e-300)
    assert tuple(got.shape) == expected.shape
    assert_close(got, expected, dtype, factor=200, scale=scale)
    return got


@given(network=_networks(), seed=seeds(),
       dtype_name=st.sampled_from(("float32", "float64", "complex128")))
def test_random_networks_equal_numpy_einsum(xp, network, seed, dtype_name):
    subscripts, shapes = network
    rng = np.random.default_rng(seed)
    operands = [gaussian(rng, s, dtype_name) for s in shapes]
    _check_einsum(xp, subscripts, operands, np.dtype(dtype_name))


@given(network=_networks())
def test_a_plan_is_made_once_per_subscripts_and_shapes(network):
    subscripts, shapes = network
    first = contract.plan(subscripts, *shapes)
    before = contract.cache_info()
    again = contract.plan(subscripts, *shapes)
    after = contract.cache_info()
    assert again is first
    assert after.hits == before.hits + 1
    assert after.misses == before.misses


@given(network=_networks())
def test_the_plan_follows_the_flop_optimal_opt_einsum_path(network):
    subscripts, shapes = network
    path, _ = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize="optimal")
    assert contract.plan(subscripts, *shapes).path == tuple(tuple(p) for p in path)


def test_repeated_einsum_calls_hit_the_cache(xp):
    rng = np.random.default_rng(3)
    # Shapes no other test uses, so the first call is a miss whatever ran before.
    a = xp.asarray(rng.standard_normal((5, 1, 9)))
    b = xp.asarray(rng.standard_normal((9, 17, 1)))
    before = contract.cache_info()
    contract.einsum("iaj,jkb->kib", a, b)
    contract.einsum("iaj,jkb->kib", a, b)
    after = contract.cache_info()
    assert after.misses == before.misses + 1
    assert after.hits == before.hits + 1


@pytest.mark.parametrize("subscripts", ["ij,jk->ik", "ji,jk->ik", "ij,kj->ik", "ji,kj->ik",
                                        "ij,jk->ki", "ji,kj->ki"])
def test_a_matrix_product_in_any_orientation_copies_nothing(xp, subscripts):
    dims = {"i": 6, "j": 7, "k": 8}
    inputs = subscripts.split("->")[0].split(",")
    shapes = [tuple(dims[c] for c in op) for op in inputs]
    assert contract.plan(subscripts, *shapes).elements_moved == 0
    rng = np.random.default_rng(1)
    _check_einsum(xp, subscripts, [rng.standard_normal(s) for s in shapes], np.float64)


def test_a_kept_leading_group_becomes_a_batch_dimension_instead_of_a_copy(xp):
    # The state (p, a, j, q) is contracted over (a, j), which lie between two kept
    # groups; only the small core may be copied, and the result comes out as pibq.
    shapes = [(64, 8, 4, 64), (8, 4, 4, 8)]
    assert contract.plan("pajq,aijb->pibq", *shapes).elements_moved <= math.prod(shapes[1])
    rng = np.random.default_rng(2)
    _check_einsum(xp, "pajq,aijb->pibq", [rng.standard_normal(s) for s in shapes], np.float64)


@pytest.mark.parametrize("subscripts, shapes", [
    ("iaj,jb->ib", [(5, 1, 6), (6, 1)]),
    ("aib,bjc->ij", [(1, 5, 4), (4, 6, 1)]),
    ("xij,jky->kxi", [(1, 5, 6), (6, 7, 1)]),
])
def test_size_one_axes_are_neither_summed_nor_copied(xp, subscripts, shapes):
    plan = contract.plan(subscripts, *shapes)
    assert plan.elements_moved == 0
    assert all(not how.sum_axes for step in plan.steps for how in step.operands)
    rng = np.random.default_rng(4)
    _check_einsum(xp, subscripts, [rng.standard_normal(s) for s in shapes], np.float64)


# The benchmark cases: a batch of vectors through a 1024 x 1024 and a 4096 x 4096 TT-matrix.
_BATCH_CASES = [
    (((4, 8, 8, 4), (4, 8, 8, 4)), 8, (1024, 256), "right"),
    (((4, 8, 8, 4), (4, 8, 8, 4)), 8, (256, 1024), "left"),
    (((8, 8, 8, 8), (8, 8, 8, 8)), 16, (64, 4096), "left"),
]


@pytest.mark.parametrize("modes, rank, x_shape, side", _BATCH_CASES)
def test_batch_products_copy_cores_but_never_the_batch(modes, rank, x_shape, side):
    W = tt.random_matrix(*modes, rank, rng=0)
    plan = tt.plan_dense_product(W, x_shape, side)
    # Only products of cores are copied: all of them together are smaller than
    # one copy of the dense operand, whose intermediates are larger still.
    assert plan.elements_moved < math.prod(x_shape)
    assert plan.final_perm is None


@given(data=st.data())
def test_tt_matrix_products_with_batches_equal_dense_products(xp, data):
    W = data.draw(tt_matrices(xp, max_rank=4, dtypes=("float64", "complex128")))
    rows, cols = W.shape
    batch = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2)))
    count = data.draw(st.integers(1, 4))
    rng = np.random.default_rng(data.draw(seeds()))
    dense = backend.to_numpy(W.full())
    dtype = least_precise(W.dtype, np.float64)

    right = gaussian(rng, batch + (cols, count), "float64")
    got = W @ xp.asarray(right)
    assert tuple(got.shape) == batch + (rows, count)
    assert_close(got, dense @ right, dtype)

    left = gaussian(rng, batch + (rows,), "float64")
    got = tt.matmul(xp.asarray(left), W)  # array-api-strict arrays refuse ``x @ W``
    assert tuple(got.shape) == batch + (cols,)
    assert_close(got, left @ dense, dtype)

    vector = gaussian(rng, (cols,), "float64")
    assert_close(W @ xp.asarray(vector), dense @ vector, dtype)


def test_an_output_index_no_operand_has_is_refused():
    with pytest.raises(ValueError, match=r"output index.*'k'|'k'.*output"):
        contract.plan("ij,jl->ik", (2, 3), (3, 4))
