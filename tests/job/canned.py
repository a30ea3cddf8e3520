"""A driver generator run against canned answers, in memory, on a virtual clock.

Each new connection receives the next answer of a list (its bytes, then end of stream); a
connection the driver keeps alive is not reused (every request gets the next answer). Outputs
are collected, or fail with the :class:`OutputError` a transport would throw. Nothing here
sleeps, opens a socket or starts a thread.
"""

from __future__ import annotations

import io
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import h11

from decart_proto import (
    Acquire,
    Connect,
    Connection,
    FileInfo,
    Notify,
    OutputError,
    OutputReset,
    OutputWrite,
    ProbeFile,
    Progress,
    ReadFile,
    Receive,
    Release,
    Report,
    SendBytes,
    SendFile,
    Sleep,
)

KEY = "canned-key-Zq8vN2xLr5Tb0Wd7Yh3Kc6Jm9Pf4Gs1"


class VirtualClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None
    ops: list[Any] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)  # each request's bytes, as sent
    written: bytearray = field(default_factory=bytearray)
    resets: int = 0

    @property
    def targets(self) -> list[bytes]:
        """Each request's method and target, e.g. ``b"GET /v1/jobs/j1"``."""
        return [b" ".join(r.split(b" ", 2)[:2]) for r in self.requests]


def http_answer(
    status: int, body: bytes = b"", *headers: tuple[str, str], chunked: bool = False
) -> bytes:
    """A response as a server would send it (h11's server side frames it)."""
    server = h11.Connection(h11.SERVER)
    server.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    server.next_event()
    framing = ("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(len(body)))
    out = server.send(h11.Response(status_code=status, headers=[*headers, framing]))
    assert out is not None
    if body:
        out += server.send(h11.Data(data=body)) or b""
    return out + (server.send(h11.EndOfMessage()) or b"")


class Canned:
    """Answers the ops of one driver call. ``fail_output``: the OutputWrite / OutputReset op
    (counted from 1 over both kinds) at which the output fails, with ``output_error``."""

    def __init__(
        self,
        answers: list[bytes],
        clock: VirtualClock,
        *,
        fail_output: int | None = None,
        output_error: OutputError | None = None,
        max_ops: int = 100_000,
    ) -> None:
        self.answers = list(answers)
        self.clock = clock
        self.fail_output = fail_output
        self.output_error = output_error or OutputError("could not write out.mp4: disk full")
        self.max_ops = max_ops
        self.inbox: dict[int, bytearray] = {}
        self.outputs = 0

    def run(self, gen: Generator[Any, Any, Any]) -> Outcome:
        outcome = Outcome()
        reply: Any = None
        error: BaseException | None = None
        for _ in range(self.max_ops):
            try:
                op = gen.throw(error) if error is not None else gen.send(reply)
            except StopIteration as stop:
                outcome.value = stop.value
                return outcome
            except Exception as exc:
                outcome.error = exc
                return outcome
            outcome.ops.append(op)
            reply, error = None, None
            try:
                reply = self._answer(op, outcome)
            except OutputError as exc:
                error = exc
        gen.close()
        raise AssertionError(f"no end after {self.max_ops} ops: {outcome.ops[-10:]}")

    def _answer(self, op: Any, outcome: Outcome) -> Any:
        if isinstance(op, Acquire):
            return None  # no pool: every request gets a new connection
        if isinstance(op, Connect):
            conn = Connection(op.origin, stream=len(self.inbox))
            self.inbox[id(conn)] = bytearray(self.answers.pop(0) if self.answers else b"")
            return conn
        if isinstance(op, SendBytes):
            if op.data[:4] in (b"GET ", b"POST"):
                outcome.requests.append(bytes(op.data))
            elif outcome.requests:
                outcome.requests[-1] += op.data
            return None
        if isinstance(op, Receive):
            inbox = self.inbox[id(op.connection)]
            data = bytes(inbox[: op.max_bytes])
            del inbox[: op.max_bytes]
            return data
        if isinstance(op, Sleep):
            self.clock.now = max(self.clock.now, op.until)
            return None
        if isinstance(op, (OutputWrite, OutputReset)):
            self.outputs += 1
            if self.outputs == self.fail_output:
                raise self.output_error
            if isinstance(op, OutputWrite):
                outcome.written += op.data
            else:
                outcome.written.clear()
                outcome.resets += 1
            return None
        if isinstance(op, ProbeFile):
            stream: Any = op.file.source
            return FileInfo(len(stream.getvalue()) - stream.tell(), stream.tell())
        if isinstance(op, SendFile):
            source: Any = op.region.file.source
            assert isinstance(source, io.BytesIO)
            return None
        if isinstance(op, ReadFile):
            return op.file.source.read(op.max_bytes)  # type: ignore[union-attr]
        assert isinstance(op, (Release, Notify, Progress, Report)), op
        return None
