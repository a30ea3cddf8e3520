"""The driver's events: what it reports of each request, retry, status change and deadline, at
the levels a transport asks for, with the API key masked in every text; and nothing at all,
not one event object built, when nobody listens."""

from __future__ import annotations

import dataclasses
import json
import random
from typing import Any

import pytest

from decart_proto import (
    DeadlineExceeded,
    DeadlineExceededError,
    Driver,
    Event,
    Notify,
    QueueStatusError,
    Receive,
    Report,
    RequestFailed,
    RequestStarted,
    ResponseReceived,
    RetryPolicy,
    RetryScheduled,
    StatusChanged,
    models,
)
from decart_proto import _events as events_module
from decart_proto._events import DEBUG, INFO, WARNING

from .canned import KEY, Canned, Outcome, VirtualClock, http_answer

SUBMIT = {"model": models.video("lucy-2.1"), "data": b"video", "prompt": "p"}


class Ticking(Canned):
    """Canned answers, each receive taking a quarter of a second of the virtual clock."""

    def _answer(self, op: Any, outcome: Outcome) -> Any:
        reply = super()._answer(op, outcome)
        if isinstance(op, Receive):
            self.clock.now += 0.25
        return reply


def driver(clock: VirtualClock, max_retries: int = 2) -> Driver[Any]:
    return Driver(
        api_key=KEY,
        base_url="http://api.invalid",
        clock=clock,
        rand=random.Random(1),
        retry=RetryPolicy(max_retries=max_retries),
    )


def job(job_id: str, status: str, *headers: tuple[str, str]) -> bytes:
    body = json.dumps({"job_id": job_id, "status": status}).encode()
    return http_answer(200, body, ("Content-Type", "application/json"), *headers)


def run(
    answers: list[bytes], call: str, *args: Any, retries: int = 2, **kwargs: Any
) -> tuple[Outcome, list[Event]]:
    clock = VirtualClock()
    gen = getattr(driver(clock, retries), call)(*args, **kwargs)
    outcome = Ticking(answers, clock).run(gen)
    return outcome, [op.event for op in outcome.ops if isinstance(op, Report)]


WHOLE_JOB = [
    job("j1", "pending", ("X-Request-ID", "r-submit")),
    job("j1", "processing"),
    http_answer(503, b"busy", ("X-Request-ID", "r-busy"), ("Retry-After", "2")),
    job("j1", "completed"),
    http_answer(200, b"VIDEO", ("Content-Type", "video/mp4")),
]


def test_every_event_of_a_whole_job_in_order_at_debug() -> None:
    outcome, events = run(WHOLE_JOB, "submit_and_poll", SUBMIT, events=DEBUG)
    assert outcome.error is None and outcome.value.data == b"VIDEO"
    submit, status = "/v1/jobs/lucy-2.1", "/v1/jobs/j1"
    assert events == [
        RequestStarted("POST", submit, None, 1),
        # The submit's answer names the job it created.
        ResponseReceived("POST", submit, "j1", 200, "r-submit", 0.25),
        StatusChanged("j1", None, "pending"),
        RequestStarted("GET", status, "j1", 1),
        ResponseReceived("GET", status, "j1", 200, None, 0.25),
        StatusChanged("j1", "pending", "processing"),
        RequestStarted("GET", status, "j1", 1),
        ResponseReceived("GET", status, "j1", 503, "r-busy", 0.25),
        RetryScheduled("j1", "503 - busy (request id r-busy)", 2.0, 2, 3),
        RequestStarted("GET", status, "j1", 2),  # the retry
        ResponseReceived("GET", status, "j1", 200, None, 0.25),
        StatusChanged("j1", "processing", "completed"),
        RequestStarted("GET", status + "/content", "j1", 1),
        ResponseReceived("GET", status + "/content", "j1", 200, None, 0.25),
    ]
    # Each status change is told just before on_status_change hears of it, with the same job
    # and status.
    ops = outcome.ops
    told = [i for i, op in enumerate(ops) if isinstance(op, Report) and op.event.level == INFO]
    notified = [i for i, op in enumerate(ops) if isinstance(op, Notify)]
    assert len(notified) == 3 and [i + 1 for i in told] == notified
    assert [(ops[i].event.job_id, ops[i].event.new) for i in told] == [
        (ops[i].status.job_id, ops[i].status.status) for i in notified
    ]


@pytest.mark.parametrize(
    ("level", "kinds"),
    [
        (None, []),
        (WARNING, [RetryScheduled]),
        (INFO, [StatusChanged, StatusChanged, RetryScheduled, StatusChanged]),
    ],
)
def test_a_call_builds_only_the_events_of_the_levels_asked_for(
    level: int | None, kinds: list[type[Any]]
) -> None:
    outcome, events = run(WHOLE_JOB, "submit_and_poll", SUBMIT, events=level)
    assert outcome.error is None
    assert [type(e) for e in events] == kinds


def test_no_event_is_built_when_nobody_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    # Not only none yielded: none made. A class that cannot be built proves it.
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an event was built that nobody listens to")

    for name in ("RequestStarted", "ResponseReceived", "RequestFailed", "RetryScheduled"):
        monkeypatch.setattr(f"decart_proto._driver.{name}", refuse)
    monkeypatch.setattr("decart_proto._driver.StatusChanged", refuse)
    monkeypatch.setattr("decart_proto._driver.DeadlineExceeded", refuse)
    outcome, events = run(WHOLE_JOB, "submit_and_poll", SUBMIT)
    assert outcome.error is None and events == []
    answers = [http_answer(503, b"busy")] * 8
    outcome, _ = run(answers, "status", "j1", retries=50, timeout=5.0)
    assert isinstance(outcome.error, DeadlineExceededError)


def test_a_request_with_no_answer_is_a_failure_with_its_reason() -> None:
    # An empty answer: the server closed the connection without a response; then the answer.
    outcome, events = run([b"", job("j1", "processing")], "status", "j1", events=DEBUG)
    assert outcome.value.status == "processing"
    failed, retry = events[1], events[2]
    assert failed == RequestFailed(
        "GET",
        "/v1/jobs/j1",
        "j1",
        "the server closed the connection without a response",
        0.25,
    )
    assert isinstance(retry, RetryScheduled)
    assert retry.reason == failed.reason and (retry.attempt, retry.max_attempts) == (2, 3)
    assert retry.delay > 0
    assert events[3] == RequestStarted("GET", "/v1/jobs/j1", "j1", 2)
    # A one-shot call reports no status change: its answer is its value.
    assert not any(isinstance(e, StatusChanged) for e in events)


def test_a_result_that_cannot_be_the_video_is_a_failed_request() -> None:
    empty = http_answer(200, b"", ("Content-Type", "video/mp4"))
    outcome, events = run([empty, http_answer(200, b"VIDEO")], "result", "j1", events=DEBUG)
    assert outcome.value.data == b"VIDEO"
    failed = events[1]
    assert isinstance(failed, RequestFailed)
    assert "empty" in failed.reason and failed.job_id == "j1"


def test_retries_spent_end_without_a_retry_event() -> None:
    outcome, events = run([http_answer(500, b"down")] * 3, "status", "j1", events=WARNING)
    assert isinstance(outcome.error, QueueStatusError)
    retries = [e for e in events if isinstance(e, RetryScheduled)]
    assert [(r.attempt, r.max_attempts) for r in retries] == [(2, 3), (3, 3)]
    assert events == retries  # no deadline event: the budget ended it


def test_a_deadline_given_up_says_why_as_the_error_does() -> None:
    answers = [http_answer(503, b"busy", ("X-Request-ID", "r9"))] * 50
    outcome, events = run(answers, "status", "j1", retries=50, timeout=3.0, events=WARNING)
    error = outcome.error
    assert isinstance(error, DeadlineExceededError)
    last = events[-1]
    assert last == DeadlineExceeded("j1", error.message)
    assert last.message().startswith("job j1: ")
    assert all(isinstance(e, RetryScheduled) for e in events[:-1])


def test_the_key_echoed_by_the_server_is_masked_in_every_event() -> None:
    # The key as the job id, in the request id header, and in an error body.
    answers = [
        job(KEY, "pending", ("X-Request-ID", KEY)),
        http_answer(503, f"no {KEY} here".encode(), ("X-Request-ID", f"id-{KEY}")),
        job(KEY, "completed"),
        http_answer(200, b"VIDEO"),
    ]
    outcome, events = run(answers, "submit_and_poll", SUBMIT, events=DEBUG)
    assert outcome.error is None
    assert {type(e) for e in events} >= {
        RequestStarted,
        ResponseReceived,
        RetryScheduled,
        StatusChanged,
    }
    runs = {KEY[i : i + 8] for i in range(len(KEY) - 7)}
    for event in events[1:]:  # all but the submit's request, which names no job yet
        shown = f"{event!r} {event.message()}"
        assert not any(run in shown for run in runs), shown
        assert "[redacted]" in shown


def test_events_are_frozen_slotted_values_with_the_logging_levels() -> None:
    event = RetryScheduled("j1", "503", 1.0, 2, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.delay = 2.0  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
    assert (DEBUG, INFO, WARNING) == (10, 20, 30)  # logging's own numbers
    levels = {cls: cls.level for cls in (RequestStarted, RequestFailed, ResponseReceived)}
    assert set(levels.values()) == {DEBUG}
    assert StatusChanged.level == INFO
    assert RetryScheduled.level == DeadlineExceeded.level == WARNING
    assert set(events_module.__all__) >= {"Event", "RetryScheduled", "DeadlineExceeded"}


def test_the_messages_name_the_job() -> None:
    assert RequestStarted("POST", "/v1/jobs/m", None, 1).message() == (
        "POST /v1/jobs/m: attempt 1 (the submit)"
    )
    assert ResponseReceived("GET", "/v1/jobs/j", "j", 503, "r1", 0.5).message() == (
        "GET /v1/jobs/j: 503 in 0.500 s (job j, request id r1)"
    )
    assert ResponseReceived("GET", "/v1/jobs/j", "j", 200, None, 0.5).message() == (
        "GET /v1/jobs/j: 200 in 0.500 s (job j)"
    )
    assert RequestFailed("GET", "/v1/jobs/j", "j", "timed out", 20.0).message() == (
        "GET /v1/jobs/j: failed after 20.000 s (job j): timed out"
    )
    assert RetryScheduled(None, "refused", 2.0, 2, 6).message() == (
        "the submit: retrying in 2.0 s (attempt 2 of 6): refused"
    )
    assert StatusChanged("j", None, "pending").message() == "job j: submitted -> pending"
    assert StatusChanged("j", "pending", "completed").message() == "job j: pending -> completed"
    assert DeadlineExceeded("j", "Deadline passed").message() == "job j: Deadline passed"
