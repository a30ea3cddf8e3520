"""A process out of file descriptors stays out of them while it holds what it holds: the job
machine hears a failure to give up on, not one to retry."""

from __future__ import annotations

from decart_proto import IOTimeout, NetworkError, TooManyOpenFilesError
from decart_proto._classify import unanswered
from decart_proto._exchange import ExchangeFailed
from decart_proto._job_state import JobEvent
from decart_proto._responses import Operation


def test_no_descriptor_left_is_given_up_on_at_once() -> None:
    cause = TooManyOpenFilesError("no file descriptor left for a new connection")
    verdict = unanswered(Operation.STATUS, ExchangeFailed(cause, sent=False))
    assert verdict.event is JobEvent.GIVE_UP
    assert verdict.error is not None and verdict.error.__cause__ is cause


def test_other_connection_failures_are_still_retried() -> None:
    for cause in (NetworkError("connection refused"), IOTimeout("timed out")):
        verdict = unanswered(Operation.STATUS, ExchangeFailed(cause, sent=False))
        assert verdict.event is JobEvent.NOT_DONE
