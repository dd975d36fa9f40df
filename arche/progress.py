"""How far a long step is (training, an evaluation, a sample set), on one line that redraws in place.

Where the line goes is decided once, from where the output is read (`live_target`):

    a Jupyter or Colab cell    an IPython display, updated by its id: one line per cell, which each task the
                               cell runs takes over (a study of 84 models leaves one line, not 84). A notebook
                               run by papermill keeps the line's last state in its saved copy (nbclient
                               applies the updates), so the file does not grow with them.
    a terminal                 stdout, when it is a terminal: a carriage return and an erased line.
    anything else              nothing: logs, pipes, CI, `arche run` (its kernels get ARCHE_PROGRESS=lines;
                               papermill forwards a display to the console once, not its updates).

The lines a run prints anyway (a training row every log_every steps, a sample set's round count every 20 s)
stay the record in every case: `write` logs one without tearing the live line (in a terminal the line is
erased, the row printed, the line redrawn below it). ARCHE_PROGRESS=lines turns the live line off anywhere.
Use it as a context manager: the line is closed (a terminal's erased) when the task ends or fails, so an
error message starts on a line of its own.
"""

from __future__ import annotations

import os
import sys
import time

REFRESH_S = {"display": 1.0, "tty": 0.2}  # a redraw costs a message to the frontend, or a terminal write


def live_target(stream=None) -> str | None:
    """ "display" (an IPython kernel: Jupyter, Colab, papermill), "tty" (`stream`, stdout by default, is a
    terminal: the logged rows go to stdout too, so the line and the rows share one stream) or None."""
    setting = os.environ.get("ARCHE_PROGRESS", "")
    if setting == "lines":
        return None
    ipython = sys.modules.get("IPython")  # a kernel has imported it; never import it here
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None and getattr(shell, "kernel", None) is not None:
        return "display"
    stream = sys.stdout if stream is None else stream
    return "tty" if getattr(stream, "isatty", lambda: False)() else None


def say(msg: str) -> None:
    """print, flushed: a log file or a pipe shows the line when it is written."""
    print(msg, flush=True)


ERASE = "\r\x1b[K"  # back to the start of the line, and clear it

# The display of the cell being run, shared by every Progress the cell starts: one live line per cell.
_cell = {"count": None, "handle": None}


def _duration(s: float) -> str:
    s = max(0, int(round(s)))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """`done` of `total` units of one task, with the rate and the time left, as a live line (see the module
    docstring); `every_s` also logs the line every that many seconds (for tasks with no log lines of their own).

        with Progress("mdlm/ancestral", total=3000, unit="round", every_s=20) as progress:
            for ...:
                progress.update(progress.done + 1)
    """

    def __init__(
        self, label, total, unit="step", start=0, log=say, every_s=None, target="auto", stream=None, clock=None
    ):
        self.label, self.total, self.unit, self.start = label, total, unit, start
        self.log, self.every_s = log, every_s  # log=None: a silent task (no line, live or logged)
        self.stream = sys.stdout if stream is None else stream
        self.target = None if log is None else live_target(self.stream) if target == "auto" else target
        self.clock = clock or time.perf_counter
        self.t0 = self.last_draw = self.last_line = self.clock()
        self.done, self.note, self.drawn = start, "", False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def text(self) -> str:
        elapsed = self.clock() - self.t0
        pct = 100 * self.done // max(self.total, 1)  # floored: 100% only when done
        parts = [f"[{self.label}] {self.done:,}/{self.total:,} {self.unit}s ({pct}%)"]
        if self.done > self.start and self.done < self.total:
            left = elapsed / (self.done - self.start) * (self.total - self.done)
            parts.append(f"{_duration(elapsed)} elapsed, {_duration(left)} left")
        else:
            parts.append(f"{_duration(elapsed)} elapsed")
        return " | ".join(parts + ([self.note] if self.note else []))

    def update(self, done: int, note: str | None = None, force: bool = False) -> None:
        """`done` units so far (and a note, e.g. the last loss); redraws at most every REFRESH_S seconds."""
        self.done = done
        if note is not None:
            self.note = note
        now = self.clock()
        if self.every_s is not None and now - self.last_line >= self.every_s and done < self.total:
            self.last_line = now
            self.write(self.text())
        elif self.target and (force or now - self.last_draw >= REFRESH_S[self.target]):
            self._draw()

    def write(self, msg: str) -> None:
        """Log `msg` as a line of its own; in a terminal the live line is erased first and redrawn after it."""
        if self.log is None:
            return
        if self.target == "tty" and self.drawn:
            self._erase()
            self.log(msg)
            self._draw()
        else:
            self.log(msg)

    def close(self, note: str | None = None) -> None:
        """A notebook's line keeps the last state; a terminal's line is erased (the logged rows are the record)."""
        if note is not None:
            self.note = note
        if self.target == "display" and self.drawn:
            self._draw()
        elif self.target == "tty" and self.drawn:
            self._erase()
            self.drawn = False

    def _erase(self) -> None:
        self.stream.write(ERASE)
        self.stream.flush()

    def _draw(self) -> None:
        self.last_draw = self.clock()
        text = self.text()
        if self.target == "display":
            _show_in_cell(_Line(text))
        else:
            self.stream.write(ERASE + text)
            self.stream.flush()
        self.drawn = True


def _show_in_cell(line) -> None:
    """`line` on the running cell's progress display: created at the cell's first draw, updated after."""
    from IPython import get_ipython
    from IPython.display import display

    count = get_ipython().execution_count
    if _cell["count"] != count or _cell["handle"] is None:
        _cell["count"], _cell["handle"] = count, display(line, display_id=True)
    else:
        _cell["handle"].update(line)


class _Line:
    """A line of text for IPython.display: plain text (papermill and consoles), monospace in a notebook."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        from html import escape

        return f"<pre style='margin:0'>{escape(self.text)}</pre>"
