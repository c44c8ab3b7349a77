"""Peak memory of one library's TT-SVD, measured in a fresh process.

``python -m benchmarks.memory --peer NAME --out FILE`` imports the library,
builds a 4^12 float64 input (128 MiB: TT-rank 8 plus noise of 1e-8 times its
RMS entry; 4^10 with ``--quick``), converts it outside the measurement, records the resident set
size, resets the kernel's high-water mark (``/proc/self/clear_refs``), runs the
TT-SVD (eps=1e-6) and reads the new high-water mark (``VmHWM``). Where the mark
cannot be reset, a thread samples the RSS every millisecond instead. Unlike
``tracemalloc`` this sees torch's and BLAS's allocations as well.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import threading
import time
import warnings

ORDER, QUICK_ORDER = 12, 10
EPS = 1e-6
RANK = 8


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` field (``VmRSS``, ``VmHWM``) in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_high_water_mark() -> bool:
    """Make ``VmHWM`` restart from the current RSS; ``False`` where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


class _Sampler(threading.Thread):
    """Fallback peak tracker: polls the RSS every millisecond."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = _status_kib("VmRSS")
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, _status_kib("VmRSS"))
            time.sleep(0.001)


def _build_input(order: int):
    """The seeded 4^order benchmark tensor, built before the baseline is taken."""
    import numpy as np

    from benchmarks import reference as ref

    rng = np.random.default_rng(12)
    array = ref.tt_full(ref.random_cores((4,) * order, RANK, rng))
    scale = 1e-8 * np.sqrt(np.mean(array**2))
    array += scale * rng.standard_normal(array.shape)
    return array


def _peak_of(call) -> tuple[object, int, str, float]:
    """Run ``call`` and return its result, the peak RSS, the method and seconds."""
    exact = _reset_high_water_mark()
    sampler = None if exact else _Sampler()
    if sampler:
        sampler.start()
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    if sampler:
        sampler.running = False
        sampler.join()
        return result, sampler.peak, "RSS sampled every 1 ms", seconds
    return result, _status_kib("VmHWM"), "VmHWM after clear_refs", seconds


def measure(peer_name: str, order: int = ORDER) -> dict:
    """Peak extra memory of ``peer_name``'s TT-SVD on the 4^order input."""
    from benchmarks import reference as ref
    from benchmarks.peers import PEERS

    peer = next(cls() for cls in PEERS if cls.name == peer_name)
    if not peer.load():
        return {"peer": peer_name, "status": peer.status}
    peer.set_threads(1)
    array = _build_input(order)
    call = peer.tt_svd(array, EPS, None, RANK)
    gc.collect()
    baseline = _status_kib("VmRSS")
    result, peak, method, seconds = _peak_of(call)
    cores = peer.to_cores(result)
    return {
        "peer": peer_name, "status": "ok", "version": peer.version,
        "order": order, "input_bytes": array.nbytes, "baseline_rss": baseline, "peak_rss": peak,
        "extra": peak - baseline, "method": method, "seconds": seconds,
        "error": ref.rel_error(ref.tt_full(cores), array), "rank": ref.max_rank(cores),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point: measure one peer and write the JSON record."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("--peer", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true", help=f"4^{QUICK_ORDER} instead")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    try:
        record = measure(args.peer, QUICK_ORDER if args.quick else ORDER)
    except Exception as exc:  # reported in the table, never fatal for the run
        record = {"peer": args.peer, "status": f"error: {exc!r}"[:300]}
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
