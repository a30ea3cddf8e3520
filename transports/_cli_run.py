"""One job through the blocking client, with progress: the piece every command shares.

The CLI adds no protocol logic: submitting, polling, retrying and the deadline all happen in
``client.queue.submit_and_poll`` / ``wait`` / ``result``. What it adds is the view (a reader and
a sink that count bytes, a status callback) and hooks to record a job id the moment it exists.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from decart_proto import JobStatusResponse, models

from ._cli_progress import CountingReader, CountingSink, Reporter
from .blocking import DecartClient

__all__ = ["JobSpec", "Outcome", "fetch_result", "run_job"]


@dataclass
class JobSpec:
    """A job to run or resume: *job_id* set means it exists already and is waited for."""

    label: str
    output: str
    input: str | None = None
    model: str = "lucy-2.1"
    options: dict[str, Any] = field(default_factory=dict)
    job_id: str | None = None


@dataclass
class Outcome:
    job_id: str | None
    status: str
    output: str | None
    bytes: int = 0
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": self.status,
            "output": self.output,
            "bytes": self.bytes,
            "error": self.error,
        }


def _no_check() -> None:
    return None


def run_job(
    client: DecartClient,
    spec: JobSpec,
    reporter: Reporter,
    *,
    timeout: float | None = None,
    on_job_id: Callable[[str], None] = lambda job_id: None,
    on_status: Callable[[str], None] = lambda status: None,
    check: Callable[[], None] = _no_check,
) -> Outcome:
    """Submit (or resume) *spec* and save its result to ``spec.output`` atomically.

    ``on_job_id`` runs once, as soon as the job id is known (before any further request);
    ``check`` runs before each chunk read or written and may raise to abandon the call."""
    started = time.monotonic()
    sink = CountingSink(
        spec.output, lambda: reporter.transfer(f"{spec.label}: download", None), check
    )
    reader: CountingReader | None = None

    def changed(status: JobStatusResponse) -> None:
        if spec.job_id is None:
            spec.job_id = status.job_id
            if reader is not None:
                reader.finish()
            on_job_id(status.job_id)
        reporter.status(spec.label, status.job_id, status.status, time.monotonic() - started)
        on_status(status.status)

    try:
        if spec.job_id is None:
            assert spec.input is not None
            path = spec.input
            reader = CountingReader(
                path,
                lambda: reporter.transfer(f"{spec.label}: upload", os.path.getsize(path)),
                check,
            )
            with reader:
                options = {**spec.options, "model": models.video(spec.model), "data": reader}
                result = client.queue.submit_and_poll(
                    options, on_status_change=changed, output=cast(BinaryIO, sink), timeout=timeout
                )
        else:
            result = client.queue.wait(
                spec.job_id, on_status_change=changed, output=cast(BinaryIO, sink), timeout=timeout
            )
    except BaseException:
        sink.discard()
        raise
    if result.status != "completed":
        sink.discard()
        return Outcome(spec.job_id, "failed", None, 0, result.error or "Job failed")
    sink.commit()
    return Outcome(spec.job_id, "completed", spec.output, sink.written)


def fetch_result(
    client: DecartClient, job_id: str, output: str, reporter: Reporter, timeout: float | None
) -> Outcome:
    """Download a finished job's result once, without waiting."""
    sink = CountingSink(output, lambda: reporter.transfer(f"{job_id}: download", None))
    try:
        result = client.queue.result(job_id, output=cast(BinaryIO, sink), timeout=timeout)
    except BaseException:
        sink.discard()
        raise
    if result.status != "completed":
        sink.discard()
        return Outcome(job_id, "failed", None, 0, result.error or "Job failed")
    sink.commit()
    return Outcome(job_id, "completed", output, sink.written)
