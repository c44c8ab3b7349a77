"""Benchmarks of tensortrain against its peers (teneva, tensorly, torchTT).

Run ``python -m benchmarks`` from the repository root; it writes
``docs/performance.md``. This package is not installed with tensortrain, and
importing it must not import NumPy: the worker processes set the BLAS thread
variables first.
"""
