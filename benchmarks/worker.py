"""One benchmark pass at one thread setting, run in its own process.

The parent (``python -m benchmarks``) starts ``python -m benchmarks.worker``
with ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS``
already set, so that BLAS reads them before NumPy is first imported; this
module also pins torch's pool. It writes its measurements as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import warnings

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """Command line of the worker (not meant for people)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--only", required=True, help="comma-separated workload names")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", required=True, help="JSON file to write")
    return parser.parse_args(argv)


def _check_pinning(threads: int) -> None:
    """Refuse to measure if the thread variables do not match or came too late."""
    if "numpy" in sys.modules:
        raise RuntimeError("numpy was imported before the thread variables could apply")
    for variable in THREAD_VARIABLES:
        if os.environ.get(variable) != str(threads):
            raise RuntimeError(f"{variable} must be {threads}, got {os.environ.get(variable)!r}")


def _thread_pools(peers) -> dict:
    """What threadpoolctl and torch report once every library is loaded."""
    from threadpoolctl import threadpool_info

    pools = threadpool_info()
    torch = next((p.mods["torch"] for p in peers if "torch" in p.mods), None)
    return {"threadpoolctl": pools, "torch_threads": torch.get_num_threads() if torch else None}


def _progress(threads: int, message: str) -> None:
    """One progress line on stderr (stdout stays free for the parent)."""
    plural = "s" if threads > 1 else ""
    print(f"  [{threads} thread{plural}] {message}", file=sys.stderr, flush=True)


def run(threads: int, names: list[str], quick: bool) -> dict:
    """Measure the named workloads and return everything as plain data."""
    from benchmarks.harness import FULL, QUICK, run_case
    from benchmarks.peers import make_peers
    from benchmarks.workloads import WORKLOADS, gemm_rates

    settings = QUICK if quick else FULL
    peers = make_peers()
    for peer in peers:
        if peer.status == "ok":
            peer.set_threads(threads)
    report = {
        "threads": threads,
        "settings": dataclasses.asdict(settings),
        "pools": _thread_pools(peers),
        "peers": [{"name": p.name, "status": p.status, "version": p.version} for p in peers],
        "cases": [],
        "load_before": os.getloadavg(),
    }
    gemm_before = gemm_rates(settings)
    deadline = time.perf_counter() + settings.pass_budget
    for name in names:
        start = time.perf_counter()
        for case in WORKLOADS[name]():
            results = run_case(case, peers, settings, deadline)
            report["cases"].append({
                "workload": case.workload, "title": case.title, "check": case.check,
                "results": {lib: dataclasses.asdict(m) for lib, m in results.items()},
            })
        _progress(threads, f"{name}: {time.perf_counter() - start:.1f} s")
    report["gemm"] = _best_rates(gemm_before, gemm_rates(settings))
    report["load_after"] = os.getloadavg()
    return report


def _best_rates(before: list[dict], after: list[dict]) -> list[dict]:
    """Per shape, the faster of the GEMM rates measured before and after the workloads."""
    return [max(pair, key=lambda row: row["gflops"]) for pair in zip(before, after)]


def main(argv: list[str] | None = None) -> int:
    """Entry point: pin threads, measure, write JSON."""
    args = _parse(argv)
    _check_pinning(args.threads)
    warnings.simplefilter("ignore")
    report = run(args.threads, args.only.split(","), args.quick)
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(report, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
