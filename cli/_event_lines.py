"""The client's events as lines on stderr: each retry as it is scheduled, so that a dead or
refusing server is seen at once rather than after minutes of silence; with ``-v``, every event
(each request and its answer, each status change, a deadline given up)."""

from __future__ import annotations

from collections.abc import Callable

from decart_proto import Event, RetryScheduled

from ._progress import Reporter

__all__ = ["event_lines", "retry_line"]


def retry_line(event: RetryScheduled) -> str:
    """The line of a retry: the wait and the reason first, as people read it, then which job
    and how far through its attempts."""
    job = f"job {event.job_id}" if event.job_id else "the submit"
    return (
        f"retrying in {event.delay:.1f} s: {event.reason} "
        f"({job}, attempt {event.attempt} of {event.max_attempts})"
    )


def event_lines(reporter: Reporter, verbose: bool) -> Callable[[Event], None]:
    """The client's ``event_hook``: lines through *reporter* (which keeps them off a live
    display's rows, masks the key, and says nothing with ``--quiet``)."""

    def hook(event: Event) -> None:
        if isinstance(event, RetryScheduled):
            reporter.line(retry_line(event))
        elif verbose:
            reporter.line(event.message())

    return hook
