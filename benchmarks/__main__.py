"""Command line: ``python -m benchmarks [--quick] [--only NAME[,NAME]]``.

Runs one worker process per thread setting (so that the BLAS thread variables
are set before NumPy loads), one memory probe per library, and writes the
Markdown report. A full, unfiltered run writes ``docs/performance.md``; a
``--quick`` or ``--only`` run writes ``build/performance-partial.md`` unless
``--output`` says otherwise, so that a smoke test never replaces the report.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time

from benchmarks.report import machine_info, render, today
from benchmarks.worker import THREAD_VARIABLES

FULL_REPORT = "docs/performance.md"
PARTIAL_REPORT = "build/performance-partial.md"
SKIPPED = "ttpy: not benchmarked (no wheel for Python 3.11; its source build fails here)"


def _workload_names() -> list[str]:
    """Every workload the worker knows, plus the memory probe."""
    from benchmarks.workloads import WORKLOADS

    return [*WORKLOADS, "memory"]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """Parse and validate the command line."""
    names = _workload_names()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="few rounds and short samples: a smoke test of a few seconds each")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(names)}")
    parser.add_argument("--threads", default="1,2", help="thread settings (default: 1,2)")
    parser.add_argument("--output", help=f"report path (default: {FULL_REPORT} for a full run)")
    args = parser.parse_args(argv)
    args.selected = names if args.only is None else args.only.split(",")
    unknown = [name for name in args.selected if name not in names]
    if unknown:
        parser.error(f"--only must name workloads among {names}, got {unknown}")
    args.thread_counts = [int(t) for t in args.threads.split(",")]
    partial = args.quick or args.only is not None
    args.output = args.output or (PARTIAL_REPORT if partial else FULL_REPORT)
    return args


def _pinned_env(threads: int) -> dict:
    """This environment with every BLAS thread variable set to ``threads``."""
    env = dict(os.environ)
    env.update({variable: str(threads) for variable in THREAD_VARIABLES})
    return env


def _run_json(module: str, arguments: list[str], threads: int) -> tuple[dict | None, str]:
    """Run ``python -m module`` pinned to ``threads``; return its JSON or why not."""
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "out.json")
        command = [sys.executable, "-m", module, *arguments, "--out", out]
        done = subprocess.run(command, env=_pinned_env(threads), stdout=subprocess.DEVNULL,
                              stderr=None, check=False)
        if done.returncode != 0 or not os.path.exists(out):
            return None, f"`{' '.join(command[1:3])}` exited with {done.returncode}"
        with open(out, encoding="utf-8") as handle:
            return json.load(handle), ""


def _version(distribution: str) -> str:
    """Installed version of a distribution, or ``not installed``."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _passes(args: argparse.Namespace, failures: list[str]) -> list[dict]:
    """One worker per thread setting over the selected workloads."""
    names = [name for name in args.selected if name != "memory"]
    if not names:
        return []
    passes = []
    for threads in args.thread_counts:
        print(f"pass with {threads} thread(s): {', '.join(names)}", flush=True)
        worker_args = ["--threads", str(threads), "--only", ",".join(names)]
        record, why = _run_json("benchmarks.worker", worker_args + ["--quick"] * args.quick,
                                threads)
        if record is None:
            failures.append(f"{threads}-thread pass: {why}")
        else:
            passes.append(record)
    return passes


def _memory(args: argparse.Namespace) -> list[dict]:
    """One fresh memory probe per library, pinned to one thread."""
    if "memory" not in args.selected:
        return []
    from benchmarks.peers import PEERS

    records = []
    for cls in PEERS:
        print(f"memory probe: {cls.name}", flush=True)
        probe_args = ["--peer", cls.name] + ["--quick"] * args.quick
        record, why = _run_json("benchmarks.memory", probe_args, 1)
        records.append(record or {"peer": cls.name, "status": f"probe failed: {why}"})
    return records


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks and write the report."""
    args = _parse(argv)
    start = time.perf_counter()
    failures: list[str] = []
    passes = _passes(args, failures)
    memory = _memory(args)
    meta = {
        "command": " ".join(["python -m benchmarks", *(sys.argv[1:] if argv is None else argv)]),
        "date": today(), "duration": time.perf_counter() - start,
        "mode": "quick" if args.quick else "full", "machine": machine_info(),
        "numpy": _version("numpy"), "torch": _version("torch"), "skipped": SKIPPED,
        "failures": failures,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write(render(meta, passes, memory))
    print(f"wrote {args.output} in {meta['duration']:.0f} s", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
