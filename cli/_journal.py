"""The batch journal: one JSON object per line, appended, flushed and fsynced before the batch
goes on, so that a job id the server gave us survives a crash or Ctrl-C the moment after.

A rerun of the same batch reads the journal back: an input with a job id is resumed (never
submitted again), an input whose result was saved is skipped (never downloaded again). A crash
can tear only the last line; it is dropped on reading, and cut off before anything is appended
so that the next line starts clean.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from ._exit import CliError, ExitCode

__all__ = ["Journal", "JournalEntry"]

VERSION = 1


@dataclass
class JournalEntry:
    """What the journal says about one input, its lines folded in order."""

    input: str
    options: dict[str, Any] = field(default_factory=dict)
    job_id: str | None = None
    state: str = "new"  # new, submitted, done, failed
    output: str | None = None
    error: str | None = None


class Journal:
    def __init__(self, path: str) -> None:
        self.path = path
        self.entries: dict[str, JournalEntry] = {}
        self._lock = threading.Lock()
        self._closed = False
        existed = os.path.exists(path)
        try:
            self._file = open(path, "a+b")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise CliError(
                ExitCode.BAD_INPUT, f"cannot open the journal {path}: {exc.strerror}"
            ) from None
        self._load()
        if not existed:
            _fsync_dir(os.path.dirname(os.path.abspath(path)))

    def _load(self) -> None:
        self._file.seek(0)
        data = self._file.read()
        complete = data.rfind(b"\n") + 1
        if complete < len(data):
            # A torn last line: the write it belongs to never finished, so it never counted.
            self._file.truncate(complete)
            self._file.flush()
            os.fsync(self._file.fileno())
        for number, line in enumerate(data[:complete].splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or record.get("v") != VERSION:
                    raise ValueError
                self._fold(record)
            except (ValueError, KeyError, TypeError):
                raise CliError(
                    ExitCode.BAD_INPUT,
                    f"the journal {self.path} has an unreadable line {number}",
                    "it was not written by this version of decart-proto; use another --journal",
                ) from None

    def _fold(self, record: dict[str, Any]) -> None:
        key = record["input"]
        entry = self.entries.setdefault(key, JournalEntry(key))
        event = record["event"]
        if event == "submitted":
            entry.options = record["options"]
            entry.job_id = record["job_id"]
            entry.state = "submitted"
            entry.output = record["output"]
        elif event == "done":
            entry.state = "done"
            entry.output = record["output"]
        elif event == "failed":
            entry.state = "failed"
            entry.error = record.get("error")
        else:
            raise ValueError(event)

    def record(self, event: str, entry: JournalEntry, **extra: Any) -> None:
        """Append one event about *entry* and make it durable before returning."""
        line: dict[str, Any] = {
            "v": VERSION,
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "event": event,
            "input": entry.input,
            "job_id": entry.job_id,
            "output": entry.output,
            **extra,
        }
        if event == "submitted":
            line["options"] = entry.options
        data = (json.dumps(line, sort_keys=True) + "\n").encode("utf-8")
        with self._lock:
            if self._closed:
                raise RuntimeError("the journal is closed")
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        """No more lines; waits for a line being written to be whole."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._file.close()


def _fsync_dir(directory: str) -> None:
    # The new file's name is durable only once its directory is (POSIX); not on Windows.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
