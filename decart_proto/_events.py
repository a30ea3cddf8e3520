"""What happens during a call, told as it happens: the driver's events, for the caller's log and
event hook.

The core writes no log (it has no clock of its own, no handler, no logging module: its purity
test says so). It hands each event to the transport in a :class:`~decart_proto.Report` op; the
transport logs it and passes it to the caller's hook. An event is built only when the transport
says someone listens at its level (the ``events=`` of each driver call): a process polling
thousands of jobs pays nothing for events nobody reads.

Levels are the ``logging`` module's numbers, so that a transport hands them to ``Logger.log``
as they are: each request and its answer at DEBUG, a status change at INFO, a retry and a
deadline given up at WARNING. Every text in an event has been through the API key's redactor
(``_redact.py``): a server that echoes the key into a header, a job id or an error body does
not put it in a log line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, cast

from ._responses import JobStatus

__all__ = [
    "DEBUG",
    "INFO",
    "WARNING",
    "DeadlineExceeded",
    "Event",
    "RequestFailed",
    "RequestStarted",
    "ResponseReceived",
    "RetryScheduled",
    "StatusChanged",
    "masked",
]

# The logging module's numbers for its levels (the core does not import it).
DEBUG, INFO, WARNING = 10, 20, 30


def _job(job_id: str | None) -> str:
    return f"job {job_id}" if job_id else "the submit"


@dataclass(frozen=True, slots=True)
class RequestStarted:
    """A request goes out: told before its first byte, so that one that never comes back is
    still in the log. ``attempt`` counts from 1; a retry (not a poll) adds one. ``path`` is
    the request's target as sent (absolute through a plain-http proxy)."""

    level: ClassVar[int] = DEBUG
    method: str
    path: str
    job_id: str | None
    attempt: int

    def message(self) -> str:
        return f"{self.method} {self.path}: attempt {self.attempt} ({_job(self.job_id)})"


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A whole answer came back: its status code, the server's request id (``X-Request-ID``,
    None without one) and the seconds since its request started (a download included). For a
    submit, ``job_id`` is the job its answer created."""

    level: ClassVar[int] = DEBUG
    method: str
    path: str
    job_id: str | None
    status_code: int
    request_id: str | None
    elapsed: float

    def message(self) -> str:
        rid = f", request id {self.request_id}" if self.request_id else ""
        return (
            f"{self.method} {self.path}: {self.status_code} in {self.elapsed:.3f} s "
            f"({_job(self.job_id)}{rid})"
        )


@dataclass(frozen=True, slots=True)
class RequestFailed:
    """A request came to no usable answer: ``reason`` says why (refused, timed out, cut
    short, a body that cannot be the result); whether it is retried, a :class:`RetryScheduled`
    tells."""

    level: ClassVar[int] = DEBUG
    method: str
    path: str
    job_id: str | None
    reason: str
    elapsed: float

    def message(self) -> str:
        return (
            f"{self.method} {self.path}: failed after {self.elapsed:.3f} s "
            f"({_job(self.job_id)}): {self.reason}"
        )


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    """A failed request will be made again after ``delay`` seconds: the ``attempt``-th of at
    most ``max_attempts``. ``reason``: what the failed one came to, in words (a 503 with the
    server's request id, a refused connection...)."""

    level: ClassVar[int] = WARNING
    job_id: str | None
    reason: str
    delay: float
    attempt: int
    max_attempts: int

    def message(self) -> str:
        return (
            f"{_job(self.job_id)}: retrying in {self.delay:.1f} s "
            f"(attempt {self.attempt} of {self.max_attempts}): {self.reason}"
        )


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """The job's status changed, in a call that follows a job (``submit_and_poll``,
    ``wait``): ``old`` is None at its first answer. The same moment as ``on_status_change``."""

    level: ClassVar[int] = INFO
    job_id: str
    old: JobStatus | None
    new: JobStatus

    def message(self) -> str:
        return f"job {self.job_id}: {self.old or 'submitted'} -> {self.new}"


@dataclass(frozen=True, slots=True)
class DeadlineExceeded:
    """The call gives up: its deadline passed, or cannot be met (the server asked for a wait
    that ends past it). ``reason`` is the message of the :class:`DeadlineExceededError` the
    call then raises, with the last failure and the job id to resume with."""

    level: ClassVar[int] = WARNING
    job_id: str | None
    reason: str

    def message(self) -> str:
        return f"{_job(self.job_id)}: {self.reason}"


Event = (
    RequestStarted
    | ResponseReceived
    | RequestFailed
    | RetryScheduled
    | StatusChanged
    | DeadlineExceeded
)
"""Every event a driver reports."""

E = TypeVar("E", bound=Event)


def masked(event: E, mask: Callable[[str], str]) -> E:
    """*event* with *mask* applied to each of its texts (the key's redactor): every field,
    so that a text added later cannot be forgotten."""
    changes = {
        f.name: mask(value)
        for f in dataclasses.fields(event)
        if isinstance(value := getattr(event, f.name), str)
    }
    # (Any: mypy cannot check the fields of a union's member by name.)
    replaced: E = dataclasses.replace(cast(Any, event), **changes)
    return replaced
