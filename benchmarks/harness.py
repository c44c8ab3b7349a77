"""Timing harness: check each library once, then time them interleaved.

A :class:`Case` holds one set of inputs and, per library, a prepared callable.
:func:`run_case` runs every callable once and checks its result (that run is
also the first warm-up), calibrates how many calls make one sample, and then
times the libraries round-robin -- each round in a rotated order -- so that a
noisy neighbour on a shared machine slows all of them alike.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from benchmarks.peers import NotAvailable, Peer

__all__ = ["Settings", "Case", "Measurement", "run_case", "summarize", "QUICK", "FULL"]


@dataclass(frozen=True)
class Settings:
    """How hard to measure.

    Attributes
    ----------
    rounds : int
        Interleaved rounds; each gives one sample per library.
    min_rounds : int
        Rounds kept even when a case would exceed ``case_budget``.
    sample_time : float
        Seconds one sample should last; fast calls are repeated to reach it.
    warmups : int
        Untimed calls per library before timing (the checked call counts as one).
    case_budget : float
        Seconds of timing aimed at per case; rounds shrink towards ``min_rounds``.
    pass_budget : float
        Seconds one thread setting may take; past it, cases stop after
        ``last_resort_rounds`` rounds (a loaded machine must not stretch the run).
    last_resort_rounds : int
        Rounds kept past a deadline.
    """

    rounds: int
    min_rounds: int
    sample_time: float
    warmups: int
    case_budget: float
    pass_budget: float
    last_resort_rounds: int


QUICK = Settings(rounds=3, min_rounds=3, sample_time=0.002, warmups=1, case_budget=1.5,
                 pass_budget=45.0, last_resort_rounds=1)
FULL = Settings(rounds=11, min_rounds=7, sample_time=0.05, warmups=2, case_budget=20.0,
                pass_budget=300.0, last_resort_rounds=3)


@dataclass
class Case:
    """One set of inputs and how to run and check every library on it.

    Attributes
    ----------
    workload : str
        Registry name of the workload this case belongs to.
    title : str
        Human description of the inputs, shown as the table heading.
    operation : str
        Peer method that prepares the call (``"tt_svd"``, ``"matmul"``, ...).
    args : tuple
        Arguments passed to that method (NumPy inputs, never converted yet).
    kind : str
        How a result is read back: ``"cores"``, ``"array"`` or ``"float"``.
    verify : callable
        Takes the read-back result, returns ``(relative error, max rank or None)``.
    check : str
        What the error column is measured against.
    extra_peers : list of Peer
        Baselines that take part in this case only (e.g. the dense product).
    flops : callable or None
        Takes a peer, returns ``(flop count, how it was counted)``; ``None`` for
        cases without a GFLOP/s column.
    """

    workload: str
    title: str
    operation: str
    args: tuple
    kind: str
    verify: Callable
    check: str
    extra_peers: list = field(default_factory=list)
    flops: Callable | None = None


@dataclass
class Measurement:
    """What one library did on one case."""

    status: str
    detail: str = ""
    times: list = field(default_factory=list)
    error: float | None = None
    rank: int | None = None
    flops: int | None = None
    flops_source: str = ""
    note: str = ""


def _read_back(peer: Peer, kind: str, result):
    """Turn a library result into NumPy according to the case's kind."""
    reader = {"cores": peer.to_cores, "array": peer.to_array, "float": peer.to_float}[kind]
    return reader(result)


def _prepare(peer: Peer, case: Case) -> tuple[Callable | None, Measurement, float]:
    """Build the library's callable, time and check one result of it."""
    if peer.status != "ok":
        return None, Measurement(status="not installed", detail=peer.status), 0.0
    try:
        call = getattr(peer, case.operation)(*case.args)
        start = time.perf_counter()
        result = call()
        once = max(time.perf_counter() - start, 1e-7)
        error, rank = case.verify(_read_back(peer, case.kind, result))
    except NotAvailable:
        return None, Measurement(status="n/a"), 0.0
    except Exception as exc:  # a failing library is reported, not fatal
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return None, Measurement(status="error", detail=detail[:300]), 0.0
    measurement = Measurement(status="ok", error=error, rank=rank)
    measurement.note = peer.notes.get(case.operation, "")
    if case.flops is not None:
        measurement.flops, measurement.flops_source = case.flops(peer)
    return call, measurement, once


def _calls_per_sample(call: Callable, first: float, settings: Settings) -> int:
    """Warm up, then pick how many calls make one sample of ``sample_time``.

    The checked call (which took ``first`` seconds) was the first warm-up; slow
    calls get no other, fast ones -- where caches and allocators still matter --
    get ``warmups - 1`` more and a second, warm estimate of their duration.
    """
    if first >= settings.sample_time:
        return 1
    for _ in range(settings.warmups - 1):
        call()
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, math.ceil(settings.sample_time / once))


def _time_sample(call: Callable, repeats: int) -> float:
    """Seconds per call, averaged over ``repeats`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - start) / repeats


def run_case(
    case: Case, peers: list[Peer], settings: Settings, deadline: float = math.inf
) -> dict[str, Measurement]:
    """Check and time every library on one case.

    Parameters
    ----------
    case : Case
        Inputs and the operation to run.
    peers : list of Peer
        Loaded adapters; ``case.extra_peers`` are appended.
    settings : Settings
        Rounds, sample length and budget.
    deadline : float, optional
        ``time.perf_counter()`` value after which timing stops at
        ``settings.last_resort_rounds`` rounds; so it does, whatever the deadline, once the
        timing took twice ``settings.case_budget`` (calls stalled by other load).

    Returns
    -------
    dict of str to Measurement
        One entry per library, in table order.
    """
    results, calls, firsts = {}, {}, {}
    for peer in [*peers, *case.extra_peers]:
        call, results[peer.name], first = _prepare(peer, case)
        if call is not None:
            calls[peer.name], firsts[peer.name] = call, first
    if not calls:
        return results
    repeats = {name: _calls_per_sample(calls[name], firsts[name], settings) for name in calls}
    per_round = sum(max(repeats[name] * settings.sample_time, firsts[name]) for name in calls)
    rounds = int(min(settings.rounds, max(settings.min_rounds, settings.case_budget // per_round)))
    names = list(calls)
    deadline = min(deadline, time.perf_counter() + 2 * settings.case_budget)
    for index in range(rounds):
        if index >= settings.last_resort_rounds and time.perf_counter() > deadline:
            break
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].times.append(_time_sample(calls[name], repeats[name]))
    return results


def summarize(times: list[float]) -> dict[str, float]:
    """Median, quartiles, minimum and maximum of a list of seconds."""
    values = np.asarray(times, dtype=np.float64)
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {"median": median, "q1": q1, "q3": q3, "min": values.min(), "max": values.max()}
