"""The job machine: the table of ``_job_state.py`` run, with time passed in and randomness
injected.

The machine never performs I/O: the driver asks it what to do next (:meth:`JobMachine.next_action`)
and tells it what each request came to (:meth:`JobMachine.handle`, with a :class:`Verdict` from
``_classify.py``). Besides following the table it keeps the numbers a table cannot: the job's id
and last status, the retries spent, and when each wait ends. Every wait is the poll policy's or
the retry policy's, moved earlier when it would leave the last attempt no time before the
deadline; once no attempt fits, the call waits out its deadline and only then ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ._errors import DeadlineExceededError, DecartSDKError, LocalProtocolError
from ._job_state import (
    KEEPS_ERROR,
    NEW_CONNECTION,
    REPORTS_CHANGES,
    START,
    START_ONCE,
    TERMINAL,
    TRANSITIONS,
    JobEvent,
    JobState,
    Mode,
    failure_event,
    next_state,
)
from ._policy import DEFAULT_REQUEST_TIMEOUT, PollPolicy, RetryPolicy, last_attempt_reserve
from ._responses import JobStatus, JobStatusResponse

__all__ = [
    "Action",
    "Fetch",
    "Finish",
    "JobMachine",
    "Mode",
    "Poll",
    "Submit",
    "Verdict",
    "Wait",
    "resume_hint",
]

S, E = JobState, JobEvent


def resume_hint(job_id: str | None) -> str:
    """How a message ends when the job outlives the call: the id to resume waiting with."""
    return f"; resume waiting with the job id {job_id!r}" if job_id else ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a request came to (``_classify.py`` makes them): its event, and the hints that go
    with it. ``error``: what the caller is told if the call ends on this event (None for an
    answer that moves the job on). ``retry_after``: the seconds the server asked for before the
    next request. ``job_id``: the id a submit's answer gave."""

    event: JobEvent
    error: DecartSDKError | None = None
    retry_after: float | None = None
    job_id: str | None = None


@dataclass(frozen=True, slots=True)
class Submit:
    """Send the submit. ``fresh``: on a new connection, never a kept-alive one."""

    fresh: bool = True


@dataclass(frozen=True, slots=True)
class Poll:
    """Ask for the job's status."""

    job_id: str
    fresh: bool = False


@dataclass(frozen=True, slots=True)
class Fetch:
    """Download the job's result."""

    job_id: str
    fresh: bool = False


@dataclass(frozen=True, slots=True)
class Wait:
    until: float


@dataclass(frozen=True, slots=True)
class Finish:
    state: JobState


Action = Submit | Poll | Fetch | Wait | Finish

_STATUSES: dict[JobEvent, JobStatus] = {
    E.PENDING: "pending",
    E.PROCESSING: "processing",
    E.COMPLETED: "completed",
    E.FAILED: "failed",
}
_REQUESTS = frozenset({S.SUBMITTING, S.SUBMITTING_ONCE, S.POLLING, S.FETCHING, S.PROBING})
_RETRIES = frozenset({E.NOT_DONE, E.MAYBE_DONE})
_ANSWERS = frozenset({*_STATUSES, E.FETCHED, E.NO_CONTENT})


class JobMachine:
    """One call's job. *replayable*: whether a submit's body can be sent again (not when it is
    read from a pipe as it goes). *request_timeout*: how long one step of a request may take,
    which sets how long before the deadline the last attempt starts (``_policy.py``)."""

    def __init__(
        self,
        mode: Mode,
        *,
        now: float,
        deadline: float,
        rand: Callable[[], float],
        poll: PollPolicy | None = None,
        retry: RetryPolicy | None = None,
        job_id: str | None = None,
        replayable: bool = True,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        if (job_id is None) != (mode in START_ONCE):
            need = "needs a" if job_id is None else "takes no"
            raise LocalProtocolError(f"mode {mode.value!r} {need} job id")
        self.mode = mode
        self._table = TRANSITIONS[mode]
        self.state = START[mode] if replayable else START_ONCE.get(mode, START[mode])
        self.started = now
        self.deadline = deadline
        # The latest moment a poll or a retry may start (see _wake).
        self.last_start = deadline - last_attempt_reserve(request_timeout, deadline - now)
        self.job_id = job_id
        self.poll = poll or PollPolicy()
        self.retry = retry or RetryPolicy()
        self.status: JobStatus | None = None
        self.error: DecartSDKError | None = None
        self.polls = 0  # status answers so far: they set the polling rhythm
        self.retries = 0  # retries since the last answer
        self.wake_at: float | None = None
        # The last request found its kept-alive connection closed: the next one takes a new one.
        self.stale = False
        self._rand = rand

    # -- asking -------------------------------------------------------------------------------

    def next_action(self, now: float) -> Action:
        state = self.state
        if state in TERMINAL:
            return Finish(state)
        if now >= self.deadline:
            self._fire(E.DEADLINE)
            return Finish(self.state)
        if E.TIMER in self._table[state]:
            assert self.wake_at is not None
            if now < self.wake_at:
                return Wait(self.wake_at)
            self._fire(E.TIMER)
            self.wake_at = None
            state = self.state
        fresh = self._fresh()
        if state is S.SUBMITTING or state is S.SUBMITTING_ONCE:
            return Submit(fresh)
        assert self.job_id is not None
        if state is S.FETCHING:
            return Fetch(self.job_id, fresh)
        return Poll(self.job_id, fresh)  # polling, or probing a job whose content was refused

    # -- telling ------------------------------------------------------------------------------

    def handle(self, now: float, verdict: Verdict) -> JobStatusResponse | None:
        """What the request asked for last came to. Returns the status change to report, if the
        call reports changes and this is one."""
        state = self.state
        if state not in _REQUESTS:
            raise LocalProtocolError(f"the job is {state.value!r}: no request is in flight")
        if verdict.error is not None and state not in KEEPS_ERROR:
            self.error = verdict.error
        event = failure_event(
            verdict.event,
            time_left=self.deadline - now,
            retries_left=self.retry.max_retries - self.retries,
            fresh=self._fresh(),
        )
        self._fire(event)
        self.stale = event is E.STALE
        change = None
        status = _STATUSES.get(event)
        if status is not None:
            if self.job_id is None:  # a submit's answer
                assert verdict.job_id is not None, verdict
                self.job_id = verdict.job_id
            if self.mode in REPORTS_CHANGES and status != self.status:
                change = JobStatusResponse(self.job_id, status)
            self.status = status
            if state is S.POLLING:
                self.polls += 1
        if event in _RETRIES:
            self.retries += 1
        elif event in _ANSWERS:
            self.retries = 0  # the server is there again
        if E.TIMER in self._table.get(self.state, ()):
            if event in _RETRIES:
                delay = self.retry.delay(self.retries, self._rand(), verdict.retry_after)
            else:
                delay = self.poll.delay(self.polls, self._rand())
            self.wake_at = self._wake(now, delay)
        return change

    def failure(self) -> DecartSDKError | None:
        """What the call raises, when it ended on an error or at its deadline."""
        if self.state is S.DEADLINE_EXCEEDED:
            return self.deadline_error()
        if self.state is S.ERROR:
            assert self.error is not None, "every way into ERROR carries an error"
            return self.error
        return None

    def deadline_error(self) -> DeadlineExceededError:
        what = f"job {self.job_id}" if self.job_id else "the submit"
        return DeadlineExceededError(
            f"Deadline of {self.deadline - self.started:.1f} s passed while waiting for "
            f"{what} (last status: {self.status or 'none'}){resume_hint(self.job_id)}",
            data={"job_id": self.job_id, "status": self.status},
            cause=self.error,
        )

    # -- inside -------------------------------------------------------------------------------

    def _fresh(self) -> bool:
        return self.stale or self.state in NEW_CONNECTION

    def _wake(self, now: float, delay: float) -> float:
        """When a wait of *delay* from *now* ends: as asked, or at the last moment an attempt
        may start (``last_start``) when it would end later — one last attempt that still fits —
        or, when even that has passed, at the deadline: the call ends only when its time is up."""
        wake = now + delay
        if wake <= self.last_start:
            return wake
        return self.last_start if now < self.last_start else self.deadline

    def _fire(self, event: JobEvent) -> None:
        self.state = next_state(self.mode, self.state, event)
