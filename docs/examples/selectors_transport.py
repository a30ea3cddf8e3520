"""A transport for a plain ``selectors`` loop: non-blocking sockets on one thread, driving any
number of the core's driver generators at once. Written from docs/transport-recipe.md
("Callback and readiness loops") with public names only; the conformance kit runs it in CI
(tests/transports/test_conformance.py), and ``mypy --strict`` checks it without a cast.

    with DecartClient(api_key="...") as client:
        result = client.queue.submit_and_poll({"model": models.video("lucy-2.1"), ...})
        results = client.queue.submit_and_poll_all([options_1, options_2, ...])  # all at once

Each call's op-answering code is a small generator of its own (a *task*) that yields what it
waits for: a socket ready to read or write, a moment on the clock, or a blocking function run on
a thread (a name lookup, a read from a pipe). The loop resumes each task when its wait is over,
or throws ``IOTimeout`` into it at the wait's deadline. Not thread-safe: one thread per client.
"""

from __future__ import annotations

import contextlib
import errno
import queue
import secrets
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from decart_proto.transports import toolkit

import decart_proto as dp

T = TypeVar("T")
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
OnStatus = Callable[[dp.JobStatusResponse], object]  # the caller's callbacks
OnProgress = Callable[[dp.Progress], object]
RECEIVE = 256 * 1024


class Stream:
    """A non-blocking socket, and TLS over it through two memory buffers once started."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls: ssl.SSLObject | None = None

    def stale(self) -> bool:
        """An idle stream with something to read was closed, or is out of step: never reused."""
        buffered = self.tls is not None and (self.tls.pending() > 0 or self.incoming.pending > 0)
        return buffered or toolkit.readable_now(self.sock.fileno())


# What a task waits for. Each has a deadline: at it, the loop resumes a task waiting for `Later`
# and throws dp.IOTimeout into any other.
@dataclass(eq=False)
class Ready:
    sock: socket.socket
    events: int
    deadline: float


@dataclass(eq=False)
class Later:
    deadline: float


@dataclass(eq=False)
class Offload(Generic[T]):
    """``call()`` on a daemon thread (one given up on holds up neither the loop nor the exit)."""

    call: Callable[[], T]
    deadline: float
    value: T = field(init=False)
    error: BaseException | None = field(init=False, default=None)


Wait = Ready | Later | Offload[Any]
Task = Generator[Wait, None, None]


@dataclass(eq=False)
class Call(Generic[T]):
    """One API call: its driver generator, the caller's callbacks and output, the connections
    it holds (closed if the call ends early: a half-used one never returns to the pool)."""

    gen: dp.DriverGen[Stream, T]
    on_status_change: OnStatus | None = None
    on_progress: OnProgress | None = None
    output: toolkit.Output | None = None
    held: set[dp.Connection[Stream]] = field(default_factory=set)
    result: T = field(init=False)


class SelectorsLoop:
    """Runs calls to their end on the calling thread, all at once, on one selector. Several
    threads may each run calls at once: each run has its own selector and wake-up channel, and
    only the pool is shared, under a lock."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self.tls = tls
        self.pool: dp.ConnectionPool[Stream] = dp.ConnectionPool(8)
        self.lock = threading.Lock()
        self.closed = False

    def run(self, calls: Sequence[Call[Any]]) -> None:
        """Every call to its end; the first to fail cancels the others, and raises."""
        tasks = [self.task(call) for call in calls]
        waits: dict[Task, Wait] = {}
        ready: list[tuple[Task, BaseException | None]] = [(task, None) for task in tasks]
        done: queue.SimpleQueue[tuple[Task, Offload[Any]]] = queue.SimpleQueue()
        wake_r, wake_w = socket.socketpair()  # this run's threads wake it through this
        wake_r.setblocking(False)
        selector = selectors.DefaultSelector()
        selector.register(wake_r, READ)
        try:
            while ready or waits:
                for task, error in ready:
                    try:
                        wait = task.throw(error) if error is not None else next(task)
                    except StopIteration:
                        continue
                    waits[task] = wait
                    if isinstance(wait, Ready):
                        selector.register(wait.sock, wait.events, task)
                    elif isinstance(wait, Offload):
                        work = (task, wait, done, wake_w)
                        threading.Thread(target=self.work, args=work, daemon=True).start()
                ready = []
                if not waits:
                    break
                timeout = min(wait.deadline for wait in waits.values()) - time.monotonic()
                for key, _ in selector.select(max(timeout, 0)):
                    if key.data is None:  # a thread finished
                        wake_r.recv(4096)
                        continue
                    selector.unregister(key.fileobj)
                    del waits[key.data]
                    ready.append((key.data, None))
                while not done.empty():
                    task, job = done.get()
                    if waits.get(task) is job:  # not given up on meanwhile
                        del waits[task]
                        ready.append((task, job.error))
                now = time.monotonic()
                for task, wait in list(waits.items()):
                    if wait.deadline <= now:
                        del waits[task]
                        if isinstance(wait, Ready):
                            selector.unregister(wait.sock)
                        late = None if isinstance(wait, Later) else dp.IOTimeout("deadline passed")
                        ready.append((task, late))
        finally:
            selector.close()
            wake_r.close()
            wake_w.close()
            for task in tasks:
                task.close()  # a call not finished is cancelled: its task closes what it holds

    def work(
        self,
        task: Task,
        job: Offload[Any],
        done: queue.SimpleQueue[tuple[Task, Offload[Any]]],
        wake: socket.socket,
    ) -> None:
        try:
            job.value = job.call()
        except BaseException as exc:
            job.error = exc
        done.put((task, job))
        with contextlib.suppress(OSError):  # its run may have ended meanwhile
            wake.send(b"!")

    def task(self, call: Call[Any]) -> Task:
        """The call's generator run to its end, each op answered; what fails on a connection
        is thrown into it, what the caller's own code raises reaches the caller."""
        reply: dp.Reply[Stream] = None
        error: dp.NetworkError | dp.OutputError | None = None
        try:
            while True:
                try:
                    op = call.gen.throw(error) if error is not None else call.gen.send(reply)
                except StopIteration as stop:
                    toolkit.finish_output(call.output, stop.value)
                    call.result = stop.value
                    return
                reply, error = None, None
                if isinstance(op, (dp.Notify, dp.Progress)):
                    self.call_back(call, op)  # the caller's code: what it raises is its own
                    continue
                try:
                    reply = yield from self.answer(call, op)
                except (dp.NetworkError, dp.OutputError) as exc:
                    error = exc
                except OSError as exc:
                    error = toolkit.map_error(exc)
        except BaseException:  # failed or cancelled (GeneratorExit): the held-connection rule
            for conn in call.held:
                conn.stream.sock.close()
            if call.output is not None:
                call.output.discard()
            raise
        finally:
            call.gen.close()

    def call_back(self, call: Call[Any], op: dp.Notify | dp.Progress) -> None:
        if isinstance(op, dp.Notify):
            if call.on_status_change is not None:
                call.on_status_change(op.status)
        elif call.on_progress is not None:
            call.on_progress(op)

    def answer(self, call: Call[Any], op: dp.Op[Stream]) -> Generator[Wait, None, dp.Reply[Stream]]:
        if isinstance(op, dp.Receive):
            return (yield from self.receive(op.connection.stream, op.max_bytes, op.deadline))
        if isinstance(op, dp.SendBytes):
            yield from self.send(op.connection.stream, op.data, op.deadline)
        elif isinstance(op, dp.SendFile):
            for piece in toolkit.read_region(op.region):  # reads a regular file: brief
                yield from self.send(op.connection.stream, piece, op.deadline)
        elif isinstance(op, dp.Acquire):
            conn = self.take(op.origin)
            if conn is not None:
                call.held.add(conn)
            return conn
        elif isinstance(op, dp.Release):
            call.held.discard(op.connection)
            self.give_back(op.connection, op.reuse)
        elif isinstance(op, dp.Connect):
            host, port = op.host, op.port
            addresses = yield from self.offload(lambda: toolkit.resolve(host, port), op.deadline)
            conn = dp.Connection(op.origin, (yield from self.connect(addresses, op.deadline)))
            call.held.add(conn)
            return conn
        elif isinstance(op, dp.StartTLS):
            yield from self.handshake(op.connection.stream, op.server_hostname, op.deadline)
        elif isinstance(op, dp.Sleep):
            yield Later(op.until)
        elif isinstance(op, dp.ProbeFile):
            return toolkit.probe_file(op.file)
        elif isinstance(op, dp.ReadFile):  # a pipe may wait for its writer: on a thread
            file, size = op.file, op.max_bytes
            return (yield from self.offload(lambda: toolkit.read_chunk(file, size), op.deadline))
        elif isinstance(op, dp.OutputWrite):
            assert call.output is not None  # asked for only when the call has an output
            call.output.write(op.data)
        elif isinstance(op, dp.OutputReset):
            assert call.output is not None
            call.output.reset()
        return None

    def offload(self, call: Callable[[], T], deadline: float) -> Generator[Wait, None, T]:
        job = Offload(call, deadline)
        yield job
        return job.value

    def connect(
        self, addresses: list[toolkit.Address], deadline: float
    ) -> Generator[Wait, None, Stream]:
        failure: OSError = OSError(errno.EHOSTUNREACH, "no address")
        for family, kind, proto, _, address in addresses:
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                code = sock.connect_ex(address)
                if code in (errno.EINPROGRESS, errno.EWOULDBLOCK):
                    yield Ready(sock, WRITE, deadline)
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(code, errno.errorcode.get(code, "connect failed"))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return Stream(sock)
            except BaseException as exc:
                sock.close()
                if not isinstance(exc, OSError):
                    raise
                failure = exc
        raise failure

    def handshake(self, stream: Stream, host: str, deadline: float) -> Generator[Wait, None, None]:
        stream.tls = tls = self.tls.wrap_bio(stream.incoming, stream.outgoing, server_hostname=host)
        while True:
            try:
                tls.do_handshake()  # an untrusted certificate: ssl.SSLCertVerificationError
                break
            except ssl.SSLWantReadError:  # TLS's flip: it must read before it goes on
                yield from self.fill(stream, deadline)
        yield from self.flush(stream, deadline)

    def send(self, stream: Stream, data: bytes | memoryview, deadline: float) -> Task:
        if stream.tls is None:
            yield from self.send_raw(stream.sock, data, deadline)
        else:
            stream.tls.write(data)  # encrypted into the outgoing buffer...
            yield from self.flush(stream, deadline)  # ...which goes out on the socket

    def receive(self, stream: Stream, size: int, deadline: float) -> Generator[Wait, None, bytes]:
        if stream.tls is None:
            return (yield from self.receive_raw(stream.sock, size, deadline))
        while True:
            try:
                return stream.tls.read(size)
            except ssl.SSLWantReadError:  # no whole record yet: more bytes from the socket
                yield from self.fill(stream, deadline)
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""  # the end of the stream, with or without close_notify

    def fill(self, stream: Stream, deadline: float) -> Task:
        yield from self.flush(stream, deadline)  # what TLS has to say first, if anything
        data = yield from self.receive_raw(stream.sock, RECEIVE, deadline)
        if data:
            stream.incoming.write(data)
        else:
            stream.incoming.write_eof()

    def receive_raw(
        self, sock: socket.socket, size: int, deadline: float
    ) -> Generator[Wait, None, bytes]:
        while True:
            try:
                return sock.recv(size)
            except BlockingIOError:
                yield Ready(sock, READ, deadline)

    def flush(self, stream: Stream, deadline: float) -> Task:
        yield from self.send_raw(stream.sock, stream.outgoing.read(), deadline)

    def send_raw(self, sock: socket.socket, data: bytes | memoryview, deadline: float) -> Task:
        view = memoryview(data)
        while view:
            try:
                view = view[sock.send(view) :]
            except BlockingIOError:
                yield Ready(sock, WRITE, deadline)

    def take(self, origin: dp.Origin) -> dp.Connection[Stream] | None:
        while True:
            with self.lock:
                conn = self.pool.take(origin)
            if conn is None or not conn.stream.stale():
                return conn
            conn.stream.sock.close()

    def give_back(self, conn: dp.Connection[Stream], reuse: bool) -> None:
        with self.lock:
            closing = self.pool.give_back(conn, reuse and not self.closed)
        if closing is not None:
            closing.stream.sock.close()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            idle = self.pool.drain()
        for conn in idle:
            conn.stream.sock.close()


class DecartClient:
    """The Queue API on a selectors loop: blocking calls, and many jobs at once on one thread."""

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.decart.ai",
        *,
        ssl_context: ssl.SSLContext | None = None,
        poll: dp.PollPolicy | None = None,
        retry: dp.RetryPolicy | None = None,
        timeouts: dp.Timeouts | None = None,
    ) -> None:
        self.driver: dp.Driver[Stream] = dp.Driver(
            api_key=api_key, base_url=base_url, clock=time.monotonic, rand=secrets.SystemRandom(),
            transport="selectors-example", poll=poll, retry=retry, timeouts=timeouts,
        )  # fmt: skip
        self.loop = SelectorsLoop(ssl_context or ssl.create_default_context())
        self.queue = Queue(self)

    def run(self, call: Call[T]) -> T:
        self.loop.run([call])
        return call.result

    def close(self) -> None:
        self.loop.close()

    def __enter__(self) -> DecartClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Queue:
    """``client.queue``: the calls of the Queue API docs, each run to its end."""

    def __init__(self, client: DecartClient) -> None:
        self.client, self.driver = client, client.driver

    def submit(
        self, options: Mapping[str, Any], *, timeout: float | None = None,
        on_progress: OnProgress | None = None,
    ) -> dp.JobSubmitResponse:  # fmt: skip
        gen = self.driver.submit(options, timeout=timeout, progress=on_progress is not None)
        return self.client.run(Call(gen, on_progress=on_progress))

    def status(self, job_id: str, *, timeout: float | None = None) -> dp.JobStatusResponse:
        return self.client.run(Call(self.driver.status(job_id, timeout=timeout)))

    def result(
        self, job_id: str, *, output: toolkit.OutputTarget = None, timeout: float | None = None,
        on_progress: OnProgress | None = None,
    ) -> dp.QueueJobResult:  # fmt: skip
        gen = self.driver.result
        return self._fetch(gen, job_id, None, output, timeout, on_progress)

    def wait(
        self, job_id: str, *, on_status_change: OnStatus | None = None,
        output: toolkit.OutputTarget = None, timeout: float | None = None,
        on_progress: OnProgress | None = None,
    ) -> dp.QueueJobResult:  # fmt: skip
        gen = self.driver.wait
        return self._fetch(gen, job_id, on_status_change, output, timeout, on_progress)

    def submit_and_poll(
        self, options: Mapping[str, Any], *,
        on_status_change: OnStatus | None = None,
        output: toolkit.OutputTarget = None, timeout: float | None = None,
        on_progress: OnProgress | None = None,
    ) -> dp.QueueJobResult:  # fmt: skip
        return self.client.run(self._job(options, on_status_change, output, timeout, on_progress))

    def submit_and_poll_all(
        self, many: Sequence[Mapping[str, Any]], *, timeout: float | None = None
    ) -> list[dp.QueueJobResult]:
        """Every job at once, on this thread; their results in order."""
        calls = [self._job(options, None, None, timeout, None) for options in many]
        self.client.loop.run(calls)
        return [call.result for call in calls]

    def _fetch(
        self, method: Callable[..., dp.DriverGen[Stream, dp.QueueJobResult]], job_id: str,
        on_status_change: OnStatus | None, output: toolkit.OutputTarget,
        timeout: float | None, on_progress: OnProgress | None,
    ) -> dp.QueueJobResult:  # fmt: skip
        out = toolkit.open_output(output)
        gen = method(job_id, to_output=out is not None, timeout=timeout, progress=bool(on_progress))
        return self.client.run(Call(gen, on_status_change, on_progress, out))

    def _job(
        self, options: Mapping[str, Any],
        on_status_change: OnStatus | None, output: toolkit.OutputTarget,
        timeout: float | None, on_progress: OnProgress | None,
    ) -> Call[dp.QueueJobResult]:  # fmt: skip
        out = toolkit.open_output(output)
        gen = self.driver.submit_and_poll(
            options, to_output=out is not None, timeout=timeout, progress=bool(on_progress)
        )
        callback = on_status_change or options.get("on_status_change")  # as in the docs
        return Call(gen, callback, on_progress, out)
