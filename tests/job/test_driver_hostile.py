"""The driver against servers that send what no Queue API server should: answers it must refuse
clearly rather than pass on as a result."""

from __future__ import annotations

import json
import random

from decart_proto import Driver, QueueStatusError, QueueSubmitError, RetryPolicy, models

from .canned import KEY, Canned, VirtualClock, http_answer


def make_driver(clock: VirtualClock, **extra: object) -> Driver:
    return Driver(
        api_key=KEY,
        base_url="http://api.invalid",
        clock=clock,
        rand=random.Random(1),
        retry=RetryPolicy(max_retries=2),
        **extra,  # type: ignore[arg-type]
    )


def job_json(job_id: str, status: str) -> bytes:
    return json.dumps({"job_id": job_id, "status": status}).encode()


SUBMIT = {"model": models.video("lucy-2.1"), "data": b"video", "prompt": "p"}


# -- job ids -----------------------------------------------------------------------------------


def test_a_huge_job_id_from_the_server_is_refused_and_never_polled() -> None:
    clock = VirtualClock()
    answers = [http_answer(200, job_json("j" * 1_000_000, "pending"))]
    outcome = Canned(answers, clock).run(make_driver(clock).submit_and_poll(SUBMIT))
    assert isinstance(outcome.error, QueueSubmitError)
    assert "is 1000000 characters long; a job id has at most 256" in outcome.error.message
    assert outcome.error.data == {"status": 200}
    assert len(outcome.error.message) < 600
    assert outcome.targets == [b"POST /v1/jobs/lucy-2.1"]


def test_a_job_id_of_256_characters_is_polled() -> None:
    clock = VirtualClock()
    job_id = "j" * 256
    answers = [http_answer(200, job_json(job_id, "pending"))]
    answers.append(http_answer(200, job_json(job_id, "failed")))
    outcome = Canned(answers, clock).run(make_driver(clock).submit_and_poll(SUBMIT))
    assert outcome.value.status == "failed"
    assert outcome.targets[1] == b"GET /v1/jobs/" + job_id.encode()


def test_a_huge_job_id_from_the_caller_is_refused_before_any_request() -> None:
    clock = VirtualClock()
    for call in ("status", "result", "wait"):
        gen = getattr(make_driver(clock), call)("j" * 257)
        outcome = Canned([], clock).run(gen)
        assert "is 257 characters long" in str(outcome.error), call
        assert outcome.ops == []


def test_a_status_answer_echoing_a_huge_job_id_is_refused() -> None:
    clock = VirtualClock()
    answers = [http_answer(200, job_json("j" * 300, "pending"))]
    outcome = Canned(answers, clock).run(make_driver(clock).status("j1"))
    assert isinstance(outcome.error, QueueStatusError)
    assert "is 300 characters long" in outcome.error.message
