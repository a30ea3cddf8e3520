"""Scripted faults: what a test asks the emulator to do wrong, and the queue that holds them.

Theory of operation: a test queues ``Fault`` values; each request takes the first queued fault
that matches it (method, and a regular expression matched against the whole path), which then
has ``times - 1`` uses left. Nothing is random, so a test that queues the same faults sees the
same behaviour every run. The emulator's own control paths (``/_emulator/...``) never match.

One Fault describes one request's fate, in this order:

1. ``delay``: wait before doing anything else;
2. the response: a scripted one (``status``, ``headers``, ``body``; the request is *not*
   handled, no job is created), or the normal one (the request is handled, and a submit's job
   takes the ``job_*`` settings);
3. its delivery: whole, or not at all (``close_before_response``: the request is not handled;
   ``close_after_handling``: it is, and the answer is lost), or cut after
   ``close_after_body_bytes`` bytes of body (headers carry the full Content-Length), or paused
   for ``stall_body_seconds`` after ``stall_after_bytes`` bytes of body.

A fault that only sets ``job_*`` fields is a job-level fault: it matches submit requests only.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Fault", "FaultQueue"]


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour for the next ``times`` matching requests.

    Validated on creation, so an inconsistent fault cannot be queued. ``headers`` may be given
    as a mapping and ``body`` as text; both are stored normalised (a tuple of pairs, bytes).
    """

    method: str | None = None
    path: str = ".*"
    times: int = 1
    delay: float = 0.0
    status: int | None = None
    headers: tuple[tuple[str, str], ...] | Mapping[str, str] = ()
    body: bytes | str | None = None
    close_before_response: bool = False
    close_after_handling: bool = False
    close_after_body_bytes: int | None = None
    stall_body_seconds: float = 0.0
    stall_after_bytes: int = 0
    job_pending_seconds: float | None = None
    job_processing_seconds: float | None = None
    job_fails: bool = False
    job_error: str = "Job failed (scripted by an emulator fault)"
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.method is not None:
            object.__setattr__(self, "method", self.method.upper())
        if isinstance(self.headers, Mapping):
            object.__setattr__(self, "headers", tuple(self.headers.items()))
        if isinstance(self.body, str):
            object.__setattr__(self, "body", self.body.encode("utf-8"))
        try:
            object.__setattr__(self, "_pattern", re.compile(self.path))
        except re.error as exc:
            raise ValueError(f"Fault.path {self.path!r} is not a regex: {exc}") from exc
        self._validate()

    def _validate(self) -> None:
        if self.times < 1:
            raise ValueError(f"Fault.times must be at least 1, not {self.times}")
        durations = ("delay", "stall_body_seconds", "job_pending_seconds", "job_processing_seconds")
        for name in durations:
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"Fault.{name} must not be negative, not {value}")
        if self.status is not None and not 200 <= self.status <= 599:
            raise ValueError(f"Fault.status must be a final status (200-599), not {self.status}")
        if (self.headers or self.body is not None) and self.status is None:
            raise ValueError("Fault.headers and Fault.body make a scripted response: set status")
        closes = [
            name
            for name in ("close_before_response", "close_after_handling")
            if getattr(self, name)
        ]
        if self.close_after_body_bytes is not None:
            if self.close_after_body_bytes < 0:
                raise ValueError("Fault.close_after_body_bytes must not be negative")
            closes.append("close_after_body_bytes")
        if len(closes) > 1:
            raise ValueError(f"Fault can close the connection only one way, not {closes}")
        if self.stall_after_bytes < 0:
            raise ValueError("Fault.stall_after_bytes must not be negative")
        if closes and closes[0] != "close_after_body_bytes" and self.stall_body_seconds:
            raise ValueError(f"Fault.{closes[0]} sends no body: stall_body_seconds cannot apply")
        if self.status is not None and (self.close_before_response or self.close_after_handling):
            raise ValueError(f"Fault.{closes[0]} sends no response: status would never be seen")
        if self.job_level:
            if self.status is not None or self.close_before_response:
                raise ValueError(
                    "Fault.job_* settings need the submit to be handled: "
                    "drop status and close_before_response"
                )
        elif not (self.delay or self.status is not None or closes or self.stall_body_seconds):
            raise ValueError("Fault does nothing: set a status, a delay, a close, a stall or job_*")

    @property
    def job_level(self) -> bool:
        """Whether the fault changes the job a submit creates."""
        return (
            self.job_pending_seconds is not None
            or self.job_processing_seconds is not None
            or self.job_fails
        )

    def header_pairs(self) -> list[tuple[str, str]]:
        """The scripted response's headers, as (name, value) pairs."""
        if isinstance(self.headers, Mapping):
            return list(self.headers.items())
        return list(self.headers)

    def matches(self, method: str, path: str, is_submit: bool) -> bool:
        if self.method is not None and self.method != method:
            return False
        if self.job_level and not is_submit:
            return False
        return self._pattern.fullmatch(path) is not None

    def to_json(self) -> dict[str, Any]:
        """The fault as the control endpoint accepts it."""
        body = self.body
        return {
            "method": self.method,
            "path": self.path,
            "times": self.times,
            "delay": self.delay,
            "status": self.status,
            "headers": dict(self.header_pairs()),
            "body": body.decode("utf-8", "replace") if isinstance(body, bytes) else body,
            "close_before_response": self.close_before_response,
            "close_after_handling": self.close_after_handling,
            "close_after_body_bytes": self.close_after_body_bytes,
            "stall_body_seconds": self.stall_body_seconds,
            "stall_after_bytes": self.stall_after_bytes,
            "job_pending_seconds": self.job_pending_seconds,
            "job_processing_seconds": self.job_processing_seconds,
            "job_fails": self.job_fails,
            "job_error": self.job_error,
        }


class FaultQueue:
    """Queued faults with their remaining uses; shared between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[list[Any]] = []  # [fault, uses left]

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._queue.append([fault, fault.times])

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def pending(self) -> list[tuple[Fault, int]]:
        with self._lock:
            return [(fault, left) for fault, left in self._queue]

    def take(self, method: str, path: str, is_submit: bool) -> Fault | None:
        """The first matching fault, with one use consumed; None when none matches."""
        with self._lock:
            for index, entry in enumerate(self._queue):
                fault: Fault = entry[0]
                if fault.matches(method, path, is_submit):
                    entry[1] -= 1
                    if entry[1] == 0:
                        del self._queue[index]
                    return fault
        return None
