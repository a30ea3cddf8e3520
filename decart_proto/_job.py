"""Every decision of a job's life, with time passed in and randomness injected.

The machine never performs I/O: the driver asks it what to do next (:meth:`JobMachine.next_action`)
and tells it what happened. All the waiting — the first poll, the polling rhythm, backoff,
``Retry-After`` — is a :class:`Wait` it hands out, always before the deadline.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from ._errors import DeadlineExceededError, DecartSDKError, LocalProtocolError
from ._job_state import TERMINAL, JobEvent, JobState, next_state
from ._policy import PollPolicy, RetryPolicy
from ._responses import JobStatus, JobStatusResponse

__all__ = [
    "Failure",
    "Fetch",
    "Finish",
    "JobMachine",
    "Mode",
    "Poll",
    "Submit",
    "Wait",
    "resume_hint",
]


def resume_hint(job_id: str | None) -> str:
    """How a message ends when the job outlives the call: the id to resume waiting with."""
    return f"; resume waiting with the job id {job_id!r}" if job_id else ""


class Mode(enum.Enum):
    """What the call wants: the whole job, or one of its steps."""

    SUBMIT_AND_POLL = "submit and poll"
    RESUME = "resume"  # poll an existing job, then fetch its result
    SUBMIT = "submit"
    STATUS = "status"
    RESULT = "result"


_START = {
    Mode.SUBMIT_AND_POLL: JobState.SUBMITTING,
    Mode.SUBMIT: JobState.SUBMITTING,
    Mode.RESUME: JobState.POLLING,
    Mode.STATUS: JobState.POLLING,
    Mode.RESULT: JobState.FETCHING,
}
_ONE_SHOT = frozenset({Mode.SUBMIT, Mode.STATUS})
_WAKE = {
    JobState.WAITING_TO_SUBMIT: JobState.SUBMITTING,
    JobState.WAITING_TO_POLL: JobState.POLLING,
    JobState.WAITING_TO_FETCH: JobState.FETCHING,
}
_STATUS_EVENTS = {
    "pending": JobEvent.PENDING,
    "processing": JobEvent.PROCESSING,
    "completed": JobEvent.COMPLETED,
    "failed": JobEvent.FAILED,
}


@dataclass(slots=True)
class Failure:
    """A request that did not give an answer. ``transient``: the kind of failure that may pass
    (connection trouble, timeouts, 408, 429, 5xx). ``no_job_created``: for a submit, proof that
    retrying cannot duplicate a job (nothing was sent, or the server said so with 429 or 503 +
    ``Retry-After``)."""

    error: DecartSDKError
    transient: bool
    retry_after: float | None = None
    no_job_created: bool = False


@dataclass(slots=True)
class Submit:
    pass


@dataclass(slots=True)
class Poll:
    job_id: str


@dataclass(slots=True)
class Fetch:
    job_id: str


@dataclass(slots=True)
class Wait:
    until: float


@dataclass(slots=True)
class Finish:
    state: JobState


Action = Submit | Poll | Fetch | Wait | Finish


class JobMachine:
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
    ) -> None:
        if (job_id is None) != (mode in (Mode.SUBMIT, Mode.SUBMIT_AND_POLL)):
            need = "needs a" if job_id is None else "takes no"
            raise LocalProtocolError(f"mode {mode.value!r} {need} job id")
        self.mode = mode
        self._one_shot = mode in _ONE_SHOT
        self.state = _START[mode]
        self.deadline = deadline
        self.job_id = job_id
        self.poll = poll or PollPolicy()
        self.retry = retry or RetryPolicy()
        self.status: JobStatus | None = None
        self.error: DecartSDKError | None = None
        self.polls = 0
        self.retries = 0
        self.wake_at: float | None = None
        self._rand = rand
        self.started = now

    # -- asking -------------------------------------------------------------------------------

    def next_action(self, now: float) -> Action:
        state = self.state
        # The three request states are told apart by identity first: this runs twice per
        # request, and an enum's hash (for `in` a set or dict) is a Python-level call.
        if (
            state is not JobState.POLLING
            and state is not JobState.FETCHING
            and state is not JobState.SUBMITTING
        ):
            if state not in _WAKE:
                assert state in TERMINAL, state
                return Finish(state)
            assert self.wake_at is not None
            if now < self.wake_at:
                return Wait(self.wake_at)
            self._fire(JobEvent.TIMER)
            self.wake_at = None
        if now >= self.deadline:
            self.deadline_passed(now)
            return Finish(self.state)
        if self.state is JobState.SUBMITTING:
            return Submit()
        assert self.job_id is not None
        if self.state is JobState.POLLING:
            return Poll(self.job_id)
        return Fetch(self.job_id)

    # -- telling ------------------------------------------------------------------------------

    def submitted(self, now: float, job_id: str, status: JobStatus) -> JobStatusResponse | None:
        """The submit succeeded; returns the status change to report (never in a one-shot
        mode, whose caller gets the answer as the call's value)."""
        self._expect(JobState.SUBMITTING)
        self.job_id = job_id
        return self._answer(now, status)

    def status_received(self, now: float, status: JobStatus) -> JobStatusResponse | None:
        self._expect(JobState.POLLING)
        self.polls += 1
        return self._answer(now, status)

    def fetched(self) -> None:
        self._expect(JobState.FETCHING)
        self._fire(JobEvent.FETCHED)

    def failed(self, now: float, failure: Failure) -> None:
        """A request failed: retry after a wait, or give up. The one rule that is not in the
        table: a submit is retried only when no job can have been created."""
        self._expect(JobState.SUBMITTING, JobState.POLLING, JobState.FETCHING)
        self.error = failure.error
        allowed = failure.transient and self.retries < self.retry.max_retries
        if self.state is JobState.SUBMITTING:
            allowed = allowed and failure.no_job_created
        if not allowed:
            self._fire(JobEvent.GIVE_UP)
            return
        self.retries += 1
        self._fire(JobEvent.RETRY)
        self._schedule(now, self.retry.delay(self.retries, self._rand(), failure.retry_after))

    def deadline_passed(self, now: float, cause: DecartSDKError | None = None) -> None:
        """The deadline passed: the driver saw the clock past it, or a request failed because
        its last step had the job's deadline. *cause* is what that request ran into."""
        if self.state not in TERMINAL:
            if cause is not None:
                self.error = cause
            self._fire(JobEvent.DEADLINE)

    def deadline_error(self) -> DeadlineExceededError:
        what = f"job {self.job_id}" if self.job_id else "the submit"
        return DeadlineExceededError(
            f"Deadline of {self.deadline - self.started:.1f} s passed while waiting for "
            f"{what} (last status: {self.status or 'none'}){resume_hint(self.job_id)}",
            data={"job_id": self.job_id, "status": self.status},
            cause=self.error,
        )

    # -- inside -------------------------------------------------------------------------------

    def _answer(self, now: float, status: JobStatus) -> JobStatusResponse | None:
        self.retries = 0
        if self._one_shot:
            # The caller gets the answer as the call's value; there is no one to notify.
            self.status = status
            self.state = JobState.REPORTED
            return None
        assert self.job_id is not None
        change = None if status == self.status else JobStatusResponse(self.job_id, status)
        self.status = status
        self._fire(_STATUS_EVENTS[status])
        if self.state is JobState.WAITING_TO_POLL:
            self._schedule(now, self.poll.delay(self.polls, self._rand()))
        return change

    def _schedule(self, now: float, delay: float) -> None:
        wake = now + delay
        if wake >= self.deadline:
            # Never wait past the deadline: waking only to give up helps nobody.
            self._fire(JobEvent.DEADLINE)
        else:
            self.wake_at = wake

    def _fire(self, event: JobEvent) -> None:
        self.state = next_state(self.state, event)

    def _expect(self, *states: JobState) -> None:
        if self.state not in states:
            raise LocalProtocolError(
                f"the job is {self.state.value!r}, not {' or '.join(s.value for s in states)}"
            )
