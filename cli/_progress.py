"""What the user sees while a job runs: byte progress for the upload and the download, the
job's status with the time since it was submitted.

On a terminal this is a live ``rich`` display on stderr; otherwise (a pipe, a log file, CI) one
plain line per event, so that logs stay readable. The byte counts come from the client's own
``on_progress`` hook (:class:`TransferView`), so the input goes to the client as a path (sent
by ``sendfile`` on plain TCP) and the output as a path (the client's atomic writer).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from decart_proto import Progress

from ._rows import Field, clock, fit, sizes
from ._text import clean, say

__all__ = [
    "Bytes",
    "Reporter",
    "Stopped",
    "TransferView",
    "human_bytes",
    "make_reporter",
]


class Stopped(Exception):
    """Raised from inside a client call (by a progress or status callback) to end it at once;
    the client then closes its connections and discards a partial output."""


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError


class Bytes:
    """One byte transfer's progress, reported to a Reporter."""

    def __init__(self, reporter: Reporter, label: str, total: int | None) -> None:
        self.reporter = reporter
        self.label = label
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self.finished = False

    def set(self, done: int) -> None:
        self.done = done
        self.reporter._bytes(self)

    def finish(self) -> None:
        if not self.finished:
            self.finished = True
            self.reporter._bytes(self)

    def summary(self) -> str:
        took = max(time.monotonic() - self.started, 1e-6)
        return f"{human_bytes(self.done)} in {took:.1f} s ({human_bytes(self.done / took)}/s)"


class Reporter:
    """Plain reporting: a line per event on *stream*; silent when *quiet*."""

    def __init__(self, stream: TextIO, quiet: bool, secret: str) -> None:
        self.stream = stream
        self.quiet = quiet
        self.secret = secret

    def line(self, text: str) -> None:
        """An informational line (not a result): stderr, and not with --quiet."""
        if not self.quiet:
            say(self.stream, text, self.secret)

    def transfer(self, label: str, total: int | None) -> Bytes:
        bar = Bytes(self, label, total)
        self._started(bar)
        return bar

    def status(self, label: str, job_id: str, status: str, elapsed: float) -> None:
        self.line(f"{label}: job {job_id} {status} ({elapsed:.1f} s)")

    def close(self) -> None:
        """Leave the terminal as it was."""

    # -- byte events: plain lines at the start and the end only ------------------------------

    def _started(self, bar: Bytes) -> None:
        size = "" if bar.total is None else f" {human_bytes(bar.total)}"
        self.line(f"{bar.label}:{size} started")

    def _bytes(self, bar: Bytes) -> None:
        if bar.finished:
            self.line(f"{bar.label}: {bar.summary()}")


class RichReporter(Reporter):
    """A live display on a terminal: a row per transfer (bar, percentage, size, rate, time
    left) and per job (its status, the time since it was first seen), each row fitted to the
    terminal's width by :mod:`._rows`, so that nothing wraps or is cut mid-number."""

    SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, stream: TextIO, secret: str) -> None:
        super().__init__(stream, False, secret)
        from rich.console import Console, Group, RenderableType  # noqa: PLC0415 - the cli extra
        from rich.progress import Progress  # noqa: PLC0415

        self.console = console = Console(file=stream, highlight=False)
        render = self._render

        class Display(Progress):
            """rich's live progress, drawn as fitted rows instead of a table of columns."""

            def get_renderables(self) -> Iterable[RenderableType]:
                width = console.width  # read at each refresh: a resized terminal is followed
                yield Group(*(render(task, width) for task in self.tasks))

        self.progress = Display(console=self.console, transient=False)
        self.progress.start()
        self._closed = False
        self._tasks: dict[int, Any] = {}
        self._status_tasks: dict[str, Any] = {}

    def line(self, text: str) -> None:
        self.progress.console.print(clean(text, self.secret), markup=False, highlight=False)

    def _started(self, bar: Bytes) -> None:
        label = clean(bar.label, self.secret)
        self._tasks[id(bar)] = self.progress.add_task(label, total=bar.total, kind="bytes")

    def _bytes(self, bar: Bytes) -> None:
        task = self._tasks.get(id(bar))
        if task is None:
            return
        if bar.finished:
            self.progress.update(task, completed=bar.done, total=bar.done)
            self.progress.stop_task(task)
        else:
            self.progress.update(task, completed=bar.done, total=bar.total)

    def status(self, label: str, job_id: str, status: str, elapsed: float) -> None:
        job, state = clean(job_id, self.secret), clean(status, self.secret)
        task = self._status_tasks.get(job_id)
        if task is None:
            task = self.progress.add_task(
                clean(label, self.secret) + ":", total=None, kind="status", job=job, state=state
            )
            self._status_tasks[job_id] = task
        else:
            self.progress.update(task, state=state)
        if status in ("completed", "failed"):
            self.progress.update(task, total=1, completed=1)
            self.progress.stop_task(task)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.progress.stop()

    # -- drawing ------------------------------------------------------------------------------

    def _render(self, task: Any, width: int) -> Any:
        from rich.text import Text  # noqa: PLC0415

        done = task.stop_time is not None
        if done:
            spinner = ("✓", "green")
        else:
            spinner = (self.SPINNER[int(task.get_time() * 12) % len(self.SPINNER)], "green")
        fraction: float | None = None
        if task.fields.get("kind") == "bytes":
            fraction = task.completed / task.total if task.total else None
            fields = _transfer_fields(task, done)
        else:
            fields = [
                Field(f"job {task.fields['job']}", "", 1),
                Field(task.fields["state"], "bold", 0),
                Field(clock(task.elapsed), "progress.elapsed", 2),
            ]
        bar = task.fields.get("kind") == "bytes"
        row = fit(task.description, fields, width - 2, bar=bar)
        text = Text(no_wrap=True, overflow="crop")
        text.append(spinner[0], spinner[1])
        text.append(" " + row.label)
        if row.bar:
            text.append(" ")
            _draw_bar(text, row.bar, fraction, done, task.get_time())
        for field in row.fields:
            text.append(" ")
            text.append(field.text, field.style)
        return text


def _transfer_fields(task: Any, done: bool) -> list[Field]:
    """A transfer's fields: the percentage (when its length is known), the size, the rate, and
    the time left (or, once done, the time it took)."""
    completed, total = int(task.completed), task.total
    fields = []
    if total:
        fields.append(Field(f"{100 * completed / total:3.0f}%", "progress.percentage", 0))
    fields.append(Field(sizes(completed, total), "progress.download", 1 if total else 0))
    speed = task.finished_speed or task.speed
    if speed is not None:
        fields.append(Field(f"{human_bytes(speed)}/s", "progress.data.speed", 2))
    if done:
        fields.append(Field(clock(task.elapsed), "progress.elapsed", 3))
    else:
        fields.append(Field(clock(task.time_remaining), "progress.remaining", 3))
    return fields


def _draw_bar(text: Any, width: int, fraction: float | None, done: bool, now: float) -> None:
    """The bar, as rich draws its own (heavy lines); a moving piece when the length is
    unknown (an upload from a pipe)."""
    if fraction is None:
        start = int(now * 10) % width
        lit = {(start + n) % width for n in range(min(3, width))}
        for cell in range(width):
            text.append("━", "bar.pulse" if cell in lit else "bar.back")
        return
    filled = min(width, int(fraction * width))
    text.append("━" * filled, "bar.finished" if done else "bar.complete")
    text.append("━" * (width - filled), "bar.back")


def make_reporter(stream: TextIO, quiet: bool, secret: str) -> Reporter:
    """Rich on a terminal (when installed), plain lines elsewhere; ``DECART_PROTO_PROGRESS``
    (``plain`` or ``rich``) overrides the choice."""
    choice = os.environ.get("DECART_PROTO_PROGRESS", "")
    if quiet or choice == "plain":
        return Reporter(stream, quiet, secret)
    if choice == "rich" or stream.isatty():
        try:
            return RichReporter(stream, secret)
        except ImportError:
            pass
    return Reporter(stream, quiet, secret)


# -- the client's progress hook -------------------------------------------------------------


class TransferView:
    """The client's ``on_progress`` callback for one job: each phase (upload, download) becomes
    a bar, made at its first report. *check* runs at each report and may raise
    :class:`Stopped` to end the call; the client then closes its connections and discards a
    partial output.

    An upload is stopped only while part of its body is still unsent (so the server cannot have
    created a job): once the whole body is out, or when its length is unknown, the job id must be
    waited for, not lost."""

    def __init__(
        self, reporter: Reporter, label: str, check: Callable[[], None] | None = None
    ) -> None:
        self.reporter = reporter
        self.label = label
        self.check = check or (lambda: None)
        self.bars: dict[str, Bytes] = {}

    def __call__(self, progress: Progress) -> None:
        if progress.phase == "download" or (
            progress.total is not None and progress.done < progress.total
        ):
            self.check()
        bar = self.bars.get(progress.phase)
        if bar is None:
            bar = self.reporter.transfer(f"{self.label}: {progress.phase}", progress.total)
            self.bars[progress.phase] = bar
        # A retried transfer starts again from 0, perhaps with another length.
        bar.total = progress.total
        bar.set(progress.done)

    def finish(self, phase: str) -> int | None:
        """The phase is over: its bar's final line; the bytes it reached (None: no report)."""
        bar = self.bars.get(phase)
        if bar is None:
            return None
        bar.finish()
        return bar.done
