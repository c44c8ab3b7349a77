"""A small progress bar for the terminal, written to a stream (stderr by default).

On a terminal the bar is redrawn in place at most a few times a second; on
anything else (a log file, a pipe) it writes one line when it finishes, so
logs stay short. It needs nothing beyond the standard library.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressBar", "NullProgress"]

_BAR_WIDTH = 24
_REDRAW_SECONDS = 0.2


class ProgressBar:
    """A labelled bar of ``done / total`` with free-form fields after it.

    Parameters
    ----------
    label : str
        Text before the bar, e.g. ``"epoch 3/10"``.
    total : int
        Number of units of work; 0 means the total is unknown yet.
    stream : text stream, optional
        Where to draw; ``sys.stderr`` by default.
    """

    def __init__(self, label: str, total: int = 0, stream: TextIO | None = None):
        self.label = label
        self.total = int(total)
        self.done = 0
        self.fields: dict[str, str] = {}
        self.stream = sys.stderr if stream is None else stream
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._start = time.perf_counter()
        self._last_draw = 0.0
        self._closed = False

    def update(self, done: int, total: int | None = None, **fields) -> None:
        """Set the work done (and optionally the total) and the fields to show."""
        self.done = int(done)
        if total is not None:
            self.total = int(total)
        self.fields.update({key: _format_field(value) for key, value in fields.items()})
        now = time.perf_counter()
        if self.interactive and now - self._last_draw >= _REDRAW_SECONDS:
            self._last_draw = now
            self._draw(end="")

    def close(self, **fields) -> None:
        """Draw the final state once and end the line."""
        if self._closed:
            return
        self._closed = True
        self.fields.update({key: _format_field(value) for key, value in fields.items()})
        self._draw(end="\n")

    def line(self) -> str:
        """The text of the bar as it would be drawn now."""
        elapsed = time.perf_counter() - self._start
        if self.total > 0:
            filled = round(_BAR_WIDTH * min(self.done, self.total) / self.total)
            bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
            count = f"[{bar}] {self.done}/{self.total}"
        else:
            count = f"{self.done}"
        extras = "".join(f" {key} {value}" for key, value in self.fields.items())
        return f"{self.label} {count}{extras} {elapsed:.1f}s"

    def _draw(self, end: str) -> None:
        prefix = "\r\x1b[2K" if self.interactive else ""
        self.stream.write(prefix + self.line() + end)
        self.stream.flush()

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class NullProgress:
    """A progress bar that shows nothing (for ``--quiet``)."""

    def __init__(self, label: str = "", total: int = 0, stream: TextIO | None = None):
        self.label = label
        self.total = int(total)
        self.done = 0

    def update(self, done: int, total: int | None = None, **fields) -> None:
        """Record the work done; nothing is drawn."""
        self.done = int(done)
        if total is not None:
            self.total = int(total)

    def close(self, **fields) -> None:
        """Nothing to end."""

    def __enter__(self) -> "NullProgress":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _format_field(value) -> str:
    """Short text of a field: floats with 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
