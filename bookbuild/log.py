"""Messages and progress on stderr, at three levels of chattiness.

While chapters execute, each running chapter shows the cell it is in (as
the chapter's ``file:line``), cells done of total, the time elapsed and, as
the estimate, how long its last run took.  On a terminal rich redraws this
in place, one bar per chapter; elsewhere (CI logs, pipes) a chapter gets a
plain line every ``period`` seconds, at a cell start when one is due.
``-q`` shows no progress, ``-v`` a line at every cell start.
"""

import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

PERIOD = 30.0  # seconds between plain progress lines of a running chapter


def duration(seconds: float) -> str:
    """``3m05s``, or ``1h02m05s``: how progress lines write a time."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _short(where: str) -> str:
    """``where`` relative to the working folder when it lies inside it."""
    relative = os.path.relpath(where)
    return where if relative.startswith("..") else relative


@dataclass
class Running:
    """A chapter whose kernel is executing, as progress lines describe it."""

    name: str  # the chapter's file name
    estimate: float | None  # seconds its last run took, if it ran before
    started: float
    shown: float  # when its last plain line was written
    cell: int = 0  # the cell executing now, 1-based; 0 while the kernel starts
    total: int = 0
    where: str = ""
    bar: int | None = field(default=None, repr=False)  # rich's TaskID

    def line(self, now: float) -> str:
        if self.cell:
            text = f"{self.name}: cell {self.cell}/{self.total} ({self.where})"
        else:
            text = f"{self.name}: starting the kernel"
        text += f", {duration(now - self.started)} elapsed"
        if self.estimate is not None:
            text += f", last run {duration(self.estimate)}"
        return text


class Log:
    """Thread-safe: chapters execute in threads and report through one Log."""

    def __init__(self, level: int = 1, stream=None, period: float = PERIOD, clock=time.monotonic):
        self.level = level  # 0 quiet, 1 normal, 2 verbose
        self.stream = stream or sys.stderr
        self.period = period
        self.clock = clock
        self._lock = threading.Lock()
        self._running: dict[str, Running] = {}
        self._bars = None  # rich's Progress, while chapters run on a terminal
        self._stop: threading.Event | None = None  # ends the plain-line ticker

    # rich is imported once a chapter runs: a build with nothing to execute
    # starts faster without it.
    @cached_property
    def _console(self):
        from rich.console import Console

        return Console(file=self.stream)

    @property
    def tty(self) -> bool:
        """A terminal that is not TERM=dumb (rich decides)."""
        return self._console.is_interactive

    def _write(self, text: str) -> None:
        """Write a line; the caller holds the lock."""
        if self._bars is not None:  # above the bars
            self._console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def _say(self, text: str) -> None:
        with self._lock:
            self._write(text)

    def info(self, text: str) -> None:
        if self.level >= 1:
            self._say(text)

    def detail(self, text: str) -> None:
        if self.level >= 2:
            self._say(text)

    def warn(self, text: str) -> None:
        self._say(f"warning: {text}")

    @contextmanager
    def running(self, name: str, estimate: float | None):
        """Show the progress of chapter ``name`` while the body executes it."""
        if self.level == 0:
            yield
            return
        now = self.clock()
        task = Running(name, estimate, started=now, shown=now)
        with self._lock:
            self._running[name] = task
            if self.tty:
                self._add_bar(task)
            elif self._stop is None:
                self._stop = threading.Event()
                threading.Thread(target=self._tick, args=(self._stop,), daemon=True).start()
        try:
            yield
        finally:
            with self._lock:
                del self._running[name]
                if self._bars is not None:
                    self._bars.remove_task(task.bar)
                    if not self._running:
                        self._bars.stop()
                        self._bars = None
                elif self._stop is not None and not self._running:
                    self._stop.set()
                    self._stop = None

    def cell(self, name: str, index: int, total: int, where: str) -> None:
        """Chapter ``name`` starts its cell ``index`` of ``total``, at ``where``."""
        with self._lock:
            task = self._running.get(name)
            if task is None:
                return
            task.cell, task.total, task.where = index, total, _short(where)
            now = self.clock()
            if self._bars is not None:
                self._bars.update(
                    task.bar,
                    completed=index - 1,
                    total=total,
                    where=f"({task.where})",
                    refresh=True,
                )
            if self.level >= 2 or (not self.tty and now - task.shown >= self.period):
                self._write(task.line(now))
                task.shown = now

    def _add_bar(self, task: Running) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        if self._bars is None:
            self._bars = Progress(
                TextColumn("{task.description}"),
                BarColumn(bar_width=20),
                MofNCompleteColumn(),
                TextColumn("{task.fields[where]}"),
                _elapsed_column(),
                TextColumn("{task.fields[estimate]}"),
                console=self._console,
                transient=True,
                refresh_per_second=4,
            )
            self._bars.start()
        estimate = "" if task.estimate is None else f"last run {duration(task.estimate)}"
        task.bar = self._bars.add_task(
            task.name, total=None, where="starting the kernel", estimate=estimate
        )

    def _tick(self, stop: threading.Event) -> None:
        """Plain mode: write the line of every chapter that has been quiet for a period."""
        wake = self.period
        while not stop.wait(wake):
            with self._lock:
                if stop.is_set():  # the last chapter ended while we waited for the lock
                    return
                now = self.clock()
                for task in self._running.values():
                    if now - task.shown >= self.period:
                        self._write(task.line(now))
                        task.shown = now
                wake = max(min(t.shown for t in self._running.values()) + self.period - now, 0.01)


def _elapsed_column():
    """Elapsed time written as the estimate beside it is (rich's own reads 0:03:05)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Elapsed(ProgressColumn):
        def render(self, task) -> Text:
            return Text(f"{duration(task.elapsed or 0)} elapsed")

    return Elapsed()
