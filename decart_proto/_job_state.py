"""The job's lifecycle as data.

Theory of operation: a job is in exactly one :class:`JobState`. Something happens — a response
arrives, a timer fires, a request fails, the deadline passes — and becomes one
:class:`JobEvent`; ``TRANSITIONS[state][event]`` is the next state. A missing key means the
event cannot happen in that state: a bug in the caller, reported as ``LocalProtocolError``.
``docs/draw_job_states.py`` draws the diagram from this very table.

Two special cases sit outside the table, in ``_job.py``, and say so: which of RETRY / GIVE_UP a
failure becomes (the retry policy and, for submit, whether a job may already exist), and the
one-shot calls (``submit()``, ``status()``) that stop at REPORTED after their first answer.
"""

from __future__ import annotations

import enum

from ._errors import LocalProtocolError

__all__ = ["TERMINAL", "TRANSITIONS", "JobEvent", "JobState", "next_state"]


class JobState(enum.Enum):
    SUBMITTING = "submitting"
    WAITING_TO_SUBMIT = "waiting to submit"
    WAITING_TO_POLL = "waiting to poll"
    POLLING = "polling"
    FETCHING = "fetching"
    WAITING_TO_FETCH = "waiting to fetch"
    REPORTED = "reported"
    COMPLETED = "completed"
    FAILED = "failed"
    ERROR = "error"
    DEADLINE_EXCEEDED = "deadline exceeded"


class JobEvent(enum.Enum):
    PENDING = "status pending"
    PROCESSING = "status processing"
    COMPLETED = "status completed"
    FAILED = "status failed"
    FETCHED = "result fetched"
    TIMER = "timer fired"
    RETRY = "transient failure"
    GIVE_UP = "fatal failure"
    DEADLINE = "deadline passed"


S, E = JobState, JobEvent

_ANSWERS = {
    E.PENDING: S.WAITING_TO_POLL,
    E.PROCESSING: S.WAITING_TO_POLL,
    E.COMPLETED: S.FETCHING,
    E.FAILED: S.FAILED,
}
_ENDS = {E.GIVE_UP: S.ERROR, E.DEADLINE: S.DEADLINE_EXCEEDED}

TRANSITIONS: dict[JobState, dict[JobEvent, JobState]] = {
    S.SUBMITTING: {**_ANSWERS, E.RETRY: S.WAITING_TO_SUBMIT, **_ENDS},
    S.WAITING_TO_SUBMIT: {E.TIMER: S.SUBMITTING, E.DEADLINE: S.DEADLINE_EXCEEDED},
    S.WAITING_TO_POLL: {E.TIMER: S.POLLING, E.DEADLINE: S.DEADLINE_EXCEEDED},
    S.POLLING: {**_ANSWERS, E.RETRY: S.WAITING_TO_POLL, **_ENDS},
    S.FETCHING: {E.FETCHED: S.COMPLETED, E.RETRY: S.WAITING_TO_FETCH, **_ENDS},
    S.WAITING_TO_FETCH: {E.TIMER: S.FETCHING, E.DEADLINE: S.DEADLINE_EXCEEDED},
}

TERMINAL = frozenset({S.REPORTED, S.COMPLETED, S.FAILED, S.ERROR, S.DEADLINE_EXCEEDED})


def next_state(state: JobState, event: JobEvent) -> JobState:
    """Where *event* leads from *state*; an event the table does not allow there is a bug in
    whoever reported it."""
    try:
        return TRANSITIONS[state][event]
    except KeyError:
        raise LocalProtocolError(
            f"job event {event.value!r} cannot happen in state {state.value!r}"
        ) from None
