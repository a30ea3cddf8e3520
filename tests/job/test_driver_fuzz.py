"""Hostile servers, fuzzed: arbitrary response bytes through the driver, with the API key
planted in them.

Hypothesis builds what a broken, malicious or merely odd server might send — status lines,
header lines, chunked framing, JSON bodies, compressed bodies, or raw bytes — with a realistic
API key planted at random places, and feeds it to status, submit, result and wait calls (one
answer per connection, as many as the call asks for). Whatever comes back must be a correct
answer or one of our errors (never another exception type), and no error may show a run of
the key anywhere: str, repr, message, args, data, cause, or any exception in its chains. The op
values the driver yields (which a transport might log) must not show it either.

Bounded and derandomized for CI (``hyp.py``); ``DECART_HYPOTHESIS_RANDOM=1`` explores with
fresh randomness and ``DECART_HYPOTHESIS_SCALE=10`` runs ten times as many examples.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from decart_proto import (
    DeadlineExceededError,
    DecartSDKError,
    Driver,
    JobStatusResponse,
    JobSubmitResponse,
    PollPolicy,
    QueueJobResult,
    QueueResultError,
    QueueStatusError,
    QueueSubmitError,
    RetryPolicy,
    Timeouts,
    models,
)
from decart_proto._responses import JOB_STATUSES

from .canned import Canned, VirtualClock, http_answer
from .hyp import examples

# What a real key looks like: url-safe, 40 characters. Any 8 of them in a row count as a leak:
# a message may quote a server's bytes cut anywhere, key included.
KEY = "dk_live_7QmZp2Vx9LcR4tWy8NbJ3KfH6sDg1Ae5"
KEY_RUNS = [KEY[i : i + 8] for i in range(len(KEY) - 8 + 1)]


def shows_key(text: str) -> bool:
    return any(run in text for run in KEY_RUNS)


# -- what a server might send ------------------------------------------------------------------

# Text that may carry the key: the key whole, a piece of it, or none of it, among other text.
KEYED = st.builds(
    lambda before, key, after: before + key + after,
    st.text("abc -_:/.\"'{}[]\\\t", max_size=6),
    st.sampled_from(["", KEY, KEY, KEY[:20], f"X-API-KEY: {KEY}", KEY.upper()]),
    st.text("xyz -_:/.\"'\r\n\x00\x7f\xe9", max_size=6),
)
STATUSES = st.one_of(st.sampled_from([*JOB_STATUSES, "queued", "", None, 5]), KEYED)
JOB_IDS = st.one_of(st.sampled_from(["j1", "job-2", "../x", "", "a/b", None, 7]), KEYED)


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    shape = draw(st.sampled_from(["job", "job", "detail", "422", "list", "nested"]))
    if shape == "job":
        value: Any = {"job_id": draw(JOB_IDS), "status": draw(STATUSES)}
    elif shape == "detail":
        value = {"detail": draw(KEYED)}
    elif shape == "422":
        value = {"detail": [{"loc": ["body", draw(KEYED)], "msg": draw(KEYED), "type": "x"}]}
    elif shape == "list":
        value = [draw(KEYED), draw(STATUSES)]
    else:
        value = {"job_id": "j1", "status": "pending", "extra": {"k": [draw(KEYED)] * 3}}
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass")


BODIES = st.one_of(
    json_bodies(),
    KEYED.map(str.encode),
    st.binary(max_size=60),
    json_bodies().map(gzip.compress),
    st.builds(lambda a, b: a + KEY.encode() + b, st.binary(max_size=30), st.binary(max_size=30)),
    st.just(b"\x00\x00\x00\x18ftypmp42" + b"v" * 200),
)
HEADER_NAMES = st.sampled_from(
    [
        "Content-Type", "X-Request-ID", "Retry-After", "Date", "Content-Encoding",
        "Transfer-Encoding", "Content-Length", "Connection", "X-Echo", KEY, f"X-{KEY}",
        "Bad Name", "",
    ]
)  # fmt: skip
HEADER_VALUES = st.one_of(
    st.sampled_from(["gzip", "br", "deflate", "chunked", "close", "3", "0", "application/json"]),
    KEYED,
)


@st.composite
def http_responses(draw: st.DrawFn) -> bytes:
    code = draw(st.sampled_from([200, 200, 200, 201, 204, 400, 401, 404, 409, 422, 429, 503, 99]))
    reason = draw(st.one_of(st.just("OK"), KEYED))
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2", KEY]))
    line = draw(st.one_of(st.just(f"{version} {code} {reason}"), KEYED))
    body = draw(BODIES)
    headers = [
        f"{draw(HEADER_NAMES)}: {draw(HEADER_VALUES)}" for _ in range(draw(st.integers(0, 3)))
    ]
    if draw(st.booleans()):
        headers.append(draw(KEYED))  # a line that is no header at all
    framing = draw(st.sampled_from(["length", "length", "chunked", "close", "wrong-length"]))
    if framing == "length":
        headers.append(f"Content-Length: {len(body)}")
    elif framing == "wrong-length":
        headers.append(f"Content-Length: {len(body) + draw(st.sampled_from([-3, 5]))}")
    elif framing == "chunked":
        headers.append("Transfer-Encoding: chunked")
        size = draw(st.one_of(st.just(f"{len(body):x}"), KEYED))
        extension = draw(st.sampled_from(["", f";{KEY}", ";x=1"]))
        end = draw(st.sampled_from(["0\r\n\r\n", f"0\r\n{KEY}: 1\r\n\r\n", f"{KEY}\r\n"]))
        body = f"{size}{extension}\r\n".encode("utf-8", "surrogatepass") + body
        body += b"\r\n" + end.encode()
    head = line + "\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n"
    raw = head.encode("utf-8", "surrogatepass") + body
    tail = draw(st.sampled_from(["whole", "whole", "cut", "extra"]))
    if tail == "cut":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif tail == "extra":
        raw += draw(KEYED).encode("utf-8", "surrogatepass")
    return raw


# Well-formed answers, so that calls also get through (after broken answers, or with the key in
# a header the driver never quotes).
GOOD = st.builds(
    lambda status, extra, video: (
        b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (extra, len(video), video)
        if video
        else b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (extra, len(status), status)
    ),
    st.sampled_from(JOB_STATUSES).map(lambda s: json.dumps({"job_id": "j1", "status": s}).encode()),
    st.sampled_from([b"", b"X-Echo: %s\r\n" % KEY.encode(), b"Content-Type: text/plain\r\n"]),
    st.sampled_from([b"", b"", b"\x00\x00\x00\x18ftypmp42video"]),
)
# Well-formed refusals, whose every part the error quotes: the body, the request id.
REFUSALS = st.builds(
    lambda code, request_id, body: (
        b"HTTP/1.1 %d No\r\nX-Request-ID: %s\r\nContent-Length: %d\r\n\r\n%s"
        % (code, request_id.encode("utf-8", "surrogatepass"), len(body), body)
    ),
    st.sampled_from([400, 401, 404, 409, 422, 429, 500, 503]),
    KEYED.map(lambda t: t.translate({13: None, 10: None, 0: None})),  # one header line
    BODIES,
)
ANSWERS = st.lists(
    st.one_of(
        GOOD,
        REFUSALS,
        http_responses(),
        http_responses(),
        st.binary(max_size=80),
        st.builds(
            lambda a, b: a + KEY.encode() + b, st.binary(max_size=40), st.binary(max_size=40)
        ),
    ),
    min_size=1,
    max_size=4,
)


# -- looking for the key ------------------------------------------------------------------------


def exceptions_in(error: BaseException) -> Iterator[BaseException]:
    """*error* and every exception it carries: ``.cause``, the chains, exceptions in args and
    data (each once)."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        exc = todo.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        yield exc
        for linked in (getattr(exc, "cause", None), exc.__cause__, exc.__context__):
            if isinstance(linked, BaseException):
                todo.append(linked)
        todo += [a for a in exc.args if isinstance(a, BaseException)]


def leaks(error: BaseException) -> list[str]:
    found = []
    for exc in exceptions_in(error):
        shown = {
            "str": str(exc),
            "repr": repr(exc),
            "args": repr(exc.args),
            "vars": repr(vars(exc)),
            "notes": repr(getattr(exc, "__notes__", None)),
        }
        if isinstance(exc, DecartSDKError):
            shown |= {"message": exc.message, "data": repr(exc.data), "cause": repr(exc.cause)}
        found += [f"{type(exc).__name__}.{where}: {text!r}" for where, text in shown.items()
                  if shows_key(text)]  # fmt: skip
    return found


# -- the calls ----------------------------------------------------------------------------------

CALLS = ["status", "submit", "result", "result-to-output", "wait"]
ENDINGS = {
    "status": {QueueStatusError, DeadlineExceededError},
    "submit": {QueueSubmitError, DeadlineExceededError},
    "result": {QueueResultError, DeadlineExceededError},
    "result-to-output": {QueueResultError, DeadlineExceededError},
    "wait": {QueueStatusError, QueueResultError, DeadlineExceededError},
}


def make_call(driver: Driver, call: str) -> Any:
    if call == "status":
        return driver.status("j1")
    if call == "submit":
        options = {"model": models.video("lucy-2.1"), "data": b"video", "prompt": "p"}
        return driver.submit(options)
    if call == "wait":
        return driver.wait("j1", to_output=True)
    return driver.result("j1", to_output=call == "result-to-output")


def check_value(call: str, value: Any) -> None:
    """A call that ended without an error ended with a correct answer."""
    if call == "status":
        assert isinstance(value, JobStatusResponse)
        assert value.job_id == "j1" and value.status in JOB_STATUSES
    elif call == "submit":
        assert isinstance(value, JobSubmitResponse)
        assert isinstance(value.job_id, str) and 0 < len(value.job_id) <= 256
        assert "/" not in value.job_id and value.status in JOB_STATUSES
    else:
        assert isinstance(value, QueueJobResult)
        assert value.job_id == "j1"
        if value.status == "completed":
            assert (value.data is None) == (call != "result")
            assert value.data is None or len(value.data) > 0
        else:
            assert value.status == "failed" and value.error == "Job failed"


@examples(1000)
@given(call=st.sampled_from(CALLS), answers=ANSWERS, seed=st.integers(0, 2**16))
def test_hostile_answers_end_in_an_answer_or_our_error_without_the_key(
    call: str, answers: list[bytes], seed: int
) -> None:
    clock = VirtualClock()
    driver = Driver(
        api_key=KEY,
        base_url="http://api.invalid",
        clock=clock,
        rand=random.Random(seed),
        poll=PollPolicy(initial_delay=0.1, interval=0.1),
        retry=RetryPolicy(max_retries=2, backoff_base=0.1),
        timeouts=Timeouts(job=30.0, request=5.0),
    )
    outcome = Canned(answers, clock, max_ops=5000).run(make_call(driver, call))
    if outcome.error is None:
        check_value(call, outcome.value)
        event(f"{call}: {type(outcome.value).__name__}")
    else:
        # One of the call's own errors: never another type (not even a DecartSDKError that
        # would mean a foreign exception had to be replaced, nor a local misuse).
        assert type(outcome.error) in ENDINGS[call], repr(outcome.error)
        assert leaks(outcome.error) == []
        event(f"{call}: {type(outcome.error).__name__}")
    for op in outcome.ops:
        assert not shows_key(repr(op)), op
    assert not shows_key(repr(driver))


# -- worked cases: a 2xx answer that breaks the contract, echoing the key ----------------------

MALFORMED_2XX = {
    "status value": json.dumps({"job_id": "j1", "status": f"bad key {KEY}"}).encode(),
    "job id": json.dumps({"job_id": f"{KEY}/..", "status": "pending"}).encode(),
    "not JSON": f"<html>key {KEY}</html>".encode(),
    "compressed": gzip.compress(json.dumps({"job_id": "j1", "status": KEY}).encode()),
}


@pytest.mark.parametrize("call", ["status", "submit"])
@pytest.mark.parametrize("body", MALFORMED_2XX.values(), ids=list(MALFORMED_2XX))
def test_a_malformed_2xx_answer_is_quoted_without_the_key(call: str, body: bytes) -> None:
    """The fuzz above finds this among thousands of answers; these are the cases spelled out:
    the protocol error quotes the body (so the caller sees what came) with the key masked."""
    headers = [("Content-Encoding", "gzip")] if body[:2] == b"\x1f\x8b" else []
    driver = Driver(
        api_key=KEY, base_url="http://api.invalid", clock=VirtualClock(), rand=random.Random(0)
    )
    outcome = Canned([http_answer(200, body, *headers)], VirtualClock()).run(
        make_call(driver, call)
    )
    error = outcome.error
    assert type(error) is {"status": QueueStatusError, "submit": QueueSubmitError}[call]
    assert error.data["status"] == 200
    assert "the server sent" in error.message and "[redacted]" in error.message
    assert leaks(error) == []
