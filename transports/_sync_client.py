"""The blocking client's run loop, pool and facade. Generated from
``_async_client.py`` by ``scripts/unasync.py``: do not edit; edit that file and run the
script."""

from __future__ import annotations

import abc
import ssl
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any, Generic, Protocol, TypeVar

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
    Origin,
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

from . import _style
from ._common import (
    Address,
    ClientConfig,
    Output,
    OutputTarget,
    file_descriptor,
    finish_output,
    network_error,
    numeric_addresses,
    open_output,
    opened_region,
    probe_file,
    read_chunk,
    read_into,
    resolve,
    short_file,
)
from ._style import ProgressCallback, StatusCallback, status_callback_in

__all__ = ["SyncDecartClient", "SyncIO", "SyncQueueClient"]

S = TypeVar("S")
T = TypeVar("T")

# A file that cannot go by sendfile (TLS, no descriptor) is read into one buffer of this size,
# reused for the whole upload, and sent a piece at a time.
CHUNK = 1 << 20


class SyncIO(Protocol[S]):
    """The I/O of one event loop, for its streams ``S``: all a transport implements. A method
    that waits gives up at ``deadline`` (on :meth:`clock`) with :class:`IOTimeout`, reports a
    network failure as an ``OSError`` or a :class:`NetworkError`, and lets the loop's own
    cancellation through."""

    name: str  # the transport's name in the User-Agent

    def clock(self) -> float:
        """The loop's clock, which is the driver's: every deadline is on it."""
        ...

    def connect(self, address: Address, deadline: float) -> S:
        """A plain stream connected to *address* (one of ``socket.getaddrinfo``'s answers);
        nothing left open on failure."""
        ...

    def start_tls(
        self, stream: S, context: ssl.SSLContext, server_hostname: str, deadline: float
    ) -> S:
        """*stream* speaking TLS, its certificate verified for *server_hostname*. On failure
        *stream* is left for its owner to close."""
        ...

    def send(self, stream: S, data: bytes | memoryview, deadline: float) -> None:
        """Send all of *data* (or take it into the loop's buffer): the caller may reuse
        *data*'s memory once this returns."""
        ...

    def sendfile(
        self, stream: S, file: IO[bytes], offset: int, count: int, deadline: float
    ) -> int | None:
        """Send *count* bytes of *file* from *offset* by ``os.sendfile`` (no bytes pass
        through Python); how many, fewer only if the file ended. None when this stream cannot
        (TLS, a loop without sendfile): the bytes then go through :meth:`send`."""
        ...

    def receive(self, stream: S, max_bytes: int, deadline: float) -> bytes:
        """Up to *max_bytes*: what has arrived, or else the next bytes to arrive; ``b""`` at
        the end of the stream."""
        ...

    def sleep_until(self, until: float) -> None:
        """Return once :meth:`clock` reads *until* (at once if it already has)."""
        ...

    def run_in_thread(self, deadline: float, call: Callable[[], T]) -> T:
        """``call()`` on another thread (a name lookup, a read from a pipe: what may block for
        long), waited for until *deadline*. One given up on ends on its own, holding up
        neither the loop's end nor the program's exit."""
        ...

    def is_stale(self, stream: S) -> bool:
        """Whether an idle stream must not be reused: the server closed it, or sent bytes no
        one asked for. Answered without waiting."""
        ...

    def close(self, stream: S) -> None:
        """Close at once, without waiting: it runs while a call is being cancelled, where
        anything awaited would be cancelled too."""
        ...


class SyncPool(Generic[S]):
    """A client's idle kept-alive connections, shared by its calls. A connection lent out is
    the call's (its run closes it if the call ends early); one given back after an exchange
    waits here for the next request to its origin.

    (A limit on open connections, waited for fairly, would sit here: acquired before
    ``Connect``, released at ``Release``.)"""

    def __init__(self, io: SyncIO[S], max_idle_per_origin: int) -> None:
        self._io = io
        self._pooled: ConnectionPool[S] = ConnectionPool(max_idle_per_origin)
        self._lock = _style.SyncPoolLock()
        self._closed = False

    def take(self, origin: Origin) -> Connection[S] | None:
        """An idle connection to *origin* still fit for a request, or None; the stale ones
        found on the way are closed."""
        while True:
            with self._lock:
                conn = self._pooled.take(origin)
            if conn is None or not self._io.is_stale(conn.stream):
                return conn
            self._io.close(conn.stream)

    def give_back(self, conn: Connection[S], reuse: bool) -> None:
        with self._lock:
            closing = self._pooled.give_back(conn, reuse and not self._closed)
        if closing is not None:
            self._io.close(closing.stream)

    def close(self) -> None:
        """Close the idle connections, and those that calls still running give back later."""
        with self._lock:
            self._closed = True
            idle = self._pooled.drain()
        for conn in idle:
            self._io.close(conn.stream)


class SyncRun(Generic[S]):
    """One call: its driver generator run to the end, each op answered through the I/O.

    What a failure is: an ``OSError`` or :class:`NetworkError` of the I/O, and the
    :class:`OutputError` of an output, are thrown into the driver, which decides (retry, give
    up, add the job id). What the caller's own things raise (a callback, an input file that
    cannot be read) reaches the caller as it is. And whatever ends the call early (an error, a
    cancellation) closes the connections it holds: a half-used one never returns to the pool.
    """

    def __init__(
        self,
        client: SyncDecartClient[S],
        on_status_change: StatusCallback | None = None,
        output: Output | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.io = client._io
        self.pool = client._pool
        self.tls = client._tls_context
        self.on_status_change = on_status_change
        self.output = output
        self.on_progress = on_progress
        self.held: set[Connection[S]] = set()

    def run(self, gen: DriverGen[S, T]) -> T:
        reply: Reply[S] = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    op = gen.throw(error) if error is not None else gen.send(reply)
                except StopIteration as stop:
                    value: T = stop.value
                    # The driver has returned: a failed commit gets its job id there.
                    finish_output(self.output, value)
                    return value
                reply, error = None, None
                if isinstance(op, (Notify, Progress)):
                    self._call_back(op)  # the caller's code: what it raises is its own
                    continue
                try:
                    reply = self._answer(op)
                except (NetworkError, OutputError) as exc:
                    error = exc
                except OSError as exc:
                    error = network_error(exc)
        except BaseException:
            for conn in self.held:
                self.io.close(conn.stream)
            self.held.clear()
            if self.output is not None:
                self.output.discard()
            raise
        finally:
            gen.close()

    def _answer(self, op: Op[S]) -> Reply[S]:
        # The ops of every request first: this runs several times per request.
        if isinstance(op, Receive):
            return self.io.receive(op.connection.stream, op.max_bytes, op.deadline)
        if isinstance(op, SendBytes):
            self.io.send(op.connection.stream, op.data, op.deadline)
            return None
        if isinstance(op, Acquire):
            return self._hold(self.pool.take(op.origin))
        if isinstance(op, Release):
            self.held.discard(op.connection)
            self.pool.give_back(op.connection, op.reuse)
            return None
        if isinstance(op, Sleep):
            self.io.sleep_until(op.until)
            return None
        if isinstance(op, Connect):
            return self._hold(Connection(op.origin, self._connect(op)))
        if isinstance(op, StartTLS):
            conn = op.connection
            conn.stream = self.io.start_tls(
                conn.stream, self.tls(), op.server_hostname, op.deadline
            )
            return None
        if isinstance(op, SendFile):
            self._send_file(op)
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
        # A pipe may keep a read waiting for its writer: never on the loop's own thread.
        file, size = op.file, op.max_bytes
        return self.io.run_in_thread(op.deadline, lambda: read_chunk(file, size))

    def _hold(self, conn: Connection[S] | None) -> Connection[S] | None:
        if conn is not None:
            self.held.add(conn)
        return conn

    def _call_back(self, op: Notify | Progress) -> None:
        if isinstance(op, Notify):
            if self.on_status_change is not None:
                _style.call_sync(self.on_status_change, op.status, "on_status_change")
        elif self.on_progress is not None:
            _style.call_sync(self.on_progress, op, "on_progress")

    def _connect(self, op: Connect) -> S:
        """A stream to the first address of ``op.host`` that accepts, tried in the resolver's
        order (as ``socket.create_connection`` does); the last failure when none does. The
        name is looked up on a thread, so that a resolver that hangs ends at the deadline."""
        host, port = op.host, op.port
        addresses: Sequence[Address] | None = numeric_addresses(host, port)
        if addresses is None:
            addresses = self.io.run_in_thread(op.deadline, lambda: resolve(host, port))
        failure = OSError(f"{host!r} has no address")
        for address in addresses:
            try:
                return self.io.connect(address, op.deadline)
            except OSError as exc:
                failure = exc
        raise failure

    def _send_file(self, op: SendFile[S]) -> None:
        region = op.region
        assert region.length is not None
        with opened_region(region) as f:
            sent = None
            if file_descriptor(f) is not None:
                sent = self.io.sendfile(
                    op.connection.stream, f, region.offset, region.length, op.deadline
                )
            if sent is None:
                sent = self._send_chunks(op.connection.stream, region, f, op.deadline)
        if sent != region.length:
            raise short_file(region, sent)

    def _send_chunks(
        self, stream: S, region: FileRegion, f: IO[bytes], deadline: float
    ) -> int:
        assert region.length is not None
        sent = 0
        view = memoryview(bytearray(min(CHUNK, region.length)))
        while sent < region.length:
            got = read_into(region.file, f, view[: region.length - sent])
            if not got:
                break
            self.io.send(stream, view[:got], deadline)
            sent += got
        return sent


class SyncDecartClient(abc.ABC, Generic[S]):
    """A Decart Queue API client; each transport names a subclass ``DecartClient`` that
    chooses its :class:`SyncIO`. One client serves any number of concurrent calls, which
    share its connections; ``with`` closes them on exit."""

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
        self._pool = SyncPool(self._io, max_idle_connections)
        self._tls: ssl.SSLContext | None = None
        self.base_url = self._config.base_url
        self.integration = integration
        self.queue = SyncQueueClient(self)

    @abc.abstractmethod
    def _make_io(self) -> SyncIO[S]: ...

    def __repr__(self) -> str:
        return f"DecartClient(base_url={self.base_url!r})"

    def __enter__(self: C) -> C:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the idle connections, and those that calls still running give back later."""
        self._pool.close()

    def _tls_context(self) -> ssl.SSLContext:
        # Made at the first https connection (loading the trust store takes a while).
        if self._tls is None:
            self._tls = self._config.tls_context()
        return self._tls


C = TypeVar("C", bound=SyncDecartClient[Any])


class SyncQueueClient(Generic[S]):
    """``client.queue``: the four methods of the Queue API docs, plus :meth:`wait` to resume a
    job by id. ``timeout`` is the whole call's deadline in seconds; ``output`` (a path or a
    binary file) receives the video instead of memory, atomically for a path; ``on_progress``
    is called with a :class:`decart_proto.Progress` as the upload and the download move.
    An async client awaits the callbacks that are async; a blocking one refuses them."""

    def __init__(self, client: SyncDecartClient[S]) -> None:
        self._client = client
        self._driver = client._driver

    def submit(
        self,
        options: Mapping[str, Any],
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> JobSubmitResponse:
        gen = self._driver.submit(options, timeout=timeout, progress=on_progress is not None)
        return SyncRun(self._client, on_progress=on_progress).run(gen)

    def status(self, job_id: str, *, timeout: float | None = None) -> JobStatusResponse:
        return SyncRun(self._client).run(self._driver.status(job_id, timeout=timeout))

    def result(
        self,
        job_id: str,
        *,
        output: OutputTarget = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> QueueJobResult:
        out = open_output(output)
        gen = self._driver.result(
            job_id, to_output=out is not None, timeout=timeout, progress=on_progress is not None
        )
        return SyncRun(self._client, None, out, on_progress).run(gen)

    def submit_and_poll(
        self,
        options: Mapping[str, Any],
        *,
        on_status_change: StatusCallback | None = None,
        output: OutputTarget = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> QueueJobResult:
        # The callback may come in the options, as in the Queue API docs.
        callback = on_status_change or status_callback_in(options)
        out = open_output(output)
        gen = self._driver.submit_and_poll(
            options, to_output=out is not None, timeout=timeout, progress=on_progress is not None
        )
        return SyncRun(self._client, callback, out, on_progress).run(gen)

    def wait(
        self,
        job_id: str,
        *,
        on_status_change: StatusCallback | None = None,
        output: OutputTarget = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> QueueJobResult:
        out = open_output(output)
        gen = self._driver.wait(
            job_id, to_output=out is not None, timeout=timeout, progress=on_progress is not None
        )
        return SyncRun(self._client, on_status_change, out, on_progress).run(gen)
