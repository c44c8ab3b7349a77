"""The backend layer: results stay in the operands' library, conversions, dtype rules."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensortrain as tt
from tensortrain import backend

from strategies import (
    BACKENDS,
    dtype_names,
    gaussian,
    load_namespace,
    seeds,
    shapes,
    tensor_trains,
    tt_matrices,
)


def _in_library(xp, *arrays):
    return all(backend.namespace(a) is xp for a in arrays)


@given(data=st.data())
def test_every_result_stays_in_the_backend_library(xp, data):
    x = data.draw(tensor_trains(xp))
    W = data.draw(tt_matrices(xp))
    v = xp.asarray(gaussian(np.random.default_rng(data.draw(seeds())), (W.shape[1],), "float64"))
    tensors = [x + x, x * x, 2 * x, tt.round(x, 0.1), tt.orthogonalize(x, "right"), tt.kron(x, x),
               W.T @ W, W.T, tt.round(W, 0.1), tt.tt_svd(x.full(), eps=0.1)]
    for result in tensors:
        assert _in_library(xp, *result.cores)
    assert _in_library(xp, x.full(), W.full(), tt.norm(x), tt.dot(x, x), W @ v,
                       tt.matmul(xp.ones((2, W.shape[0])), W), x[(0,) * x.ndim])


def test_constructors_follow_the_library_of_like(xp):
    like = xp.zeros(1)
    made = (tt.zeros((2, 3), like=like), tt.ones((2, 3), like=like), tt.eye((2, 3), like=like),
            tt.random((2, 3), 2, like=like), tt.random_matrix((2,), (3,), (), like=like))
    for result in made:
        assert _in_library(xp, *result.cores)


@given(shape=shapes(max_dims=4), dtype_name=dtype_names(), seed=seeds())
def test_to_numpy_round_trips_values_and_dtype(xp, asarray, to_numpy, shape, dtype_name, seed):
    values = gaussian(np.random.default_rng(seed), shape, dtype_name)
    array = asarray(values)
    assert _in_library(xp, array)
    back = to_numpy(array)
    assert isinstance(back, np.ndarray) and back.dtype == values.dtype
    assert np.array_equal(back, values)


def test_to_numpy_of_a_zero_dimensional_array(xp):
    assert backend.to_numpy(xp.asarray(2.5)).shape == ()
    assert float(backend.to_numpy(xp.asarray(2.5))) == 2.5


def test_asarray_like_uses_the_library_of_its_reference(xp):
    converted = backend.asarray_like(np.arange(3.0), xp.zeros(1))
    assert _in_library(xp, converted)
    assert np.array_equal(backend.to_numpy(converted), np.arange(3.0))


@pytest.mark.parametrize(
    "name, expected",
    [("float32", "float32"), ("float64", "float64"), ("complex64", "complex64"),
     ("complex128", "complex128"), ("int8", "float64"), ("int64", "float64"),
     ("uint16", "float64"), ("bool", "float64")],
)
def test_working_dtype_keeps_floats_and_widens_integers_and_bools(xp, name, expected):
    assert backend.working_dtype(xp, getattr(xp, name)) == getattr(xp, expected)


def test_real_dtype_and_is_complex(xp):
    assert backend.real_dtype(xp, xp.complex128) == xp.float64
    assert backend.real_dtype(xp, xp.complex64) == xp.float32
    assert backend.real_dtype(xp, xp.float32) == xp.float32
    assert backend.is_complex_dtype(xp, xp.complex64)
    assert not backend.is_complex_dtype(xp, xp.float64)


def test_svd_and_qr_reconstruct_their_input(xp):
    a = xp.asarray(np.random.default_rng(1).standard_normal((6, 4)))
    U, s, Vh = backend.svd(xp, a)
    Q, R = backend.qr(xp, a)
    dense = backend.to_numpy(a)
    U, s, Vh = (backend.to_numpy(m) for m in (U, s, Vh))
    np.testing.assert_allclose(U * s @ Vh, dense, atol=1e-13)
    np.testing.assert_allclose(backend.to_numpy(Q) @ backend.to_numpy(R), dense, atol=1e-13)
    R_only = backend.to_numpy(backend.r_factor(xp, a))
    np.testing.assert_allclose(np.abs(R_only), np.abs(backend.to_numpy(R)), atol=1e-13)


def test_conj_transpose_conjugates_only_complex_matrices(xp):
    a = xp.asarray(np.array([[1 + 2j, 3j]]))
    np.testing.assert_array_equal(backend.to_numpy(backend.conj_transpose(xp, a)),
                                  np.array([[1 - 2j], [-3j]]))
    b = xp.asarray(np.array([[1.0, 2.0]]))
    np.testing.assert_array_equal(backend.to_numpy(backend.conj_transpose(xp, b)), [[1.0], [2.0]])


def test_operands_from_two_libraries_are_refused():
    strict = pytest.importorskip("array_api_strict")
    x = tt.random((2, 3), 2, rng=0)
    y = tt.random((2, 3), 2, rng=0, like=strict.zeros(1))
    with pytest.raises(TypeError, match=r"arrays must all come from one array library"):
        x + y
    with pytest.raises(TypeError, match=r"one array library"):
        tt.dot(x, y)


def test_the_backend_is_chosen_by_the_environment_variable(xp, backend_name):
    assert backend_name in BACKENDS
    namespace, reason = load_namespace(backend_name)
    assert namespace is xp and reason == ""
    with pytest.raises(
        ValueError,
        match=r"TENSORTRAIN_TEST_BACKEND must be one of numpy, array_api_strict, cupy, got 'torch'",
    ):
        load_namespace("torch")


def test_svd_falls_back_to_gesvd_when_the_default_driver_fails(monkeypatch, caplog):
    """A LinAlgError of the first driver is retried with LAPACK's gesvd before anything is raised."""
    import array_api_compat.numpy as compat_numpy

    calls = []

    def failing_svd(a, full_matrices=True):
        calls.append(a.shape)
        raise np.linalg.LinAlgError("SVD did not converge")

    monkeypatch.setattr(compat_numpy.linalg, "svd", failing_svd)
    matrix = np.random.default_rng(3).standard_normal((7, 4))
    with caplog.at_level(logging.INFO, logger="tensortrain.backend"):
        U, s, Vh = backend.svd(compat_numpy, matrix)
    assert calls == [(7, 4)]
    assert "retrying with gesvd" in caplog.text
    np.testing.assert_allclose((U * s) @ Vh, matrix, atol=1e-12)
    np.testing.assert_allclose(s, np.linalg.svd(matrix, compute_uv=False), rtol=1e-12)
