"""The blocking transport: plain sockets, ``sendfile`` for uploads over plain TCP, and each
call's deadline as the sockets' timeouts. Thread-safe: one client serves many threads, which
share its keep-alive pool.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import inspect
import math
import os
import queue
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from decart_proto import (
    Acquire,
    Connect,
    Connection,
    ConnectionPool,
    Driver,
    DriverGen,
    FileInfo,
    FileRegion,
    JobStatusResponse,
    JobSubmitResponse,
    Notify,
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
    models,
)
from decart_proto import IOTimeout as _IOTimeout

from . import _calls, _errors
from ._common import (
    ClientConfig,
    Output,
    OutputTarget,
    ProgressCallback,
    StatusCallback,
    finish_output,
    network_error,
    opened_region,
    probe_file,
    read_chunk,
    read_into,
    resolve,
    short_file,
)
from ._errors import *  # noqa: F403 - the error classes of the Queue API docs' imports

# The names of the Queue API docs' imports, so their examples run with the import line changed.
__all__ = ["DecartClient", "QueueClient", "models"]
__all__ += _errors.__all__

T = TypeVar("T")
_SENDFILE_CHUNK = 1 << 20


class _Run:
    """Executes one driver generator: each op mapped onto a socket, a file or a callback."""

    def __init__(
        self,
        client: DecartClient,
        callback: StatusCallback | None,
        output: Output | None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.client = client
        self.callback = callback
        self.output = output
        self.on_progress = on_progress
        self.held: set[Connection[_Stream]] = set()
        self.reader: _PipeReader | None = None

    def run(self, gen: DriverGen[_Stream, T]) -> T:
        reply: Reply[_Stream] = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    op = gen.throw(error) if error is not None else gen.send(reply)
                except StopIteration as stop:
                    value: T = stop.value
                    finish_output(self.output, value)
                    return value
                reply, error = None, None
                try:
                    # One dict lookup by the op's exact type (ops are final classes), not a
                    # chain of isinstance() tests: the hot ops run several times per request.
                    reply = _EXECUTORS[type(op)](self, op)
                except (OSError, _IOTimeout) as exc:
                    if type(op) in _CALLBACKS:
                        raise  # the caller's own code failed, not the network
                    error = network_error(exc)
                except OutputError as exc:
                    # Local and not transient: the driver adds the job id and gives up.
                    error = exc
        except BaseException:
            # Cancelled (KeyboardInterrupt), or the call failed: close what is half-used and
            # leave no partial output.
            for conn in self.held:
                _close(conn)
            if self.output is not None:
                self.output.discard()
            raise
        finally:
            gen.close()
            if self.reader is not None:
                self.reader.close()

    def _receive(self, op: Receive[_Stream]) -> bytes:
        return op.connection.stream.recv(op.max_bytes, op.deadline)

    def _send_bytes(self, op: SendBytes[_Stream]) -> None:
        op.connection.stream.send(op.data, op.deadline)

    def _sleep(self, op: Sleep) -> None:
        time.sleep(max(0.0, op.until - time.monotonic()))

    def _acquire(self, op: Acquire) -> Connection[_Stream] | None:
        conn = self.client._acquire(op)
        if conn is not None:
            self.held.add(conn)
        return conn

    def _connect(self, op: Connect) -> Connection[_Stream]:
        conn = Connection(op.origin, _Stream(_connect(op.host, op.port, op.deadline)))
        self.held.add(conn)
        return conn

    def _start_tls(self, op: StartTLS[_Stream]) -> None:
        # A failed handshake closes the socket it was given (ssl.SSLSocket._create).
        op.connection.stream = self.client._start_tls(op)

    def _release(self, op: Release[_Stream]) -> None:
        self.held.discard(op.connection)
        self.client._release(op.connection, op.reuse)

    def _send_file(self, op: SendFile[_Stream]) -> None:
        _send_file(op)

    def _notify(self, op: Notify) -> None:
        if self.callback is not None:
            _refuse_awaitable(self.callback(op.status), "on_status_change")

    def _progress(self, op: Progress) -> None:
        if self.on_progress is not None:
            _refuse_awaitable(self.on_progress(op), "on_progress")

    def _output_write(self, op: OutputWrite) -> None:
        assert self.output is not None
        self.output.write(op.data)

    def _output_reset(self, op: OutputReset) -> None:
        assert self.output is not None
        self.output.reset()

    def _probe_file(self, op: ProbeFile) -> FileInfo:
        return probe_file(op.file)

    def _read_file(self, op: ReadFile) -> bytes:
        if self.reader is None:
            self.reader = _PipeReader()
        try:
            return self.reader.read(op)
        except _IOTimeout:
            # The read goes on in the background: its answer now belongs to no one.
            self.reader.close()
            self.reader = None
            raise


# Ops that run the caller's callbacks: whatever they raise is the caller's, an OSError too.
_CALLBACKS = frozenset({Notify, Progress})

_EXECUTORS: dict[type, Callable[[_Run, Any], Any]] = {
    Receive: _Run._receive,
    SendBytes: _Run._send_bytes,
    Sleep: _Run._sleep,
    Acquire: _Run._acquire,
    Connect: _Run._connect,
    StartTLS: _Run._start_tls,
    Release: _Run._release,
    SendFile: _Run._send_file,
    Notify: _Run._notify,
    OutputWrite: _Run._output_write,
    OutputReset: _Run._output_reset,
    ProbeFile: _Run._probe_file,
    ReadFile: _Run._read_file,
    Progress: _Run._progress,
}


class _PipeReader:
    """Reads a file of unknown size (a pipe) on a daemon thread, so that the call stops
    waiting for a writer that never writes at its deadline. A read given up on finishes, or
    not, on that thread, which ends after it; being a daemon, it never holds up the exit."""

    def __init__(self) -> None:
        self.asks: queue.SimpleQueue[ReadFile | None] = queue.SimpleQueue()
        self.answers: queue.SimpleQueue[tuple[bytes, BaseException | None]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="decart-proto input", daemon=True).start()

    def read(self, op: ReadFile) -> bytes:
        self.asks.put(op)
        try:
            data, error = self.answers.get(timeout=_remaining(op.deadline))
        except queue.Empty:
            raise _IOTimeout("no input from the file before the deadline") from None
        if error is not None:
            raise error
        return data

    def close(self) -> None:
        self.asks.put(None)

    def _serve(self) -> None:
        while True:
            op = self.asks.get()
            if op is None:
                return
            try:
                self.answers.put((read_chunk(op.file, op.max_bytes), None))
            except BaseException as exc:  # handed to the caller's thread
                self.answers.put((b"", exc))


def _refuse_awaitable(outcome: object, name: str) -> None:
    if inspect.isawaitable(outcome):
        if inspect.iscoroutine(outcome):
            outcome.close()  # never to be awaited: no "never awaited" warning
        raise TypeError(f"the blocking client cannot await {name}")


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise _IOTimeout("deadline passed")
    return left


# Plain sockets wait with poll() and move bytes with MSG_DONTWAIT on a socket left in blocking
# mode. A socket with a timeout would cost more system calls per op: CPython polls before
# every send and recv of a timed socket, and settimeout() itself is an ioctl. TLS sockets keep
# the timeout (an SSL read may need more bytes than one poll() announced).
_DONTWAIT: int = getattr(socket, "MSG_DONTWAIT", 0)
_DIRECT = bool(_DONTWAIT) and hasattr(select, "poll")
_SENDFILE: Callable[[int, int, int, int], int] | None = getattr(os, "sendfile", None)
# os.sendfile's answers for "this file or socket cannot be sent this way".
_NO_SENDFILE = frozenset(
    getattr(errno, name)
    for name in ("EINVAL", "ENOSYS", "EOPNOTSUPP", "ENOTSUP", "ENOTSOCK")
    if hasattr(errno, name)
)


class _Stream:
    """A connected socket, and how to wait on it until a deadline."""

    __slots__ = ("direct", "more", "readable", "sock", "writable")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.direct = _DIRECT and not isinstance(sock, ssl.SSLSocket)
        # The last read filled its buffer, so more is probably waiting: read before polling.
        self.more = False
        if self.direct:
            sock.settimeout(None)
            self.readable = select.poll()
            self.readable.register(sock, select.POLLIN)
            self.writable = select.poll()
            self.writable.register(sock, select.POLLOUT)

    def recv(self, max_bytes: int, deadline: float) -> bytes:
        sock = self.sock
        if not self.direct:
            sock.settimeout(_remaining(deadline))
            return sock.recv(max_bytes)
        while True:
            if self.more:
                try:
                    data = sock.recv(max_bytes, _DONTWAIT)
                except BlockingIOError:
                    pass
                else:
                    self.more = len(data) == max_bytes
                    return data
            _wait(self.readable, deadline)
            self.more = True

    def send(self, data: bytes | memoryview, deadline: float) -> None:
        sock = self.sock
        if not self.direct:
            sock.settimeout(_remaining(deadline))
            sock.sendall(data)
            return
        if deadline <= time.monotonic():
            raise _IOTimeout("deadline passed")
        try:
            sent = sock.send(data, _DONTWAIT)
        except BlockingIOError:
            sent = 0
        if sent == len(data):
            return
        view = memoryview(data)
        while sent < len(view):
            _wait(self.writable, deadline)
            with contextlib.suppress(BlockingIOError):
                sent += sock.send(view[sent:], _DONTWAIT)

    def sendfile(self, f: Any, offset: int, count: int, deadline: float) -> int | None:
        """os.sendfile (the kernel copies from the page cache; no bytes pass through Python)
        on the socket made non-blocking for the while, with poll() waits until the deadline
        between pieces: however slowly the server reads, the call ends on time. (socket.sendfile
        would give each wait the whole timeout.) None: not possible here, send in chunks."""
        if not self.direct or _SENDFILE is None:
            return None
        try:
            fd = f.fileno()
        except (AttributeError, OSError, ValueError):
            return None
        sock = self.sock
        out = sock.fileno()
        sent = 0
        sock.setblocking(False)
        try:
            while sent < count:
                if time.monotonic() >= deadline:
                    raise _IOTimeout("deadline passed")
                try:
                    n = _SENDFILE(out, fd, offset + sent, count - sent)
                except BlockingIOError:
                    _wait(self.writable, deadline)
                    continue
                except OSError as exc:
                    if sent or exc.errno not in _NO_SENDFILE:
                        raise
                    return None  # not for this file (or system): the chunked path
                if not n:
                    break  # the file ended early
                sent += n
        finally:
            sock.setblocking(True)
        return sent

    def stale(self) -> bool:
        """An idle keep-alive socket that is readable has been closed (or sent junk) by the
        server: reusing it would fail the next request."""
        try:
            if self.direct:
                return bool(self.readable.poll(0))
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)


def _wait(poller: Any, deadline: float) -> None:
    left = deadline - time.monotonic()
    # poll() counts whole milliseconds: round up, never wake before the deadline.
    if left <= 0 or not poller.poll(math.ceil(left * 1000)):
        raise _IOTimeout("deadline passed")


def _connect(host: str, port: int, deadline: float) -> socket.socket:
    """socket.create_connection, but the name lookup too ends at the deadline: the resolver
    answers on a thread of its own, and a lookup given up on finishes there. TCP_NODELAY: a
    request's head and its body go out in separate sends."""
    try:
        addresses = resolve(host, port).result(timeout=_remaining(deadline))
    except concurrent.futures.TimeoutError:
        raise _IOTimeout(f"looking up {host!r} did not finish before the deadline") from None
    error: OSError = OSError(f"{host!r} has no address")
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(_remaining(deadline))
            sock.connect(address)
        except OSError as exc:
            sock.close()
            error = exc
        except BaseException:
            sock.close()
            raise
        else:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except BaseException:
                sock.close()
                raise
            return sock
    raise error


def _close(conn: Connection[_Stream]) -> None:
    with contextlib.suppress(OSError):
        conn.stream.sock.close()


def _send_file(op: SendFile[_Stream]) -> None:
    stream = op.connection.stream
    region = op.region
    assert region.length is not None
    with opened_region(region) as f:
        sent = stream.sendfile(f, region.offset, region.length, op.deadline)
        if sent is None:
            sent = _send_chunks(stream, f, region, op.deadline)
    if sent != region.length:
        raise short_file(region, sent)


def _send_chunks(stream: _Stream, f: Any, region: FileRegion, deadline: float) -> int:
    """TLS (where socket.sendfile would fall back to 8 KiB sends) or a file without a
    descriptor: 1 MiB reads into one buffer, each sent whole before the deadline."""
    assert region.length is not None
    sent = 0
    view = memoryview(bytearray(_SENDFILE_CHUNK))
    while sent < region.length:
        got = read_into(region.file, f, view[: min(_SENDFILE_CHUNK, region.length - sent)])
        if not got:
            break
        stream.send(view[:got], deadline)
        sent += got
    return sent


class DecartClient:
    """A Decart Queue API client for threads and scripts. ``with DecartClient() as client:``
    closes its connections on exit."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        integration: str | None = None,
        *,
        ssl_context: Any = None,
        poll: PollPolicy | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        max_idle_connections: int = 8,
    ) -> None:
        self._config = ClientConfig.make(
            api_key,
            base_url,
            integration,
            ssl_context,
            poll,
            retry,
            timeouts,
            max_idle_connections,
        )
        self._driver: Driver[_Stream] = self._config.driver(time.monotonic, "blocking")
        self._pool: ConnectionPool[_Stream] = ConnectionPool(max_idle_connections)
        self._lock = threading.Lock()
        self._closed = False
        self._tls: ssl.SSLContext | None = None
        self.base_url = self._config.base_url
        self.integration = integration
        self.queue = QueueClient(self)

    def __repr__(self) -> str:
        return f"DecartClient(base_url={self.base_url!r})"

    def __enter__(self) -> DecartClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the idle connections, and those that calls still running give back later."""
        with self._lock:
            self._closed = True
            idle = self._pool.drain()
        for conn in idle:
            _close(conn)

    def _run(self, call: _calls.Call[_Stream, T]) -> T:
        return _Run(self, call.on_status_change, call.output, call.on_progress).run(call.gen)

    def _acquire(self, op: Acquire) -> Connection[_Stream] | None:
        """An idle connection to the origin that the server has not closed, or None."""
        while True:
            with self._lock:
                conn = self._pool.take(op.origin)
            if conn is None or not conn.stream.stale():
                return conn
            _close(conn)

    def _start_tls(self, op: StartTLS[_Stream]) -> _Stream:
        if self._tls is None:
            self._tls = self._config.tls_context()
        sock = op.connection.stream.sock
        sock.settimeout(_remaining(op.deadline))
        return _Stream(self._tls.wrap_socket(sock, server_hostname=op.server_hostname))

    def _release(self, conn: Connection[_Stream], reuse: bool) -> None:
        with self._lock:
            closing = self._pool.give_back(conn, reuse and not self._closed)
        if closing is not None:
            _close(closing)


class QueueClient:
    """``client.queue``: the four methods of the Queue API docs, plus :meth:`wait` to resume a
    job by id. ``timeout`` is the whole call's deadline in seconds; ``output`` (a path or a
    binary file) receives the video instead of memory, atomically for a path; ``on_progress``
    is called with a :class:`decart_proto.Progress` as the upload and the download move."""

    def __init__(self, client: DecartClient) -> None:
        self._client = client

    def submit(
        self,
        options: Mapping[str, Any],
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> JobSubmitResponse:
        call = _calls.submit(self._client._driver, options, timeout, on_progress)
        return self._client._run(call)

    def status(self, job_id: str, *, timeout: float | None = None) -> JobStatusResponse:
        return self._client._run(_calls.status(self._client._driver, job_id, timeout))

    def result(
        self,
        job_id: str,
        *,
        output: OutputTarget = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> QueueJobResult:
        call = _calls.result(self._client._driver, job_id, output, timeout, on_progress)
        return self._client._run(call)

    def submit_and_poll(
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
        return self._client._run(call)

    def wait(
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
        return self._client._run(call)
