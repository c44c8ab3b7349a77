"""Hypothesis strategies for the core tests, and the tolerances they are judged by.

Sizes are kept small (at most 4096 dense entries) so that every property can
be checked against the dense NumPy twin of the TT object. Values are drawn
from a seeded NumPy generator rather than element by element: hypothesis
chooses the structure (modes, ranks, dtype, seed, noise level) and shrinks it,
and the arrays are Gaussian, which is what the algorithms are meant for.

Every builder takes the Array API namespace ``xp`` of the backend under test
(the ``xp`` fixture) and returns arrays or TT objects of that library.
"""

from __future__ import annotations

import importlib
import math

import numpy as np
from hypothesis import strategies as st

import tensortrain as tt
from tensortrain import backend

__all__ = [
    "BACKENDS",
    "load_namespace",
    "DTYPE_NAMES",
    "MAX_SIZE",
    "dtype_names",
    "seeds",
    "shapes",
    "bond_ranks",
    "matrix_modes",
    "eps_values",
    "gaussian",
    "random_cores",
    "tensor_trains",
    "tt_matrices",
    "dense_tensors",
    "scalars",
    "dtype_str",
    "unit_roundoff",
    "relative_error",
    "least_precise",
    "assert_close",
]

BACKENDS = ("numpy", "array_api_strict", "cupy")
DTYPE_NAMES = ("float32", "float64", "complex128")
MAX_SIZE = 4096


def load_namespace(name: str):
    """The Array API namespace of backend ``name``, or a reason it is unavailable.

    Returns
    -------
    (namespace or None, str)
        The namespace and an empty string, or None and why it cannot be used.
    """
    if name not in BACKENDS:
        raise ValueError(
            f"TENSORTRAIN_TEST_BACKEND must be one of {', '.join(BACKENDS)}, got {name!r}"
        )
    if name == "numpy":
        return importlib.import_module("array_api_compat.numpy"), ""
    if name == "array_api_strict":
        try:
            return importlib.import_module("array_api_strict"), ""
        except ImportError:
            return None, "array_api_strict is not installed (pip install array-api-strict)"
    try:
        cupy = importlib.import_module("cupy")
    except ImportError:
        return None, "cupy is not installed, so the cupy backend cannot be tested"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None, "cupy is installed but no GPU is visible"
    except Exception as err:  # noqa: BLE001 - any CUDA failure means "no usable GPU"
        return None, f"cupy is installed but no GPU is usable: {err}"
    return importlib.import_module("array_api_compat.cupy"), ""


def dtype_names(names=DTYPE_NAMES):
    """One of the dtype names the library computes in."""
    return st.sampled_from(names)


def seeds():
    """A seed for ``numpy.random.default_rng``."""
    return st.integers(0, 2**32 - 1)


@st.composite
def shapes(draw, min_dims=1, max_dims=8, max_mode=6, max_size=MAX_SIZE):
    """Mode sizes with ``min_dims <= d <= max_dims``, modes of 1 included, ``prod <= max_size``.

    Each mode is drawn within what is left of the size budget, so large d
    comes with small modes instead of being filtered away.
    """
    d = draw(st.integers(min_dims, max_dims))
    modes, budget = [], max_size
    for _ in range(d):
        n = draw(st.integers(1, max(1, min(max_mode, budget))))
        modes.append(n)
        budget //= n
    return tuple(modes)


def bond_ranks(num_bonds: int, max_rank: int = 4):
    """``num_bonds`` inner ranks, each in ``1..max_rank`` (not clipped)."""
    return st.lists(st.integers(1, max_rank), min_size=num_bonds, max_size=num_bonds).map(tuple)


@st.composite
def matrix_modes(draw, min_dims=1, max_dims=4, max_mode=4, max_size=MAX_SIZE):
    """``(row_modes, col_modes)`` of one length with ``prod(row) * prod(col) <= max_size``."""
    d = draw(st.integers(min_dims, max_dims))
    rows, cols, budget = [], [], max_size
    for _ in range(d):
        m = draw(st.integers(1, max(1, min(max_mode, budget))))
        budget //= m
        n = draw(st.integers(1, max(1, min(max_mode, budget))))
        budget //= n
        rows.append(m)
        cols.append(n)
    return tuple(rows), tuple(cols)


def eps_values(dtype_name: str):
    """Relative accuracies a routine can meet in ``dtype_name``.

    float32 rounding is about 6e-8 per operation, so a bound of ``eps``
    cannot be checked for ``eps`` near it: eps >= 1e-3 there, 1e-12 otherwise.
    """
    low = 1e-3 if dtype_name == "float32" else 1e-12
    return st.floats(low, 0.5).map(lambda eps: float(eps))


def gaussian(rng, shape, dtype_name: str) -> np.ndarray:
    """Standard normal NumPy values of ``dtype_name`` (complex: variance 1/2 per part)."""
    values = rng.standard_normal(shape)
    if dtype_name.startswith("complex"):
        values = (values + 1j * rng.standard_normal(shape)) / math.sqrt(2)
    return values.astype(dtype_name)


def random_cores(rng, mode_shapes, ranks, dtype_name: str, xp):
    """Gaussian cores ``(r_{k-1}, *mode_shapes[k], r_k)`` on the backend ``xp``.

    ``ranks`` holds the ``d - 1`` inner ranks; they are used as given, so a
    core can be rank-deficient, which rounding must then detect.
    """
    full_ranks = (1, *ranks, 1)
    return [
        xp.asarray(gaussian(rng, (full_ranks[k], *modes, full_ranks[k + 1]), dtype_name))
        for k, modes in enumerate(mode_shapes)
    ]


@st.composite
def tensor_trains(draw, xp, shape=None, dtype_name=None, max_rank=4, dtypes=DTYPE_NAMES):
    """A :class:`TensorTrain` with Gaussian cores on the backend ``xp``.

    ``shape`` and ``dtype_name`` are drawn unless given, so that two draws with
    the same values give operands for a binary operation.
    """
    shape = draw(shapes()) if shape is None else tuple(shape)
    dtype_name = draw(dtype_names(dtypes)) if dtype_name is None else dtype_name
    ranks = draw(bond_ranks(len(shape) - 1, max_rank))
    rng = np.random.default_rng(draw(seeds()))
    return tt.TensorTrain(random_cores(rng, [(n,) for n in shape], ranks, dtype_name, xp))


@st.composite
def tt_matrices(draw, xp, modes=None, dtype_name=None, max_rank=3, dtypes=DTYPE_NAMES):
    """A :class:`TTMatrix` with Gaussian cores on the backend ``xp``.

    ``modes`` is ``(row_modes, col_modes)``; drawn unless given.
    """
    row_modes, col_modes = draw(matrix_modes()) if modes is None else modes
    dtype_name = draw(dtype_names(dtypes)) if dtype_name is None else dtype_name
    ranks = draw(bond_ranks(len(row_modes) - 1, max_rank))
    rng = np.random.default_rng(draw(seeds()))
    mode_shapes = list(zip(row_modes, col_modes))
    return tt.TTMatrix(random_cores(rng, mode_shapes, ranks, dtype_name, xp))


@st.composite
def dense_tensors(draw, xp, dtypes=DTYPE_NAMES, max_dims=6, shape=None):
    """A dense tensor of low TT rank plus noise of a drawn relative level, on ``xp``.

    The noise level (0 to 1) decides how much any truncation has to discard,
    so a TT-SVD at a given eps sees anything from an exact low-rank tensor to
    a full-rank one.
    """
    shape = draw(shapes(max_dims=max_dims)) if shape is None else tuple(shape)
    dtype_name = draw(dtype_names(dtypes))
    ranks = draw(bond_ranks(len(shape) - 1, 3))
    noise = draw(st.sampled_from((0.0, 1e-8, 1e-4, 1e-2, 1.0)))
    rng = np.random.default_rng(draw(seeds()))
    cores = [gaussian(rng, (r0, n, r1), "float64" if dtype_name == "float32" else dtype_name)
             for r0, n, r1 in zip((1, *ranks), shape, (*ranks, 1))]
    dense = tt.TensorTrain(cores).full()
    scale = np.linalg.norm(dense) / math.sqrt(dense.size)
    dense = dense + noise * scale * gaussian(rng, shape, dense.dtype.name)
    return xp.asarray(dense.astype(dtype_name))


def scalars():
    """Python, NumPy and complex scalars of magnitude 1e-3 to 1e3, zero included.

    Smaller magnitudes would underflow float32 cores, which is rounding, not
    a property of the library.
    """
    magnitudes = st.floats(1e-3, 1e3)
    values = magnitudes | magnitudes.map(lambda v: -v)
    return st.one_of(
        values,
        st.integers(-100, 100),
        st.builds(complex, values, values),
        values.map(np.float64),
        values.map(np.float32),
        st.builds(complex, values, values).map(np.complex128),
        st.just(0.0),
    )


def dtype_str(dtype) -> str:
    """The NumPy name (``"float32"``, ...) of a NumPy, CuPy or array-api-strict dtype."""
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype).rsplit(".", 1)[-1]


def unit_roundoff(dtype) -> float:
    """Machine epsilon of a (NumPy or backend) floating dtype."""
    return float(np.finfo(np.dtype(dtype_str(dtype))).eps)


def relative_error(got, want, scale=None) -> float:
    """``||got - want||_F / scale`` on NumPy copies; ``scale`` defaults to ``||want||_F``.

    Pass the size of the operands as ``scale`` where the result may cancel
    (a sum is only accurate relative to its terms). A zero scale gives the
    absolute error.
    """
    got = backend.to_numpy(got).astype(np.complex128)
    want = backend.to_numpy(want).astype(np.complex128)
    assert got.shape == want.shape, f"shape {got.shape} != expected {want.shape}"
    scale = np.linalg.norm(want) if scale is None else float(scale)
    diff = np.linalg.norm(got - want)
    return float(diff / scale) if scale > 0 else float(diff)


def least_precise(*dtypes):
    """The dtype with the largest roundoff, which bounds a mixed computation's accuracy."""
    return max(dtypes, key=unit_roundoff)


def assert_close(got, want, dtype, factor: float = 1e3, scale=None):
    """Assert ``got`` matches ``want`` within ``factor`` roundoffs of ``dtype``, relatively.

    ``dtype`` is the (least precise) dtype of the computation; the default
    factor allows for the few hundred operations a small TT routine
    performs. ``scale`` is as for :func:`relative_error`.
    """
    err = relative_error(got, want, scale)
    tol = factor * unit_roundoff(dtype)
    assert err <= tol, f"relative error {err:.3e} exceeds {tol:.3e} ({dtype_str(dtype)})"
