"""The job machine, driven the way a driver drives it, by hypothesis.

Rules feed it everything that can happen (answers of every status, transient and fatal failures
with and without ``no_job_created`` and ``Retry-After``, late answers, the clock moving, the
deadline passing) and the invariants are the promises of DESIGN.md: it ends, it never polls
after an end, it never waits past the deadline, it fetches once and only a completed job, it
never repeats a submit that may have reached the server, and every wait keeps to its policy.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
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
    Failure,
    JobEvent,
    JobMachine,
    JobState,
    LocalProtocolError,
    Mode,
    PollPolicy,
    QueueStatusError,
    QueueSubmitError,
    RetryPolicy,
)
from decart_proto._job import Fetch, Finish, Poll, Submit, Wait
from decart_proto._job_state import TERMINAL, next_state

from .hyp import examples

STATUSES = ("pending", "processing", "completed", "failed")
START = 1000.0


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


def _error(mode: Mode) -> Any:
    cls = QueueSubmitError if mode in (Mode.SUBMIT, Mode.SUBMIT_AND_POLL) else QueueStatusError
    return cls("Failed: 503 - busy", data={"status": 503})


class JobMachineRules(RuleBasedStateMachine):
    """A driver's loop in rules: ``action`` is what the machine last asked for."""

    @initialize(
        mode=st.sampled_from(Mode),
        poll=poll_policies(),
        retry=retry_policies,
        timeout=st.sampled_from([0.3, 5.0, 30.0, 600.0]),
        seed=st.integers(0, 2**32),
    )
    def start(
        self, mode: Mode, poll: PollPolicy, retry: RetryPolicy, timeout: float, seed: int
    ) -> None:
        self.mode = mode
        self.now = START
        self.deadline = START + timeout
        self.rand = RecordingRandom(seed)
        job_id = None if mode in (Mode.SUBMIT, Mode.SUBMIT_AND_POLL) else "job-1"
        self.m = JobMachine(
            mode,
            now=START,
            deadline=self.deadline,
            rand=self.rand,
            poll=poll,
            retry=retry,
            job_id=job_id,
        )
        self.requests = 0
        self.fetched = 0
        self.submit_risked = False  # a submit body may have reached the server
        self.last_status: str | None = None
        self.action: Any = None
        self.expected_wait: Callable[[float], bool] | None = None
        self.ask()

    # -- the driver's side --------------------------------------------------------------------

    def ask(self) -> None:
        """Follow next_action like a driver: record what it asks and check it may ask that."""
        before = self.m.state
        action = self.m.next_action(self.now)
        if isinstance(action, Wait):
            assert action.until < self.deadline, "a wait must end before the deadline"
            # A zero wait (Retry-After: 0, initial_delay=0) fires at once and is never asked.
            assert action.until > self.now
            if self.expected_wait is not None:
                assert self.expected_wait(action.until), (action, self.now)
        elif isinstance(action, (Submit, Poll, Fetch)):
            assert self.now < self.deadline, "no request may start after the deadline"
            self.requests += 1
        if isinstance(action, Submit):
            assert self.mode in (Mode.SUBMIT, Mode.SUBMIT_AND_POLL)
            assert not self.submit_risked, "a submit that may have created a job was repeated"
        if isinstance(action, Poll):
            assert self.mode in (Mode.RESUME, Mode.STATUS, Mode.SUBMIT_AND_POLL)
            assert self.last_status in (None, "pending", "processing")
            assert action.job_id == self.m.job_id
        if isinstance(action, Fetch):
            assert self.fetched == 0
            assert self.mode is Mode.RESULT or self.last_status == "completed"
        if isinstance(action, Finish):
            assert action.state in TERMINAL
            assert action.state is self.m.state
            if action.state is JobState.DEADLINE_EXCEEDED and before not in TERMINAL:
                # Only when the clock is past the deadline or the next wait would be.
                assert self.now >= self.deadline or self.expected_wait is not None
        self.expected_wait = None
        self.action = action

    def in_flight(self) -> bool:
        return isinstance(self.action, (Submit, Poll, Fetch))

    def one_shot(self) -> bool:
        return self.mode in (Mode.SUBMIT, Mode.STATUS)

    # -- what can happen ----------------------------------------------------------------------

    @precondition(lambda self: isinstance(self.action, (Submit, Poll)))
    @rule(status=st.sampled_from(STATUSES), latency=latencies)
    def answer(self, status: Any, latency: float) -> None:
        self.now += latency
        submitting = isinstance(self.action, Submit)
        polls_before = self.m.polls
        if submitting:
            change = self.m.submitted(self.now, "job-1", status)
            self.submit_risked = True
        else:
            change = self.m.status_received(self.now, status)
            assert self.m.polls == polls_before + 1
        if self.one_shot():
            assert change is None, "one-shot calls return their answer; nobody is notified"
        elif status == self.last_status:
            assert change is None, "a status is reported only when it changes"
        else:
            assert change is not None and (change.job_id, change.status) == ("job-1", status)
        self.last_status = status
        assert self.m.retries == 0, "an answer starts the retry count afresh"
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

    def _poll_wait(self, at: float, polls: int) -> Callable[[float], bool]:
        policy = self.m.poll
        low, high = policy.bounds()

        def check(until: float) -> bool:
            wait = until - at
            assert self.rand.last is not None
            exact = policy.delay(polls, self.rand.last)
            within = low - 1e-9 <= wait <= high + 1e-9
            if polls == 0:  # the wait after submit is the initial delay, jittered
                base = policy.initial_delay
                within = within and base * (1 - policy.jitter) - 1e-9 <= wait
            return within and math.isclose(wait, exact, abs_tol=1e-9)

        return check

    @precondition(lambda self: isinstance(self.action, Fetch))
    @rule(latency=latencies)
    def result_arrives(self, latency: float) -> None:
        self.now += latency
        self.m.fetched()
        self.fetched += 1
        self.ask()
        assert self.action == Finish(JobState.COMPLETED)

    @precondition(lambda self: self.in_flight())
    @rule(
        transient=st.booleans(),
        no_job_created=st.booleans(),
        retry_after=retry_afters,
        latency=latencies,
    )
    def request_fails(
        self, transient: bool, no_job_created: bool, retry_after: float | None, latency: float
    ) -> None:
        self.now += latency
        submitting = isinstance(self.action, Submit)
        retries_before = self.m.retries
        error = _error(self.mode)
        self.m.failed(self.now, Failure(error, transient, retry_after, no_job_created))
        assert self.m.error is error
        if submitting and not no_job_created:
            self.submit_risked = True
        may_retry = transient and retries_before < self.m.retry.max_retries
        if submitting:
            may_retry = may_retry and no_job_created
        if may_retry:
            assert self.m.retries == retries_before + 1
            self.expected_wait = self._retry_wait(self.now, self.m.retries, retry_after)
        self.ask()
        if not may_retry:
            assert self.action == Finish(JobState.ERROR)
        else:
            assert not isinstance(self.action, Finish) or (
                self.action.state is JobState.DEADLINE_EXCEEDED
            )

    def _retry_wait(
        self, at: float, retry: int, retry_after: float | None
    ) -> Callable[[float], bool]:
        policy = self.m.retry

        def check(until: float) -> bool:
            wait = until - at
            if retry_after is not None:
                return bool(math.isclose(wait, min(retry_after, policy.max_retry_after)))
            full = min(policy.backoff_cap, policy.backoff_base * 2.0 ** (retry - 1))
            return full / 2 - 1e-9 <= wait <= full + 1e-9

        return check

    @precondition(lambda self: self.in_flight())
    @rule(with_cause=st.booleans())
    def request_outlives_the_deadline(self, with_cause: bool) -> None:
        # The request's last I/O step had the job's deadline, and hit it.
        self.now = max(self.now, self.deadline)
        before = self.m.error
        cause = _error(self.mode) if with_cause else None
        self.m.deadline_passed(self.now, cause)
        self.ask()
        assert self.action == Finish(JobState.DEADLINE_EXCEEDED)
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
            assert self.action == Finish(JobState.DEADLINE_EXCEEDED)
        else:
            assert self.in_flight()

    @precondition(lambda self: isinstance(self.action, Finish))
    @rule(later=st.sampled_from([0.0, 1.0, 1e9]), status=st.sampled_from(STATUSES))
    def an_ended_job_stays_ended(self, later: float, status: Any) -> None:
        self.now += later
        final = self.action
        assert self.m.next_action(self.now) == final
        error = self.m.error
        self.m.deadline_passed(self.now, _error(self.mode))  # harmless once ended
        assert self.m.next_action(self.now) == final
        assert self.m.error is error
        tells: tuple[Callable[[], object], ...] = (
            lambda: self.m.submitted(self.now, "job-2", status),
            lambda: self.m.status_received(self.now, status),
            self.m.fetched,
            lambda: self.m.failed(self.now, Failure(_error(self.mode), True, None, True)),
        )
        for tell in tells:
            with pytest.raises(LocalProtocolError):
                tell()

    @invariant()
    def bounded(self) -> None:
        # Each request is an answer (bounded by the deadline over the shortest poll wait,
        # plus the submit and the fetch) or one of at most max_retries retries before one.
        policy = self.m.poll
        shortest = policy.interval * (1 - policy.jitter)
        answers = 3 + (self.deadline - START) / shortest
        assert self.requests <= answers * (self.m.retry.max_retries + 1)

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
    bound = int((3 + timeout / shortest) * (retry.max_retries + 1)) + 2
    fails = data.draw(st.booleans())
    for _ in range(bound * 2):
        action = m.next_action(now)
        if isinstance(action, Finish):
            break
        if isinstance(action, Wait):
            assert action.until < timeout
            now = action.until
            continue
        if fails and m.retries < retry.max_retries:
            m.failed(now, Failure(_error(mode), True, 0.0, True))
        elif isinstance(action, Submit):
            m.submitted(now, "job-1", "pending")
        elif isinstance(action, Poll):
            m.status_received(now, "processing")
        else:
            m.failed(now, Failure(_error(mode), True, 0.0, True))
    else:
        raise AssertionError("the job machine did not end")
    assert action.state in (JobState.DEADLINE_EXCEEDED, JobState.ERROR)
    assert m.polls <= bound


# -- the table itself -----------------------------------------------------------------------


@examples(200)
@given(st.sampled_from(JobState), st.sampled_from(JobEvent))
def test_every_state_event_pair(state: JobState, event: JobEvent) -> None:
    allowed = TRANSITIONS.get(state, {})
    if event in allowed:
        assert next_state(state, event) is allowed[event]
    else:
        with pytest.raises(LocalProtocolError, match=event.value):
            next_state(state, event)


def test_every_pair_is_enumerated() -> None:
    # The hypothesis test above samples; this walks all of them once, so none is missed.
    for state in JobState:
        for event in JobEvent:
            if event in TRANSITIONS.get(state, {}):
                assert next_state(state, event) is TRANSITIONS[state][event]
            else:
                with pytest.raises(LocalProtocolError):
                    next_state(state, event)


def test_table_shape() -> None:
    assert set(TRANSITIONS).isdisjoint(TERMINAL), "an ended job has no way out"
    assert set(TRANSITIONS) | TERMINAL == set(JobState)
    for state, edges in TRANSITIONS.items():
        assert edges.get(JobEvent.DEADLINE) is JobState.DEADLINE_EXCEEDED, state
    reached = {JobState.SUBMITTING, JobState.POLLING, JobState.FETCHING}
    frontier = list(reached)
    while frontier:
        for target in TRANSITIONS.get(frontier.pop(), {}).values():
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    # REPORTED is reached outside the table, by the one-shot calls (see _job_state's notes).
    assert reached | {JobState.REPORTED} == set(JobState)


@pytest.mark.parametrize("mode", list(Mode))
def test_job_id_must_match_the_mode(mode: Mode) -> None:
    needs_id = mode not in (Mode.SUBMIT, Mode.SUBMIT_AND_POLL)
    wrong = None if needs_id else "job-1"
    with pytest.raises(LocalProtocolError, match=mode.value):
        JobMachine(mode, now=0, deadline=1, rand=random.random, job_id=wrong)


def test_defaults_and_the_first_waits() -> None:
    m = JobMachine(Mode.SUBMIT_AND_POLL, now=0, deadline=100, rand=lambda: 0.5)
    assert m.poll == PollPolicy() and m.retry == RetryPolicy()
    assert m.next_action(0) == Submit()
    assert m.submitted(0.2, "j", "pending") is not None
    assert m.next_action(0.2) == Wait(0.7)
    assert m.next_action(0.7) == Poll("j")
    assert m.status_received(0.8, "pending") is None
    assert m.next_action(0.8) == Wait(2.3)


def test_a_wait_reaching_the_deadline_ends_the_job_at_once() -> None:
    m = JobMachine(Mode.RESUME, now=0, deadline=1.5, rand=lambda: 0.5, job_id="j")
    assert m.next_action(0) == Poll("j")
    m.status_received(0, "pending")  # the next poll would be at 1.5: not before the deadline
    assert m.next_action(0) == Finish(JobState.DEADLINE_EXCEEDED)
    error = m.deadline_error()
    assert "resume waiting with the job id 'j'" in error.message
    assert "last status: pending" in error.message
    assert error.data == {"job_id": "j", "status": "pending"}


def test_a_deadline_during_the_submit_names_no_job() -> None:
    m = JobMachine(Mode.SUBMIT_AND_POLL, now=0, deadline=1, rand=lambda: 0.5)
    assert m.next_action(1) == Finish(JobState.DEADLINE_EXCEEDED)
    error = m.deadline_error()
    assert "the submit" in error.message and "resume" not in error.message
    assert error.data == {"job_id": None, "status": None}
