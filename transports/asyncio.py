"""The asyncio transport: ``async with DecartClient() as client: await client.queue...``.

Each connection is a small :class:`asyncio.BufferedProtocol` rather than a StreamReader/Writer
pair: the loop reads into one reused buffer, a receive is answered straight from it, an idle
connection the server closed is seen at a glance, and each deadline is one ``call_at`` timer.
Uploads use ``loop.sendfile`` (``os.sendfile``) on plain TCP and chunks over TLS. TLS is
``_tls`` over this plain protocol, not the loop's SSL transport (see ``_tls`` for why). The
loop's clock is the driver's clock, so a loop with a virtual clock runs the client on virtual
time.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from decart_proto import FileRegion, IOTimeout, NetworkError, models

from . import _errors
from ._async_client import AsyncDecartClient, AsyncIO, QueueClient, send_in_chunks
from ._common import network_error, opened_region
from ._errors import *  # noqa: F403 - the error classes of the Queue API docs' imports
from ._tls import TlsStream

# The names of the Queue API docs' imports, so their examples run with the import line changed.
__all__ = ["DecartClient", "QueueClient", "models"]
__all__ += _errors.__all__

T = TypeVar("T")
# Stop reading from the socket while this much is received and not yet asked for, so that a
# download is paced by its consumer (the output file) and memory stays bounded.
_HIGH_WATER = 1 << 20
_TLS_HIGH_WATER = 4 << 20
# The receive buffer: its size, and the least room worth offering the loop for one read.
_BUFFER = 256 * 1024
_MIN_READ = 64 * 1024


class _Stream(asyncio.BufferedProtocol):
    """One connection. The loop reads straight into one reused buffer (``BufferedProtocol``),
    where bytes wait until the driver asks for them: no allocation per read, one copy out."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.socket: socket.socket | None = None  # set by the connect that made it
        self.buffer = bytearray(_BUFFER)
        self.start = 0  # received, not yet asked for: buffer[start:end]
        self.end = 0
        self.eof = False
        self.lost = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self.writing_paused = False
        self.on_data: asyncio.Future[None] | None = None
        self.on_writable: asyncio.Future[None] | None = None
        # One timer per stream, kept across waits (see _wait): when it is due, and the
        # deadline of the wait in progress (None between waits).
        self.timer: asyncio.TimerHandle | None = None
        self.timer_due = 0.0
        self.wait_deadline: float | None = None

    # -- the protocol's callbacks -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's transports have the methods of asyncio.Transport
        # without deriving from it.
        self.transport = cast(asyncio.Transport, transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.start == self.end:
            self.start = self.end = 0
        elif len(self.buffer) - self.end < _MIN_READ:
            # Move what waits to the front; grow only if it fills the buffer (reading pauses
            # at _HIGH_WATER, so this is rare).
            pending = self.end - self.start
            self.buffer[:pending] = self.buffer[self.start : self.end]
            self.start, self.end = 0, pending
            if len(self.buffer) - pending < _MIN_READ:
                self.buffer.extend(bytes(len(self.buffer)))
        return memoryview(self.buffer)[self.end :]

    def buffer_updated(self, nbytes: int) -> None:
        self.end += nbytes
        waiting = self.end - self.start
        if waiting > _HIGH_WATER and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()
        _wake(self.on_data)

    def eof_received(self) -> None:
        self.eof = True
        _wake(self.on_data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if exc is not None:
            self._drain()
        self.eof = self.lost = True
        self.error = exc
        _wake(self.on_data)
        _wake(self.on_writable)

    def _drain(self) -> None:
        """Keep what the kernel still holds of the server's bytes. A failed write (the server
        answered early, a 401 before the upload's end, and closed) makes the loop close the
        connection without reading on, while that answer may wait unread. The socket is still
        open during connection_lost (the loop closes it after)."""
        sock = self.socket
        if sock is None or sock.fileno() < 0:
            return
        while True:
            with self.get_buffer(-1) as room:
                try:
                    received = sock.recv_into(room)
                except OSError:  # nothing more (BlockingIOError), or the reset itself
                    return
            if not received:
                return
            self.end += received

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        _wake(self.on_writable)

    # -- what the executor asks -----------------------------------------------------------------

    async def _wait(self, deadline: float, reading: bool) -> None:
        waiter: asyncio.Future[None] = self.loop.create_future()
        if reading:
            self.on_data = waiter
        else:
            self.on_writable = waiter
        # A timer armed for an earlier wait is kept when it is due no later than this
        # deadline: it then re-arms itself for this one (_on_timer). Deadlines mostly grow
        # from one op to the next, so this saves a timer scheduled and cancelled per wait.
        timer = self.timer
        if timer is None or self.timer_due > deadline:
            if timer is not None:
                timer.cancel()
            self._arm(deadline)
        self.wait_deadline = deadline
        try:
            await waiter
        finally:
            self.wait_deadline = None
            if reading:
                self.on_data = None
            else:
                self.on_writable = None

    def _arm(self, due: float) -> None:
        self.timer_due = due
        self.timer = self.loop.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        deadline = self.wait_deadline
        if deadline is None:
            return  # no wait in progress: the next one arms its own timer
        if deadline > self.timer_due:
            self._arm(deadline)  # armed for an earlier wait; this one has time left
            return
        for waiter in (self.on_data, self.on_writable):
            if waiter is not None and not waiter.done():
                waiter.set_exception(IOTimeout("timed out"))

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _broken(self) -> NetworkError:
        if self.error is not None:
            return network_error(self.error)
        return NetworkError("the connection was closed")

    async def receive(self, max_bytes: int, deadline: float) -> bytes:
        while self.start == self.end:
            if self.eof:
                if self.error is not None:
                    raise self._broken()
                return b""
            await self._wait(deadline, reading=True)
        start = self.start
        stop = min(self.end, start + max_bytes)
        with memoryview(self.buffer) as view:
            data = bytes(view[start:stop])
        self.start = stop
        if self.reading_paused and self.end - stop <= _HIGH_WATER // 2 and not self.lost:
            self.reading_paused = False
            assert self.transport is not None
            self.transport.resume_reading()
        return data

    async def send(self, data: bytes, deadline: float) -> None:
        if self.lost:
            raise self._broken()
        transport = self.transport
        assert transport is not None
        transport.write(data)
        # A failed write closes the transport at once and reports it lost on the loop's next
        # turn: wait for that, with its error, rather than write on into the void.
        while self.writing_paused or transport.is_closing():
            if self.lost:
                raise self._broken()
            await self._wait(deadline, reading=False)

    def close(self) -> None:
        """Close at once. A stream can outlive its loop (a client used again in a second
        ``asyncio.run()``): a live loop closes it on its own thread; a closed loop can run
        nothing, and the socket is closed here (the transport, unusable, is left to the garbage
        collector)."""
        transport = self.transport
        if transport is None:
            return
        loop = self.loop
        if loop is _running_loop():
            self._disarm()
            transport.abort()
        elif not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # it closed meanwhile: nothing to run on
                loop.call_soon_threadsafe(self.close)
        elif self.socket is not None:
            self.socket.close()  # (uvloop closed it already, with its loop)


Stream = _Stream | TlsStream[_Stream]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


async def _within(deadline: float, awaitable: Awaitable[T]) -> T:
    """*awaitable*'s result, or IOTimeout once the loop's clock reaches *deadline*."""
    try:
        if sys.version_info >= (3, 11):
            async with asyncio.timeout_at(deadline):
                return await awaitable
        else:  # pragma: no cover - Python 3.10
            loop = asyncio.get_running_loop()
            return await asyncio.wait_for(awaitable, max(0.0, deadline - loop.time()))
    except asyncio.TimeoutError:
        raise IOTimeout("timed out") from None


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():  # given up on: timed out or cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def _has_fileno(f: Any) -> bool:
    try:
        f.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


async def _in_daemon_thread(name: str, deadline: float, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on a daemon thread of its own, waited for until *deadline*. Not the loop's
    executor: asyncio.run() waits for the executor's threads at its end (and the interpreter at
    exit), so a call that blocks for good (a pipe whose writer never writes, a resolver that
    hangs) would hold the program long after our call had timed out."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def work() -> None:
        try:
            outcome: tuple[Any, BaseException | None] = (fn(*args), None)
        except BaseException as exc:  # handed to the loop's thread
            outcome = (None, exc)
        with contextlib.suppress(RuntimeError):  # the loop has closed: no one is waiting
            loop.call_soon_threadsafe(_settle, future, *outcome)

    threading.Thread(target=work, name=name, daemon=True).start()
    return await _within(deadline, future)


_AddrInfo = list[tuple[Any, ...]]


def _numeric_addresses(host: str, port: int) -> _AddrInfo | None:
    """The address of an IP-literal host, found without a thread; None for a name."""
    try:
        return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    except socket.gaierror:
        return None


def _resolve(host: str, port: int) -> _AddrInfo:
    return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)


async def _connect_any(loop: asyncio.AbstractEventLoop, addresses: _AddrInfo) -> socket.socket:
    """A socket connected to the first of *addresses* that accepts, tried in the resolver's
    order (as loop.create_connection would); the last failure when none does."""
    failure: OSError = OSError("the host name resolved to no address")
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            failure = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise failure


class AsyncioIO(AsyncIO[Stream]):
    name = "asyncio"

    def clock(self) -> float:
        return asyncio.get_running_loop().time()

    async def connect(self, host: str, port: int, deadline: float) -> Stream:
        loop = asyncio.get_running_loop()
        # Resolved on a daemon thread of our own, never by loop.create_connection: the stdlib
        # loop resolves on its executor and uvloop on libuv's thread pool, and asyncio.run()
        # (or the loop's close) waits for either, so a resolver that hangs would hold the
        # program long after the call had ended at its deadline.
        addresses = _numeric_addresses(host, port)
        if addresses is None:
            addresses = await _in_daemon_thread(
                "decart-proto resolve", deadline, _resolve, host, port
            )
        sock = await _within(deadline, _connect_any(loop, addresses))
        try:
            _, stream = await _within(
                deadline, loop.create_connection(lambda: _Stream(loop), sock=sock)
            )
        except BaseException:
            sock.close()
            raise
        stream.socket = sock
        return stream

    async def start_tls(
        self, stream: Stream, context: ssl.SSLContext, server_hostname: str, deadline: float
    ) -> Stream:
        assert isinstance(stream, _Stream), "TLS over TLS is never asked for"
        secure = TlsStream(stream, context, server_hostname)
        await secure.handshake(deadline)
        return secure

    async def send(self, stream: Stream, data: bytes, deadline: float) -> None:
        await stream.send(data, deadline)

    async def send_file(self, stream: Stream, region: FileRegion, deadline: float) -> int:
        tcp = stream.tcp if isinstance(stream, TlsStream) else stream
        if tcp.lost:
            raise tcp._broken()
        transport = tcp.transport
        assert transport is not None and region.length is not None
        with opened_region(region) as f:
            if tcp is stream and _has_fileno(f):
                loop = asyncio.get_running_loop()
                try:
                    return await _within(
                        deadline,
                        loop.sendfile(transport, f, region.offset, region.length, fallback=False),
                    )
                except (asyncio.SendfileNotAvailableError, NotImplementedError):
                    # Not a plain socket transport after all, or a loop without sendfile
                    # (uvloop: the base class's NotImplementedError): nothing was sent yet,
                    # so the chunks below send it all.
                    pass
            # TLS, or a file without a descriptor: chunks. A deeper write buffer lets the
            # next chunk be encrypted while the last one drains.
            transport.set_write_buffer_limits(high=_TLS_HIGH_WATER)
            try:
                return await send_in_chunks(
                    f, region.length, lambda chunk: stream.send(chunk, deadline)
                )
            finally:
                if not transport.is_closing():
                    transport.set_write_buffer_limits()

    async def receive(self, stream: Stream, max_bytes: int, deadline: float) -> bytes:
        return await stream.receive(max_bytes, deadline)

    async def sleep_until(self, until: float) -> None:
        await asyncio.sleep(max(0.0, until - asyncio.get_running_loop().time()))

    async def in_thread(self, deadline: float, fn: Callable[..., T], *args: Any) -> T:
        return await _in_daemon_thread("decart-proto input", deadline, fn, *args)

    def is_stale(self, stream: Stream) -> bool:
        if isinstance(stream, TlsStream):
            if stream.buffered():
                return True
            stream = stream.tcp
        transport = stream.transport
        waiting = stream.end > stream.start
        if stream.eof or waiting or transport is None or transport.is_closing():
            return True
        # Made on another loop: the client outlived the asyncio.run() that made it.
        return stream.loop is not asyncio.get_running_loop()

    def close(self, stream: Stream) -> None:
        stream.close()


class DecartClient(AsyncDecartClient[Stream]):
    """A Decart Queue API client for asyncio. ``async with DecartClient() as client:`` closes
    its connections on exit; one client serves any number of concurrent tasks."""

    def _make_io(self) -> AsyncIO[Stream]:
        return AsyncioIO()
