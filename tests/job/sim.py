"""A deterministic world for the driver: a simulated network, a Queue API server on h11 (server
role) and a transport that executes the driver's ops, all in one thread on a virtual clock.

The server parses what the driver really sends (heads, multipart bodies with Content-Length or
chunked) and answers from a job lifecycle that runs on the same clock. Faults are chosen per
request by the test (``choose_fault``); how the server's bytes are cut into ``Receive`` answers
comes from a seeded ``random.Random``. Nothing here sleeps, opens a socket or starts a thread.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote

import h11
from python_multipart.multipart import MultipartParser, parse_options_header

from decart_proto import (
    Acquire,
    Connect,
    Connection,
    ConnectionPool,
    FileInfo,
    FileInput,
    InvalidInputError,
    IOTimeout,
    NetworkError,
    Notify,
    Origin,
    OutputReset,
    OutputWrite,
    ProbeFile,
    Progress,
    ReadFile,
    Receive,
    Release,
    SendBytes,
    SendFile,
    Sleep,
)

API_KEY = "sim-key-0123456789"
EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)  # the server's wall clock at virtual time 0

# Faults, by what they prove to a client about a submit.
NO_JOB = frozenset({"refused", "429", "429_date", "429_bare", "503_ra"})  # provably no job
RETRYABLE = frozenset(
    {
        "refused",
        "reset",
        "reset_upload",
        "truncate",
        "500",
        "502",
        "408",
        "429",
        "429_date",
        "429_bare",
        "503",
        "503_ra",
        "stall",
        "idle_close",
    }
)
FATAL = frozenset({"404", "401", "unknown_status", "early_413"})
# Faults under which the server still answers the request itself (perhaps cut short).
ANSWERED = frozenset({"ok", "truncate", "unknown_status", "idle_close"})
ALL_FAULTS = tuple(sorted(RETRYABLE | FATAL))


class Pipe:
    """A binary stream that cannot seek: its size is unknown, so the body goes chunked."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.reads = 0

    def read(self, n: int = -1) -> bytes:
        self.reads += 1
        return self._data.read(n)

    def seekable(self) -> bool:
        return False


@dataclass
class Job:
    job_id: str
    created: float
    pending_for: float
    processing_for: float
    fails: bool
    result: bytes

    def status(self, now: float) -> str:
        age = now - self.created
        if age < self.pending_for:
            return "pending"
        if age < self.pending_for + self.processing_for:
            return "processing"
        return "failed" if self.fails else "completed"


@dataclass
class Record:
    """One request as the server saw it."""

    kind: str  # "submit", "status", "result"
    fault: str
    at: float
    status: int | None = None  # the response's status code, if one was sent
    reported: str | None = None  # the job status in a 2xx JSON answer
    job_created: bool = False
    retry_after: int | None = None  # the seconds a Retry-After asked for


@dataclass(eq=False)
class Wire:
    """The server's end of one connection."""

    http: h11.Connection = field(default_factory=lambda: h11.Connection(h11.SERVER))
    outbox: bytearray = field(default_factory=bytearray)
    closed: bool = False  # the server closed: EOF once the outbox is drained
    reset: bool = False  # the connection broke: every send and receive fails
    sends_fail: bool = False  # the server stopped reading (an early response, then close)
    stalled: bool = False  # the server will never answer
    head: h11.Request | None = None
    body: bytearray = field(default_factory=bytearray)
    fault: str = "ok"
    record: Record | None = None
    close_after: bool = False


class Server:
    """The Queue API of WIRE.md, with faults, on a virtual clock."""

    def __init__(
        self,
        world: World,
        choose_fault: Callable[[str], str],
        make_job: Callable[[str, float], Job],
        expected_form: dict[str, bytes] | None,
    ) -> None:
        self.world = world
        self.choose_fault = choose_fault
        self.make_job = make_job
        self.expected_form = expected_form
        self.jobs: dict[str, Job] = {}
        self.log: list[Record] = []
        self.problems: list[str] = []  # what the server found wrong in the client's requests
        self.retry_after_choices = (0, 1, 3)  # the seconds a Retry-After asks for

    # -- bytes from the client ----------------------------------------------------------------

    def receive(self, wire: Wire, data: bytes) -> None:
        if wire.closed or not data:
            return  # the peer is gone: the bytes vanish (and sending nothing does nothing)
        wire.http.receive_data(data)
        while True:
            try:
                event = wire.http.next_event()
            except h11.RemoteProtocolError as exc:
                self.problems.append(f"the client broke HTTP/1.1: {exc}")
                wire.reset = True
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Request):
                self._head(wire, event)
            elif isinstance(event, h11.Data):
                wire.body += event.data
            elif isinstance(event, h11.EndOfMessage):
                self._complete(wire)
                if wire.closed or wire.reset or wire.stalled:
                    return
            else:  # pragma: no cover - a client never sends ConnectionClosed this way
                return

    def _head(self, wire: Wire, head: h11.Request) -> None:
        wire.head = head
        wire.body = bytearray()
        target = head.target.decode("ascii")
        kind = (
            "submit"
            if head.method == b"POST"
            else ("result" if target.endswith("/content") else "status")
        )
        wire.fault = self.choose_fault(kind)
        wire.record = Record(kind, wire.fault, self.world.now)
        self.log.append(wire.record)
        headers = dict(head.headers)
        if headers.get(b"x-api-key") != API_KEY.encode():
            self.problems.append(f"wrong API key header in {head!r}")
        if kind == "submit":
            if wire.fault == "reset_upload":
                wire.reset = True
            elif wire.fault == "early_413":
                # Answered before the body is read, then closed: what a proxy with a size
                # limit does.
                self._respond(wire, 413, {"detail": "Request Entity Too Large"}, close=True)
                wire.sends_fail = True

    def _complete(self, wire: Wire) -> None:
        assert wire.head is not None and wire.record is not None
        record, fault, now = wire.record, wire.fault, self.world.now
        target = unquote(wire.head.target.decode("ascii"))
        if record.kind == "submit":
            if fault == "early_413":
                return
            self._check_form(wire)
            # 401 and 404 come before anything is created; a 5xx or a broken connection may
            # come after the job was.
            if fault not in NO_JOB and fault not in ("401", "404"):
                job = self.make_job(f"job-{len(self.jobs) + 1}-ä", now)
                self.jobs[job.job_id] = job
                record.job_created = True
                if fault in ANSWERED:
                    self._job_answer(wire, job, fault)
                    return
            self._fault_response(wire, fault)
            return
        job_id = target.removeprefix("/v1/jobs/").removesuffix("/content")
        if fault not in ANSWERED:
            self._fault_response(wire, fault)
            return
        found = self.jobs.get(job_id)
        if found is None:
            self._respond(wire, 404, {"detail": "Job not found"})
            return
        if record.kind == "status":
            self._job_answer(wire, found, fault)
            return
        status = found.status(now)
        if status != "completed":
            detail = "Job failed" if status == "failed" else f"Job is not completed ({status})"
            self._respond(wire, 409, {"detail": detail})
            return
        self._respond(wire, 200, found.result, truncate=fault == "truncate", fault=fault)

    def _check_form(self, wire: Wire) -> None:
        assert wire.head is not None
        headers = dict(wire.head.headers)
        _, params = parse_options_header(headers.get(b"content-type", b""))
        boundary = params.get(b"boundary")
        if boundary is None:
            self.problems.append("no multipart boundary")
            return
        if self.expected_form is not None:
            parts = parse_multipart(boundary, bytes(wire.body))
            if parts != self.expected_form:
                self.problems.append(f"form {parts!r} != {self.expected_form!r}")
        length = headers.get(b"content-length")
        if length is not None and int(length) != len(wire.body):
            self.problems.append("Content-Length does not match the body")

    def _job_answer(self, wire: Wire, job: Job, fault: str) -> None:
        assert wire.record is not None
        status = job.status(self.world.now)
        if fault == "unknown_status":
            status = "queued"
        wire.record.reported = status
        self._respond(
            wire,
            200,
            {"job_id": job.job_id, "status": status, "extra": [1, 2]},
            truncate=fault == "truncate",
            fault=fault,
        )

    def _fault_response(self, wire: Wire, fault: str) -> None:
        now = EPOCH + timedelta(seconds=self.world.now)
        wait = self.world.rng.choice(self.retry_after_choices)
        assert wire.record is not None
        if fault in ("429", "429_date", "503_ra"):
            wire.record.retry_after = wait
        headers: list[tuple[str, str]] = []
        code = {"429_date": 429, "429_bare": 429, "503_ra": 503}.get(fault)
        if fault == "429":
            headers = [("Retry-After", str(wait))]
        elif fault == "429_date":
            later = now + timedelta(seconds=wait)
            headers = [
                ("Retry-After", format_datetime(later, usegmt=True)),
                ("Date", format_datetime(now, usegmt=True)),
            ]
        elif fault == "503_ra":
            headers = [("Retry-After", str(wait))]
        if fault in ("reset", "refused"):
            wire.reset = True
            return
        if fault == "stall":
            wire.stalled = True
            return
        if code is None:
            code = int(fault)
        body: object = b"<html>Bad Gateway</html>" if code == 502 else {"detail": f"fault {fault}"}
        self._respond(wire, code, body, headers=headers, request_id="req-7")

    def _respond(
        self,
        wire: Wire,
        code: int,
        body: object,
        *,
        headers: list[tuple[str, str]] | None = None,
        close: bool = False,
        truncate: bool = False,
        fault: str = "ok",
        request_id: str | None = None,
    ) -> None:
        assert wire.record is not None
        wire.record.status = code
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        head = list(headers or [])
        chunked = self.world.rng.random() < 0.3 and code == 200
        if not chunked:
            head.append(("Content-Length", str(len(data))))
        if request_id:
            head.append(("X-Request-Id", request_id))
        if close:
            head.append(("Connection", "close"))
        out = wire.http.send(h11.Response(status_code=code, headers=head))
        assert out is not None
        sent = bytearray(out)
        if data:
            sent += wire.http.send(h11.Data(data=data)) or b""
        sent += wire.http.send(h11.EndOfMessage()) or b""
        if truncate and len(sent) > len(out):
            # Cut inside the body: the head and part of it arrive, then EOF.
            cut = self.world.rng.randrange(len(out), len(sent))
            wire.outbox += sent[:cut]
            wire.closed = True
            wire.record.status = None  # the client never gets a whole response
            return
        wire.outbox += sent
        if close or fault == "idle_close":
            # idle_close: the server drops the connection later, while it idles in the pool.
            wire.closed = True
        elif wire.http.their_state is h11.DONE and wire.http.our_state is h11.DONE:
            wire.http.start_next_cycle()


def parse_multipart(boundary: bytes, body: bytes) -> dict[str, bytes]:
    """The form's parts by name, parsed by python-multipart (not by code of this project)."""
    parts: dict[str, bytes] = {}
    state: dict[str, Any] = {"field": b"", "value": b"", "headers": {}, "data": bytearray()}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["field"].lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        state["data"] += data[start:end]

    def on_part_end() -> None:
        _, params = parse_options_header(state["headers"].get(b"content-disposition", b""))
        parts[params[b"name"].decode()] = bytes(state["data"])
        state["headers"], state["data"] = {}, bytearray()

    parser = MultipartParser(
        boundary,
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    parser.write(body)
    parser.finalize()
    return parts


class Hang(AssertionError):
    """The driver went on past the step bound."""


@dataclass
class World:
    """The virtual clock, the network and the transport's side of it."""

    rng: random.Random
    call_deadline: float = float("inf")
    now: float = 0.0
    split: str = "random"  # how server bytes are cut into Receive answers
    oversleep: tuple[float, ...] = (0.0, 0.0, 0.001)  # a sleep may end a little late
    latency: tuple[float, ...] = (0.0, 0.0, 0.01, 0.2)  # before each Receive's bytes
    max_steps: int = 20_000
    pool: ConnectionPool = field(default_factory=ConnectionPool)
    server: Server | None = None
    wires: dict[int, Wire] = field(default_factory=dict)
    notified: list[str] = field(default_factory=list)
    output: bytearray = field(default_factory=bytearray)
    output_resets: int = 0
    ops: list[str] = field(default_factory=list)
    progress: list[Progress] = field(default_factory=list)
    held: set[Connection] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def run(self, gen: Generator[Any, Any, Any]) -> Any:
        """Execute *gen* to its end as a transport would, with a step bound."""
        reply: Any = None
        error: BaseException | None = None
        for _ in range(self.max_steps):
            try:
                op = gen.throw(error) if error is not None else gen.send(reply)
            except StopIteration as stop:
                return stop.value
            reply, error = None, None
            self._check(op)
            try:
                reply = self.execute(op)
            except NetworkError as exc:  # IOTimeout is one
                error = exc
        gen.close()
        raise Hang(f"no end after {self.max_steps} ops: {self.ops[-20:]}")

    def _check(self, op: Any) -> None:
        self.ops.append(type(op).__name__)
        deadline = getattr(op, "deadline", None)
        if deadline is not None and deadline > self.call_deadline:
            self.violations.append(f"{op!r} has a deadline past the call's")
        if isinstance(op, Sleep) and op.until > self.call_deadline:
            self.violations.append(f"sleeps to {op.until}, the deadline is {self.call_deadline}")

    def _wire(self, conn: Connection) -> Wire:
        return self.wires[id(conn)]

    def execute(self, op: Any) -> Any:
        assert self.server is not None
        if isinstance(op, Acquire):
            return self._acquire(op)
        if isinstance(op, Connect):
            return self._connect(op)
        if isinstance(op, Release):
            self.held.discard(op.connection)
            self.pool.give_back(op.connection, op.reuse)
            return None
        if isinstance(op, SendBytes):
            self._send(op.connection, op.data, op.deadline)
            return None
        if isinstance(op, SendFile):
            region = op.region
            assert region.length is not None
            stream: Any = region.file.source
            stream.seek(region.offset)
            data = stream.read(region.length)
            if len(data) != region.length:
                raise InvalidInputError("the file ended early")
            self._send(op.connection, data, op.deadline)
            return None
        if isinstance(op, Receive):
            return self._receive(op)
        if isinstance(op, Sleep):
            if op.until > self.now:
                self.now = op.until + self.rng.choice(self.oversleep)
            return None
        if isinstance(op, Notify):
            self.notified.append(op.status.status)
            return None
        if isinstance(op, OutputWrite):
            self.output += op.data
            return None
        if isinstance(op, OutputReset):
            self.output.clear()
            self.output_resets += 1
            return None
        if isinstance(op, ProbeFile):
            return probe(op.file)
        if isinstance(op, Progress):
            self.progress.append(op)
            return None
        assert isinstance(op, ReadFile), op
        data = op.file.source.read(op.max_bytes)  # type: ignore[union-attr]
        assert len(data) <= op.max_bytes
        return data

    def _acquire(self, op: Acquire) -> Connection | None:
        if self.now >= op.deadline:
            raise IOTimeout("connect: deadline passed")
        conn = self.pool.take(op.origin)
        if conn is not None:
            self.held.add(conn)
        return conn

    def _connect(self, op: Connect) -> Connection:
        assert self.server is not None
        if self.now >= op.deadline:
            raise IOTimeout("connect: deadline passed")
        if self.server.choose_fault("connect") == "refused":
            self.server.log.append(Record("connect", "refused", self.now))
            raise NetworkError("connection refused")
        conn = Connection(op.origin, stream=None)
        self.wires[id(conn)] = Wire()
        self.held.add(conn)
        return conn

    def _send(self, conn: Connection, data: bytes, deadline: float) -> None:
        assert self.server is not None
        wire = self._wire(conn)
        if self.now >= deadline:
            raise IOTimeout("send: deadline passed")
        if wire.reset or wire.sends_fail:
            raise NetworkError("connection reset by peer")
        if conn.exchanges and data.startswith(b"POST "):
            self.violations.append("a submit rode a kept-alive connection")
        self.server.receive(wire, data)

    def _receive(self, op: Receive) -> bytes:
        wire = self._wire(op.connection)
        if wire.reset:
            raise NetworkError("connection reset by peer")
        if wire.outbox:
            self.now += self.rng.choice(self.latency)
            most = min(len(wire.outbox), op.max_bytes)
            if self.split == "whole":
                n = most
            elif self.split == "bytes":
                n = min(most, self.rng.randint(1, 3))
            else:
                n = self.rng.randint(1, most)
            data = bytes(wire.outbox[:n])
            del wire.outbox[:n]
            return data
        if wire.closed:
            return b""
        # Nothing will come (a stall, or the request is not finished): wait out the deadline.
        self.now = max(self.now, op.deadline)
        raise IOTimeout("receive: deadline passed")


def probe(file: FileInput) -> FileInfo:
    stream: Any = file.source
    if not stream.seekable():
        return FileInfo(None)
    start = stream.tell()
    end = stream.seek(0, io.SEEK_END)
    stream.seek(start)
    return FileInfo(end - start, start)


ORIGIN = Origin("http", "sim.invalid", 80)
