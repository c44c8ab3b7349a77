"""Entry access ``tt[i_1, ..., i_d]`` against NumPy's fancy indexing of ``full()``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensortrain as tt
from tensortrain import backend

from strategies import assert_close, seeds, tensor_trains

INDEX_DTYPES = ("int8", "int32", "uint16", "int64")


@st.composite
def _broadcast_shapes(draw, d):
    """``d`` index shapes that broadcast together (axes of 1 and missing axes included)."""
    target = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    result = []
    for _ in range(d):
        keep = draw(st.integers(0, len(target)))
        trailing = target[len(target) - keep:]
        result.append(tuple(n if draw(st.booleans()) else 1 for n in trailing))
    return result


def _random_indices(rng, shape, size, dtype_name, negative):
    low = -size if negative else 0
    return rng.integers(low, size, size=shape).astype(dtype_name)


@given(data=st.data(), dtype_name=st.sampled_from(INDEX_DTYPES))
def test_gather_with_index_arrays_equals_fancy_indexing_of_full(xp, data, dtype_name):
    x = data.draw(tensor_trains(xp))
    index_shapes = data.draw(_broadcast_shapes(x.ndim))
    negative = not dtype_name.startswith("u") and data.draw(st.booleans())
    rng = np.random.default_rng(data.draw(seeds()))
    indices = [_random_indices(rng, s, n, dtype_name, negative)
               for s, n in zip(index_shapes, x.shape)]
    expected = backend.to_numpy(x.full())[tuple(indices)]
    got = x[tuple(xp.asarray(i) for i in indices)]
    assert tuple(got.shape) == expected.shape
    assert backend.namespace(got) is xp
    assert_close(got, expected, x.dtype)


@given(data=st.data())
def test_gather_accepts_numpy_arrays_and_lists_on_any_backend(xp, data):
    x = data.draw(tensor_trains(xp))
    rng = np.random.default_rng(data.draw(seeds()))
    indices = [rng.integers(0, n, size=3) for n in x.shape]
    expected = backend.to_numpy(x.full())[tuple(indices)]
    assert_close(x[tuple(indices)], expected, x.dtype)
    assert_close(x[tuple(i.tolist() for i in indices)], expected, x.dtype)


@given(data=st.data())
def test_scalar_indexing_gives_a_zero_dimensional_entry(xp, data):
    x = data.draw(tensor_trains(xp))
    rng = np.random.default_rng(data.draw(seeds()))
    index = tuple(int(rng.integers(-n, n)) for n in x.shape)
    got = x[index]
    assert tuple(got.shape) == ()
    dense = backend.to_numpy(x.full())
    assert complex(backend.to_numpy(got)) == pytest.approx(complex(dense[index]), rel=1e-4, abs=1e-5
                                                           * float(np.abs(dense).max()))


@given(data=st.data())
def test_mixed_scalar_and_array_indices_broadcast_like_numpy(xp, data):
    x = data.draw(tensor_trains(xp))
    rng = np.random.default_rng(data.draw(seeds()))
    # Odd modes get Python ints, even modes arrays of shapes (2, 1) and (1, 3).
    index = tuple(int(rng.integers(0, n)) if k % 2
                  else rng.integers(-n, n, size=(2, 1) if k % 4 == 0 else (1, 3))
                  for k, n in enumerate(x.shape))
    expected = backend.to_numpy(x.full())[index]
    got = x[tuple(i if isinstance(i, int) else xp.asarray(i) for i in index)]
    assert_close(got, expected, x.dtype)


def test_empty_index_arrays_give_an_empty_result(xp):
    x = tt.random((3, 4), 2, rng=0, like=xp.zeros(1))
    empty = xp.asarray(np.zeros(0, dtype=np.int64))
    got = x[empty, empty]
    assert tuple(got.shape) == (0,)


def test_a_one_mode_tensor_takes_a_bare_index(xp):
    x = tt.random((5,), (), rng=1, like=xp.zeros(1))
    dense = backend.to_numpy(x.full())
    assert float(backend.to_numpy(x[-2])) == dense[-2]
    assert_close(x[xp.asarray([4, 0, -5])], dense[[4, 0, -5]], x.dtype, factor=1)
