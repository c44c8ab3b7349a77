"""The experiments behind the ``tensortrain`` command: models, training, comparison, reports.

``config`` holds the settings of a run and their checks, ``tasks`` the data
of each task as batches, ``models`` the prediction and classification models,
``training`` the loop with checkpoints and resume, ``runs`` one model as a
result row, ``compare`` the grid of models, ``report`` the table, JSON and
plots, ``progress`` the terminal progress bar. Importing this package does
not import the optional packages (music21, mlxtend, matplotlib).
"""

from .config import ConfigError, RunConfig

__all__ = ["ConfigError", "RunConfig"]
