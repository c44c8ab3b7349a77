"""Products with TT-matrices (dense operands, TT tensors, TT-matrices) and the transpose laws."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import tensortrain as tt
from tensortrain import backend

from strategies import (
    assert_close,
    dtype_names,
    gaussian,
    least_precise,
    seeds,
    tensor_trains,
    tt_matrices,
)


def _dense(x) -> np.ndarray:
    return backend.to_numpy(x.full())


def _np(a) -> np.ndarray:
    return backend.to_numpy(a)


def _operand(data, xp, shape, dtype_name=None):
    """A Gaussian dense operand of ``shape`` on ``xp``, of a drawn dtype unless given."""
    dtype_name = dtype_name or data.draw(dtype_names())
    rng = np.random.default_rng(data.draw(seeds()))
    return xp.asarray(gaussian(rng, shape, dtype_name))


def _check(got, want, *dtypes):
    """Same shape as ``want`` and close to it in the least precise of ``dtypes``."""
    assert tuple(got.shape) == tuple(want.shape)
    assert_close(got, want, least_precise(*dtypes))


@given(data=st.data())
def test_matvec_equals_dense_matvec(xp, data):
    W = data.draw(tt_matrices(xp))
    v = _operand(data, xp, (W.shape[1],))
    expected = _dense(W) @ _np(v)
    _check(W @ v, expected, W.dtype, v.dtype)
    _check(tt.matmul(W, v), expected, W.dtype, v.dtype)


@given(data=st.data())
def test_product_with_a_block_of_vectors_equals_dense(xp, data):
    W = data.draw(tt_matrices(xp))
    V = _operand(data, xp, (W.shape[1], data.draw(st.integers(1, 5))))
    _check(W @ V, _dense(W) @ _np(V), W.dtype, V.dtype)


@given(data=st.data())
def test_batched_product_follows_numpy_matmul_broadcasting(xp, data):
    W = data.draw(tt_matrices(xp))
    batch = tuple(data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    V = _operand(data, xp, batch + (W.shape[1], data.draw(st.integers(1, 3))))
    _check(W @ V, np.matmul(_dense(W), _np(V)), W.dtype, V.dtype)


@given(data=st.data())
def test_vector_times_matrix_equals_dense(xp, data):
    # Backend-generic form tt.matmul(x, W): array-api-strict's Array.__matmul__
    # raises TypeError on a TTMatrix instead of deferring to __rmatmul__.
    W = data.draw(tt_matrices(xp))
    batch = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2)))
    x = _operand(data, xp, batch + (W.shape[0],))
    _check(tt.matmul(x, W), _np(x) @ _dense(W), W.dtype, x.dtype)


@given(data=st.data())
def test_dense_batch_times_transpose_equals_dense(xp, data):
    # The layer's forward product: a batch X of shape (B, N) times W.T.
    W = data.draw(tt_matrices(xp))
    X = _operand(data, xp, (data.draw(st.integers(1, 6)), W.shape[1]))
    _check(tt.matmul(X, W.T), _np(X) @ _dense(W).T, W.dtype, X.dtype)


@given(data=st.data())
def test_numpy_operands_work_with_the_matmul_operator_on_both_sides(data):
    # The operator forms on NumPy, where ndarray defers to TTMatrix.__rmatmul__.
    W = data.draw(tt_matrices(np))
    v = np.random.default_rng(data.draw(seeds())).standard_normal(W.shape[1])
    X = np.random.default_rng(data.draw(seeds())).standard_normal((3, W.shape[0]))
    Y = np.random.default_rng(data.draw(seeds())).standard_normal((2, W.shape[1]))
    dense = W.full()
    assert_close(W @ v, dense @ v, W.dtype)
    assert_close(X @ W, X @ dense, W.dtype)
    assert_close(Y @ W.T, Y @ dense.T, W.dtype)
    assert_close(W @ v.tolist(), dense @ v, W.dtype)


@given(data=st.data())
def test_matrix_times_tensor_train_equals_dense(xp, data):
    W = data.draw(tt_matrices(xp))
    x = data.draw(tensor_trains(xp, shape=W.col_modes))
    y = W @ x
    assert isinstance(y, tt.TensorTrain)
    assert y.shape == W.row_modes
    assert y.ranks == tuple(a * b for a, b in zip(W.ranks, x.ranks))
    expected = (_dense(W) @ _dense(x).reshape(-1)).reshape(W.row_modes)
    _check(y.full(), expected, W.dtype, x.dtype)


@given(data=st.data())
def test_matrix_times_matrix_equals_dense(xp, data):
    A = data.draw(tt_matrices(xp))
    inner = A.col_modes
    cols = tuple(data.draw(st.lists(st.integers(1, 3), min_size=len(inner), max_size=len(inner))))
    B = data.draw(tt_matrices(xp, modes=(inner, cols)))
    C = A @ B
    assert isinstance(C, tt.TTMatrix)
    assert (C.row_modes, C.col_modes) == (A.row_modes, cols)
    _check(C.full(), _dense(A) @ _dense(B), A.dtype, B.dtype)


@given(data=st.data(), eps=st.sampled_from((1e-8, 1e-3, 0.1)))
def test_tt_products_with_eps_round_within_eps(xp, data, eps):
    A = data.draw(tt_matrices(xp, dtypes=("float64", "complex128")))
    other = data.draw(tensor_trains(xp, shape=A.col_modes, dtype_name="float64")
                      | tt_matrices(xp, modes=(A.col_modes, A.row_modes), dtype_name="float64"))
    exact = A @ other
    rounded = tt.matmul(A, other, eps=eps)
    assert type(rounded) is type(exact)
    err = np.linalg.norm(_dense(rounded) - _dense(exact))
    assert err <= (eps + 1e-12) * np.linalg.norm(_dense(exact))
    assert all(r <= e for r, e in zip(rounded.ranks, exact.ranks))


@given(data=st.data())
def test_tt_products_with_max_rank_respect_it(xp, data):
    A = data.draw(tt_matrices(xp))
    x = data.draw(tensor_trains(xp, shape=A.col_modes))
    assert tt.matmul(A, x, max_rank=2).max_rank <= 2


# --------------------------------------------------------------------------- transpose laws


@given(data=st.data())
def test_double_transpose_is_the_identity(xp, data):
    W = data.draw(tt_matrices(xp))
    assert (W.T.row_modes, W.T.col_modes) == (W.col_modes, W.row_modes)
    assert all(np.array_equal(_np(a), _np(b)) for a, b in zip(W.T.T.cores, W.cores))
    assert_close(W.T.full(), _dense(W).T, W.dtype, factor=10)


@given(data=st.data())
def test_transpose_of_a_product_is_the_reversed_product_of_transposes(xp, data):
    A = data.draw(tt_matrices(xp))
    cols = tuple(data.draw(st.lists(st.integers(1, 3), min_size=A.num_cores, max_size=A.num_cores)))
    B = data.draw(tt_matrices(xp, modes=(A.col_modes, cols)))
    _check((A @ B).T.full(), _dense(B.T @ A.T), A.dtype, B.dtype)


@given(data=st.data())
def test_conjugate_transpose_is_the_transpose_of_the_conjugate(xp, data):
    W = data.draw(tt_matrices(xp))
    assert all(np.array_equal(_np(a), _np(b)) for a, b in zip(W.H.cores, W.conj().T.cores))
    assert_close(W.H.full(), _dense(W).conj().T, W.dtype, factor=10)


@given(data=st.data())
def test_products_commute_with_conjugation(xp, data):
    # conj(W @ v) = conj(W) @ conj(v), and W.H @ u = conj(W).T @ u.
    W = data.draw(tt_matrices(xp, dtypes=("complex128",)))
    v = _operand(data, xp, (W.shape[1],), "complex128")
    u = _operand(data, xp, (W.shape[0],), "complex128")
    _check(xp.conj(W @ v), W.conj() @ xp.conj(v), W.dtype)
    _check(W.H @ u, _dense(W).conj().T @ _np(u), W.dtype)
    _check(tt.matmul(u, W.conj()), _np(u) @ _dense(W).conj(), W.dtype)


def test_identity_leaves_vectors_and_tensors_unchanged(xp):
    modes = (2, 3, 4)
    rng = np.random.default_rng(5)
    v = xp.asarray(rng.standard_normal(math.prod(modes)))
    x = tt.random(modes, 3, rng=6, like=v)
    eye = tt.eye(modes, like=v)
    assert np.array_equal(_np(eye @ v), _np(v))
    assert_close((eye @ x).full(), x.full(), xp.float64)
