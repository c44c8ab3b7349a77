"""Test configuration: the array backend under test and the hypothesis profiles.

The backend is chosen by the environment variable ``TENSORTRAIN_TEST_BACKEND``:

* ``numpy`` (default): NumPy arrays through ``array_api_compat.numpy``;
* ``array_api_strict``: the strict reference library of the Array API, which
  refuses everything outside the standard;
* ``cupy``: CuPy arrays on the current GPU. Without CuPy or without a GPU the
  whole run is skipped, with the reason shown in the summary.

BLAS runs on one thread during the tests (through ``threadpoolctl``, when
installed): results are then the same from run to run, and small products
do not pay for thread hand-offs on a busy machine. Speed is measured in
``benchmarks/``, never here.

Hypothesis loads the profile named by ``HYPOTHESIS_PROFILE``, by default
``ci``: derandomized (the same examples on every run, so CI is reproducible),
no deadline (the first call of a product plans its contraction), and a
moderate number of examples. ``dev`` draws more, with random seeds.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from tensortrain import backend

from strategies import load_namespace

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # the tests still run, with the BLAS library's own threads
    pass
else:
    _BLAS_LIMIT = threadpool_limits(limits=1, user_api="blas")

BACKEND = os.environ.get("TENSORTRAIN_TEST_BACKEND", "numpy").strip().lower() or "numpy"

settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=200, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_NAMESPACE, _UNAVAILABLE = load_namespace(BACKEND)


def pytest_report_header(config):
    return f"tensortrain test backend: {BACKEND} (TENSORTRAIN_TEST_BACKEND)"


def pytest_collection_modifyitems(config, items):
    """Skip the whole run when the chosen backend cannot be used here."""
    if not _UNAVAILABLE:
        return
    marker = pytest.mark.skip(reason=f"backend {BACKEND!r} unavailable: {_UNAVAILABLE}")
    for item in items:
        item.add_marker(marker)


@pytest.fixture(scope="session")
def backend_name() -> str:
    """The name of the backend under test."""
    return BACKEND


@pytest.fixture(scope="session")
def xp():
    """The Array API namespace of the backend under test."""
    return _NAMESPACE


@pytest.fixture(scope="session")
def asarray(xp):
    """Convert a NumPy array (or nested list) to an array of the backend under test."""

    def convert(value, dtype=None):
        value = np.asarray(value)
        if dtype is not None:
            value = value.astype(dtype)
        return xp.asarray(value)

    return convert


@pytest.fixture(scope="session")
def to_numpy():
    """Copy any backend array to a NumPy array (``tensortrain.backend.to_numpy``)."""
    return backend.to_numpy
