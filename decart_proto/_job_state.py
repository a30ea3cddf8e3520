"""The job's lifecycle as data: every transition of a call lives in this module (h11's "Rule 1").

Theory of operation. A call is one :class:`Mode` (what the caller asked for) and its job is in
exactly one :class:`JobState`. Something happens — an answer arrives, a request fails, a timer
fires, the deadline passes — and becomes one :class:`JobEvent` (``_classify.py`` makes an event of
a response, or of the absence of one); ``TRANSITIONS[mode][state][event]`` is the next state. A
missing key means the event cannot happen there: a bug in whoever reported it, raised as
:class:`LocalProtocolError`. Around the table, as data too:

- ``START``: where each call begins (``START_ONCE`` for a submit whose body cannot be sent twice);
- the wake map: a state with a TIMER edge is a wait, and its TIMER edge says what follows it;
- REPORTED: where a one-shot call (``submit()``, ``status()``) ends with its first answer;
- ``NEW_CONNECTION``, ``KEEPS_ERROR``, ``REPORTS_CHANGES``: three facts about states and modes
  that are not edges.

The table cannot key on a number: the clock against the deadline, the retry budget left.
:func:`failure_event` and :func:`retry_event`, below the table and the only code here, fold
those into a failure's event before the table is read. ``docs/draw_job_states.py`` draws the
diagram from this module.
"""

from __future__ import annotations

import enum

from ._errors import LocalProtocolError

__all__ = [
    "KEEPS_ERROR",
    "NEW_CONNECTION",
    "REPORTS_CHANGES",
    "START",
    "START_ONCE",
    "TERMINAL",
    "TRANSITIONS",
    "TRIES_FOR_AN_ANSWER",
    "JobEvent",
    "JobState",
    "Mode",
    "failure_event",
    "next_state",
    "retry_event",
]


class _Member(enum.Enum):
    """An enum whose members hash by identity, in C: each poll looks its states and events up
    some twenty times (the table, the sets below), and ``Enum``'s own hash is a Python call
    (hashing the name). Members are singletons and compare by identity, so it is the same
    lookup, cheaper."""

    __hash__ = object.__hash__


class Mode(_Member):
    """What the call wants: the whole job, or one of its steps."""

    SUBMIT_AND_POLL = "submit and poll"
    RESUME = "resume"  # poll an existing job, then fetch its result: wait()
    SUBMIT = "submit"
    STATUS = "status"
    RESULT = "result"


class JobState(_Member):
    SUBMITTING = "submitting"
    SUBMITTING_ONCE = "submitting once"  # a body read from a pipe: it cannot be sent again
    WAITING_TO_SUBMIT = "waiting to submit"
    POLLING = "polling"
    WAITING_TO_POLL = "waiting to poll"
    FETCHING = "fetching"
    WAITING_TO_FETCH = "waiting to fetch"
    PROBING = "probing"  # result(): asking the status of a job whose content was refused
    WAITING_TO_PROBE = "waiting to probe"
    REPORTED = "reported"
    COMPLETED = "completed"
    FAILED = "failed"
    ERROR = "error"
    DEADLINE_EXCEEDED = "deadline exceeded"


class JobEvent(_Member):
    # The job's status, in a 2xx answer to a submit or a status request.
    PENDING = "status pending"
    PROCESSING = "status processing"
    COMPLETED = "status completed"
    FAILED = "status failed"
    # The result's answers.
    FETCHED = "result fetched"
    NO_CONTENT = "content refused"  # a 4xx, other than 401 and 403
    # Failures that may pass. NOT_DONE: the request provably had no effect (nothing was sent;
    # 429; 503 with Retry-After), so even a submit may be made again. MAYBE_DONE: it may have
    # reached the server and done its work (for a submit: created a job). STALE: nothing came
    # back on a kept-alive connection that the server had closed.
    NOT_DONE = "transient failure, nothing done"
    MAYBE_DONE = "transient failure, maybe done"
    STALE = "stale connection"
    # Failures that end the call. EXHAUSTED and DEADLINE are made by failure_event().
    GIVE_UP = "fatal failure"
    EXHAUSTED = "retries spent"
    DEADLINE = "deadline passed"
    TIMER = "timer fired"


S, E = JobState, JobEvent

_STATUS_EVENTS = (E.PENDING, E.PROCESSING, E.COMPLETED, E.FAILED)
# A status answer, in a call that follows the job to its end.
_FOLLOW = {
    E.PENDING: S.WAITING_TO_POLL,
    E.PROCESSING: S.WAITING_TO_POLL,
    E.COMPLETED: S.FETCHING,
    E.FAILED: S.FAILED,
}
# A status answer, in a call that wants only that answer.
_REPORT = dict.fromkeys(_STATUS_EVENTS, S.REPORTED)
_ENDS = {E.GIVE_UP: S.ERROR, E.EXHAUSTED: S.ERROR, E.DEADLINE: S.DEADLINE_EXCEEDED}


def _waiting(
    wake: JobState, *, at_deadline: JobState = S.DEADLINE_EXCEEDED
) -> dict[JobEvent, JobState]:
    return {E.TIMER: wake, E.DEADLINE: at_deadline}


# A submit is made again only when no job can have been created: a duplicate video job costs
# the user money. A body read from a pipe is gone once sent: no failure is retried.
_SUBMITTING = {E.NOT_DONE: S.WAITING_TO_SUBMIT, E.MAYBE_DONE: S.ERROR, **_ENDS}
_SUBMITTING_ONCE = {E.NOT_DONE: S.ERROR, E.MAYBE_DONE: S.ERROR, **_ENDS}
# A status request changes nothing: any failure that may pass is waited out and retried, and a
# stale connection is replaced at once (no wait, no retry spent: a server closing an idle
# connection is no sign of trouble).
_POLLING = {E.NOT_DONE: S.WAITING_TO_POLL, E.MAYBE_DONE: S.WAITING_TO_POLL, E.STALE: S.POLLING}
_FETCHING = {
    E.FETCHED: S.COMPLETED,
    E.NOT_DONE: S.WAITING_TO_FETCH,
    E.MAYBE_DONE: S.WAITING_TO_FETCH,
    E.STALE: S.FETCHING,
}

# submit_and_poll() and wait(): the whole job. A completed job whose content is refused is an
# error: the job said it was done.
_WHOLE_JOB = {
    S.SUBMITTING: {**_FOLLOW, **_SUBMITTING},
    S.SUBMITTING_ONCE: {**_FOLLOW, **_SUBMITTING_ONCE},
    S.WAITING_TO_SUBMIT: _waiting(S.SUBMITTING),
    S.POLLING: {**_FOLLOW, **_POLLING, **_ENDS},
    S.WAITING_TO_POLL: _waiting(S.POLLING),
    S.FETCHING: {**_FETCHING, E.NO_CONTENT: S.ERROR, **_ENDS},
    S.WAITING_TO_FETCH: _waiting(S.FETCHING),
}
_SUBMIT = {
    S.SUBMITTING: {**_REPORT, **_SUBMITTING},
    S.SUBMITTING_ONCE: {**_REPORT, **_SUBMITTING_ONCE},
    S.WAITING_TO_SUBMIT: _waiting(S.SUBMITTING),
}
_STATUS = {
    S.POLLING: {**_REPORT, **_POLLING, **_ENDS},
    S.WAITING_TO_POLL: _waiting(S.POLLING),
}
# result(): the Queue API docs answer a failed job's result() with a "failed" result, and its
# content request with a 4xx. So a refused content asks for the job's status: "failed" makes
# the failed result; any other answer, or no answer in time, leaves the content's error, which
# says more than the probe's.
_RESULT = {
    S.FETCHING: {**_FETCHING, E.NO_CONTENT: S.PROBING, **_ENDS},
    S.WAITING_TO_FETCH: _waiting(S.FETCHING),
    S.PROBING: {
        E.FAILED: S.FAILED,
        E.PENDING: S.ERROR,
        E.PROCESSING: S.ERROR,
        E.COMPLETED: S.ERROR,
        E.NOT_DONE: S.WAITING_TO_PROBE,
        E.MAYBE_DONE: S.WAITING_TO_PROBE,
        E.STALE: S.PROBING,
        E.GIVE_UP: S.ERROR,
        E.EXHAUSTED: S.ERROR,
        E.DEADLINE: S.ERROR,
    },
    S.WAITING_TO_PROBE: _waiting(S.PROBING, at_deadline=S.ERROR),
}

TRANSITIONS: dict[Mode, dict[JobState, dict[JobEvent, JobState]]] = {
    Mode.SUBMIT_AND_POLL: _WHOLE_JOB,
    Mode.RESUME: _WHOLE_JOB,
    Mode.SUBMIT: _SUBMIT,
    Mode.STATUS: _STATUS,
    Mode.RESULT: _RESULT,
}

START: dict[Mode, JobState] = {
    Mode.SUBMIT_AND_POLL: S.SUBMITTING,
    Mode.RESUME: S.POLLING,
    Mode.SUBMIT: S.SUBMITTING,
    Mode.STATUS: S.POLLING,
    Mode.RESULT: S.FETCHING,
}
# Where a submit starts when its body cannot be sent twice (read from a pipe as it goes).
START_ONCE: dict[Mode, JobState] = {
    Mode.SUBMIT_AND_POLL: S.SUBMITTING_ONCE,
    Mode.SUBMIT: S.SUBMITTING_ONCE,
}

TERMINAL = frozenset({S.REPORTED, S.COMPLETED, S.FAILED, S.ERROR, S.DEADLINE_EXCEEDED})

# States whose request always goes on a new connection: a kept-alive one that the server closes
# at that moment would leave no way to tell whether a job was created. (After a STALE event the
# next request goes on a new connection too: JobMachine remembers it.)
NEW_CONNECTION = frozenset({S.SUBMITTING, S.SUBMITTING_ONCE})
# States whose failures do not replace the call's error: the probe's own troubles say less than
# the refused content it asks about.
KEEPS_ERROR = frozenset({S.PROBING})
# The calls that report each change of the job's status (on_status_change); the others return
# their one answer as the call's value.
REPORTS_CHANGES = frozenset({Mode.SUBMIT_AND_POLL, Mode.RESUME})

# The calls that, without timeout=, try for an answer only so long (Timeouts.answer): one
# request's answer, whose absence after a minute says the server is not there. The calls that
# follow a job wait for the job instead, bounded by the job's timeout.
TRIES_FOR_AN_ANSWER = frozenset({Mode.STATUS, Mode.RESULT})

# The failures that may pass with time: the ones the clock and the budget have a say in.
_MAY_PASS = frozenset({E.NOT_DONE, E.MAYBE_DONE, E.STALE})


def next_state(mode: Mode, state: JobState, event: JobEvent) -> JobState:
    """Where *event* leads from *state* in a *mode* call; an event the table does not allow there
    is a bug in whoever reported it."""
    try:
        return TRANSITIONS[mode][state][event]
    except KeyError:
        raise LocalProtocolError(
            f"job event {event.value!r} cannot happen in state {state.value!r} of a "
            f"{mode.value!r} call"
        ) from None


def failure_event(event: JobEvent, *, time_left: float, retries_left: int, fresh: bool) -> JobEvent:
    """The event the table is read with, for a request that came to *event*: the guards that are
    numbers, and so cannot be keys, decided here and nowhere else.

    A failure that may pass is the deadline's once no time is left (the request's last step had
    the call's deadline and most likely ran into it: out of time, not a failed request), and
    ends the call once no retry is left, except a stale connection, which is replaced without
    spending one. A fresh connection cannot be stale: the exchange reports staleness only on a
    kept-alive one, so that each request is replaced at most once."""
    if event not in _MAY_PASS:
        return event
    if time_left <= 0:
        return E.DEADLINE
    if event is E.STALE:
        if fresh:
            raise LocalProtocolError("a stale connection was reported for a new connection")
        return event
    return event if retries_left > 0 else E.EXHAUSTED


def retry_event(
    event: JobEvent, *, wait: float, server_asked: bool, start_left: float, window_left: float
) -> JobEvent:
    """The event the table is read with, for a failure that would be retried after *wait*
    seconds: itself, unless that retry cannot start in time.

    Our own backoff that would end past the last moment an attempt may start (*start_left*
    seconds away) is shortened to it by the machine: one last attempt that fits (#14). The
    server's ``Retry-After`` is not ours to shorten: asking sooner meets the same refusal. When
    it ends past that moment, still ahead, the deadline cannot be met and the call ends now,
    saying so (#12), rather than idling to its deadline. Past *window_left* (the time left to
    a call that tries for an answer only so long), no retry starts: the budget is spent."""
    if server_asked and 0 < start_left < wait:
        return E.DEADLINE
    if wait > window_left:
        return E.EXHAUSTED
    return event
