"""Jobs: their lifecycle as a pure function of time, and their store in SQLite.

Theory of operation: a job's status is never stored as "the current status". It is computed
from a few recorded times, so that it needs no timer, stays right across a restart (times are
wall-clock seconds), and can be asked about from any thread:

- ``pending`` from creation for ``pending_seconds``, then ``processing``;
- the job ends at the first of three events: a forced failure (``fail_job``), the planned end
  (creation + pending + processing, or later if the result is not rendered by then), or the
  server-side limit (creation + ``limit_seconds``, 10 minutes by default, as the service);
- it ends ``completed`` only at the planned end with a rendered result and no scripted failure.

The store is one SQLite connection guarded by a lock, shared by the server thread, the render
workers and the test's thread. Without a state directory it lives in a temporary directory.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Job", "JobEnded", "JobStore", "failure_reason", "key_owner", "status_at"]

PENDING = "pending"
PROCESSING = "processing"
COMPLETED = "completed"
FAILED = "failed"


class JobEnded(ValueError):
    """A job that has already completed or failed cannot be failed again."""


def key_owner(api_key: str) -> str:
    """The owner recorded for a job: a digest, so the state directory holds no API keys."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Job:
    """Everything recorded about one job."""

    job_id: str
    owner: str
    model: str
    created_at: float
    pending_seconds: float
    processing_seconds: float
    limit_seconds: float
    input_path: str
    scripted_failure: str | None = None  # set by a job-level fault: fail at the planned end
    forced_failure_at: float | None = None
    rendered_at: float | None = None  # when the render worker finished, well or not
    result_path: str | None = None  # None after rendering means the render failed
    error: str | None = None  # the forced failure's reason, else the failed render's


def _first_ending(job: Job) -> tuple[float, str, str]:
    """The earliest of the events that end a job: (when, status, reason)."""
    events = [
        (
            job.created_at + job.limit_seconds,
            FAILED,
            f"Job did not finish within {job.limit_seconds:g} seconds",
        )
    ]
    if job.forced_failure_at is not None:
        events.append((job.forced_failure_at, FAILED, job.error or "Job failed"))
    if job.rendered_at is not None:
        planned_end = job.created_at + job.pending_seconds + job.processing_seconds
        when = max(planned_end, job.rendered_at)
        if job.result_path is None:
            events.append((when, FAILED, job.error or "Job failed"))
        elif job.scripted_failure is not None:
            events.append((when, FAILED, job.scripted_failure))
        else:
            events.append((when, COMPLETED, ""))
    # On a tie the failure wins: a job reaching its limit as it completes has still failed.
    return min(events, key=lambda event: (event[0], event[1] != FAILED))


def status_at(job: Job, now: float) -> str:
    """The job's status at time ``now``; see the module docstring."""
    when, outcome, _ = _first_ending(job)
    if when <= now:
        return outcome
    return PENDING if now < job.created_at + job.pending_seconds else PROCESSING


def failure_reason(job: Job) -> str:
    """Why a job fails (or would fail), for the content endpoint's error detail."""
    return _first_ending(job)[2] or "Job failed"


_COLUMNS = (
    "job_id", "owner", "model", "created_at", "pending_seconds", "processing_seconds",
    "limit_seconds", "input_path", "scripted_failure", "forced_failure_at", "rendered_at",
    "result_path", "error",
)  # fmt: skip

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS jobs (
    {", ".join(_COLUMNS)},
    PRIMARY KEY (job_id)
)
"""


class JobStore:
    """Jobs in SQLite at ``db_path``; every method is safe to call from any thread."""

    def __init__(self, db_path: Path, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # In WAL mode, NORMAL syncs at checkpoints only, not on every commit: a job survives the
        # emulator's restart (what --state-dir promises), though not a power cut in the instant
        # after its submit. FULL (the default) cost an fsync per submit, on the event loop's
        # thread: 2,000 submits at once waited on the disk, not on the CPU.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, job: Job) -> None:
        placeholders = ", ".join("?" for _ in _COLUMNS)
        values = tuple(getattr(job, column) for column in _COLUMNS)
        with self._lock:
            self._db.execute(f"INSERT INTO jobs VALUES ({placeholders})", values)

    def _select(self, job_id: str) -> Job | None:
        """The job as stored; the caller holds the lock."""
        row = self._db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE job_id = ?", (job_id,)
        ).fetchone()
        return None if row is None else Job(*row)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._select(job_id)

    def all(self) -> list[Job]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM jobs ORDER BY created_at"
            ).fetchall()
        return [Job(*row) for row in rows]

    # The two updates below race: the render worker's and the test's thread. Each writes only
    # its own columns, and decides from the row as it is under the lock, never from an earlier
    # read, so neither can undo the other whatever the order.

    def record_render(self, job_id: str, result_path: str | None, error: str | None) -> None:
        """The render worker finished: with a result file, or with an error.

        A forced failure's reason stays: it ended the job first.
        """
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET rendered_at = ?, result_path = ?,"
                " error = CASE WHEN forced_failure_at IS NULL THEN ? ELSE error END"
                " WHERE job_id = ?",
                (self.clock(), result_path, error, job_id),
            )

    def force_failure(self, job_id: str, error: str) -> None:
        """Fail the job now; a job that has already ended cannot be failed again."""
        with self._lock:
            job = self._select(job_id)
            if job is None:
                raise KeyError(job_id)
            now = self.clock()
            status = status_at(job, now)
            if status in (COMPLETED, FAILED):
                raise JobEnded(f"job {job_id!r} has already ended ({status}); it cannot fail now")
            self._db.execute(
                "UPDATE jobs SET forced_failure_at = ?, error = ? WHERE job_id = ?",
                (now, error, job_id),
            )
