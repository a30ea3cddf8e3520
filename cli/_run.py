"""One job through the blocking client, with progress: the piece every command shares.

The CLI adds no protocol logic: submitting, polling, retrying and the deadline all happen in
``client.queue.submit_and_poll`` / ``wait`` / ``result``, which also take the input and the
output as paths (so the upload is ``sendfile``d on plain TCP, and the result written atomically
by the client). What it adds is the view (the client's progress and status callbacks) and hooks
to record a job id the moment it exists.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from decart_proto.transports.blocking import DecartClient

from decart_proto import (
    JobStatusResponse,
    JobSubmitResponse,
    QueueJobResult,
    SubmitOptions,
    models,
)

from ._progress import Reporter, TransferView
from ._stdio import is_stdio, source, target

__all__ = ["JobSpec", "Outcome", "fetch_result", "run_job", "submit_only"]


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
    uploaded: int | None = None  # the submit's body as sent, when this run uploaded it

    def as_json(self) -> dict[str, Any]:
        """The answer of ``--json``: the output's path absolute, as every command reports it
        (a script may run the next step from another directory)."""
        output = self.output
        if output is not None and not is_stdio(output):
            output = os.path.abspath(output)
        return {
            "job_id": self.job_id,
            "status": self.status,
            "output": output,
            "bytes": self.bytes,
            "error": self.error,
            "uploaded": self.uploaded,
        }


def run_job(
    client: DecartClient,
    spec: JobSpec,
    reporter: Reporter,
    *,
    timeout: float | None = None,
    on_job_id: Callable[[str], None] = lambda job_id: None,
    on_status: Callable[[str], None] = lambda status: None,
    check: Callable[[], None] | None = None,
) -> Outcome:
    """Submit (or resume) *spec* and save its result to ``spec.output`` atomically.

    ``on_job_id`` runs once, as soon as the job id is known (before any further request);
    ``check`` runs at each progress report (see :class:`TransferView`) and may raise to abandon
    the call."""
    started = time.monotonic()
    view = TransferView(reporter, spec.label, check)

    def changed(status: JobStatusResponse) -> None:
        if spec.job_id is None:
            spec.job_id = status.job_id
            view.finish("upload")
            on_job_id(status.job_id)
        reporter.status(spec.label, status.job_id, status.status, time.monotonic() - started)
        on_status(status.status)

    if spec.job_id is None:
        assert spec.input is not None
        result = client.queue.submit_and_poll(
            _options(spec),
            on_status_change=changed,
            output=target(spec.output),
            timeout=timeout,
            on_progress=view,
        )
    else:
        result = client.queue.wait(
            spec.job_id,
            on_status_change=changed,
            output=target(spec.output),
            timeout=timeout,
            on_progress=view,
        )
    return _outcome(spec.job_id, spec.output, result, view)


def fetch_result(
    client: DecartClient, job_id: str, output: str, reporter: Reporter, timeout: float | None
) -> Outcome:
    """Download a finished job's result once, without waiting."""
    view = TransferView(reporter, job_id)
    result = client.queue.result(job_id, output=target(output), timeout=timeout, on_progress=view)
    return _outcome(job_id, output, result, view)


def submit_only(
    client: DecartClient, spec: JobSpec, reporter: Reporter, timeout: float | None
) -> tuple[JobSubmitResponse, int | None]:
    """Upload *spec*'s input and return at once with the job id, and the bytes uploaded."""
    assert spec.input is not None
    view = TransferView(reporter, spec.label)
    submitted = client.queue.submit(_options(spec), timeout=timeout, on_progress=view)
    return submitted, view.finish("upload")


def _outcome(
    job_id: str | None, output: str, result: QueueJobResult, view: TransferView
) -> Outcome:
    # The client has committed the output (a completed job) or removed it (anything else).
    uploaded = view.bars["upload"].done if "upload" in view.bars else None
    if result.status != "completed":
        return Outcome(job_id, "failed", None, 0, result.error or "Job failed", uploaded)
    downloaded = view.finish("download")
    size = (downloaded or 0) if is_stdio(output) else os.path.getsize(output)
    return Outcome(job_id, "completed", output, size, None, uploaded)


def _options(spec: JobSpec) -> SubmitOptions:
    assert spec.input is not None
    options = {**spec.options, "model": models.video(spec.model), "data": source(spec.input)}
    # Built from the command line, so typed only at run time, where the model's rules check
    # every field before anything is sent.
    return cast("SubmitOptions", options)
