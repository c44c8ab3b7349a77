"""Bad input: each raises the right exception with a message naming the argument.

And the other half of the contract: no routine modifies its caller's list or arrays.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensortrain as tt
from tensortrain import backend

from strategies import seeds, tt_matrices


def _cores(xp, shapes, dtype="float64"):
    rng = np.random.default_rng(0)
    return [xp.asarray(rng.standard_normal(s).astype(dtype)) for s in shapes]


@pytest.fixture
def x(xp):
    return tt.random((2, 3, 4), 2, rng=0, like=xp.zeros(1))


@pytest.fixture
def W(xp):
    return tt.random_matrix((2, 3), (4, 2), 2, rng=1, like=xp.zeros(1))


# --------------------------------------------------------------------------- cores


def test_ranks_that_do_not_chain_are_refused(xp):
    with pytest.raises(
        tt.RankMismatchError,
        match=r"ranks must chain: cores\[0\] ends with rank 2 but cores\[1\] starts with rank 3",
    ):
        tt.TensorTrain(_cores(xp, [(1, 2, 2), (3, 2, 1)]))
    with pytest.raises(ValueError, match=r"cores\[1\].*cores\[2\]"):
        tt.TTMatrix(_cores(xp, [(1, 2, 2, 2), (2, 2, 2, 2), (1, 2, 2, 1)]))


def test_boundary_ranks_other_than_one_are_refused(xp):
    with pytest.raises(
        tt.RankMismatchError,
        match=r"cores\[0\] must have left rank 1, got shape \(2, 3, 1\)",
    ):
        tt.TensorTrain(_cores(xp, [(2, 3, 1)]))
    with pytest.raises(
        tt.RankMismatchError,
        match=r"cores\[1\] must have right rank 1, got shape \(2, 3, 2\)",
    ):
        tt.TensorTrain(_cores(xp, [(1, 3, 2), (2, 3, 2)]))


def test_cores_of_the_wrong_number_of_axes_are_refused(xp):
    with pytest.raises(
        tt.ShapeMismatchError,
        match=r"cores\[1\] must have 3 axes .*got shape \(2, 3\)",
    ):
        tt.TensorTrain(_cores(xp, [(1, 3, 2), (2, 3)]))
    with pytest.raises(tt.ShapeMismatchError, match=r"cores\[0\] must have 4 axes"):
        tt.TTMatrix(_cores(xp, [(1, 3, 1)]))
    with pytest.raises(tt.ShapeMismatchError, match=r"cores\[0\] must have no empty axis"):
        tt.TensorTrain([xp.zeros((1, 0, 1))])


def test_mixed_dtypes_are_refused(xp):
    cores = _cores(xp, [(1, 2, 2)], "float32") + _cores(xp, [(2, 2, 1)], "float64")
    with pytest.raises(TypeError, match=r"cores must share one dtype"):
        tt.TensorTrain(cores)


def test_cores_from_two_array_libraries_are_refused():
    strict = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match=r"arrays must all come from one array library"):
        tt.TensorTrain([np.ones((1, 2, 1)), strict.ones((1, 2, 1))])


def test_empty_or_non_sequence_cores_are_refused(xp):
    with pytest.raises(ValueError, match=r"cores must hold at least one core"):
        tt.TensorTrain([])
    with pytest.raises(TypeError, match=r"cores must be a sequence of arrays, got int"):
        tt.TensorTrain(3)
    with pytest.raises(TypeError, match=r"cores must be a sequence of arrays, got str"):
        tt.TensorTrain("abc")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_or_inf_in_a_core_is_refused(xp, bad):
    values = np.ones((2, 3, 1))
    values[1, 2, 0] = bad
    with pytest.raises(ValueError, match=r"cores\[1\] must hold only finite values"):
        tt.TensorTrain([xp.ones((1, 2, 2)), xp.asarray(values)])


@pytest.mark.parametrize("dtype", [np.float16, object, str])
def test_unsupported_core_dtypes_are_refused(dtype):
    with pytest.raises(
        TypeError,
        match=r"cores\[0\] must have a float32, float64, complex64, complex128, integer or bool "
        r"dtype",
    ):
        tt.TensorTrain([np.ones((1, 2, 1)).astype(dtype)])


@pytest.mark.parametrize("dtype", [np.float16, object, str])
def test_unsupported_data_dtypes_are_refused(dtype):
    data = np.ones((2, 3)).astype(dtype)
    with pytest.raises(TypeError, match=r"array must have a float32, float64"):
        tt.tt_svd(data)
    with pytest.raises(TypeError, match=r"matrix must have a float32, float64"):
        tt.matrix_from_dense(data, (2,), (3,))


def test_float16_is_refused_on_the_backend_too(xp):
    if not hasattr(xp, "float16"):
        pytest.skip("this Array API library has no float16 (the standard does not require it)")
    with pytest.raises(TypeError, match=r"array must have a float32"):
        tt.tt_svd(xp.ones((2, 2), dtype=xp.float16))


# --------------------------------------------------------------------------- decompositions


@pytest.mark.parametrize("eps", [-1e-3, math.nan, math.inf])
def test_negative_nan_or_infinite_eps_is_refused(xp, x, W, eps):
    dense = xp.ones((2, 3))
    message = r"eps must be a finite number >= 0, got -?(0\.001|nan|inf)"
    for call in (
        lambda: tt.tt_svd(dense, eps=eps),
        lambda: tt.matrix_from_dense(dense, (1, 2), (3, 1), eps=eps),
        lambda: tt.round(x, eps=eps),
        lambda: tt.matmul(W, tt.random(W.col_modes, 2, rng=2, like=dense), eps=eps),
    ):
        with pytest.raises(ValueError, match=message):
            call()


def test_eps_of_the_wrong_type_is_refused(xp):
    with pytest.raises(TypeError, match=r"eps must be a real number >= 0, got '0.1'"):
        tt.tt_svd(xp.ones((2, 3)), eps="0.1")
    with pytest.raises(TypeError, match=r"eps must be a real number"):
        tt.tt_svd(xp.ones((2, 3)), eps=True)


@pytest.mark.parametrize("max_rank", [0, -2, (2, 0)])
def test_non_positive_max_rank_is_refused(xp, x, max_rank):
    with pytest.raises(ValueError, match=r"max_rank must be a positive integer, got (0|-2)"):
        tt.tt_svd(xp.ones((2, 3, 4)), max_rank=max_rank)
    with pytest.raises(ValueError, match=r"max_rank must be a positive integer"):
        tt.round(x, max_rank=max_rank)


def test_max_rank_of_the_wrong_length_or_type_is_refused(xp):
    with pytest.raises(
        ValueError,
        match=r"max_rank must be one integer or 2 integers \(one per bond\), got 3 values",
    ):
        tt.tt_svd(xp.ones((2, 3, 4)), max_rank=(2, 2, 2))
    with pytest.raises(TypeError, match=r"max_rank must be a positive integer or a sequence"):
        tt.tt_svd(xp.ones((2, 3, 4)), max_rank=2.5)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nan_or_inf_in_data_is_refused(xp, bad):
    values = np.ones((2, 3))
    values[0, 1] = bad
    with pytest.raises(ValueError, match=r"array must hold only finite values, got NaN or Inf"):
        tt.tt_svd(xp.asarray(values))
    with pytest.raises(ValueError, match=r"matrix must hold only finite values"):
        tt.matrix_from_dense(xp.asarray(values), (2,), (3,))


def test_zero_dimensional_or_empty_data_is_refused(xp):
    with pytest.raises(tt.ShapeMismatchError, match=r"array must have at least one axis"):
        tt.tt_svd(xp.asarray(1.0))
    with pytest.raises(
        tt.ShapeMismatchError,
        match=r"array must have .*no empty axis, got shape \(2, 0\)",
    ):
        tt.tt_svd(xp.zeros((2, 0)))


def test_row_and_column_modes_of_different_lengths_are_refused(xp):
    with pytest.raises(
        tt.ShapeMismatchError,
        match=r"row_modes and col_modes must have the same length, got 2 and 1",
    ):
        tt.matrix_from_dense(xp.ones((6, 4)), (2, 3), (4,))
    with pytest.raises(
        ValueError,
        match=r"row_modes and col_modes must have the same length, got 1 and 2",
    ):
        tt.random_matrix((6,), (2, 2), 2)


def test_modes_that_do_not_multiply_to_the_matrix_size_are_refused(xp):
    with pytest.raises(
        tt.ShapeMismatchError,
        match=r"row_modes \(2, 2\) and col_modes \(2, 2\) multiply to \(4, 4\), but matrix has "
        r"shape \(6, 4\)",
    ):
        tt.matrix_from_dense(xp.ones((6, 4)), (2, 2), (2, 2))
    with pytest.raises(tt.ShapeMismatchError, match=r"matrix must be 2-d, got shape \(2, 3, 4\)"):
        tt.matrix_from_dense(xp.ones((2, 3, 4)), (2,), (3,))


def test_non_positive_modes_are_refused(xp):
    with pytest.raises(ValueError, match=r"row_modes must hold positive integers, got \(2, 0\)"):
        tt.matrix_from_dense(xp.ones((2, 3)), (2, 0), (3, 1))
    with pytest.raises(ValueError, match=r"shape must hold positive integers"):
        tt.zeros((3, -1))
    with pytest.raises(TypeError, match=r"shape must be a non-empty sequence of positive integers"):
        tt.ones(())
    with pytest.raises(ValueError, match=r"modes must hold positive integers"):
        tt.eye((2, 0))


# --------------------------------------------------------------------------- products, arithmetic


def test_matvec_operand_of_the_wrong_size_is_refused(xp, W):
    with pytest.raises(
        tt.ShapeMismatchError,
        match=r"W @ x needs x with 8 rows \(W has shape \(6, 8\)\), got x of shape \(7,\)",
    ):
        W @ xp.ones(7)
    with pytest.raises(tt.ShapeMismatchError, match=r"W @ x needs x with 8 rows"):
        W @ xp.ones((3, 6, 2))
    with pytest.raises(
        tt.ShapeMismatchError,
        match=r"x @ W needs x with 6 columns .*got x of shape \(2, 8\)",
    ):
        tt.matmul(xp.ones((2, 8)), W)
    with pytest.raises(tt.ShapeMismatchError, match=r"x must have at least one axis"):
        W @ xp.asarray(1.0)


def test_tt_operands_of_the_wrong_modes_are_refused(xp, W, x):
    with pytest.raises(
        tt.ShapeMismatchError,
        match=r"a @ b needs b's row modes to equal a's column modes \(4, 2\), got \(2, 3, 4\)",
    ):
        W @ x
    with pytest.raises(tt.ShapeMismatchError, match=r"a @ b needs b's row modes"):
        W @ W


def test_products_with_no_ttmatrix_operand_are_refused(xp, x):
    with pytest.raises(TypeError, match=r"matmul has no product of TensorTrain and TensorTrain"):
        tt.matmul(x, x)
    with pytest.raises(
        TypeError,
        match=r"eps and max_rank apply only to products whose result is in TT format",
    ):
        tt.matmul(tt.eye((2, 3), like=xp.zeros(1)), xp.ones(6), eps=0.1)


def test_arithmetic_on_mismatched_operands_is_refused(xp, x, W):
    other = tt.random((2, 3, 5), 2, rng=3, like=xp.zeros(1))
    for op in (tt.add, tt.hadamard, tt.dot):
        with pytest.raises(
            tt.ShapeMismatchError,
            match=r"needs operands of equal modes, got \(2, 3, 4\) and \(2, 3, 5\)",
        ):
            op(x, other)
    with pytest.raises(
        TypeError,
        match=r"add needs operands of one type, got TensorTrain and TTMatrix",
    ):
        x + W
    with pytest.raises(TypeError, match=r"kron needs two TT objects of one type"):
        tt.kron(x, W)
    with pytest.raises(TypeError, match=r"both operands must be TT objects"):
        x + 1.0
    with pytest.raises(TypeError, match=r"both operands must be TT objects"):
        np.ones(x.shape) - x
    with pytest.raises(TypeError, match=r"does not support ufuncs"):
        x * np.ones(x.shape)  # not an object array of TTs


def test_bad_scalars_are_refused(xp, x):
    with pytest.raises(
        TypeError,
        match=r"alpha must be a scalar \(a number or a 0-d array\), got list",
    ):
        tt.scale(x, [2.0])
    with pytest.raises(TypeError, match=r"alpha must be a scalar"):
        tt.scale(x, xp.ones(2))
    with pytest.raises(ValueError, match=r"alpha must be finite, got nan"):
        tt.scale(x, math.nan)
    with pytest.raises(ValueError, match=r"alpha must be finite, got inf"):
        x * math.inf
    for routine in (tt.norm, tt.round, tt.orthogonalize, lambda a: tt.scale(a, 2.0)):
        with pytest.raises(TypeError, match=r"tt must be a TensorTrain or a TTMatrix, got ndarray"):
            routine(np.ones(3))


def test_bad_orthogonalize_mode_and_astype_dtype_are_refused(x):
    with pytest.raises(ValueError, match=r"mode must be 'left' or 'right', got 'up'"):
        tt.orthogonalize(x, "up")
    with pytest.raises(TypeError, match=r"dtype must have a float32"):
        tt.random((2, 3), 2, rng=0).astype(np.float16)


def test_bad_constructor_arguments_are_refused():
    with pytest.raises(ValueError, match=r"ranks must be a positive integer, got 0"):
        tt.random((2, 3), 0)
    with pytest.raises(
        ValueError,
        match=r"ranks of length d \+ 1 must start and end with 1, got \(2, 2, 1\)",
    ):
        tt.clip_ranks((2, 3), (2, 2, 1))
    with pytest.raises(ValueError, match=r"n must be a positive integer, got 0"):
        tt.factor_modes(0)
    with pytest.raises(ValueError, match=r"d must be a positive integer, got 0"):
        tt.factor_modes(16, 0)
    with pytest.raises(TypeError, match=r"dtype must have a float32"):
        tt.zeros((2, 3), dtype=np.float16)


# --------------------------------------------------------------------------- indexing


def test_bad_indices_are_refused(xp, x):
    with pytest.raises(IndexError, match=r"index must have 3 entries \(one per mode\), got 2"):
        x[0, 1]
    with pytest.raises(IndexError, match=r"index 3 is out of range for mode 1 of size 3"):
        x[0, 3, 0]
    with pytest.raises(IndexError, match=r"index -4 is out of range for mode 1"):
        x[0, -4, 0]
    with pytest.raises(IndexError, match=r"index 2 holds values out of range for a mode of size 4"):
        x[0, 0, xp.asarray([0, 4])]
    with pytest.raises(
        TypeError,
        match=r"index 0 must be an integer or an integer array, got slice",
    ):
        x[:, 0, 0]
    with pytest.raises(
        TypeError,
        match=r"index 1 must be an integer or an integer array, got True",
    ):
        x[0, True, 0]
    with pytest.raises(TypeError, match=r"index 2 must have an integer dtype, got \S*float64"):
        x[0, 0, xp.asarray([1.0])]
    with pytest.raises(tt.ShapeMismatchError, match=r"index arrays must broadcast to one shape"):
        x[xp.asarray([0, 1]), xp.asarray([0, 1, 2]), 0]


# --------------------------------------------------------------------------- no mutation


def _snapshot(arrays):
    return [backend.to_numpy(a).copy() for a in arrays]


def _unchanged(arrays, snapshot):
    return all(np.array_equal(backend.to_numpy(a), s) for a, s in zip(arrays, snapshot))


def _every_algorithm(x, W, vector, rows, dense):
    """Run every core routine on a TT, a TT-matrix and dense operands of fitting sizes."""
    other = tt.TensorTrain(x.cores)
    yield x.full()
    yield tt.round(x, eps=0.1)
    yield tt.round(x, max_rank=1)
    yield tt.orthogonalize(x, "left")
    yield tt.orthogonalize(x, "right")
    yield tt.norm(x)
    yield tt.dot(x, other)
    yield x + other
    yield x - other
    yield 2.5 * x
    yield x * other
    yield tt.kron(x, other)
    yield x.conj()
    yield x.astype(x.xp.complex128)
    yield x[(0,) * x.ndim]
    yield W.full()
    yield W.T @ W
    yield W @ vector
    yield tt.matmul(rows, W)
    yield tt.round(W, eps=0.1)
    yield tt.orthogonalize(W, "right")
    yield tt.norm(W)
    yield tt.tt_svd(dense, eps=0.1)
    yield tt.tt_svd(dense, eps=0.0, max_rank=2)
    yield tt.matrix_from_dense(W.full(), W.row_modes, W.col_modes, eps=0.1)


@given(data=st.data())
def test_no_routine_modifies_its_callers_list_or_arrays(xp, data):
    shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple))
    rng = np.random.default_rng(data.draw(seeds()))
    ranks = (1,) + tuple(int(r) for r in rng.integers(1, 3, size=len(shape) - 1)) + (1,)
    cores = [xp.asarray(rng.standard_normal((ranks[k], n, ranks[k + 1])))
             for k, n in enumerate(shape)]
    given_list = list(cores)
    snapshot = _snapshot(cores)
    x = tt.TensorTrain(given_list)
    W = data.draw(tt_matrices(xp, dtype_name="float64"))
    W_cores, W_snapshot = W.cores, _snapshot(W.cores)
    vector = xp.asarray(rng.standard_normal(W.shape[1]))
    rows = xp.asarray(rng.standard_normal((2, W.shape[0])))
    dense = xp.asarray(rng.standard_normal(shape))
    inputs = [vector, rows, dense]
    input_snapshot = _snapshot(inputs)

    for _ in _every_algorithm(x, W, vector, rows, dense):
        pass

    assert len(given_list) == len(cores) and all(a is b for a, b in zip(given_list, cores))
    assert _unchanged(cores, snapshot)
    assert _unchanged(x.cores, snapshot)
    assert _unchanged(W_cores, W_snapshot)
    assert _unchanged(inputs, input_snapshot)


def test_integer_cores_are_converted_without_touching_the_callers_arrays(xp):
    cores = [xp.ones((1, 2, 2), dtype=xp.int32), xp.ones((2, 3, 1), dtype=xp.int32)]
    given_list = list(cores)
    x = tt.TensorTrain(given_list)
    assert x.dtype == xp.float64
    assert all(c.dtype == xp.int32 for c in given_list)
    assert all(a is b for a, b in zip(given_list, cores))
