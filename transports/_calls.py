"""What each ``client.queue`` method asks of the driver, written once for every transport: the
driver's generator plus what the transport's run loop needs beside it (the status callback,
the output, the progress callback). The transports' method bodies are then one line each,
sync in one and ``await`` in the others."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from decart_proto import Driver, DriverGen, JobStatusResponse, JobSubmitResponse, QueueJobResult

from ._common import (
    Output,
    OutputTarget,
    ProgressCallback,
    StatusCallback,
    open_output,
    split_options,
)

__all__ = ["Call", "result", "status", "submit", "submit_and_poll", "wait"]

S = TypeVar("S")
T = TypeVar("T")


@dataclass(slots=True)
class Call(Generic[S, T]):
    gen: DriverGen[S, T]
    on_status_change: StatusCallback | None = None
    output: Output | None = None
    on_progress: ProgressCallback | None = None


def submit(
    driver: Driver[S],
    options: Mapping[str, Any],
    timeout: float | None,
    on_progress: ProgressCallback | None,
) -> Call[S, JobSubmitResponse]:
    gen = driver.submit(options, timeout=timeout, progress=on_progress is not None)
    return Call(gen, on_progress=on_progress)


def status(driver: Driver[S], job_id: str, timeout: float | None) -> Call[S, JobStatusResponse]:
    return Call(driver.status(job_id, timeout=timeout))


def result(
    driver: Driver[S],
    job_id: str,
    output: OutputTarget,
    timeout: float | None,
    on_progress: ProgressCallback | None,
) -> Call[S, QueueJobResult]:
    out = open_output(output)
    gen = driver.result(
        job_id, to_output=out is not None, timeout=timeout, progress=on_progress is not None
    )
    return Call(gen, None, out, on_progress)


def submit_and_poll(
    driver: Driver[S],
    options: Mapping[str, Any],
    on_status_change: StatusCallback | None,
    output: OutputTarget,
    timeout: float | None,
    on_progress: ProgressCallback | None,
) -> Call[S, QueueJobResult]:
    options, callback = split_options(options, on_status_change)
    out = open_output(output)
    gen = driver.submit_and_poll(
        options, to_output=out is not None, timeout=timeout, progress=on_progress is not None
    )
    return Call(gen, callback, out, on_progress)


def wait(
    driver: Driver[S],
    job_id: str,
    on_status_change: StatusCallback | None,
    output: OutputTarget,
    timeout: float | None,
    on_progress: ProgressCallback | None,
) -> Call[S, QueueJobResult]:
    out = open_output(output)
    gen = driver.wait(
        job_id, to_output=out is not None, timeout=timeout, progress=on_progress is not None
    )
    return Call(gen, on_status_change, out, on_progress)
