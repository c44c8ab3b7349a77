"""The comparison grid: a dense model, TT models of several ranks, a compressed dense model.

Every model of the grid shares the task, the data, the sizes and the training
budget (epochs, batch size, learning rate, clipping, dropout, seed); only the
recurrent matrices differ. The compressed model is the best epoch of the
dense model, both of its recurrent matrices put into TT form by TT-SVD
(:func:`tensortrain.nn.compress`) and fine-tuned for a few epochs.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from .config import RunConfig, check_ranks
from .runs import Session, baseline_rows, run_model
from .tasks import TaskData

__all__ = ["GridEntry", "comparison_grid", "run_comparison"]

DENSE_MODEL_NOTE = "the dense model of this comparison (best epoch)"


@dataclass
class GridEntry:
    """One model of the comparison: its row name, kind, folder name and config."""

    name: str
    kind: str
    slug: str
    config: RunConfig


def _cell_name(cell: str) -> str:
    return "GRU" if cell == "gru" else "RNN"


def comparison_grid(base: RunConfig, rank_grid, compress_rank=None, compress_eps=None,
                    finetune_epochs: int = 0, tt_input: bool = True,
                    tt_hidden: bool = True) -> list[GridEntry]:
    """The models of a comparison, dense first.

    Parameters
    ----------
    base : RunConfig
        Task, sizes, modes and training budget shared by all models.
    rank_grid : sequence of int
        One TT model per rank (the same rank at every bond).
    compress_rank : int, optional
        Rank cap of the compressed dense model.
    compress_eps : float, optional
        Relative accuracy of the compression; with neither set, no
        compressed model is added.
    finetune_epochs : int
        Epochs of fine-tuning for the compressed model (0: none added).
    tt_input, tt_hidden : bool
        Which recurrent matrices the TT models hold in TT format.

    Raises
    ------
    ConfigError
        When a rank does not fit the modes.
    """
    cell = _cell_name(base.cell)
    dense = dataclasses.replace(base, tt_input=False, tt_hidden=False, ranks=None)
    entries = [GridEntry(f"dense {cell}", "dense", "dense", dense.validate())]
    num_bonds = len(base.input_modes) - 1
    for rank in rank_grid:
        config = dataclasses.replace(base, tt_input=tt_input, tt_hidden=tt_hidden,
                                     ranks=(rank,) * num_bonds)
        check_ranks((rank,), config.tt_layers, "--grid")
        entries.append(GridEntry(f"TT-{cell} rank {rank}", "tt", f"tt-rank{rank}",
                                 config.validate()))
    if finetune_epochs > 0 and (compress_rank is not None or compress_eps is not None):
        caps = (f"rank {compress_rank}" if compress_rank is not None else "") + (
            f"{' ' if compress_rank is not None else ''}eps {compress_eps:g}"
            if compress_eps is not None else "")
        ranks = None
        if compress_rank is not None:
            layers = dataclasses.replace(base, tt_input=True, tt_hidden=True).tt_layers
            ranks = check_ranks((compress_rank,), layers, "--compress-rank")
        config = dataclasses.replace(
            base, tt_input=True, tt_hidden=True, ranks=None, epochs=finetune_epochs,
            compress_rank=ranks, compress_eps=compress_eps, compressed_from=DENSE_MODEL_NOTE)
        slug = "compressed-" + re.sub(r"[^a-z0-9.]+", "-", caps)
        entries.append(GridEntry(f"dense {cell} -> TT {caps}, fine-tuned", "compressed",
                                 slug, config.validate()))
    return entries


def run_comparison(entries: list[GridEntry], task_data: TaskData,
                   session: Session) -> list[dict]:
    """Train every entry in ``session.out_dir/models/<slug>``; return the rows, baselines last.

    The compressed entry starts from the dense entry's best epoch, so the
    dense entry must come first.
    """
    rows, dense_model = [], None
    for entry in entries:
        session.note(f"training {entry.name} ...")
        row, model = run_model(entry.config, task_data, session,
                               session.out_dir / "models" / entry.slug, entry.name,
                               entry.kind, dense_model=dense_model)
        if entry.kind == "dense":
            dense_model = model
        rows.append(row)
        session.note(f"  {entry.name}: best epoch {row['best_epoch']}, "
                     f"valid NLL {row['valid_nll']:.3f}, test NLL {row['test_nll']:.3f}, "
                     f"{row['rnn_params']:,} RNN params")
    return rows + baseline_rows(task_data)
