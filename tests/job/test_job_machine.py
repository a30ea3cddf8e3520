"""The job machine, driven the way a driver drives it, by hypothesis.

Rules feed it everything that can happen (answers of every status, refused content, failures that
may pass with and without proof that nothing was done, stale connections, fatal failures,
``Retry-After``, late answers, the clock moving, the deadline passing) in every mode, with bodies
that can and cannot be sent twice. The invariants are the promises of DESIGN.md and #14: it ends,
it never polls after an end, it never waits past the deadline, it fetches once and only a
completed job, it never repeats a submit that may have reached the server, every wait keeps to its
policy or is moved to the last attempt that fits, and it never ends for the deadline before the
deadline while an attempt could still fit.

Every expected outcome here is worked out by the test from the rules written in the Queue API
docs and DESIGN.md, never read from the table; the table is then checked against stories
written by hand (``STORIES``: the requests each makes and how it ends; ``RHYTHMS``: when each
request is made), and every edge of the table must be walked by one of them, so that no entry is
checked only against itself.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from decart_proto import (
    TRANSITIONS,
    DeadlineExceededError,
    JobEvent,
    JobMachine,
    JobState,
    LocalProtocolError,
    Mode,
    NetworkError,
    PollPolicy,
    QueueResultError,
    QueueStatusError,
    QueueSubmitError,
    RetryPolicy,
    TLSVerificationError,
)
from decart_proto import _job as job_module
from decart_proto._classify import answered, unanswered
from decart_proto._exchange import ExchangeFailed, Response
from decart_proto._job import Fetch, Finish, Poll, Submit, Verdict, Wait
from decart_proto._job_state import START, START_ONCE, TERMINAL, next_state
from decart_proto._responses import Operation

from .hyp import examples

STATUSES = ("pending", "processing", "completed", "failed")
EVENTS = {
    "pending": JobEvent.PENDING,
    "processing": JobEvent.PROCESSING,
    "completed": JobEvent.COMPLETED,
    "failed": JobEvent.FAILED,
}
SUBMITS = (Mode.SUBMIT, Mode.SUBMIT_AND_POLL)
ONE_SHOT = (Mode.SUBMIT, Mode.STATUS)
START_AT = 1000.0
# DESIGN.md / #14: the last attempt starts a tenth of a request's time (or of the call's, when
# shorter) before the deadline.
SHARE = 0.1


@st.composite
def poll_policies(draw: st.DrawFn) -> PollPolicy:
    interval = draw(st.sampled_from([0.25, 1.0, 1.5, 4.0]))
    return PollPolicy(
        initial_delay=draw(st.sampled_from([0.0, 0.5, 2.0])),
        interval=interval,
        growth=draw(st.sampled_from([1.0, 1.5, 3.0])),
        max_interval=interval * draw(st.sampled_from([1, 4])),
        jitter=draw(st.sampled_from([0.0, 0.1, 0.5])),
    )


retry_policies = st.builds(
    RetryPolicy,
    max_retries=st.integers(0, 4),
    backoff_base=st.sampled_from([0.1, 0.5, 2.0]),
    backoff_cap=st.sampled_from([2.0, 20.0]),
    max_retry_after=st.sampled_from([0.0, 5.0, 120.0]),
)
retry_afters = st.none() | st.sampled_from([0.0, 1.0, 30.0, 1e9])
latencies = st.sampled_from([0.0, 0.01, 0.5, 3.0])


class RecordingRandom:
    """The machine's randomness, remembering what it handed out so waits can be checked."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self.last: float | None = None

    def __call__(self) -> float:
        self.last = self._random.random()
        return self.last


def _error(action: Any) -> Any:
    cls = {Submit: QueueSubmitError, Fetch: QueueResultError}.get(type(action), QueueStatusError)
    return cls("Failed: 503 - busy", data={"status": 503})


class JobMachineRules(RuleBasedStateMachine):
    """A driver's loop in rules: ``action`` is what the machine last asked for."""

    @initialize(
        mode=st.sampled_from(Mode),
        poll=poll_policies(),
        retry=retry_policies,
        timeout=st.sampled_from([0.3, 5.0, 30.0, 600.0]),
        request_timeout=st.sampled_from([0.5, 10.0, 60.0]),
        replayable=st.booleans(),
        seed=st.integers(0, 2**32),
    )
    def start(
        self,
        mode: Mode,
        poll: PollPolicy,
        retry: RetryPolicy,
        timeout: float,
        request_timeout: float,
        replayable: bool,
        seed: int,
    ) -> None:
        self.mode = mode
        self.now = START_AT
        self.deadline = START_AT + timeout
        # The latest start of an attempt (worked out as the machine does, to the last bit).
        self.last_start = self.deadline - SHARE * min(request_timeout, self.deadline - START_AT)
        self.rand = RecordingRandom(seed)
        self.replayable = replayable or mode not in SUBMITS
        job_id = None if mode in SUBMITS else "job-1"
        self.m = JobMachine(
            mode,
            now=START_AT,
            deadline=self.deadline,
            rand=self.rand,
            poll=poll,
            retry=retry,
            job_id=job_id,
            replayable=replayable,
            request_timeout=request_timeout,
        )
        self.requests = 0
        self.submits = 0
        self.fetched = 0
        self.submit_risked = False  # a submit body may have reached the server
        self.probing = False  # result(): the content was refused, the status is asked
        self.content_error: Any = None
        self.last_status: str | None = None
        self.action: Any = None
        self.after_stale = False
        self.expected_wait: Callable[[float], bool] | None = None
        self.ask()

    # -- the driver's side --------------------------------------------------------------------

    def ask(self) -> None:
        """Follow next_action like a driver: record what it asks and check it may ask that."""
        before = self.m.state
        action = self.m.next_action(self.now)
        if isinstance(action, Wait):
            assert action.until <= self.deadline, "a wait must not end past the deadline"
            # A zero wait (Retry-After: 0, initial_delay=0) fires at once and is never asked.
            assert action.until > self.now
            if action.until == self.deadline:
                # Waiting out the call: only when no attempt fits any more (#14).
                assert self.now >= self.last_start, (self.now, self.last_start)
            if self.expected_wait is not None:
                assert self.expected_wait(action.until), (action, self.now)
        elif isinstance(action, (Submit, Poll, Fetch)):
            assert self.now < self.deadline, "no request may start after the deadline"
            self.requests += 1
            # A submit always on a new connection; others on one only after a stale one.
            assert action.fresh is (isinstance(action, Submit) or self.after_stale)
        if isinstance(action, Submit):
            assert self.mode in SUBMITS
            assert not self.submit_risked, "a submit that may have created a job was repeated"
            assert self.replayable or self.submits == 0, "a pipe's body was sent twice"
            self.submits += 1
        if isinstance(action, Poll):
            assert action.job_id == self.m.job_id == "job-1"
            if self.probing:
                assert self.mode is Mode.RESULT and self.last_status is None
            else:
                assert self.mode in (Mode.RESUME, Mode.STATUS, Mode.SUBMIT_AND_POLL)
                assert self.last_status in (None, "pending", "processing")
        if isinstance(action, Fetch):
            assert self.fetched == 0
            assert self.mode is Mode.RESULT or self.last_status == "completed"
            assert not self.probing
        if isinstance(action, Finish):
            assert action.state in TERMINAL
            assert action.state is self.m.state
            if action.state is JobState.DEADLINE_EXCEEDED and before not in TERMINAL:
                # #14: the deadline is given up for only once it has really passed.
                assert self.now >= self.deadline, (self.now, self.deadline)
        self.expected_wait = None
        self.action = action

    def in_flight(self) -> bool:
        return isinstance(self.action, (Submit, Poll, Fetch))

    def one_shot(self) -> bool:
        return self.mode in ONE_SHOT

    def _expected_end_at_deadline(self) -> Finish:
        # The probe's deadline leaves the refused content's error, which says more.
        return Finish(JobState.ERROR if self.probing else JobState.DEADLINE_EXCEEDED)

    def _fits(self, wait: float, at: float) -> Callable[[float], bool]:
        """A wait of *wait* asked for at *at*: as long as that, or moved to the last attempt
        that fits, or to the deadline when none does."""

        def check(until: float) -> bool:
            if at + wait <= self.last_start:
                return math.isclose(until, at + wait, abs_tol=1e-9)
            if at < self.last_start:
                return until == self.last_start
            return until == self.deadline

        return check

    # -- what can happen ----------------------------------------------------------------------

    @precondition(lambda self: isinstance(self.action, (Submit, Poll)))
    @rule(status=st.sampled_from(STATUSES), latency=latencies)
    def answer(self, status: Any, latency: float) -> None:
        self.now += latency
        submitting = isinstance(self.action, Submit)
        polls_before = self.m.polls
        change = self.m.handle(self.now, Verdict(EVENTS[status], job_id="job-1"))
        self.after_stale = False
        if submitting:
            self.submit_risked = True
            assert self.m.job_id == "job-1"
        elif not self.probing:
            assert self.m.polls == polls_before + 1
        if self.one_shot() or self.probing:
            assert change is None, "one-shot calls and probes return their answer; nobody hears"
        elif status == self.last_status:
            assert change is None, "a status is reported only when it changes"
        else:
            assert change is not None and (change.job_id, change.status) == ("job-1", status)
        assert self.m.retries == 0, "an answer starts the retry count afresh"
        if self.probing:
            self.ask()
            if status == "failed":
                assert self.action == Finish(JobState.FAILED)
            else:
                assert self.action == Finish(JobState.ERROR)
                assert self.m.error is self.content_error, "the content's error stands"
            return
        self.last_status = status
        if not self.one_shot() and status in ("pending", "processing"):
            self.expected_wait = self._poll_wait(self.now, self.m.polls)
        self.ask()
        if self.one_shot():
            assert self.action == Finish(JobState.REPORTED)
        elif status == "failed":
            assert self.action == Finish(JobState.FAILED)
        elif status == "completed":
            expected = Fetch("job-1") if self.now < self.deadline else None
            assert self.action == (expected or Finish(JobState.DEADLINE_EXCEEDED))
        else:
            # A wait, a poll at once after a zero initial delay, or the end at the deadline.
            assert (
                isinstance(self.action, Wait)
                or self.action == Poll("job-1")
                or self.action == Finish(JobState.DEADLINE_EXCEEDED)
            )
            if self.action == Poll("job-1"):
                assert self.m.polls == 0 and self.m.poll.initial_delay == 0
            if isinstance(self.action, Finish):
                assert self.now >= self.deadline

    def _poll_wait(self, at: float, polls: int) -> Callable[[float], bool]:
        policy = self.m.poll
        low, high = policy.bounds()
        assert self.rand.last is not None
        exact = policy.delay(polls, self.rand.last)
        assert low - 1e-9 <= exact <= high + 1e-9
        if polls == 0:  # the wait after submit is the initial delay, jittered
            assert policy.initial_delay * (1 - policy.jitter) - 1e-9 <= exact
        return self._fits(exact, at)

    @precondition(lambda self: isinstance(self.action, Fetch))
    @rule(latency=latencies)
    def result_arrives(self, latency: float) -> None:
        self.now += latency
        assert self.m.handle(self.now, Verdict(JobEvent.FETCHED)) is None
        self.fetched += 1
        self.after_stale = False
        self.ask()
        assert self.action == Finish(JobState.COMPLETED)

    @precondition(lambda self: isinstance(self.action, Fetch))
    @rule(latency=latencies)
    def content_refused(self, latency: float) -> None:
        # A 4xx to the content request: a job that is not completed, or failed.
        self.now += latency
        error = QueueResultError("Failed to get job content: 409 - no", data={"status": 409})
        self.m.handle(self.now, Verdict(JobEvent.NO_CONTENT, error))
        self.after_stale = False
        assert self.m.error is error
        # result(): the Queue API docs answer a failed job's result with a failed result, so
        # the job's status is asked.
        self.probing = self.mode is Mode.RESULT
        self.content_error = error
        self.ask()
        if not self.probing:
            # The job said it was completed: its content must be there.
            assert self.action == Finish(JobState.ERROR)
            return
        assert self.m.retries == 0
        if self.now >= self.deadline:
            assert self.action == Finish(JobState.ERROR)
        else:
            assert self.action == Poll("job-1")

    @precondition(lambda self: self.in_flight())
    @rule(
        kind=st.sampled_from(["nothing done", "maybe done", "fatal"]),
        retry_after=retry_afters,
        latency=latencies,
    )
    def request_fails(self, kind: str, retry_after: float | None, latency: float) -> None:
        self.now += latency
        submitting = isinstance(self.action, Submit)
        retries_before = self.m.retries
        error = _error(self.action)
        event = {
            "nothing done": JobEvent.NOT_DONE,
            "maybe done": JobEvent.MAYBE_DONE,
            "fatal": JobEvent.GIVE_UP,
        }[kind]
        self.m.handle(self.now, Verdict(event, error, retry_after))
        self.after_stale = False
        if self.probing:
            assert self.m.error is self.content_error, "the probe's failure says less"
        else:
            assert self.m.error is error
        if submitting and kind != "nothing done":
            self.submit_risked = True
        out_of_time = self.now >= self.deadline and kind != "fatal"
        may_retry = kind != "fatal" and retries_before < self.m.retry.max_retries
        if submitting:
            # A submit again only when no job can have been created, and its body is there.
            may_retry = may_retry and kind == "nothing done" and self.replayable
        # #12: the server's Retry-After is not shortened; when it ends past the last moment an
        # attempt may start (still ahead), the deadline cannot be met, and the call says so now.
        asked = None if retry_after is None else min(retry_after, self.m.retry.max_retry_after)
        too_late = (
            may_retry
            and not out_of_time
            and asked is not None
            and self.now < self.last_start < self.now + asked
        )
        if may_retry and not out_of_time and not too_late:
            assert self.m.retries == retries_before + 1
            self.expected_wait = self._retry_wait(self.now, self.m.retries, retry_after)
        self.ask()
        if out_of_time:
            assert self.action == self._expected_end_at_deadline()
        elif too_late:
            assert self.action == self._expected_end_at_deadline()
            if not self.probing:
                message = self.m.deadline_error().message
                assert f"the server asked to retry after {retry_after:g} s" in message
        elif not may_retry:
            assert self.action == Finish(JobState.ERROR)
        else:
            assert isinstance(self.action, Wait) or self.in_flight(), self.action

    def _retry_wait(
        self, at: float, retry: int, retry_after: float | None
    ) -> Callable[[float], bool]:
        policy = self.m.retry
        assert self.rand.last is not None
        if retry_after is not None:
            wait = min(retry_after, policy.max_retry_after)
        else:
            full = min(policy.backoff_cap, policy.backoff_base * 2.0 ** (retry - 1))
            wait = full / 2 + self.rand.last * full / 2
            assert full / 2 - 1e-9 <= wait <= full + 1e-9
        return self._fits(wait, at)

    @precondition(lambda self: isinstance(self.action, (Poll, Fetch)) and not self.action.fresh)
    @rule(latency=latencies)
    def connection_was_stale(self, latency: float) -> None:
        # The kept-alive connection had been closed by the server: nothing came back.
        self.now += latency
        before = self.action
        retries_before = self.m.retries
        error = _error(self.action)
        self.m.handle(self.now, Verdict(JobEvent.STALE, error))
        self.after_stale = True
        self.ask()
        if self.now >= self.deadline:
            assert self.action == self._expected_end_at_deadline()
            return
        # At once, on a new connection, without spending a retry.
        assert type(self.action) is type(before) and self.action.fresh
        assert self.m.retries == retries_before

    @precondition(lambda self: self.in_flight())
    @rule(with_cause=st.booleans())
    def request_outlives_the_deadline(self, with_cause: bool) -> None:
        # The request's last I/O step had the job's deadline, and hit it.
        self.now = max(self.now, self.deadline)
        before = self.m.error
        cause = _error(self.action) if with_cause else None
        self.m.handle(self.now, Verdict(JobEvent.MAYBE_DONE, cause))
        self.ask()
        assert self.action == self._expected_end_at_deadline()
        if self.probing:
            assert self.m.error is self.content_error
            return
        error = self.m.deadline_error()
        assert isinstance(error, DeadlineExceededError)
        assert error.cause is (cause or before)
        assert error.data["job_id"] == self.m.job_id
        assert error.data["status"] == self.last_status
        if self.m.job_id:
            assert repr(self.m.job_id) in error.message

    @precondition(lambda self: isinstance(self.action, Wait))
    @rule(fraction=st.sampled_from([0.0, 0.5, 0.999]))
    def clock_moves_before_the_wake(self, fraction: float) -> None:
        until = self.action.until
        self.now += (until - self.now) * fraction
        self.now = min(self.now, until)  # rounding must not carry it past the wake
        self.ask()
        if self.now < until:
            assert self.action == Wait(until), "woken early, it must ask to wait again"

    @precondition(lambda self: isinstance(self.action, Wait))
    @rule(overshoot=st.sampled_from([0.0, 0.001, 2.0, 1e6]))
    def sleep_ends(self, overshoot: float) -> None:
        self.now = self.action.until + overshoot
        self.ask()
        if self.now >= self.deadline:
            assert self.action == self._expected_end_at_deadline()
        else:
            assert self.in_flight()

    @precondition(lambda self: isinstance(self.action, Finish))
    @rule(later=st.sampled_from([0.0, 1.0, 1e9]), status=st.sampled_from(STATUSES))
    def an_ended_job_stays_ended(self, later: float, status: Any) -> None:
        self.now += later
        final = self.action
        assert self.m.next_action(self.now) == final
        error = self.m.error
        for verdict in (
            Verdict(EVENTS[status], job_id="job-2"),
            Verdict(JobEvent.FETCHED),
            Verdict(JobEvent.NOT_DONE, _error(None)),
            Verdict(JobEvent.DEADLINE),
        ):
            with pytest.raises(LocalProtocolError, match="no request is in flight"):
                self.m.handle(self.now, verdict)
        assert self.m.next_action(self.now) == final
        assert self.m.error is error

    @invariant()
    def bounded(self) -> None:
        # Each request is an answer (bounded by the deadline over the shortest poll wait, plus
        # the submit, the fetch, the probe and the last attempt) or one of at most max_retries
        # retries before one; each may be made twice when its kept-alive connection was stale.
        policy = self.m.poll
        shortest = policy.interval * (1 - policy.jitter)
        answers = 5 + (self.deadline - START_AT) / shortest
        assert self.requests <= 2 * answers * (self.m.retry.max_retries + 1)

    @invariant()
    def never_past_the_deadline_unless_ended(self) -> None:
        if not isinstance(self.action, Finish):
            assert self.now < self.deadline or isinstance(self.action, (Submit, Poll, Fetch))


TestJobMachine = JobMachineRules.TestCase
TestJobMachine.settings = examples(500, stateful_step_count=40)


# -- it always ends -------------------------------------------------------------------------


@examples(100)
@given(
    mode=st.sampled_from([Mode.SUBMIT_AND_POLL, Mode.RESUME, Mode.RESULT]),
    poll=poll_policies(),
    retry=retry_policies,
    timeout=st.sampled_from([1.0, 60.0, 300.0]),
    data=st.data(),
)
def test_it_always_ends_against_an_adversary(
    mode: Mode, poll: PollPolicy, retry: RetryPolicy, timeout: float, data: st.DataObject
) -> None:
    """A server that never finishes the job and fails every other request as slowly and as
    retryably as it can: the machine still ends, within a bound, at the deadline at the latest."""
    job_id = None if mode is Mode.SUBMIT_AND_POLL else "job-1"
    m = JobMachine(
        mode, now=0.0, deadline=timeout, rand=random.Random(0).random, poll=poll,
        retry=retry, job_id=job_id,
    )  # fmt: skip
    now = 0.0
    shortest = poll.interval * (1 - poll.jitter)
    bound = int((5 + timeout / shortest) * (retry.max_retries + 1)) + 2
    fails = data.draw(st.booleans())
    busy = Verdict(JobEvent.NOT_DONE, _error(None), retry_after=0.0)
    for _ in range(bound * 2):
        action = m.next_action(now)
        if isinstance(action, Finish):
            break
        if isinstance(action, Wait):
            assert action.until <= timeout
            now = action.until
            continue
        if fails and m.retries < retry.max_retries:
            m.handle(now, busy)
        elif isinstance(action, Submit):
            m.handle(now, Verdict(JobEvent.PENDING, job_id="job-1"))
        elif isinstance(action, Poll):
            m.handle(now, Verdict(JobEvent.PROCESSING))
        else:
            m.handle(now, busy)
    else:
        raise AssertionError("the job machine did not end")
    assert action.state in (JobState.DEADLINE_EXCEEDED, JobState.ERROR)
    if action.state is JobState.DEADLINE_EXCEEDED:
        assert now >= timeout
    assert m.polls <= bound


# -- the table itself -----------------------------------------------------------------------


def test_an_event_the_table_does_not_allow_is_a_bug_named_in_full() -> None:
    # A result cannot arrive while a status call polls: whoever reported it has a bug, and the
    # error says which event, in which state, of which call.
    with pytest.raises(
        LocalProtocolError,
        match=re.escape("job event 'result fetched' cannot happen in state 'polling' of a "
                        "'status' call"),
    ):  # fmt: skip
        next_state(Mode.STATUS, JobState.POLLING, JobEvent.FETCHED)
    # Nor can a probe happen in submit_and_poll(), nor anything after an end.
    with pytest.raises(LocalProtocolError, match="'probing' of a 'submit and poll' call"):
        next_state(Mode.SUBMIT_AND_POLL, JobState.PROBING, JobEvent.FAILED)
    with pytest.raises(LocalProtocolError, match="'timer fired' cannot happen in state 'failed'"):
        next_state(Mode.RESUME, JobState.FAILED, JobEvent.TIMER)


@pytest.mark.parametrize("mode", list(Mode))
def test_table_shape(mode: Mode) -> None:
    table = TRANSITIONS[mode]
    assert set(table).isdisjoint(TERMINAL), "an ended job has no way out"
    for state, edges in table.items():
        # Every state ends at the deadline; the result's probe leaves the content's error.
        assert edges[JobEvent.DEADLINE] in (JobState.DEADLINE_EXCEEDED, JobState.ERROR)
        if JobEvent.TIMER in edges:  # a wait: its timer, or the deadline
            assert set(edges) == {JobEvent.TIMER, JobEvent.DEADLINE}, state
    starts = {START[mode], START_ONCE.get(mode, START[mode])}
    reached = set(starts)
    frontier = list(reached)
    while frontier:
        for target in table.get(frontier.pop(), {}).values():
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    if mode is not Mode.RESUME:  # wait() shares submit_and_poll()'s table, from polling on
        assert set(table) <= reached, "no state of the table is unreachable"
    assert JobState.ERROR in reached and JobState.DEADLINE_EXCEEDED in reached
    assert (JobState.REPORTED in reached) is (mode in ONE_SHOT)


@pytest.mark.parametrize("mode", list(Mode))
def test_job_id_must_match_the_mode(mode: Mode) -> None:
    needs_id = mode not in SUBMITS
    wrong = None if needs_id else "job-1"
    with pytest.raises(LocalProtocolError, match=mode.value):
        JobMachine(mode, now=0, deadline=1, rand=random.random, job_id=wrong)


# -- the table against the Queue API's lifecycle, in stories written by hand -------------------

OK_JSON = b'{"job_id": "job-1", "status": "%s"}'
DEADLINE = 900.0  # every story's; the last attempt starts 6 s (a tenth of 60 s) before it


def _response(step: str) -> Response:
    code, _, extra = step.partition(" ")
    if code in STATUSES:
        return Response(200, (), OK_JSON % code.encode())
    if code == "video":
        return Response(200, (), b"")  # its body went to the download
    headers = ((b"retry-after", b"2"),) if extra == "retry-after" else ()
    return Response(int(code), headers, b'{"detail": "no"}')


def _verdict(op: Operation, step: str) -> Verdict:
    """What the classifier makes of a server's answer, or its silence, in a story's words."""
    if step in ("refused", "reset", "stale", "tls"):
        error = TLSVerificationError("bad cert") if step == "tls" else NetworkError(step)
        return unanswered(op, ExchangeFailed(error, sent=step != "refused", stale=step == "stale"))
    return answered(op, _response(step))


# (mode, setup, what the server does at each request, the requests made, the end).
# setup: "pipe" for a body read from a pipe (it cannot be sent twice), "retries=N" for a retry
# budget other than 2. A step ending "+late" comes back at the deadline (the request ran into
# it); "+last" a moment before it, after the last attempt could start, so that nothing fits.
STORIES: list[tuple[Mode, str, str, str, str]] = [
    # submit_and_poll(): the docs' example, and its failed job.
    (Mode.SUBMIT_AND_POLL, "", "pending processing completed video",
     "submit poll poll fetch", "completed"),
    (Mode.SUBMIT_AND_POLL, "", "pending pending failed", "submit poll poll", "failed"),
    (Mode.SUBMIT_AND_POLL, "", "completed video", "submit fetch", "completed"),
    # A submit may be answered with any status: the job is followed from there.
    (Mode.SUBMIT_AND_POLL, "", "processing completed video", "submit poll fetch", "completed"),
    (Mode.SUBMIT_AND_POLL, "", "failed", "submit", "failed"),
    # A submit is made again only when no job can have been created.
    (Mode.SUBMIT_AND_POLL, "", "429 pending completed video",
     "submit submit poll fetch", "completed"),
    (Mode.SUBMIT_AND_POLL, "", "503 retry-after pending completed video",
     "submit submit poll fetch", "completed"),
    (Mode.SUBMIT_AND_POLL, "", "refused pending completed video",
     "submit submit poll fetch", "completed"),
    (Mode.SUBMIT_AND_POLL, "", "429 429 429", "submit submit submit", "error 429"),
    (Mode.SUBMIT_AND_POLL, "", "503", "submit", "error 503"),
    (Mode.SUBMIT_AND_POLL, "", "500", "submit", "error 500"),
    (Mode.SUBMIT_AND_POLL, "", "reset", "submit", "error None"),
    (Mode.SUBMIT_AND_POLL, "", "422", "submit", "error 422"),
    (Mode.SUBMIT_AND_POLL, "", "401", "submit", "error 401"),
    (Mode.SUBMIT_AND_POLL, "", "tls", "submit", "error None"),
    # A body read from a pipe is sent once, whatever the answer.
    (Mode.SUBMIT_AND_POLL, "pipe", "429", "submit", "error 429"),
    (Mode.SUBMIT_AND_POLL, "pipe retries=0", "429", "submit", "error 429"),
    (Mode.SUBMIT_AND_POLL, "pipe", "refused", "submit", "error None"),
    (Mode.SUBMIT_AND_POLL, "pipe", "reset", "submit", "error None"),
    (Mode.SUBMIT_AND_POLL, "pipe", "422", "submit", "error 422"),
    (Mode.SUBMIT_AND_POLL, "pipe", "pending completed video", "submit poll fetch", "completed"),
    (Mode.SUBMIT_AND_POLL, "pipe", "processing failed", "submit poll", "failed"),
    (Mode.SUBMIT_AND_POLL, "pipe", "completed video", "submit fetch", "completed"),
    (Mode.SUBMIT_AND_POLL, "pipe", "failed", "submit", "failed"),
    # Status polls and downloads ride out what passes; failures in a row spend the budget.
    (Mode.SUBMIT_AND_POLL, "", "pending 503 stale 429 processing reset 500 completed video",
     "submit poll poll poll poll poll poll poll fetch", "completed"),
    (Mode.SUBMIT_AND_POLL, "", "pending completed 502 reset video",
     "submit poll fetch fetch fetch", "completed"),
    (Mode.SUBMIT_AND_POLL, "", "pending completed 429 stale video",
     "submit poll fetch fetch fetch", "completed"),
    (Mode.SUBMIT_AND_POLL, "", "pending 503 503 503", "submit poll poll poll", "error 503"),
    (Mode.SUBMIT_AND_POLL, "", "pending completed 503 503 503",
     "submit poll fetch fetch fetch", "error 503"),
    (Mode.SUBMIT_AND_POLL, "", "pending 404", "submit poll", "error 404"),
    (Mode.SUBMIT_AND_POLL, "", "pending 401", "submit poll", "error 401"),
    # A job that said it was completed must have its content.
    (Mode.SUBMIT_AND_POLL, "", "pending completed 409", "submit poll fetch", "error 409"),
    (Mode.SUBMIT_AND_POLL, "", "pending completed 403", "submit poll fetch", "error 403"),
    # The deadline, in each state: in a request, or in the wait after one (#14: only once it
    # has passed, and only when no attempt fits).
    (Mode.SUBMIT_AND_POLL, "", "429+late", "submit", "deadline"),
    (Mode.SUBMIT_AND_POLL, "pipe", "429+late", "submit", "deadline"),
    (Mode.SUBMIT_AND_POLL, "", "429+last", "submit", "deadline"),
    (Mode.SUBMIT_AND_POLL, "", "pending+last", "submit", "deadline"),
    (Mode.SUBMIT_AND_POLL, "", "pending 503+late", "submit poll", "deadline"),
    (Mode.SUBMIT_AND_POLL, "", "pending completed+late", "submit poll", "deadline"),
    (Mode.SUBMIT_AND_POLL, "", "pending completed 503+last", "submit poll fetch", "deadline"),
    # wait(): the same job, from its first poll.
    (Mode.RESUME, "", "processing completed video", "poll poll fetch", "completed"),
    (Mode.RESUME, "", "failed", "poll", "failed"),
    (Mode.RESUME, "", "stale completed stale video", "poll poll fetch fetch", "completed"),
    (Mode.RESUME, "", "429 completed 429 video", "poll poll fetch fetch", "completed"),
    (Mode.RESUME, "", "404", "poll", "error 404"),
    (Mode.RESUME, "", "completed 404", "poll fetch", "error 404"),
    (Mode.RESUME, "", "completed 401", "poll fetch", "error 401"),
    (Mode.RESUME, "", "503+late", "poll", "deadline"),
    (Mode.RESUME, "", "pending+last", "poll", "deadline"),
    (Mode.RESUME, "", "completed+late", "poll", "deadline"),
    (Mode.RESUME, "", "completed 503+last", "poll fetch", "deadline"),
    # The retry budget (2 here) is spent by failures in a row; an answer refills it.
    (Mode.RESUME, "", "503 503 503", "poll poll poll", "error 503"),
    (Mode.RESUME, "", "503 503 pending 503 503 completed 503 503 503",
     "poll poll poll poll poll poll fetch fetch fetch", "error 503"),
    # submit() and status(): one answer, whatever it says.
    (Mode.SUBMIT, "", "pending", "submit", "reported pending"),
    (Mode.SUBMIT, "", "processing", "submit", "reported processing"),
    (Mode.SUBMIT, "", "completed", "submit", "reported completed"),
    (Mode.SUBMIT, "", "failed", "submit", "reported failed"),
    (Mode.SUBMIT, "", "429 pending", "submit submit", "reported pending"),
    (Mode.SUBMIT, "", "429 429 429", "submit submit submit", "error 429"),
    (Mode.SUBMIT, "", "503", "submit", "error 503"),
    (Mode.SUBMIT, "", "422", "submit", "error 422"),
    (Mode.SUBMIT, "", "429+late", "submit", "deadline"),
    (Mode.SUBMIT, "", "429+last", "submit", "deadline"),
    (Mode.SUBMIT, "pipe", "pending", "submit", "reported pending"),
    (Mode.SUBMIT, "pipe", "processing", "submit", "reported processing"),
    (Mode.SUBMIT, "pipe", "completed", "submit", "reported completed"),
    (Mode.SUBMIT, "pipe", "failed", "submit", "reported failed"),
    (Mode.SUBMIT, "pipe", "429", "submit", "error 429"),
    (Mode.SUBMIT, "pipe retries=0", "429", "submit", "error 429"),
    (Mode.SUBMIT, "pipe", "503", "submit", "error 503"),
    (Mode.SUBMIT, "pipe", "401", "submit", "error 401"),
    (Mode.SUBMIT, "pipe", "429+late", "submit", "deadline"),
    (Mode.STATUS, "", "pending", "poll", "reported pending"),
    (Mode.STATUS, "", "processing", "poll", "reported processing"),
    (Mode.STATUS, "", "completed", "poll", "reported completed"),
    (Mode.STATUS, "", "failed", "poll", "reported failed"),
    (Mode.STATUS, "", "stale 500 completed", "poll poll poll", "reported completed"),
    (Mode.STATUS, "", "429 pending", "poll poll", "reported pending"),
    (Mode.STATUS, "", "503 503 503", "poll poll poll", "error 503"),
    (Mode.STATUS, "", "404", "poll", "error 404"),
    (Mode.STATUS, "", "503+late", "poll", "deadline"),
    (Mode.STATUS, "", "503+last", "poll", "deadline"),
    # result(): the video; a failed job's content refused, then its status asked.
    (Mode.RESULT, "", "video", "fetch", "completed"),
    (Mode.RESULT, "", "503 video", "fetch fetch", "completed"),
    (Mode.RESULT, "", "429 video", "fetch fetch", "completed"),
    (Mode.RESULT, "", "stale video", "fetch fetch", "completed"),
    (Mode.RESULT, "", "409 failed", "fetch poll", "failed"),
    (Mode.RESULT, "", "404 503 failed", "fetch poll poll", "failed"),
    (Mode.RESULT, "", "409 429 failed", "fetch poll poll", "failed"),
    (Mode.RESULT, "", "409 stale failed", "fetch poll poll", "failed"),
    # ...and any other answer to the probe, or none, leaves the content's error.
    (Mode.RESULT, "", "409 pending", "fetch poll", "error 409"),
    (Mode.RESULT, "", "409 processing", "fetch poll", "error 409"),
    (Mode.RESULT, "", "409 completed", "fetch poll", "error 409"),
    (Mode.RESULT, "", "409 401", "fetch poll", "error 409"),
    (Mode.RESULT, "", "409 503 503 503", "fetch poll poll poll", "error 409"),
    (Mode.RESULT, "", "409 503+late", "fetch poll", "error 409"),
    (Mode.RESULT, "", "409 503+last", "fetch poll", "error 409"),
    (Mode.RESULT, "", "401", "fetch", "error 401"),
    (Mode.RESULT, "", "403", "fetch", "error 403"),
    (Mode.RESULT, "", "503 503 503", "fetch fetch fetch", "error 503"),
    (Mode.RESULT, "", "tls", "fetch", "error None"),
    (Mode.RESULT, "", "503+late", "fetch", "deadline"),
    (Mode.RESULT, "", "503+last", "fetch", "deadline"),
]  # fmt: skip


@dataclass
class Told:
    machine: JobMachine
    made: list[str]  # the requests, in order
    times: list[float]  # when each was made
    end: Finish
    now: float  # when the call ended


def _tell(mode: Mode, setup: str, story: str) -> Told:
    """Run *story* as a driver would, its waits slept to their end."""
    words = setup.split()
    retries = next((int(w.split("=")[1]) for w in words if w.startswith("retries=")), 2)
    m = JobMachine(
        mode, now=0.0, deadline=DEADLINE, rand=random.Random(0).random,
        retry=RetryPolicy(max_retries=retries), job_id=None if mode in SUBMITS else "job-1",
        replayable="pipe" not in words, request_timeout=60.0,
    )  # fmt: skip
    steps = story.split()
    made: list[str] = []
    times: list[float] = []
    now = 0.0
    while not isinstance(action := m.next_action(now), Finish):
        if isinstance(action, Wait):
            now = action.until
            continue
        kind = {Submit: "submit", Poll: "poll", Fetch: "fetch"}[type(action)]
        made.append(kind)
        times.append(now)
        op = {"submit": Operation.SUBMIT, "poll": Operation.STATUS}.get(kind, Operation.RESULT)
        assert steps, f"the story ended, the machine asks for a {kind}"
        step = steps.pop(0)
        if step == "retry-after":  # "503 retry-after" is one step
            raise AssertionError("malformed story")
        if steps and steps[0] == "retry-after":
            step = f"{step} {steps.pop(0)}"
        step, _, when = step.partition("+")
        if when:
            now = {"late": DEADLINE, "last": DEADLINE - 0.5}[when]
        m.handle(now, _verdict(op, step))
    assert steps == [], f"the story went on: {steps}"
    return Told(m, made, times, action, now)


@pytest.mark.parametrize(("mode", "setup", "story", "requests", "end"), STORIES)
def test_the_table_follows_the_queue_api_lifecycle(
    mode: Mode, setup: str, story: str, requests: str, end: str
) -> None:
    told = _tell(mode, setup, story)
    m, made, action = told.machine, told.made, told.end
    assert made == requests.split()
    what, _, detail = end.partition(" ")
    if what == "completed":
        assert action.state is JobState.COMPLETED
    elif what == "failed":
        assert action.state is JobState.FAILED and m.status == "failed"
    elif what == "reported":
        assert action.state is JobState.REPORTED and m.status == detail
        assert m.job_id == "job-1"
    elif what == "deadline":
        assert action.state is JobState.DEADLINE_EXCEEDED
        assert told.now >= DEADLINE, "given up for the deadline before it passed"
    else:
        assert action.state is JobState.ERROR
        assert m.error is not None
        assert m.error.data["status"] == (None if detail == "None" else int(detail))
        # The last request's error; in result(), the content's, whatever its probe met.
        last = "fetch" if mode is Mode.RESULT else made[-1]
        expected = {"submit": QueueSubmitError, "poll": QueueStatusError, "fetch": QueueResultError}
        assert type(m.error) is expected[last]


# When each request is made: the official rhythm (0.5 s after the submit, then every 1.5 s),
# a result fetched at once, and a retry after the Retry-After the server sent (2 s here).
RHYTHMS = [
    (Mode.SUBMIT_AND_POLL, "", "pending processing completed video", [0, 0.5, 2, 2]),
    (Mode.SUBMIT_AND_POLL, "", "processing completed video", [0, 0.5, 0.5]),
    (Mode.SUBMIT_AND_POLL, "pipe", "pending completed video", [0, 0.5, 0.5]),
    (Mode.SUBMIT_AND_POLL, "pipe", "processing failed", [0, 0.5]),
    (Mode.SUBMIT_AND_POLL, "", "429 retry-after pending failed", [0, 2, 2.5]),
    (Mode.SUBMIT_AND_POLL, "", "pending 500 retry-after completed video", [0, 0.5, 2.5, 2.5]),
    (Mode.SUBMIT_AND_POLL, "", "pending completed 429 retry-after video", [0, 0.5, 0.5, 2.5]),
    (Mode.RESUME, "", "processing 429 retry-after completed video", [0, 1.5, 3.5, 3.5]),
    (Mode.STATUS, "", "503 retry-after pending", [0, 2]),
    (Mode.RESULT, "", "429 retry-after video", [0, 2]),
    (Mode.RESULT, "", "409 429 retry-after failed", [0, 0, 2]),
]  # fmt: skip


@pytest.mark.parametrize(("mode", "setup", "story", "times"), RHYTHMS)
def test_the_stories_wait_as_the_docs_and_the_server_say(
    mode: Mode, setup: str, story: str, times: list[float]
) -> None:
    assert _tell(mode, setup, story).times == times


def test_the_stories_walk_every_edge_of_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """So that no entry of the table is only checked against itself: each one is taken by at
    least one story above, whose requests and end were written from the docs, not the table.
    A new entry needs a story."""
    walked: set[tuple[Mode, JobState, JobEvent]] = set()

    def recording(mode: Mode, state: JobState, event: JobEvent) -> JobState:
        walked.add((mode, state, event))
        return next_state(mode, state, event)

    monkeypatch.setattr(job_module, "next_state", recording)
    for mode, setup, story, *_ in [*STORIES, *RHYTHMS]:
        _tell(mode, setup, story)
    # wait() shares submit_and_poll()'s table, but starts at its first poll: it never submits.
    submits = {JobState.SUBMITTING, JobState.SUBMITTING_ONCE, JobState.WAITING_TO_SUBMIT}
    edges = {
        (mode, state, event)
        for mode, table in TRANSITIONS.items()
        for state, events in table.items()
        for event in events
        if not (mode is Mode.RESUME and state in submits)
    }
    missing = sorted(f"{m.value}: {s.value} --{e.value}-->" for m, s, e in edges - walked)
    assert missing == [], "edges no story walks:\n" + "\n".join(missing)


def test_a_stale_connection_is_replaced_once_at_once() -> None:
    m = JobMachine(Mode.RESUME, now=0, deadline=100, rand=lambda: 0.5, job_id="j")
    assert m.next_action(0) == Poll("j", fresh=False)
    m.handle(1, _verdict(Operation.STATUS, "stale"))
    assert m.next_action(1) == Poll("j", fresh=True), "at once, on a new connection"
    # A new connection cannot be stale: that would be a bug in the exchange.
    with pytest.raises(LocalProtocolError, match="stale"):
        m.handle(1, _verdict(Operation.STATUS, "stale"))


def test_a_stale_connection_with_no_retry_left_is_still_replaced() -> None:
    m = JobMachine(
        Mode.STATUS, now=0, deadline=100, rand=lambda: 0.5, job_id="j",
        retry=RetryPolicy(max_retries=0),
    )  # fmt: skip
    m.handle(0, _verdict(Operation.STATUS, "stale"))
    assert m.next_action(0) == Poll("j", fresh=True)
    m.handle(0, _verdict(Operation.STATUS, "pending"))
    assert m.next_action(0) == Finish(JobState.REPORTED)


def test_defaults_and_the_first_waits() -> None:
    m = JobMachine(Mode.SUBMIT_AND_POLL, now=0, deadline=100, rand=lambda: 0.5)
    assert m.poll == PollPolicy() and m.retry == RetryPolicy()
    assert m.next_action(0) == Submit()
    assert m.handle(0.2, Verdict(JobEvent.PENDING, job_id="j")) is not None
    assert m.next_action(0.2) == Wait(0.7)
    assert m.next_action(0.7) == Poll("j")
    assert m.handle(0.8, Verdict(JobEvent.PENDING)) is None
    assert m.next_action(0.8) == Wait(2.3)


# -- #14: the deadline waits to the end ------------------------------------------------------


def _always_pending(
    poll: PollPolicy, timeout: float, request_timeout: float = 60.0
) -> tuple[list[float], float]:
    """submit_and_poll() of a job that stays pending: when it polls, and when it ends."""
    m = JobMachine(
        Mode.SUBMIT_AND_POLL, now=0, deadline=timeout, rand=lambda: 0.5, poll=poll,
        request_timeout=request_timeout,
    )  # fmt: skip
    polls: list[float] = []
    now = 0.0
    while not isinstance(action := m.next_action(now), Finish):
        if isinstance(action, Wait):
            now = action.until
            continue
        if isinstance(action, Poll):
            polls.append(now)
        m.handle(now, Verdict(JobEvent.PENDING, job_id="j"))
    assert action.state is JobState.DEADLINE_EXCEEDED
    return polls, now


def test_a_short_deadline_is_used_to_its_end() -> None:
    # Before #14: polls at 0.5 and 2.0, then "Deadline of 3.0 s passed" at 2.0 s, because the
    # next regular poll (3.5 s) was past it.
    polls, ended = _always_pending(PollPolicy(), timeout=3)
    assert polls == [0.5, 2.0, 2.7]  # the last one 0.3 s (a tenth of 3 s) before the end
    assert ended == 3.0


def test_a_growing_poll_interval_keeps_a_last_poll_before_the_deadline() -> None:
    # Before #14: polls at 0.5, 2, 5 and 11 s, then "Deadline of 22.0 s passed" at 11.0 s, so a
    # job completed between 11 and 22 s was reported as timed out.
    polls, ended = _always_pending(PollPolicy(growth=2), timeout=22)
    assert polls == [0.5, 2.0, 5.0, 11.0, pytest.approx(19.8)]
    assert ended == 22.0


def test_the_last_attempt_leaves_a_tenth_of_a_request_time() -> None:
    polls, ended = _always_pending(PollPolicy(), timeout=900, request_timeout=60)
    assert polls[-2:] == [893.0, 894.0]  # the regular rhythm, then 6 s before the end
    assert ended == 900.0


def test_a_refused_connection_is_retried_until_the_end() -> None:
    # Before #14, with timeout=2: given up after 1.0-1.3 s, when the next backoff reached past
    # the deadline.
    m = JobMachine(Mode.SUBMIT_AND_POLL, now=0, deadline=2, rand=lambda: 0.5)
    refused = _verdict(Operation.SUBMIT, "refused")
    submits: list[float] = []
    now = 0.0
    while not isinstance(action := m.next_action(now), Finish):
        if isinstance(action, Wait):
            now = action.until
            continue
        submits.append(now)
        m.handle(now, refused)
    # Backoff 0.375, then 0.75 s; the next (1.5 s) would end past 1.8 s: moved there.
    assert submits == [0.0, 0.375, 1.125, 1.8]
    assert now == 2.0 and action.state is JobState.DEADLINE_EXCEEDED
    error = m.deadline_error()
    assert error.cause is m.error and "Deadline of 2.0 s passed" in error.message


def test_no_attempt_left_waits_out_the_deadline() -> None:
    m = JobMachine(Mode.RESUME, now=0, deadline=10, rand=lambda: 0.5, job_id="j")
    m.handle(9.5, Verdict(JobEvent.PENDING))  # an answer that came after the last start (9.0)
    assert m.next_action(9.5) == Wait(10.0)
    assert m.next_action(10.0) == Finish(JobState.DEADLINE_EXCEEDED)
    error = m.deadline_error()
    assert "resume waiting with the job id 'j'" in error.message
    assert "last status: pending" in error.message
    assert error.data == {"job_id": "j", "status": "pending", "last_failure": None}


def test_a_deadline_during_the_submit_names_no_job() -> None:
    m = JobMachine(Mode.SUBMIT_AND_POLL, now=0, deadline=1, rand=lambda: 0.5)
    assert m.next_action(1) == Finish(JobState.DEADLINE_EXCEEDED)
    error = m.deadline_error()
    assert "the submit" in error.message and "resume" not in error.message
    assert error.data == {"job_id": None, "status": None, "last_failure": None}


def test_a_probe_out_of_time_leaves_the_contents_error() -> None:
    # result(): the content refused, the probe failing until the deadline passes, asleep or
    # in its request: the caller hears about the refused content, not about a deadline.
    for asleep in (True, False):
        m = JobMachine(Mode.RESULT, now=0, deadline=10, rand=lambda: 0.5, job_id="j")
        assert m.next_action(0) == Fetch("j")
        m.handle(1, _verdict(Operation.RESULT, "409"))
        content = m.error
        assert m.next_action(1) == Poll("j")
        m.handle(2, _verdict(Operation.STATUS, "503"))
        wait = m.next_action(2)
        assert isinstance(wait, Wait) and wait.until < 10
        if asleep:
            assert m.next_action(10) == Finish(JobState.ERROR)
        else:
            assert m.next_action(wait.until) == Poll("j")
            m.handle(10, _verdict(Operation.STATUS, "reset"))
            assert m.next_action(10) == Finish(JobState.ERROR)
        assert m.error is content and isinstance(content, QueueResultError)
        assert content.data["status"] == 409
