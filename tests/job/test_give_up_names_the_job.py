"""A call that follows a job and ends on a failure not worth retrying — no file descriptor left
for the next poll's connection, a 401 — leaves the job running on the server: its error names
the id to resume with, in the message and in ``.data["job_id"]``, as the deadline's and the
spent retry budget's do (#11)."""

from __future__ import annotations

import json
import random
from collections.abc import Generator
from typing import Any

import pytest

from decart_proto import (
    Connect,
    Connection,
    Driver,
    QueueStatusError,
    QueueSubmitError,
    Receive,
    Sleep,
    TooManyOpenFilesError,
    models,
)

from .canned import KEY, VirtualClock, http_answer

SUBMIT = {"model": models.video("lucy-2.1"), "data": b"video", "prompt": "p"}
ACCEPTED = http_answer(200, json.dumps({"job_id": "j-7", "status": "pending"}).encode())
EMFILE = "no file descriptor left for a new connection (Too many open files)"


def run(gen: Generator[Any, Any, Any], answers: list[bytes | None]) -> BaseException:
    """Answers each new connection with the next of *answers*; ``None`` there is a process out
    of descriptors, thrown at that Connect as a transport does. Returns what the call raised."""
    inbox: dict[int, bytearray] = {}
    reply: Any = None
    error: BaseException | None = None
    for _ in range(10_000):
        try:
            op = gen.throw(error) if error is not None else gen.send(reply)
        except StopIteration as stop:
            raise AssertionError(f"the call returned {stop.value!r}") from None
        except Exception as exc:
            return exc
        reply, error = None, None
        if isinstance(op, Connect):
            answer = answers.pop(0)
            if answer is None:
                error = TooManyOpenFilesError(EMFILE)
            else:
                reply = Connection(op.origin, stream=len(inbox))
                inbox[id(reply)] = bytearray(answer)
        elif isinstance(op, Receive):
            box = inbox[id(op.connection)]
            reply = bytes(box[: op.max_bytes])
            del box[: op.max_bytes]
        elif isinstance(op, Sleep):
            clock.now = max(clock.now, op.until)
    raise AssertionError("the call did not end")


clock = VirtualClock()


def driver() -> Driver[Any]:
    return Driver(api_key=KEY, base_url="http://api.invalid", clock=clock, rand=random.Random(1))


def test_no_descriptor_for_the_next_poll_names_the_job_to_resume() -> None:
    error = run(driver().submit_and_poll(SUBMIT), [ACCEPTED, None])
    assert isinstance(error, QueueStatusError)
    assert isinstance(error.__cause__, TooManyOpenFilesError)
    assert error.data == {"status": None, "job_id": "j-7"}
    assert error.message == (
        f"Failed to get job status: {EMFILE}; resume waiting with the job id 'j-7'"
    )


@pytest.mark.parametrize("call", ["submit_and_poll", "wait"])
def test_a_refusal_while_polling_names_the_job_once(call: str) -> None:
    refused = http_answer(401, b'{"detail": "bad key"}')
    d = driver()
    if call == "wait":
        error = run(d.wait("j-7"), [refused])
    else:
        error = run(d.submit_and_poll(SUBMIT), [ACCEPTED, refused])
    assert isinstance(error, QueueStatusError)
    assert error.data["job_id"] == "j-7"
    assert error.message.endswith("; resume waiting with the job id 'j-7'")
    assert error.message.count("j-7") == 1


def test_no_descriptor_for_the_submit_names_no_job() -> None:
    error = run(driver().submit_and_poll(SUBMIT), [None])
    assert isinstance(error, QueueSubmitError)
    assert "job_id" not in error.data and "resume" not in error.message


def test_a_one_shot_status_call_already_holds_its_id() -> None:
    # status() returns one answer: the caller passed the id; nothing is left to resume.
    error = run(driver().status("j-7"), [None])
    assert isinstance(error, QueueStatusError)
    assert "job_id" not in error.data and "resume" not in error.message
