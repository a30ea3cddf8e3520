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

import math
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
    TRIES_FOR_AN_ANSWER,
    JobEvent,
    JobState,
    Mode,
    failure_event,
    next_state,
    retry_event,
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
    which sets how long before the deadline the last attempt starts (``_policy.py``).
    *answer_window*: for a call that tries for an answer only so long (``TRIES_FOR_AN_ANSWER``;
    the driver gives it when the caller gave no timeout), no attempt starts later than this
    after *now*."""

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
        answer_window: float | None = None,
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
        self.answer_window = answer_window if mode in TRIES_FOR_AN_ANSWER else None
        # No retry starts after this (see retry_event).
        self.window_end = math.inf if self.answer_window is None else now + self.answer_window
        # Why the call ended before its deadline allowed, when it did (for the error's message).
        self.gave_up: str | None = None
        self.ended_at: float | None = None
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
        wait = None
        if event in _RETRIES and E.TIMER in self._table.get(
            next_state(self.mode, state, event), {}
        ):
            # Worked out before the table is read: a retry that cannot start in time ends the
            # call now (retry_event).
            wait = self.retry.delay(self.retries + 1, self._rand(), verdict.retry_after)
            event = retry_event(
                event,
                wait=wait,
                server_asked=verdict.retry_after is not None,
                start_left=self.last_start - now,
                window_left=self.window_end - now,
            )
        if event is E.EXHAUSTED or event is E.DEADLINE:
            self._explain(now, event, verdict.retry_after)
        self._fire(event)
        if event is E.GIVE_UP and self.state is S.ERROR:
            self._name_the_job()
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
            if wait is None:
                wait = self.poll.delay(self.polls, self._rand())
            self.wake_at = self._wake(now, wait)
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
        """The deadline's error: what was waited for, and why it ended there — the deadline
        passed, or the server asked for a wait past it — with the last attempt's failure named
        and chained, and the job id to resume with."""
        what = f"job {self.job_id}" if self.job_id else "the submit"
        total = f"{self.deadline - self.started:.1f} s"
        if self.gave_up is not None and self.ended_at is not None:
            head = (
                f"Giving up at {self.ended_at - self.started:.1f} s of the {total} deadline "
                f"while waiting for {what}: {self.gave_up}"
            )
        else:
            head = f"Deadline of {total} passed while waiting for {what}"
        hint = resume_hint(self.job_id)
        last = ""
        if self.error is not None:
            # The failure's own message may end with the same hint: it is given once, last.
            last = f"; the last attempt failed: {self.error.message.removesuffix(hint)}"
        return DeadlineExceededError(
            f"{head} (last status: {self.status or 'none'}){last}{hint}",
            data={"job_id": self.job_id, "status": self.status, "last_failure": self.error},
            cause=self.error,
        )

    # -- inside -------------------------------------------------------------------------------

    def _explain(self, now: float, event: JobEvent, retry_after: float | None) -> None:
        """Say why a failure ends the call (the error raised is the failure's own, or the
        deadline's): the budget spent, or a wait the server asked for that cannot fit."""
        self.ended_at = now
        asked = "" if retry_after is None else f"the server asked to retry after {retry_after:g} s"
        if event is E.DEADLINE:
            if now < self.deadline:  # ended early: retry_event
                self.gave_up = asked
            return
        if self.error is None or self.state in KEEPS_ERROR:
            return
        elapsed = now - self.started
        if self.retries < self.retry.max_retries:  # the answer window: retry_event
            why = (
                f"{self.mode.value}() tries for {self.answer_window:g} s when called without "
                "timeout= (Timeouts.answer)"
            )
            if asked:
                why = f"{asked}, and {why}"
        else:
            why = f"the retry budget is spent (RetryPolicy.max_retries={self.retry.max_retries})"
        attempts = self.retries + 1
        hint = resume_hint(self.job_id) if self.mode in REPORTS_CHANGES else ""
        self.error.message = (
            f"{self.error.message.removesuffix(hint)}; given up at {elapsed:.1f} s, after "
            f"{attempts} failed attempt{'s' if attempts > 1 else ''} in a row: {why}"
        )
        self._name_the_job()

    def _name_the_job(self) -> None:
        """A call that follows a job and ends on a failure leaves the job running on the server:
        its error names the id to resume with, in the message and in ``.data["job_id"]`` (as the
        deadline's error does), once, however the failure ended the call — the retries spent,
        or one not worth retrying (a 401, no file descriptor left)."""
        if self.error is None or self.job_id is None or self.mode not in REPORTS_CHANGES:
            return
        hint = resume_hint(self.job_id)
        self.error.message = f"{self.error.message.removesuffix(hint)}{hint}"
        self.error.data["job_id"] = self.job_id

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
