"""The job store under concurrent updates: a render and a forced failure never undo each other.

The render worker and the test's thread (``fail_job``) update the same job from two threads.
Which one wins must not depend on how their steps interleave, so these tests force the
interleavings rather than hoping a scheduler produces them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

import pytest

from decart_emulator._jobs import FAILED, Job, JobEnded, JobStore, failure_reason, status_at

NOW = 1000.0


class InterleavingLock:
    """The store's lock, running ``between`` once, just after its first release.

    That is the first moment another thread could take the lock: a store method that reads a
    job under the lock and writes it back under a second acquisition gets another thread's
    whole update in between, as a scheduler may do.
    """

    def __init__(self, between: Callable[[], object]) -> None:
        self._lock = threading.Lock()
        self._between: Callable[[], object] | None = between

    def __enter__(self) -> InterleavingLock:
        self._lock.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._lock.release()
        between, self._between = self._between, None
        if between is not None:
            between()


def interleave(store: JobStore, between: Callable[[], object]) -> None:
    """Run ``between`` at the first moment another thread could take the store's lock."""
    store._lock = InterleavingLock(between)  # type: ignore[assignment]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    store = JobStore(tmp_path / "jobs.sqlite3", clock=lambda: NOW)
    store.add(
        Job(
            job_id="j", owner="o", model="lucy-2.1", created_at=NOW - 1, pending_seconds=0.5,
            processing_seconds=60, limit_seconds=600, input_path="/in",
        )
    )  # fmt: skip
    yield store
    store.close()


def outcome(store: JobStore) -> tuple[str, str]:
    job = store.get("j")
    assert job is not None
    return status_at(job, NOW), failure_reason(job)


def test_a_failure_forced_while_a_render_is_recorded_is_kept(store: JobStore) -> None:
    interleave(store, lambda: store.force_failure("j", "failed by the test"))
    store.record_render("j", "/result.mp4", None)
    assert outcome(store) == (FAILED, "failed by the test")
    job = store.get("j")
    assert job is not None and job.result_path == "/result.mp4"  # the render is kept too


def test_a_render_recorded_after_a_forced_failure_keeps_its_reason(store: JobStore) -> None:
    store.force_failure("j", "failed by the test")
    store.record_render("j", None, "the render failed too")
    assert outcome(store) == (FAILED, "failed by the test")


def test_a_render_recorded_while_a_failure_is_forced_is_kept(store: JobStore) -> None:
    interleave(store, lambda: store.record_render("j", "/result.mp4", None))
    store.force_failure("j", "failed by the test")
    job = store.get("j")
    assert job is not None and job.result_path == "/result.mp4"
    assert outcome(store) == (FAILED, "failed by the test")


def test_a_job_that_ended_cannot_be_failed(store: JobStore) -> None:
    store.force_failure("j", "first")
    with pytest.raises(JobEnded, match="already ended"):
        store.force_failure("j", "second")
    assert outcome(store) == (FAILED, "first")
    with pytest.raises(KeyError):
        store.force_failure("unknown", "x")
    store.record_render("unknown", "/r", None)  # a job removed meanwhile: nothing to record
    assert store.get("unknown") is None


def test_a_commit_does_not_wait_for_the_disk(store: JobStore) -> None:
    """Write-ahead log with synchronous=NORMAL: the log is synced at checkpoints, not on every
    commit. With FULL, each submit waited for an fsync on the event loop's thread, and 2,000
    submits at once queued behind the disk (benchmarks/bench_scale_e2e.py). A restart still
    finds every job (test_jobs_survive_a_restart_with_a_state_dir)."""
    assert store._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert store._db.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
