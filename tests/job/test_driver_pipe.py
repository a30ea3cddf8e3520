"""A body read from a pipe: each read carries the call's deadline, and a pipe whose writer
stalls past it ends the call as a passed deadline (not as a failed request)."""

from __future__ import annotations

import os
import random
from typing import Any

from decart_proto import (
    Acquire,
    Connect,
    Connection,
    DeadlineExceededError,
    Driver,
    IOTimeout,
    ProbeFile,
    QueueSubmitError,
    ReadFile,
    Receive,
    Release,
    SendBytes,
    models,
)
from decart_proto._inputs import FileInfo


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _submit_from_a_stalling_pipe(stall_until: float) -> tuple[BaseException, list[Any], Clock]:
    """Run a submit whose pipe gives one chunk, then stalls until *stall_until* and fails its
    read with IOTimeout, as a transport does at the op's deadline."""
    clock = Clock()
    driver = Driver(
        api_key="k" * 20, base_url="http://x.invalid", clock=clock, rand=random.Random(1)
    )
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    ops: list[Any] = []
    with os.fdopen(read_fd, "rb") as pipe:
        gen = driver.submit(
            {"model": models.video("lucy-2.1"), "data": pipe, "prompt": "p"}, timeout=5
        )
        reads = 0
        reply: Any = None
        error: BaseException | None = None
        while True:
            try:
                op = gen.throw(error) if error is not None else gen.send(reply)
            except BaseException as exc:  # the call's outcome
                return exc, ops, clock
            ops.append(op)
            reply, error = None, None
            if isinstance(op, ProbeFile):
                reply = FileInfo(None)
            elif isinstance(op, Connect):
                reply = Connection(op.origin, stream=None)
            elif isinstance(op, ReadFile):
                reads += 1
                if reads == 1:
                    reply = b"abc"
                else:
                    clock.now = stall_until
                    error = IOTimeout("no input from the file before the deadline")
            elif isinstance(op, Receive):
                error = IOTimeout("timed out")
            else:
                assert isinstance(op, (Acquire, SendBytes, Release)), op


def test_pipe_reads_carry_the_calls_deadline() -> None:
    _, ops, _ = _submit_from_a_stalling_pipe(stall_until=105.0)
    reads = [op for op in ops if isinstance(op, ReadFile)]
    assert [op.deadline for op in reads] == [105.0, 105.0]


def test_a_pipe_stalled_past_the_deadline_is_the_deadlines_error() -> None:
    outcome, ops, _ = _submit_from_a_stalling_pipe(stall_until=105.0)
    assert isinstance(outcome, DeadlineExceededError)
    assert "the submit" in outcome.message
    assert isinstance(ops[-1], Release) and ops[-1].reuse is False


def test_a_pipe_that_fails_before_the_deadline_is_not_retried() -> None:
    # The same failure with time left: the body cannot be read twice, so no retry.
    outcome, ops, _ = _submit_from_a_stalling_pipe(stall_until=101.0)
    assert isinstance(outcome, QueueSubmitError)
    assert sum(isinstance(op, Connect) for op in ops) == 1
