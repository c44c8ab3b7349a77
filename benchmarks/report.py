"""Machine description and the Markdown report (``docs/performance.md``).

Everything here reads plain data -- the JSON the workers and memory probes
wrote -- and turns it into tables; nothing is measured.
"""

from __future__ import annotations

import datetime
import os
import platform

from benchmarks.targets import targets_section

__all__ = ["machine_info", "render"]

WATCHED_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
MIB = 2**20
NN_PREFIX = "nn_"  # workloads of tensortrain.nn, shown by _nn_case


def _cpu_model() -> str:
    """The ``model name`` of the first processor in ``/proc/cpuinfo``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_bytes() -> int | None:
    """Total RAM from ``/proc/meminfo``."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def machine_info() -> dict:
    """CPU, cores, RAM, OS and the OpenBLAS variables as found in the environment."""
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
    except ImportError:
        physical = None
    return {
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": physical,
        "ram": _memory_bytes(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "variables": {name: os.environ.get(name) for name in WATCHED_VARIABLES},
    }


def _seconds(value: float) -> str:
    """A duration with a unit that keeps three significant digits."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def _quantiles(times: list[float]) -> tuple[float, float, float]:
    """First quartile, median and third quartile of a list (linear interpolation)."""
    ordered = sorted(times)

    def at(fraction: float) -> float:
        position = fraction * (len(ordered) - 1)
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    return at(0.25), at(0.5), at(0.75)


def _medians(results: dict) -> dict[str, float]:
    """Median seconds of every library that ran."""
    return {lib: _quantiles(m["times"])[1] for lib, m in results.items() if m["times"]}


def _time_cells(measurement: dict | None, fastest: float | None) -> list[str]:
    """``median (IQR %)`` and ``x fastest`` cells, or the status twice."""
    if measurement is None:
        return ["-", "-"]
    if not measurement["times"]:
        status = measurement["status"]
        return [status, status]
    q1, median, q3 = _quantiles(measurement["times"])
    spread = 100 * (q3 - q1) / median
    ratio = median / fastest
    ratio_text = "**1.00**" if ratio == 1 else f"{ratio:.2f}"
    return [f"{_seconds(median)} (IQR {spread:.0f}%)", ratio_text]


def _flop_cells(measurement: dict | None, peak: float) -> list[str]:
    """``GFLOP/s`` and ``% of the GEMM peak`` cells."""
    if not measurement or not measurement["times"] or not measurement.get("flops"):
        return ["", ""]
    rate = measurement["flops"] / _quantiles(measurement["times"])[1] / 1e9
    return [f"{rate:.1f}", f"{100 * rate / peak:.0f}%"]


def _case_table(key: tuple, passes: list[dict], with_flops: bool) -> list[str]:
    """Markdown rows of one case, found by ``(workload, title)``, over every thread setting."""
    by_pass = [next(c for c in p["cases"] if (c["workload"], c["title"]) == key) for p in passes]
    header = ["library"]
    for p in passes:
        t = p["threads"]
        header += [f"{t}T median", f"{t}T × fastest"]
        if with_flops:
            header += [f"{t}T GFLOP/s", f"{t}T % GEMM peak"]
    header += ["rel. error", "max rank"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for lib in by_pass[0]["results"]:
        row = [lib]
        for p, case in zip(passes, by_pass):
            results = case["results"]
            medians = _medians(results)
            row += _time_cells(results.get(lib), min(medians.values(), default=None))
            if with_flops:
                peak = max(g["gflops"] for g in p["gemm"])
                row += _flop_cells(results.get(lib), peak)
        first = by_pass[0]["results"][lib]
        row.append("" if first["error"] is None else f"{first['error']:.1e}")
        row.append("" if first["rank"] is None else str(first["rank"]))
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _rounds_note(key: tuple, passes: list[dict]) -> str:
    """How many interleaved rounds each pass timed for one case."""
    parts = []
    for p in passes:
        case = next(c for c in p["cases"] if (c["workload"], c["title"]) == key)
        counts = [len(m["times"]) for m in case["results"].values() if m["times"]]
        parts.append(f"{min(counts, default=0)} ({p['threads']}T)")
    return "Rounds timed: " + ", ".join(parts) + "."


def _case_notes(case: dict) -> list[str]:
    """Footnotes of one case: what was checked, per-library conventions and errors."""
    notes = [f"Error column: {case['check']}."]
    for lib, m in case["results"].items():
        if m.get("note"):
            notes.append(f"{lib}: {m['note']}")
        if m.get("flops_source"):
            notes.append(f"{lib}: flops = {m['flops']:.3g} ({m['flops_source']}).")
        if m["status"] == "error":
            notes.append(f"{lib} failed: `{m['detail']}`")
    return ["", *(f"- {note}" for note in notes), ""]


def _all_cases(passes: list[dict]) -> list[dict]:
    """Every case of any pass, once, in the order first met (nn_epoch runs at 1 thread only)."""
    cases, keys = [], set()
    for p in passes:
        for case in p["cases"]:
            if (case["workload"], case["title"]) not in keys:
                keys.add((case["workload"], case["title"]))
                cases.append(case)
    return cases


def _workload_sections(passes: list[dict]) -> list[str]:
    """One section per workload, one table per case."""
    lines, seen = [], []
    for case in _all_cases(passes):
        if case["workload"] not in seen:
            seen.append(case["workload"])
            lines += [f"## `{case['workload']}`", ""]
        lines += [f"### {case['title']}", ""]
        key = (case["workload"], case["title"])
        if case["workload"].startswith(NN_PREFIX):
            lines += _nn_case(key, passes)
            continue
        with_flops = any(m.get("flops") for m in case["results"].values())
        lines += _case_table(key, passes, with_flops)
        notes = _case_notes(case)
        lines += [*notes[:-1], f"- {_rounds_note(key, passes)}", ""]
    return lines


def _nn_runs(key: tuple, passes: list[dict]) -> list[tuple[int, dict]]:
    """``(threads, variants)`` of every pass that timed the nn case ``key``.

    The variants are the results that are not the pass's library adapters (those
    answer ``n/a``: the peers have no nn layers).
    """
    runs = []
    for p in passes:
        case = next((c for c in p["cases"] if (c["workload"], c["title"]) == key), None)
        if case is not None:
            adapters = {peer["name"] for peer in p["peers"]}
            variants = {n: m for n, m in case["results"].items() if n not in adapters}
            runs.append((p["threads"], variants))
    return runs


def _spread(measurement: dict | None) -> tuple[str, float | None]:
    """``median (IQR %)`` of one variant and its median, or its status and None."""
    if measurement is None:
        return "-", None
    if not measurement["times"]:
        return measurement["status"], None
    q1, median, q3 = _quantiles(measurement["times"])
    if len(measurement["times"]) == 1:
        return f"{_seconds(median)} (1 round)", median
    return f"{_seconds(median)} (IQR {100 * (q3 - q1) / median:.0f}%)", median


def _ratio(numerator: float | None, denominator: float | None) -> str:
    """``numerator / denominator`` to two decimals, empty when either is missing."""
    return "" if numerator is None or not denominator else f"{numerator / denominator:.2f}"


def _error_text(measurement: dict | None) -> str:
    """The relative error of a variant's checked call, empty when it has none."""
    return "" if not measurement or measurement["error"] is None else f"{measurement['error']:.1e}"


def _nn_pair_table(runs: list[tuple[int, dict]]) -> list[str]:
    """Rows of ``<layer> forward`` / ``<layer> backward`` pairs: both times and their ratio."""
    first = runs[0][1]
    layers = list(dict.fromkeys(name.rsplit(" ", 1)[0] for name in first))
    header = ["layer"]
    for t, _ in runs:
        header += [f"{t}T forward", f"{t}T backward", f"{t}T backward / forward"]
    header += ["parameters", "rel. error y / dx"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for layer in layers:
        row = [layer]
        for _, variants in runs:
            fwd, fwd_median = _spread(variants.get(f"{layer} forward"))
            bwd, bwd_median = _spread(variants.get(f"{layer} backward"))
            row += [fwd, bwd, _ratio(bwd_median, fwd_median)]
        errors = [_error_text(first.get(f"{layer} {part}")) for part in ("forward", "backward")]
        row += [first[f"{layer} forward"]["note"], " / ".join(errors)]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _nn_table(runs: list[tuple[int, dict]]) -> list[str]:
    """One row per variant: median, spread and the ratio to the first row (the dense one)."""
    names = list(runs[0][1])
    header = ["model"]
    for t, _ in runs:
        header += [f"{t}T median", f"{t}T / {names[0]}"]
    lines = ["| " + " | ".join([*header, "parameters"]) + " |", "|" + "---|" * (len(header) + 1)]
    for name in names:
        row = [name]
        for _, variants in runs:
            cell, median = _spread(variants.get(name))
            row += [cell, _ratio(median, _spread(variants.get(names[0]))[1])]
        lines.append("| " + " | ".join([*row, runs[0][1][name]["note"]]) + " |")
    return lines


def _nn_case(key: tuple, passes: list[dict]) -> list[str]:
    """Table and notes of a tensortrain.nn case (tensortrain only, peers n/a)."""
    runs = _nn_runs(key, passes)
    case = next(c for p in passes for c in p["cases"] if (c["workload"], c["title"]) == key)
    paired = all(n.endswith((" forward", " backward")) for n in runs[0][1])
    lines = _nn_pair_table(runs) if paired else _nn_table(runs)
    notes = [f"{case['check']}.",
             "tensortrain.nn only: the peers have no nn layers with a hand-written backward "
             "(their adapters answer n/a), so the rows compare dense and TT configurations."]
    notes += [f"{n} failed: `{m['detail']}`" for _, variants in runs
              for n, m in variants.items() if m["status"] == "error"]
    rounds = ", ".join(f"{min((len(m['times']) for m in v.values() if m['times']), default=0)} "
                       f"({t}T)" for t, v in runs)
    notes.append(f"Rounds timed: {rounds}.")
    return [*lines, "", *(f"- {note}" for note in notes), ""]


def _gemm_section(passes: list[dict]) -> list[str]:
    """The dense GEMM rates measured in every pass."""
    header = "| (m, k) @ (k, n) | " + " | ".join(f"{p['threads']}T GFLOP/s" for p in passes)
    lines = ["## Dense GEMM rate (float64, NumPy's BLAS)", "", header + " |"]
    lines.append("|---|" + "---|" * len(passes))
    for index, row in enumerate(passes[0]["gemm"]):
        m, k, n = row["shape"]
        rates = [f"{p['gemm'][index]['gflops']:.1f}" for p in passes]
        lines.append(f"| ({m}, {k}) @ ({k}, {n}) | " + " | ".join(rates) + " |")
    return [*lines, "", "Each rate is the better of two medians, taken before and after the "
            "workloads of the pass; the \"% GEMM peak\" columns divide by the best rate of the "
            "same pass.", ""]


def _memory_section(records: list[dict]) -> list[str]:
    """Peak extra memory of each library's TT-SVD on the 4^12 input."""
    sized = next((r for r in records if r["status"] == "ok"), None)
    size = f"4^{sized['order']} float64 tensor ({sized['input_bytes'] / MIB:.0f} MiB)" if sized \
        else "4^12 float64 tensor"
    lines = [
        f"## Peak memory of `tt_svd` on a {size}", "",
        "Fresh process per library, 1 thread, TT-rank 8 + 1e-8 x RMS noise, eps=1e-6. "
        "\"Extra\" is the peak RSS during the call minus the RSS just before it "
        "(input already built and converted).", "",
        "| library | extra peak | extra / input | time | rel. error | max rank | method |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in records:
        if r["status"] != "ok":
            lines.append(f"| {r['peer']} | {r['status']} | | | | | |")
            continue
        ratio = r["extra"] / r["input_bytes"]
        lines.append(
            f"| {r['peer']} | {r['extra'] / MIB:.0f} MiB | {ratio:.2f} | {_seconds(r['seconds'])} "
            f"| {r['error']:.1e} | {r['rank']} | {r['method']} |"
        )
    return [*lines, ""]


def _blas_line(passes: list[dict]) -> str:
    """BLAS libraries and their thread counts per pass, from threadpoolctl."""
    parts = []
    for p in passes:
        pools = [
            f"{pool.get('internal_api')} {pool.get('version')} ({pool.get('user_api')}, "
            f"{pool.get('architecture', '?')}, {pool.get('num_threads')} threads, "
            f"`{os.path.basename(pool.get('filepath', ''))}`)"
            for pool in p["pools"]["threadpoolctl"]
        ]
        torch_threads = p["pools"]["torch_threads"]
        torch_text = f"; torch.get_num_threads() = {torch_threads}" if torch_threads else ""
        load = "load average {:.1f} before, {:.1f} after".format(
            p["load_before"][0], p["load_after"][0])
        parts.append(f"- {p['threads']}-thread pass ({load}): " + "; ".join(pools) + torch_text)
    return "\n".join(parts)


def _header(meta: dict, passes: list[dict]) -> list[str]:
    """Title, command, machine and versions."""
    machine = meta["machine"]
    ram = f"{machine['ram'] / 2**30:.1f} GiB" if machine["ram"] else "unknown"
    variables = ", ".join(f"`{k}`={v!r}" if v else f"`{k}` unset"
                          for k, v in machine["variables"].items())
    peers = passes[0]["peers"] if passes else []
    versions = ", ".join(
        f"{p['name']} {p['version']}" if p["status"] == "ok" else f"{p['name']}: {p['status']}"
        for p in peers
    )
    return [
        "# Performance", "",
        f"Generated by `{meta['command']}` on {meta['date']} in {meta['duration'] / 60:.1f} min "
        f"({meta['mode']} mode). Shared, noisy machine: compare the ratios measured side by "
        "side, not the absolute times."
        + (" Quick mode is a smoke test: too few rounds for conclusions." if meta["mode"] == "quick"
           else ""), "",
        "## Machine and versions", "",
        f"- CPU: {machine['cpu']}, {machine['logical_cores']} logical cores "
        f"({machine['physical_cores']} physical); RAM {ram}; {machine['os']}",
        f"- Python {machine['python']}, NumPy {meta['numpy']}, torch {meta['torch']}",
        f"- Libraries: {versions}; {meta['skipped']}",
        f"- Environment as found (left unchanged): {variables}",
        _blas_line(passes), "",
    ]


def _method(passes: list[dict]) -> list[str]:
    """How the numbers were taken."""
    if not passes:
        return []
    s = passes[0]["settings"]
    return [
        "## Method", "",
        "Each thread setting runs in its own process with `OMP_NUM_THREADS`, "
        "`OPENBLAS_NUM_THREADS` and `MKL_NUM_THREADS` set before NumPy is imported, and "
        "`torch.set_num_threads`. Every workload builds its inputs from a fixed seed; each "
        "library gets the same inputs, converted to its own types outside the timed region. "
        "Each result is checked once (the error column), then, after warm-up, the libraries "
        f"are timed interleaved: up to {s['rounds']} rounds (at least {s['min_rounds']}, or "
        f"{s.get('last_resort_rounds', s['min_rounds'])} once a pass has run "
        f"{s.get('pass_budget', 0):.0f} s), each "
        "round in a rotated order, one sample per library per round; a sample repeats the call "
        f"until it lasts about {_seconds(s['sample_time'])}. Tables show the median, the "
        "interquartile range as a percentage of it, and the median relative to the fastest "
        "library at that thread count. `n/a`: the library has no such routine (nothing is "
        "emulated densely). The machine is shared: the load averages above tell how busy it "
        "was; with 2 threads on 2 cores any other process stalls the BLAS threads, so the 2T "
        "columns are only meaningful when the load stayed well below the core count.", "",
    ]


def render(meta: dict, passes: list[dict], memory: list[dict]) -> str:
    """The whole Markdown report."""
    lines = _header(meta, passes) + targets_section(passes, memory) + _method(passes)
    if passes:
        lines += _gemm_section(passes) + _workload_sections(passes)
    if memory:
        lines += _memory_section(memory)
    if meta.get("failures"):
        lines += ["## Failed passes", "", *(f"- {f}" for f in meta["failures"]), ""]
    return "\n".join(lines).rstrip() + "\n"


def today() -> str:
    """The current UTC time, to the minute."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
