"""A finished job, typed so that checking its status narrows it: after
``if result.status == "completed":`` a type checker knows ``result.data`` is ``bytes`` (or, for a
result written to an output, that there is no data); after ``else:``, that ``result.error`` is a
``str``. The Queue API docs' examples then pass ``mypy --strict`` as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CompletedResult", "FailedResult", "QueueJobResult", "SavedResult"]


@dataclass(frozen=True, repr=False)
class CompletedResult:
    """A completed job whose video was read into memory: ``data``."""

    data: bytes
    job_id: str
    status: Literal["completed"] = "completed"
    # No error: present so that code written for the docs' one result shape still reads it.
    error: None = None

    def __repr__(self) -> str:
        # A video can be gigabytes: its size, not its bytes.
        return (
            f"CompletedResult(status='completed', data=<{len(self.data)} bytes>, "
            f"job_id={self.job_id!r})"
        )


@dataclass(frozen=True)
class SavedResult:
    """A completed job whose video went to the call's ``output`` (a path or a file): nothing
    is held in memory, so there is no ``data``."""

    job_id: str
    status: Literal["completed"] = "completed"
    data: None = None
    error: None = None


@dataclass(frozen=True)
class FailedResult:
    """A job the server reports as failed; ``error`` says so in the words of Decart's clients
    (the Queue API gives no reason on the wire)."""

    job_id: str
    error: str = "Job failed"
    status: Literal["failed"] = "failed"
    data: None = None


# What ``result()`` / ``submit_and_poll()`` / ``wait()`` return: without an output, a
# CompletedResult or a FailedResult; with one, a SavedResult or a FailedResult.
QueueJobResult = CompletedResult | SavedResult | FailedResult
