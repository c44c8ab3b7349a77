"""Sums, scaling, Hadamard and Kronecker products, dot and norm against their dense twins."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensortrain as tt
from tensortrain import backend

from strategies import (
    assert_close,
    dtype_names,
    least_precise,
    matrix_modes,
    scalars,
    shapes,
    tensor_trains,
    tt_matrices,
    unit_roundoff,
)


def _dense(x) -> np.ndarray:
    return backend.to_numpy(x.full())


@st.composite
def _pairs(draw, xp, same_dtype=True):
    """Two TT tensors, or two TT-matrices, of equal modes on ``xp``."""
    if draw(st.booleans()):
        shape = draw(shapes())
        first = draw(dtype_names())
        second = first if same_dtype else draw(dtype_names())
        return (draw(tensor_trains(xp, shape=shape, dtype_name=first)),
                draw(tensor_trains(xp, shape=shape, dtype_name=second)))
    modes = draw(matrix_modes())
    first = draw(dtype_names())
    second = first if same_dtype else draw(dtype_names())
    return (draw(tt_matrices(xp, modes=modes, dtype_name=first)),
            draw(tt_matrices(xp, modes=modes, dtype_name=second)))


def _size(x) -> float:
    return float(np.linalg.norm(_dense(x)))


def _result_dtype(xp, a, b):
    return xp.result_type(a.dtype, b.dtype)


@given(data=st.data())
def test_sum_equals_dense_sum(xp, data):
    a, b = data.draw(_pairs(xp, same_dtype=False))
    c = a + b
    assert type(c) is type(a)
    assert c.dtype == _result_dtype(xp, a, b)
    assert c.ranks[1:-1] == tuple(ra + rb for ra, rb in zip(a.ranks[1:-1], b.ranks[1:-1]))
    size = _size(a) + _size(b)
    dtype = least_precise(a.dtype, b.dtype)
    assert_close(c.full(), _dense(a) + _dense(b), dtype, scale=size)
    assert_close(tt.add(a, b).full(), _dense(a) + _dense(b), dtype, scale=size)


@given(data=st.data())
def test_difference_equals_dense_difference(xp, data):
    a, b = data.draw(_pairs(xp))
    assert_close((a - b).full(), _dense(a) - _dense(b), a.dtype, scale=_size(a) + _size(b))
    assert_close((-a).full(), -_dense(a), a.dtype)
    assert_close((+a).full(), _dense(a), a.dtype)


@given(data=st.data(), alpha=scalars())
def test_scaling_equals_dense_scaling(xp, data, alpha):
    x = data.draw(tensor_trains(xp) | tt_matrices(xp))
    expected = complex(alpha) * _dense(x).astype(np.complex128)
    for scaled in (alpha * x, x * alpha, tt.scale(x, alpha)):
        assert type(scaled) is type(x)
        assert_close(scaled.full(), expected, x.dtype)
    if isinstance(alpha, complex) or np.iscomplexobj(alpha):
        assert backend.is_complex_dtype(xp, (alpha * x).dtype)
    if alpha != 0:
        assert_close((x / alpha).full(), _dense(x) / complex(alpha), x.dtype)


@given(
    data=st.data(),
    value=st.floats(-10, 10) | st.builds(complex, st.floats(-3, 3), st.floats(-3, 3)),
)
def test_scaling_by_a_zero_dimensional_array_equals_dense_scaling(xp, data, value):
    # array-api-strict's Array.__mul__ raises TypeError on foreign operands
    # instead of returning NotImplemented, so ``alpha * x`` with a backend
    # array on the left is only checked for NumPy's 0-d arrays.
    x = data.draw(tensor_trains(xp))
    alpha = xp.asarray(value)
    expected = complex(value) * _dense(x)
    assert_close((x * alpha).full(), expected, x.dtype)
    assert_close(tt.scale(x, alpha).full(), expected, x.dtype)
    assert_close((np.asarray(value) * x).full(), expected, x.dtype)


@given(data=st.data())
def test_scaling_by_zero_gives_exact_zeros(xp, data):
    x = data.draw(tensor_trains(xp))
    assert np.array_equal(_dense(0 * x), np.zeros(x.shape))


def test_scaling_keeps_single_precision(xp):
    x = tt.random((2, 3), 2, rng=0, dtype=xp.float32, like=xp.zeros(1))
    assert (2.5 * x).dtype == xp.float32
    assert (np.float64(2.5) * x).dtype == xp.float32
    assert (1j * x).dtype == xp.complex64


@given(data=st.data())
def test_hadamard_product_equals_dense_elementwise_product(xp, data):
    a, b = data.draw(_pairs(xp, same_dtype=False))
    c = a * b
    assert c.ranks == tuple(ra * rb for ra, rb in zip(a.ranks, b.ranks))
    dtype = least_precise(a.dtype, b.dtype)
    assert_close(c.full(), _dense(a) * _dense(b), dtype)
    assert_close(tt.hadamard(a, b).full(), _dense(a) * _dense(b), dtype)


@given(data=st.data())
def test_dot_equals_numpy_vdot_of_full(xp, data):
    a, b = data.draw(_pairs(xp, same_dtype=False))
    got = backend.to_numpy(tt.dot(a, b))
    assert got.shape == ()
    expected = np.vdot(_dense(a), _dense(b))
    scale = np.linalg.norm(_dense(a)) * np.linalg.norm(_dense(b))
    assert abs(got - expected) <= 1e3 * unit_roundoff(least_precise(a.dtype, b.dtype)) * scale


@given(data=st.data())
def test_dot_conjugates_its_first_argument(xp, data):
    a, b = data.draw(_pairs(xp))
    ab = complex(backend.to_numpy(tt.dot(a, b)))
    ba = complex(backend.to_numpy(tt.dot(b, a)))
    scale = float(np.linalg.norm(_dense(a)) * np.linalg.norm(_dense(b)))
    assert abs(ab - ba.conjugate()) <= 1e3 * unit_roundoff(a.dtype) * scale


@given(data=st.data())
def test_norm_equals_dense_frobenius_norm(xp, data):
    x = data.draw(tensor_trains(xp) | tt_matrices(xp))
    got = backend.to_numpy(tt.norm(x))
    assert got.shape == () and not np.iscomplexobj(got)
    expected = float(np.linalg.norm(_dense(x)))
    assert float(got) == pytest.approx(expected, rel=1e3 * unit_roundoff(x.dtype))
    assert float(backend.to_numpy(x.norm())) == pytest.approx(float(got), rel=1e-6)


@given(data=st.data())
def test_norm_of_a_nearly_cancelling_difference_is_accurate(xp, data):
    # y = x + 1e-10 z, so x - y = -1e-10 z. The entries of x - y cancel to
    # about 1e-10 of their size, and sqrt(dot(x - y, x - y)) would lose the
    # result entirely (its rounding is ~1e-16 ||x||^2 against 1e-20 ||z||^2),
    # while the QR-based norm only loses ~1e-16 / 1e-10 relative digits.
    shape = data.draw(shapes(min_dims=2))
    x = data.draw(tensor_trains(xp, shape=shape, dtype_name="float64"))
    z = data.draw(tensor_trains(xp, shape=shape, dtype_name="float64"))
    y = x + 1e-10 * z
    expected = np.linalg.norm(_dense(x) - _dense(y))
    scale = float(np.linalg.norm(_dense(x))) / float(np.linalg.norm(_dense(z)))
    # Dense and TT results each carry ~1e-6 * scale relative rounding.
    tol = max(1e-4, 1e-4 * scale)
    assert float(backend.to_numpy(tt.norm(x - y))) == pytest.approx(expected, rel=tol)
    assert float(backend.to_numpy(tt.norm(x - y))) == pytest.approx(
        1e-10 * float(np.linalg.norm(_dense(z))), rel=tol
    )


def _rank_one(xp, log10_sizes, seed=0):
    """A rank-1 TT whose k-th core has norm ``10 ** log10_sizes[k]`` times O(1)."""
    rng = np.random.default_rng(seed)
    values = [10.0**s * rng.uniform(0.5, 1.5, (1, 2, 1)) for s in log10_sizes]
    log_norm = sum(math.log(np.linalg.norm(v)) for v in values)
    return tt.TensorTrain([xp.asarray(v) for v in values]), values, log_norm


@pytest.mark.parametrize("log10_size", [4.5, -4.5])
def test_norm_of_sixty_cores_neither_overflows_nor_underflows(xp, log10_size):
    # Cores of norm ~10^(+-4.65) give a norm of ~10^(+-279), which fits a
    # float64, while its square (what dot(x, x) holds) does not.
    x, _, log_norm = _rank_one(xp, [log10_size] * 60)
    got = float(backend.to_numpy(tt.norm(x)))
    assert math.isfinite(got) and got > 0
    assert math.log(got) == pytest.approx(log_norm, abs=1e-10)


def test_dot_of_sixty_cores_survives_partial_products_beyond_the_float_range(xp):
    # <a_k, b_k> ~ 1e20 for k < 30 and ~1e-20 after: the result is O(1), but
    # the partial products of a sweep reach 1e600.
    a, a_values, _ = _rank_one(xp, [10.0] * 30 + [-10.0] * 30, seed=1)
    b, b_values, _ = _rank_one(xp, [10.0] * 30 + [-10.0] * 30, seed=2)
    expected = sum(math.log(float(np.vdot(u, v))) for u, v in zip(a_values, b_values))
    got = float(backend.to_numpy(tt.dot(a, b)))
    assert math.isfinite(got) and got > 0
    assert math.log(got) == pytest.approx(expected, abs=1e-10)


def test_norm_and_dot_of_a_kronecker_product_of_long_trains_add_in_logarithms(xp):
    # ||kron(a, b)|| = ||a|| ||b|| and <kron(a, c), kron(a, c)> = <a, a> <c, c>,
    # for rank-3 trains of 30 cores. Entries of size 1e4 make ||a||, ||b|| about
    # 1e131, so ||kron(a, b)|| and <a, a> are about 1e262; c has entries of
    # size 1e-4, so the last sweep climbs to 1e262 and comes back to O(1).
    like = xp.zeros(1)
    a, b = (tt.random((2,) * 30, 3, rng=s, like=like, std=1e4) for s in (1, 2))
    c = tt.random((2,) * 30, 3, rng=3, like=like, std=1e-4)

    def log_of(value):
        return math.log(float(backend.to_numpy(value)))

    log_a, log_b = log_of(tt.norm(a)), log_of(tt.norm(b))
    assert log_of(tt.norm(tt.kron(a, b))) == pytest.approx(log_a + log_b, abs=1e-9)
    assert log_of(tt.dot(a, a)) == pytest.approx(2 * log_a, abs=1e-9)
    ac = tt.kron(a, c)
    assert log_of(tt.dot(ac, ac)) == pytest.approx(2 * log_a + log_of(tt.dot(c, c)), abs=1e-9)


@given(data=st.data())
def test_kron_of_tensors_equals_the_dense_outer_product(xp, data):
    a = data.draw(tensor_trains(xp, shape=data.draw(shapes(max_dims=3, max_size=64))))
    b = data.draw(tensor_trains(xp, shape=data.draw(shapes(max_dims=3, max_size=64))))
    c = tt.kron(a, b)
    assert c.shape == a.shape + b.shape
    assert_close(c.full(), np.multiply.outer(_dense(a), _dense(b)), least_precise(a.dtype, b.dtype))


@given(data=st.data())
def test_kron_of_matrices_equals_numpy_kron(xp, data):
    a = data.draw(tt_matrices(xp, modes=data.draw(matrix_modes(max_dims=2, max_size=64))))
    b = data.draw(tt_matrices(xp, modes=data.draw(matrix_modes(max_dims=2, max_size=64))))
    c = tt.kron(a, b)
    assert c.row_modes == a.row_modes + b.row_modes
    assert c.col_modes == a.col_modes + b.col_modes
    assert_close(c.full(), np.kron(_dense(a), _dense(b)), least_precise(a.dtype, b.dtype))


@given(data=st.data())
def test_conj_equals_dense_conjugate(xp, data):
    x = data.draw(tensor_trains(xp) | tt_matrices(xp))
    assert_close(x.conj().full(), np.conj(_dense(x)), x.dtype)


def test_products_of_unbalanced_trains_stay_finite():
    """A scale that sits in one core (as after ``1e200 * x``) does not overflow dot or Hadamard."""
    dense = np.random.default_rng(0).standard_normal((3, 4, 5))
    x = tt.tt_svd(dense * 1e-200) * 1e200
    assert np.isclose(float(tt.dot(x, x)), np.vdot(dense, dense), rtol=1e-12)
    assert np.isclose(float(tt.norm(x * x)), np.linalg.norm(dense * dense), rtol=1e-12)
    assert np.allclose((x * x).full(), dense * dense, rtol=1e-10, atol=1e-12)
    outer = tt.kron(1e200 * tt.ones((2,)), 1e-200 * tt.ones((2,)))
    assert float(tt.dot(outer, tt.ones((2, 2)))) == pytest.approx(4.0, rel=1e-14)


def test_scaling_spreads_large_factors_over_the_cores():
    x = tt.random((2,) * 8, 2, rng=0, dtype=np.float32)
    scaled = x * 1e30
    assert all(np.isfinite(c).all() for c in scaled.cores)
    assert np.allclose(scaled.full() / 1e30, x.full(), rtol=1e-5)
