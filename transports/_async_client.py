"""What the asyncio and trio clients share: the client and ``client.queue`` facade, the pool,
and the loop that runs a driver generator. Each event loop supplies only an :class:`AsyncIO`
(connect, send, send a file, receive, sleep, close), so the two modules differ in nothing but
how they touch their loop.

Concurrency: everything here runs on one event loop thread, and the pool is only touched
between awaits, so it needs no lock.
"""

from __future__ import annotations

import abc
import inspect
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from decart_proto import (
    Acquire,
    Connect,
    Connection,
    ConnectionPool,
    Driver,
    DriverGen,
    FileRegion,
    JobStatusResponse,
    JobSubmitResponse,
    NetworkError,
    Notify,
    Op,
    OutputError,
    OutputReset,
    OutputWrite,
    PollPolicy,
    ProbeFile,
    Progress,
    QueueJobResult,
    ReadFile,
    Receive,
    Release,
    Reply,
    RetryPolicy,
    SendBytes,
    SendFile,
    Sleep,
    StartTLS,
    Timeouts,
)

from . import _calls
from ._common import (
    ClientConfig,
    Output,
    OutputTarget,
    ProgressCallback,
    StatusCallback,
    finish_output,
    network_error,
    probe_file,
    read_chunk,
    short_file,
)

__all__ = ["AsyncDecartClient", "AsyncIO", "QueueClient", "send_in_chunks"]

T = TypeVar("T")
S = TypeVar("S")
C = TypeVar("C", bound="AsyncDecartClient[Any]")


class AsyncIO(abc.ABC, Generic[S]):
    """One event loop's primitives over its streams ``S``. A stream is what ``connect`` (or
    ``start_tls``) returns; it travels inside :class:`Connection` and comes back to the other
    methods. Every method raises ``OSError`` or :class:`NetworkError` (``IOTimeout`` once
    ``deadline`` passes) for a network failure, and lets the loop's own cancellation through."""

    name: str

    @abc.abstractmethod
    def clock(self) -> float:
        """The loop's clock, which is the driver's clock: deadlines are on it."""

    @abc.abstractmethod
    async def connect(self, host: str, port: int, deadline: float) -> S:
        """A connected plain stream; nothing left open on failure."""

    @abc.abstractmethod
    async def start_tls(
        self, stream: S, context: ssl.SSLContext, server_hostname: str, deadline: float
    ) -> S:
        """*stream* with TLS over it, the handshake done (the certificate verified for
        *server_hostname*). On failure the caller closes *stream*."""

    @abc.abstractmethod
    async def send(self, stream: S, data: bytes, deadline: float) -> None: ...

    @abc.abstractmethod
    async def send_file(self, stream: S, region: FileRegion, deadline: float) -> int:
        """Send the region (``sendfile`` where the loop can); the number of bytes sent, fewer
        only when the file ended early."""

    @abc.abstractmethod
    async def receive(self, stream: S, max_bytes: int, deadline: float) -> bytes: ...

    @abc.abstractmethod
    async def sleep_until(self, until: float) -> None: ...

    @abc.abstractmethod
    async def in_thread(self, deadline: float, fn: Callable[..., T], *args: Any) -> T:
        """Run a call that may block for long (a read from a pipe) off the loop, and stop
        waiting for it at *deadline* (``IOTimeout``); cancelling the caller must not wait for
        it either."""

    @abc.abstractmethod
    def is_stale(self, stream: S) -> bool:
        """An idle stream the server has closed (or sent unasked-for bytes on)."""

    @abc.abstractmethod
    def close(self, stream: S) -> None:
        """Close at once, without waiting: used for streams half-way through an exchange."""


# What an async transport sends of a file when the loop cannot sendfile it (TLS, trio).
CHUNK = 1 << 20


async def send_in_chunks(f: Any, length: int, send: Callable[[bytes], Awaitable[None]]) -> int:
    """Send up to *length* bytes of the open file *f*, one chunk at a time, each read on the
    loop (a read from a local file is short); how many were sent, fewer if the file ended."""
    sent = 0
    while sent < length:
        chunk = f.read(min(CHUNK, length - sent))
        if not chunk:
            break
        await send(chunk)
        sent += len(chunk)
    return sent


class _Run(Generic[S]):
    """Executes one driver generator on the loop. Its ``held`` set is what makes cancellation
    safe: a connection lent out to this call is closed, never pooled, if the call ends early."""

    def __init__(
        self,
        client: AsyncDecartClient[S],
        callback: StatusCallback | None,
        output: Output | None,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.client = client
        self.io = client._io
        self.callback = callback
        self.output = output
        self.on_progress = on_progress
        self.held: set[Connection[S]] = set()

    async def run(self, gen: DriverGen[S, T]) -> T:
        reply: Reply[S] = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    op = gen.throw(error) if error is not None else gen.send(reply)
                except StopIteration as stop:
                    # A failed commit propagates: the driver has returned, so finish_output
                    # adds the job id itself.
                    value: T = stop.value
                    finish_output(self.output, value)
                    return value
                reply, error = None, None
                try:
                    reply = await self.execute(op)
                except (NetworkError, OutputError) as exc:
                    # Thrown into the driver, which decides: a network failure may be retried;
                    # an output that cannot be written ends the call, with the job id added.
                    error = exc
                except OSError as exc:
                    error = network_error(exc)
        except BaseException:
            # Cancelled (a cancel scope, task.cancel()) or failed: nothing half-used may return
            # to the pool, and no partial output may stay behind.
            for conn in self.held:
                self.io.close(conn.stream)
            self.held.clear()
            if self.output is not None:
                self.output.discard()
            raise
        finally:
            gen.close()

    async def execute(self, op: Op[S]) -> Reply[S]:
        io = self.io
        if isinstance(op, Receive):
            return await io.receive(op.connection.stream, op.max_bytes, op.deadline)
        if isinstance(op, SendBytes):
            await io.send(op.connection.stream, op.data, op.deadline)
            return None
        if isinstance(op, Acquire):
            pooled = self.client._acquire(op)
            if pooled is not None:
                self.held.add(pooled)
            return pooled
        if isinstance(op, Connect):
            conn = Connection(op.origin, await io.connect(op.host, op.port, op.deadline))
            self.held.add(conn)
            return conn
        if isinstance(op, StartTLS):
            conn = op.connection
            context = self.client._tls_context()
            conn.stream = await io.start_tls(conn.stream, context, op.server_hostname, op.deadline)
            return None
        if isinstance(op, Release):
            self.held.discard(op.connection)
            self.client._release(op.connection, op.reuse)
            return None
        if isinstance(op, Sleep):
            await io.sleep_until(op.until)
            return None
        if isinstance(op, SendFile):
            region = op.region
            sent = await io.send_file(op.connection.stream, region, op.deadline)
            if sent != region.length:
                raise short_file(region, sent)
            return None
        if isinstance(op, Notify):
            if self.callback is not None:
                outcome = self.callback(op.status)
                if inspect.isawaitable(outcome):
                    await outcome
            return None
        if isinstance(op, Progress):
            if self.on_progress is not None:
                outcome = self.on_progress(op)
                if inspect.isawaitable(outcome):
                    await outcome
            return None
        if isinstance(op, OutputWrite):
            assert self.output is not None
            self.output.write(op.data)
            return None
        if isinstance(op, OutputReset):
            assert self.output is not None
            self.output.reset()
            return None
        if isinstance(op, ProbeFile):
            return probe_file(op.file)
        assert isinstance(op, ReadFile), op
        # A pipe may block until its writer writes: never on the loop's thread.
        return await io.in_thread(op.deadline, read_chunk, op.file, op.max_bytes)


class AsyncDecartClient(Generic[S]):
    """The async client's body; ``transports.asyncio`` and ``transports.trio`` each name a
    subclass ``DecartClient`` that picks its :class:`AsyncIO`. ``async with`` closes the idle
    connections on exit."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        integration: str | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        poll: PollPolicy | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        max_idle_connections: int = 8,
    ) -> None:
        self._config = ClientConfig.make(
            api_key, base_url, integration, ssl_context, poll, retry, timeouts,
            max_idle_connections,
        )  # fmt: skip
        self._io = self._make_io()
        self._driver: Driver[S] = self._config.driver(self._io.clock, self._io.name)
        self._pool: ConnectionPool[S] = ConnectionPool(max_idle_connections)
        self._tls: ssl.SSLContext | None = None
        self._closed = False
        self.base_url = self._config.base_url
        self.integration = integration
        self.queue = QueueClient(self)

    def _make_io(self) -> AsyncIO[S]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"DecartClient(base_url={self.base_url!r})"

    async def __aenter__(self: C) -> C:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the idle connections, and those that calls still running give back later."""
        self._closed = True
        for conn in self._pool.drain():
            self._io.close(conn.stream)

    async def _run(self, call: _calls.Call[S, T]) -> T:
        run = _Run(self, call.on_status_change, call.output, call.on_progress)
        return await run.run(call.gen)

    def _acquire(self, op: Acquire) -> Connection[S] | None:
        """An idle connection to the origin that the server has not closed, or None."""
        while (conn := self._pool.take(op.origin)) is not None:
            if not self._io.is_stale(conn.stream):
                return conn
            self._io.close(conn.stream)
        return None

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = self._config.tls_context()
        return self._tls

    def _release(self, conn: Connection[S], reuse: bool) -> None:
        closing = self._pool.give_back(conn, reuse and not self._closed)
        if closing is not None:
            self._io.close(closing.stream)


class QueueClient(Generic[S]):
    """``client.queue``: the four methods of the Queue API docs, plus :meth:`wait` to resume a
    job by id. ``timeout`` is the whole call's deadline in seconds; ``output`` (a path or a
    binary file) receives the video instead of memory, atomically for a path; ``on_progress``
    is called with a :class:`decart_proto.Progress` as the upload and the download move.
    Callbacks may be plain or async callables; an async one is awaited."""

    def __init__(self, client: AsyncDecartClient[S]) -> None:
        self._client = client

    async def submit(
        self,
        options: Mapping[str, Any],
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> JobSubmitResponse:
        return await self._client._run(
            _calls.submit(self._client._driver, options, timeout, on_progress)
        )

    async def status(self, job_id: str, *, timeout: float | None = None) -> JobStatusResponse:
        return await self._client._run(_calls.status(self._client._driver, job_id, timeout))

    async def result(
        self,
        job_id: str,
        *,
        output: OutputTarget = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> QueueJobResult:
        call = _calls.result(self._client._driver, job_id, output, timeout, on_progress)
        return await self._client._run(call)

    async def submit_and_poll(
        self,
        options: Mapping[str, Any],
        *,
        on_status_change: StatusCallback | None = None,
        output: OutputTarget = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> QueueJobResult:
        driver = self._client._driver
        call = _calls.submit_and_poll(
            driver, options, on_status_change, output, timeout, on_progress
        )
        return await self._client._run(call)

    async def wait(
        self,
        job_id: str,
        *,
        on_status_change: StatusCallback | None = None,
        output: OutputTarget = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> QueueJobResult:
        driver = self._client._driver
        call = _calls.wait(driver, job_id, on_status_change, output, timeout, on_progress)
        return await self._client._run(call)
