"""A status poll on a kept-alive connection that the server had closed is tried once more at
once, on a new connection; every other failure goes to the retry policy (and its waits)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from decart_proto import (
    Acquire,
    Connect,
    Connection,
    Driver,
    IOTimeout,
    NetworkError,
    QueueStatusError,
    Receive,
    Release,
    RetryPolicy,
    SendBytes,
    Sleep,
)

JOB = b'{"job_id":"j1","status":"processing"}'
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(JOB), JOB)
CUT = b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n{"  # then the connection ends


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run_status(first: bytes | NetworkError, *, kept_alive: bool = True) -> tuple[Any, list[Any]]:
    """A status call whose first connection (kept alive from an earlier exchange, or not) gives
    *first* (bytes then EOF, or that error); every new connection answers properly."""
    clock = Clock()
    driver = Driver(
        api_key="k" * 20,
        base_url="http://x.invalid",
        clock=clock,
        rand=random.Random(1),
        retry=RetryPolicy(max_retries=0),
    )
    pooled = Connection(driver.target.origin, stream="pooled", exchanges=1 if kept_alive else 0)
    incoming: dict[str, list[bytes | NetworkError]] = {"pooled": [first, b""]}
    ops: list[Any] = []
    gen = driver.status("j1")
    reply: Any = None
    error: BaseException | None = None
    opened = 0
    while True:
        try:
            op = gen.throw(error) if error is not None else gen.send(reply)
        except StopIteration as stop:
            return stop.value, ops
        except QueueStatusError as exc:
            return exc, ops
        ops.append(op)
        reply, error = None, None
        if isinstance(op, Acquire):
            # The pool holds the one kept-alive connection, lent once.
            reply = pooled if not opened else None
            opened += 1
        elif isinstance(op, Connect):
            name = f"new-{opened}"
            opened += 1
            incoming[name] = [ANSWER]
            reply = Connection(op.origin, stream=name)
        elif isinstance(op, Receive):
            queue = incoming[str(op.connection.stream)]
            got = queue.pop(0) if queue else b""
            if isinstance(got, NetworkError):
                error = got
            else:
                reply = got
        elif isinstance(op, Sleep):
            clock.now = op.until
        else:
            assert isinstance(op, (SendBytes, Release)), op


def acquires(ops: list[Any]) -> list[bool]:
    """For each connection the call used, in order: whether it was a new one (else the pooled
    one). Each is released once."""
    return [op.connection.stream != "pooled" for op in ops if isinstance(op, Release)]


@pytest.mark.parametrize(
    "first", [b"", NetworkError("ConnectionResetError: Connection reset by peer")]
)
def test_a_closed_kept_alive_connection_is_replaced_at_once(first: bytes | NetworkError) -> None:
    answer, ops = run_status(first)
    assert answer.status == "processing"
    assert acquires(ops) == [False, True]
    assert [op.reuse for op in ops if isinstance(op, Release)] == [False, True]
    assert not any(isinstance(op, Sleep) for op in ops)


@pytest.mark.parametrize(
    ("first", "kept_alive"),
    [
        (b"", False),  # a new connection that gave nothing: the server's doing, not the pool's
        (IOTimeout("timed out"), True),  # slow, not closed: trying again at once would not help
        (CUT, True),  # an answer cut short: a failed request, for the retry policy
    ],
    ids=["new-connection", "timeout", "cut-short"],
)
def test_other_failures_are_the_retry_policys(
    first: bytes | NetworkError, kept_alive: bool
) -> None:
    answer, ops = run_status(first, kept_alive=kept_alive)
    # max_retries=0: the failure is the call's, after its one request.
    assert isinstance(answer, QueueStatusError)
    assert acquires(ops) == [False]
