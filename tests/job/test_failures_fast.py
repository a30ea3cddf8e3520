"""Failures that explain themselves, quickly (#12): the driver against servers that refuse, never
answer, fail or ask for a wait that cannot fit, on a virtual clock.

Each test states the shape a user meets — how many attempts, when the call ends, what the error
says and carries — with short settings where the defaults would take long; the defaults
themselves are checked against docs/defaults.md (tests/core/test_docs_defaults.py).
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

import pytest

from decart_proto import (
    Connect,
    Connection,
    DeadlineExceededError,
    Driver,
    IOTimeout,
    NetworkError,
    QueueResultError,
    QueueStatusError,
    QueueSubmitError,
    Receive,
    RetryPolicy,
    Sleep,
    Timeouts,
    models,
)

from .canned import KEY, Canned, VirtualClock, http_answer

START = 1000.0  # VirtualClock's


def make_driver(clock: VirtualClock, **extra: Any) -> Driver[Any]:
    return Driver(
        api_key=KEY, base_url="http://api.invalid", clock=clock, rand=random.Random(1), **extra
    )


class Server:
    """A server that refuses every connection (``"refused"``), accepts and never answers
    (``"dead"``), or answers *answer* in pieces, each read taking *read_time* seconds."""

    def __init__(
        self, kind: str, clock: VirtualClock, answer: bytes = b"", read_time: float = 0.0
    ) -> None:
        self.kind = kind
        self.clock = clock
        self.answer = answer
        self.read_time = read_time
        self.connects: list[float] = []  # when each attempt began, from the call's start
        self.inbox: dict[int, bytearray] = {}

    def run(self, gen: Generator[Any, Any, Any]) -> Any:
        reply: Any = None
        error: BaseException | None = None
        for _ in range(10_000):
            try:
                op = gen.throw(error) if error is not None else gen.send(reply)
            except StopIteration as stop:
                return stop.value
            reply, error = None, None
            if isinstance(op, Connect):
                self.connects.append(self.clock.now - START)
                if self.kind == "refused":
                    error = NetworkError("connection refused")
                else:
                    reply = Connection(op.origin, stream=len(self.inbox))
                    self.inbox[id(reply)] = bytearray(self.answer)
            elif isinstance(op, Receive):
                if self.kind == "dead":
                    self.clock.now = op.deadline
                    error = IOTimeout("receive: timed out")
                else:
                    self.clock.now += self.read_time
                    inbox = self.inbox[id(op.connection)]
                    reply = bytes(inbox[:1000])
                    del inbox[:1000]
            elif isinstance(op, Sleep):
                self.clock.now = max(self.clock.now, op.until)
            # Acquire (no pool: None), SendBytes, Release and the reports need no answer.
        raise AssertionError("the call did not end")


def ended(clock: VirtualClock) -> float:
    return clock.now - START


# -- the defaults: a dead server is reported in about a minute --------------------------------


@pytest.mark.parametrize("call", ["status", "result"])
def test_a_server_that_never_answers_is_given_up_in_about_a_minute(call: str) -> None:
    # Before #12: seven attempts of 60 s each, 420 s of silence, then "timed out".
    clock = VirtualClock()
    server = Server("dead", clock)
    with pytest.raises((QueueStatusError, QueueResultError)) as info:
        server.run(getattr(make_driver(clock), call)("j1"))
    # Three attempts of 20 s (Timeouts.request), none started after 60 s (Timeouts.answer).
    assert len(server.connects) == 3
    assert server.connects[-1] <= 60 < ended(clock) <= 60 + 20
    message = str(info.value)
    assert "timed out" in message
    assert (
        f"given up at {ended(clock):.1f} s, after 3 failed attempts in a row: {call}() tries "
        "for 60 s when called without timeout= (Timeouts.answer)"
    ) in message
    assert info.value.data["status"] is None  # no answer: a network failure


def test_a_refused_port_is_given_up_once_the_retries_are_spent() -> None:
    clock = VirtualClock()
    server = Server("refused", clock)
    with pytest.raises(QueueStatusError) as info:
        server.run(make_driver(clock).status("j1"))
    assert len(server.connects) == 7  # the first and RetryPolicy().max_retries more
    assert ended(clock) < 60
    assert str(info.value) == (
        f"Failed to get job status: connection refused; given up at {ended(clock):.1f} s, after "
        "7 failed attempts in a row: the retry budget is spent (RetryPolicy.max_retries=6)"
    )
    assert isinstance(info.value.__cause__, NetworkError)


def test_a_timeout_given_by_the_caller_is_theirs_not_the_minute() -> None:
    # With timeout=, the caller chose the budget: attempts go on past the minute, until the
    # retry budget is spent.
    clock = VirtualClock()
    server = Server("dead", clock)
    with pytest.raises(QueueStatusError, match="the retry budget is spent"):
        server.run(make_driver(clock).status("j1", timeout=600))
    assert len(server.connects) == 7 and ended(clock) > 140


def test_a_download_under_way_is_not_cut_by_the_minute() -> None:
    # 30 kB read 1 kB each 3 s: 90 s of download, started well within the minute.
    video = b"V" * 30_000
    clock = VirtualClock()
    server = Server("slow", clock, http_answer(200, video), read_time=3.0)
    result = server.run(make_driver(clock).result("j1"))
    assert result.data == video
    assert len(server.connects) == 1 and ended(clock) > 90


# -- the deadline that cannot be met says so, and why -----------------------------------------


def test_a_retry_after_past_the_deadline_gives_up_at_once_saying_why() -> None:
    # Before #12: "Deadline of 5.0 s passed", after retrying at 4.5 s against the server's word.
    clock = VirtualClock()
    busy = http_answer(
        429, b'{"detail": "slow down"}', ("Retry-After", "100000"), ("X-Request-Id", "r-1")
    )
    outcome = Canned([busy], clock).run(make_driver(clock).status("j1", timeout=5))
    error = outcome.error
    assert isinstance(error, DeadlineExceededError)
    assert len(outcome.requests) == 1 and ended(clock) == 0.0
    assert str(error) == (
        "Giving up at 0.0 s of the 5.0 s deadline while waiting for job j1: the server asked to "
        "retry after 100000 s (last status: none); the last attempt failed: Failed to get job "
        'status: 429 - {"detail": "slow down"} (request id r-1); resume waiting with the job '
        "id 'j1'"
    )
    # The failure is chained, so that a traceback shows it, and carried, typed.
    assert isinstance(error.__cause__, QueueStatusError)
    assert error.__cause__.data == {"status": 429, "request_id": "r-1"}
    assert error.last_failure is error.__cause__ is error.data["last_failure"]
    assert error.job_id == "j1" == error.data["job_id"]


def test_a_submit_refused_for_longer_than_the_deadline_names_no_job() -> None:
    clock = VirtualClock()
    busy = http_answer(503, b"maintenance", ("Retry-After", "60"))
    options = {"model": models.video("lucy-2.1"), "data": b"video", "prompt": "p"}
    outcome = Canned([busy], clock).run(make_driver(clock).submit_and_poll(options, timeout=30))
    error = outcome.error
    assert isinstance(error, DeadlineExceededError)
    assert ended(clock) == 0.0
    assert str(error).startswith(
        "Giving up at 0.0 s of the 30.0 s deadline while waiting for the submit: the server "
        "asked to retry after 60 s (last status: none); the last attempt failed: Failed to "
        "submit job: 503 - maintenance"
    )
    assert "resume" not in str(error) and error.job_id is None
    assert isinstance(error.last_failure, QueueSubmitError)


def test_a_retry_after_that_fits_is_waited_for() -> None:
    clock = VirtualClock()
    busy = http_answer(429, b"", ("Retry-After", "2"))
    ok = http_answer(200, b'{"job_id": "j1", "status": "processing"}')
    outcome = Canned([busy, ok], clock).run(make_driver(clock).status("j1", timeout=5))
    assert outcome.value.status == "processing" and ended(clock) == 2.0


def test_repeated_500s_end_at_the_deadline_naming_the_last_failure() -> None:
    # Before #12: "Deadline of 5.0 s passed while waiting for job j1 (last status: none)", the
    # 500s nowhere to be seen.
    clock = VirtualClock()
    oops = http_answer(500, b"oops", ("X-Request-Id", "r-9"))
    outcome = Canned([oops] * 20, clock).run(make_driver(clock).status("j1", timeout=5))
    error = outcome.error
    assert isinstance(error, DeadlineExceededError)
    assert ended(clock) == 5.0  # #14: used to its end
    assert str(error) == (
        "Deadline of 5.0 s passed while waiting for job j1 (last status: none); the last "
        "attempt failed: Failed to get job status: 500 - oops (request id r-9); resume waiting "
        "with the job id 'j1'"
    )
    assert isinstance(error.__cause__, QueueStatusError)
    assert error.last_failure is error.__cause__
    assert error.__cause__.data == {"status": 500, "request_id": "r-9"}


def test_the_retry_budget_names_itself_and_the_job_to_resume() -> None:
    clock = VirtualClock()
    pending = http_answer(200, b'{"job_id": "j1", "status": "pending"}')
    oops = http_answer(502, b"bad gateway")
    driver = make_driver(clock, retry=RetryPolicy(max_retries=1), timeouts=Timeouts(job=100))
    outcome = Canned([pending, oops, oops], clock).run(driver.wait("j1"))
    assert isinstance(outcome.error, QueueStatusError)
    assert str(outcome.error) == (
        f"Failed to get job status: 502 - bad gateway; given up at {ended(clock):.1f} s, after 2 "
        "failed attempts in a row: the retry budget is spent (RetryPolicy.max_retries=1); "
        "resume waiting with the job id 'j1'"
    )


def test_a_retry_after_past_the_minute_of_a_status_call_says_both() -> None:
    # No timeout=: the deadline (15 minutes) would allow the wait, the minute of trying does not.
    clock = VirtualClock()
    busy = http_answer(429, b"later", ("Retry-After", "100"))
    outcome = Canned([busy], clock).run(make_driver(clock).status("j1"))
    assert isinstance(outcome.error, QueueStatusError) and ended(clock) == 0.0
    assert str(outcome.error) == (
        "Failed to get job status: 429 - later; given up at 0.0 s, after 1 failed attempt in a "
        "row: the server asked to retry after 100 s, and status() tries for 60 s when called "
        "without timeout= (Timeouts.answer)"
    )
