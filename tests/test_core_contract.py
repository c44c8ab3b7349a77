"""Planned contractions: agreement with numpy.einsum, flop counts, and the plan cache."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensortrain as tt
from tensortrain import backend, contract

from strategies import assert_close, gaussian, seeds, tt_matrices

_LETTERS = "abcdefg"


@st.composite
def _networks(draw):
    """Subscripts and operand shapes of a random einsum: 1 to 4 operands, sizes 1 to 4.

    Indices may appear in one operand only (summed away), in several (batch
    or contracted), or in the output in any order.
    """
    letters = draw(st.lists(st.sampled_from(_LETTERS), min_size=1, max_size=6, unique=True))
    dims = {c: draw(st.integers(1, 4)) for c in letters}
    count = draw(st.integers(1, 4))
    operands = [
        draw(st.lists(st.sampled_from(letters), min_size=0, max_size=4, unique=True))
        for _ in range(count)
    ]
    used = sorted({c for op in operands for c in op})
    output = draw(st.permutations(used).flatmap(
        lambda perm: st.integers(0, len(perm)).map(lambda k: list(perm[:k]))))
    subscripts = ",".join("".join(op) for op in operands) + "->" + "".join(output)
    shapes = [tuple(dims[c] for c in op) for op in operands]
    return subscripts, shapes


@given(network=_networks(), seed=seeds(), dtype_name=st.sampled_from(("float64", "complex128")))
def test_einsum_equals_numpy_einsum(xp, network, seed, dtype_name):
    subscripts, shapes = network
    rng = np.random.default_rng(seed)
    operands = [gaussian(rng, s, dtype_name) for s in shapes]
    got = contract.einsum(subscripts, *(xp.asarray(a) for a in operands))
    assert backend.namespace(got) is xp
    expected = np.einsum(subscripts, *operands)
    assert tuple(got.shape) == expected.shape
    assert_close(got, expected, np.dtype(dtype_name), factor=100,
                 scale=max(1.0, float(np.linalg.norm(expected))))


def test_plan_counts_two_flops_per_multiply_add():
    # An (2 x 3) @ (3 x 4) product has 2 * 4 * 3 = 24 multiply-adds.
    assert contract.plan("ij,jk->ik", (2, 3), (3, 4)).flops == 48
    # A chain picks the cheaper order: (a @ b) @ c costs 2 * (10*10*1 + 10*1*10) = 400,
    # a @ (b @ c) costs 2 * (10*1*10 + 10*10*10) = 2200.
    assert contract.plan("ij,jk,kl->il", (10, 10), (10, 1), (1, 10)).flops == 400


def test_calling_the_same_einsum_twice_plans_once(xp):
    rng = np.random.default_rng(0)
    # Shapes no other test uses, so the first call is a miss whatever ran before.
    a, b = xp.asarray(rng.standard_normal((7, 13))), xp.asarray(rng.standard_normal((13, 11)))
    before = contract.cache_info()
    contract.einsum("ij,jk->ik", a, b)
    middle = contract.cache_info()
    contract.einsum("ij,jk->ik", a, b)
    after = contract.cache_info()
    assert middle.misses == before.misses + 1
    assert after.misses == middle.misses
    assert after.hits == middle.hits + 1


@given(data=st.data())
def test_a_repeated_matrix_product_plans_nothing_new(xp, data):
    W = data.draw(tt_matrices(xp))
    v = xp.asarray(np.random.default_rng(data.draw(seeds())).standard_normal((W.shape[1], 2)))
    first = W @ v
    misses = contract.cache_info().misses
    second = W @ v
    assert contract.cache_info().misses == misses
    assert np.array_equal(backend.to_numpy(first), backend.to_numpy(second))


def test_plan_cache_forgets_on_clear_and_replans(xp):
    a = xp.ones((3, 5))
    contract.einsum("ij->ji", a)
    contract.clear_cache()
    assert contract.cache_info().currsize == 0
    contract.einsum("ij->ji", a)
    assert contract.cache_info().misses == 1


def test_the_dense_product_plan_takes_the_cheapest_order(xp):
    # W: modes (4, 4) x (4, 4), rank 3, times V of shape (16, 8). The three
    # pairwise orders cost (2 flops per multiply-add):
    #   cores first: 2*(4*4*4*4*3) + 2*(16*8*16) = 1536 + 4096 = 5632
    #   V with the second core, then the first: 2*(4*8*3*4*4) + 2*(4*4*8*12) = 6144
    #   V with the first core, then the second: 3072 + 3072 = 6144
    W = tt.random_matrix((4, 4), (4, 4), 3, rng=0, like=xp.zeros(1))
    assert tt.plan_dense_product(W, (16, 8)).flops == 5632


@pytest.mark.parametrize(
    "subscripts, shapes",
    [("ij,jk", [(2, 3), (3, 4)]), ("ij,jk->ik", [(2, 3)]), ("ii->i", [(3, 3)])],
)
def test_malformed_subscripts_are_refused(subscripts, shapes):
    with pytest.raises(ValueError, match=r"subscripts|index"):
        contract.plan(subscripts, *shapes)
