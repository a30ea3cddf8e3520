"""The driver against servers that send what no Queue API server should: answers it must refuse
clearly rather than pass on as a result."""

from __future__ import annotations

import gzip
import json
import random
import tracemalloc
import zlib
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from decart_proto import (
    DEFAULT_MAX_IN_MEMORY_RESULT,
    Acquire,
    CompletedResult,
    Connect,
    Connection,
    DecartSDKError,
    Driver,
    OutputError,
    OutputReset,
    OutputWrite,
    QueueResultError,
    QueueStatusError,
    QueueSubmitError,
    Receive,
    Release,
    RetryPolicy,
    SendBytes,
    models,
)

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


# -- the caller's output fails -----------------------------------------------------------------

VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"v" * 3000
DONE = http_answer(200, job_json("j1", "completed"))
CUT = http_answer(200, VIDEO)[:-100]  # the video cut short: the download is retried


@pytest.mark.parametrize(
    ("call", "answers", "fail_at", "op"),
    [
        ("result", [http_answer(200, VIDEO)], 1, OutputWrite),
        ("wait", [DONE, http_answer(200, VIDEO)], 1, OutputWrite),
        # The first download is cut short; emptying the output before the second one fails.
        ("result", [CUT, http_answer(200, VIDEO)], 2, OutputReset),
    ],
)
def test_an_output_error_ends_the_call_at_once_with_the_job_id(
    call: str, answers: list[bytes], fail_at: int, op: type
) -> None:
    clock = VirtualClock()
    failure = OutputError("could not write 'out.mp4': No space left on device")
    canned = Canned(answers, clock, fail_output=fail_at, output_error=failure)
    outcome = canned.run(getattr(make_driver(clock), call)("j1", to_output=True))
    # The transport's own error, never retried nor taken for a network failure.
    assert outcome.error is failure
    assert failure.message == (
        "could not write 'out.mp4': No space left on device; "
        "resume waiting with the job id 'j1'"
    )
    assert str(failure) == failure.message
    assert failure.data == {"job_id": "j1"}
    outputs = [o for o in outcome.ops if isinstance(o, (OutputWrite, OutputReset))]
    assert len(outputs) == fail_at and type(outputs[-1]) is op
    # Nothing after the failed op but handing back the connection it was using.
    after = outcome.ops[outcome.ops.index(outputs[-1]) + 1 :]
    assert all(isinstance(o, Release) and not o.reuse for o in after)
    assert len([t for t in outcome.targets if t.endswith(b"/content")]) == 1


def test_an_output_error_leaves_no_connection_for_reuse() -> None:
    clock = VirtualClock()
    canned = Canned([http_answer(200, VIDEO)], clock, fail_output=1)
    outcome = canned.run(make_driver(clock).result("j1", to_output=True))
    assert isinstance(outcome.error, OutputError)
    assert [o.reuse for o in outcome.ops if isinstance(o, Release)] == [False]


# -- an empty answer is no video ---------------------------------------------------------------

EMPTY = {
    "204": b"HTTP/1.1 204 No Content\r\n\r\n",
    "length-0": http_answer(200, b""),
    "empty-chunked": http_answer(200, b"", chunked=True),
}


@pytest.mark.parametrize("to_output", [False, True])
@pytest.mark.parametrize("name", EMPTY)
def test_an_empty_answer_is_not_a_completed_video(name: str, to_output: bool) -> None:
    clock = VirtualClock()
    answers = [DONE, EMPTY[name], EMPTY[name], EMPTY[name]]
    outcome = Canned(answers, clock).run(make_driver(clock).wait("j1", to_output=to_output))
    assert isinstance(outcome.error, QueueResultError)
    status = 204 if name == "204" else 200
    assert outcome.error.data == {"status": status, "job_id": "j1"}
    assert outcome.error.message == (
        f"Failed to get job content: {status} - the server sent an empty body, not the video "
        "of job j1; given up at 1.2 s, after 3 failed attempts in a row: the retry budget is "
        "spent (RetryPolicy.max_retries=2); resume waiting with the job id 'j1'"
    )
    # Retried as a fault on the way (max_retries=2), then reported.
    assert len([t for t in outcome.targets if t.endswith(b"/content")]) == 3
    assert outcome.written == b""


def test_an_empty_answer_then_the_video() -> None:
    clock = VirtualClock()
    answers = [DONE, EMPTY["204"], http_answer(200, VIDEO)]
    outcome = Canned(answers, clock).run(make_driver(clock).wait("j1"))
    assert outcome.value == CompletedResult(VIDEO, "j1")


def test_result_of_an_empty_answer_is_the_content_error() -> None:
    clock = VirtualClock()
    answers = [EMPTY["length-0"]] * 3 + [DONE]
    outcome = Canned(answers, clock).run(make_driver(clock).result("j1"))
    assert isinstance(outcome.error, QueueResultError)
    assert outcome.error.data == {"status": 200}
    # A 2xx is not how a failed job's content is refused: no status request follows.
    assert outcome.targets == [b"GET /v1/jobs/j1/content"] * 3


# -- results kept in memory --------------------------------------------------------------------


def big_answers(size: int, *, chunked: bool) -> Iterator[bytes]:
    """A 200 answer carrying *size* bytes, made as it is received (so that the test's own
    bytes are not counted), in pieces of at most 64 KiB."""
    if chunked:
        yield b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    else:
        yield b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size
    piece = 60_000
    for at in range(0, size, piece):
        n = min(piece, size - at)
        data = bytes([at // piece % 251]) * n
        yield b"%x\r\n%s\r\n" % (n, data) if chunked else data
    if chunked:
        yield b"0\r\n\r\n"


def run_streamed(
    gen: Generator[Any, Any, Any], answer: Iterator[bytes]
) -> tuple[Any, BaseException | None, int]:
    """Run a result call whose one connection receives *answer*: its value or error, and how
    many Receive ops it asked for."""
    reply: Any = None
    receives = 0
    while True:
        try:
            op = gen.send(reply)
        except StopIteration as stop:
            return stop.value, None, receives
        except DecartSDKError as exc:
            return None, exc, receives
        reply = None
        if isinstance(op, Connect):
            reply = Connection(op.origin, stream=None)
        elif isinstance(op, Receive):
            receives += 1
            reply = next(answer, b"")
        else:
            assert isinstance(op, (Acquire, SendBytes, Release)), op


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_an_in_memory_result_costs_its_size_once(chunked: bool) -> None:
    size = 24 * 1024 * 1024
    clock = VirtualClock()
    gen = make_driver(clock).result("j1")
    tracemalloc.start()
    try:
        value, error, _ = run_streamed(gen, big_answers(size, chunked=chunked))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error is None
    assert type(value.data) is bytes and len(value.data) == size
    assert value.data[-1] == (size - 1) // 60_000 % 251
    # One buffer and no copy at the end (it was 2x): a growing buffer may be an eighth over.
    assert peak < size * (1.05 if not chunked else 1.2), peak / size


@pytest.mark.parametrize("limit", [1000, 3000])
def test_an_announced_result_larger_than_the_limit_fails_before_its_body(limit: int) -> None:
    clock = VirtualClock()
    gen = make_driver(clock, max_in_memory_result=limit).result("j1")
    value, error, receives = run_streamed(gen, big_answers(3001, chunked=False))
    assert isinstance(error, QueueResultError)
    assert value is None
    assert receives == 1  # the head, and not one read more
    assert error.data == {"status": 200}
    assert error.message == (
        "Failed to get job content: 200 - the video of job j1 is too large to keep in memory "
        f"(announced as 3001 bytes; max_in_memory_result is {limit} bytes). Pass output= "
        "(a path or a binary file) to stream it to a file instead; resume waiting with the "
        "job id 'j1'"
    )


def test_a_chunked_result_fails_when_it_passes_the_limit() -> None:
    clock = VirtualClock()
    gen = make_driver(clock, max_in_memory_result=100_000).result("j1")
    value, error, receives = run_streamed(gen, big_answers(10**9, chunked=True))
    assert value is None and isinstance(error, QueueResultError)
    assert "(more than 100000 bytes so far; max_in_memory_result is 100000 bytes)" in str(error)
    assert receives == 3  # the head, then two pieces of 60,000 bytes


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_a_result_of_exactly_the_limit_is_kept(chunked: bool) -> None:
    clock = VirtualClock()
    gen = make_driver(clock, max_in_memory_result=120_000).result("j1")
    value, error, _ = run_streamed(gen, big_answers(120_000, chunked=chunked))
    assert error is None and len(value.data) == 120_000


def test_a_result_to_an_output_has_no_limit() -> None:
    clock = VirtualClock()
    outcome = Canned([http_answer(200, VIDEO)], clock).run(
        make_driver(clock, max_in_memory_result=10).result("j1", to_output=True)
    )
    assert outcome.value.data is None and outcome.written == VIDEO


def test_the_default_limit_is_one_gib() -> None:
    assert DEFAULT_MAX_IN_MEMORY_RESULT == 1024**3
    assert make_driver(VirtualClock()).max_in_memory_result == DEFAULT_MAX_IN_MEMORY_RESULT


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "1"])
def test_the_limit_must_be_a_positive_number_of_bytes(bad: object) -> None:
    with pytest.raises(ValueError, match="max_in_memory_result must be a positive number"):
        make_driver(VirtualClock(), max_in_memory_result=bad)


def test_a_retried_download_starts_a_new_buffer() -> None:
    clock = VirtualClock()
    outcome = Canned([CUT, http_answer(200, VIDEO)], clock).run(make_driver(clock).result("j1"))
    assert outcome.value.data == VIDEO


# -- compressed answers --------------------------------------------------------------------------


def encoded(status: int, body: bytes, coding: str, *, chunked: bool = False) -> bytes:
    return http_answer(status, body, ("Content-Encoding", coding), chunked=chunked)


def test_every_request_asks_for_no_compression() -> None:
    clock = VirtualClock()
    answers = [http_answer(200, job_json("j1", "pending")), DONE, http_answer(200, VIDEO)]
    outcome = Canned(answers, clock).run(make_driver(clock).submit_and_poll(SUBMIT))
    assert outcome.value.data == VIDEO
    assert [r.split(b" ")[0] for r in outcome.requests] == [b"POST", b"GET", b"GET"]
    for request in outcome.requests:
        assert b"\r\nAccept-Encoding: identity\r\n" in request.split(b"\r\n\r\n")[0] + b"\r\n"


@pytest.mark.parametrize("to_output", [False, True])
@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip", gzip.compress(VIDEO)),
        ("x-gzip", gzip.compress(VIDEO)),
        ("deflate", zlib.compress(VIDEO)),
        ("identity", VIDEO),
    ],
    ids=["gzip", "x-gzip", "deflate", "identity"],
)
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_a_compressed_video_is_decoded(
    coding: str, body: bytes, to_output: bool, chunked: bool
) -> None:
    clock = VirtualClock()
    answers = [encoded(200, body, coding, chunked=chunked)]
    outcome = Canned(answers, clock).run(make_driver(clock).result("j1", to_output=to_output))
    assert outcome.error is None
    assert (outcome.value.data, bytes(outcome.written)) == (
        (None, VIDEO) if to_output else (VIDEO, b"")
    )


@pytest.mark.parametrize("to_output", [False, True])
@pytest.mark.parametrize("coding", ["br", "zstd", "gzip, gzip", "compress"])
def test_a_video_in_another_coding_is_refused_at_once_and_never_saved(
    coding: str, to_output: bool
) -> None:
    clock = VirtualClock()
    answers = [encoded(200, b"\x1b\x07\x00compressed", coding)] * 3
    outcome = Canned(answers, clock).run(make_driver(clock).result("j1", to_output=to_output))
    assert isinstance(outcome.error, QueueResultError)
    assert outcome.error.message == (
        f"Failed to get job content: 200 - the server sent the video of job j1 encoded as "
        f"{coding!r}, and this client does not decode it (it decodes gzip and deflate, and "
        "asks for no coding at all); resume waiting with the job id 'j1'"
    )
    assert outcome.error.data == {"status": 200}
    assert outcome.written == b"" and len(outcome.requests) == 1  # not retried: same next time


@pytest.mark.parametrize(
    "body",
    [gzip.compress(VIDEO)[:-20], b"\x1f\x8b" + b"garbage" * 100],
    ids=["cut", "garbage"],
)
def test_a_broken_compressed_video_is_retried_and_never_saved_as_it_came(body: bytes) -> None:
    clock = VirtualClock()
    answers = [encoded(200, body, "gzip"), encoded(200, gzip.compress(VIDEO), "gzip")]
    canned = Canned(answers, clock)
    outcome = canned.run(make_driver(clock).result("j1", to_output=True))
    assert outcome.value.status == "completed" and outcome.written == VIDEO
    assert len(outcome.requests) == 2


def test_a_broken_compressed_video_every_time_is_an_error() -> None:
    clock = VirtualClock()
    answers = [encoded(200, gzip.compress(VIDEO)[:-20], "gzip")] * 3
    outcome = Canned(answers, clock).run(make_driver(clock).result("j1"))
    assert isinstance(outcome.error, QueueResultError)
    assert "encoded as 'gzip', and its compressed data was cut short" in outcome.error.message


def test_a_compressed_bomb_stops_at_the_in_memory_limit() -> None:
    clock = VirtualClock()
    bomb = gzip.compress(bytes(64 * 1024 * 1024), 9)
    answers = [encoded(200, bomb, "gzip")]
    driver = make_driver(clock, max_in_memory_result=8 * 1024 * 1024)
    tracemalloc.start()
    try:
        outcome = Canned(answers, clock).run(driver.result("j1"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(outcome.error, QueueResultError)
    assert "too large to keep in memory (more than 8388608 bytes so far" in str(outcome.error)
    assert peak < 12 * 1024 * 1024


@pytest.mark.parametrize("call", ["status", "wait"])
def test_a_compressed_status_answer_is_read(call: str) -> None:
    clock = VirtualClock()
    answers = [
        encoded(200, gzip.compress(job_json("j1", "completed")), "gzip"),
        encoded(200, zlib.compress(VIDEO), "deflate"),
    ]
    outcome = Canned(answers, clock).run(getattr(make_driver(clock), call)("j1"))
    assert outcome.error is None
    assert outcome.value.status == "completed"


@pytest.mark.parametrize("call", ["status", "submit"])
def test_a_status_or_submit_answer_in_another_coding_is_refused_clearly(call: str) -> None:
    clock = VirtualClock()
    answers = [encoded(200, b"\x1b\x07\x00", "br")] * 3
    driver = make_driver(clock)
    gen = driver.submit(SUBMIT) if call == "submit" else driver.status("j1")
    outcome = Canned(answers, clock).run(gen)
    assert isinstance(outcome.error, QueueSubmitError if call == "submit" else QueueStatusError)
    assert "the server sent an answer encoded as 'br', and this client does not decode it" in (
        outcome.error.message
    )
    assert outcome.error.data == {"status": 200}
    assert len(outcome.requests) == 1


# -- custom models ------------------------------------------------------------------------------


def test_a_custom_model_is_submitted_under_the_jobs_path_encoded() -> None:
    clock = VirtualClock()
    options = {"model": models.custom("org/é m"), "data": b"v"}
    answers = [http_answer(200, job_json("j1", "pending"))]
    outcome = Canned(answers, clock).run(make_driver(clock).submit(options))
    assert outcome.value.job_id == "j1"
    assert outcome.targets == [b"POST /v1/jobs/org/%C3%A9%20m"]
