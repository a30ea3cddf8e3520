"""Helpers for the core's tests (a module with its own name, so that no other test directory's
conftest can shadow it): a scripted executor that answers the exchange's ops by hand.

The executor plays the network from canned bytes, so every test sees exactly which ops the
core asked for and which bytes it sent, with no socket and no clock.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import h11

from decart_proto import (
    Acquire,
    Connect,
    Connection,
    FileRegion,
    NetworkError,
    Origin,
    OutputWrite,
    ReadFile,
    Receive,
    Release,
    SendBytes,
    SendFile,
    StartTLS,
)

ORIGIN = Origin("http", "api.example", 8080)
NOW = 1000.0


def region_bytes(region: FileRegion) -> bytes:
    """The bytes a transport would send for *region*: the tests' file sources are bytes-like
    or BytesIO."""
    source = region.file.source
    data = source.getvalue() if isinstance(source, io.BytesIO) else bytes(source)  # type: ignore[arg-type]
    end = None if region.length is None else region.offset + region.length
    return data[region.offset : end]


def split_whole(data: bytes) -> list[bytes]:
    return [data]


def split_bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


SPLITS: dict[str, Callable[[bytes], list[bytes]]] = {
    "whole": split_whole,
    "bytewise": split_bytewise,
}


@dataclass
class Run:
    """What happened when a generator was driven to its end."""

    value: Any = None
    error: BaseException | None = None
    sent: bytearray = field(default_factory=bytearray)
    ops: list[Any] = field(default_factory=list)
    written: bytearray = field(default_factory=bytearray)

    @property
    def releases(self) -> list[Release]:
        return [op for op in self.ops if isinstance(op, Release)]


class FakeExecutor:
    """Answers ops from a script.

    ``incoming`` is the list of chunks the peer sends (each Receive takes at most ``max_bytes``
    of the next chunk; an exhausted list is EOF). ``conn`` is the pool: Acquire answers it (None
    at first), Connect makes it; StartTLS wraps its stream in ``("tls", stream)``.
    ``fail_send_after``: once this many body bytes were sent, the next SendBytes/SendFile gets
    ``send_error`` thrown in instead (a broken pipe after a server answered early and closed).
    """

    def __init__(
        self,
        incoming: Iterable[bytes] = (),
        *,
        conn: Connection | None = None,
        fail_send_after: int | None = None,
        send_error: NetworkError | None = None,
        connect_error: NetworkError | None = None,
        tls_error: NetworkError | None = None,
        receive_error: NetworkError | None = None,
    ) -> None:
        self.incoming = list(incoming)
        self.conn = conn
        self.fail_send_after = fail_send_after
        self.send_error = send_error or NetworkError("connection reset by peer")
        self.connect_error = connect_error
        self.tls_error = tls_error
        self.receive_error = receive_error

    def answer(self, op: Any, run: Run) -> tuple[Any, BaseException | None]:
        if isinstance(op, Acquire):
            return self.conn, None
        if isinstance(op, Connect):
            if self.connect_error is not None:
                return None, self.connect_error
            self.conn = Connection(op.origin, stream=None)
            return self.conn, None
        if isinstance(op, StartTLS):
            if self.tls_error is not None:
                return None, self.tls_error
            op.connection.stream = ("tls", op.connection.stream)
            return None, None
        if isinstance(op, (SendBytes, SendFile)):
            data = op.data if isinstance(op, SendBytes) else region_bytes(op.region)
            if (
                self.fail_send_after is not None
                and len(run.sent) + len(data) > self.fail_send_after
            ):
                run.sent += data[: self.fail_send_after - len(run.sent)]
                self.fail_send_after = None
                return None, self.send_error
            run.sent += data
            return None, None
        if isinstance(op, Receive):
            if self.receive_error is not None:
                return None, self.receive_error
            if not self.incoming:
                return b"", None
            chunk = self.incoming.pop(0)
            if len(chunk) > op.max_bytes:
                self.incoming.insert(0, chunk[op.max_bytes :])
                chunk = chunk[: op.max_bytes]
            return chunk, None
        if isinstance(op, ReadFile):
            source = op.file.source
            assert isinstance(source, io.BytesIO)
            return source.read(op.max_bytes), None
        if isinstance(op, OutputWrite):
            run.written += op.data
            return None, None
        if isinstance(op, Release):
            return None, None
        raise AssertionError(f"unexpected op {op!r}")

    def run(self, gen: Generator[Any, Any, Any], run: Run | None = None) -> Run:
        run = run if run is not None else Run()
        reply: Any = None
        error: BaseException | None = None
        for _ in range(10_000_000):
            try:
                op = gen.throw(error) if error is not None else gen.send(reply)
            except StopIteration as stop:
                run.value = stop.value
                return run
            except Exception as exc:
                run.error = exc
                return run
            run.ops.append(op)
            reply, error = self.answer(op, run)
        raise AssertionError("the generator never ended")


def parse_request(data: bytes) -> tuple[h11.Request, bytes]:
    """Read *data* back with an h11 server: the request head and its body."""
    server = h11.Connection(h11.SERVER)
    server.receive_data(bytes(data))
    head = server.next_event()
    assert isinstance(head, h11.Request), head
    body = bytearray()
    while True:
        event = server.next_event()
        if isinstance(event, h11.Data):
            body += event.data
        else:
            assert isinstance(event, h11.EndOfMessage), event
            break
    assert server.next_event() is h11.NEED_DATA  # nothing after the request
    return head, bytes(body)
