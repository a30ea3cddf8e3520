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
import concurrent.futures
import contextlib
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable
from typing import IO, TypeVar, cast

from decart_proto import IOTimeout, NetworkError

from . import _exports
from ._async_client import AsyncDecartClient, AsyncIO
from ._async_client import AsyncQueueClient as QueueClient
from ._async_pool import AsyncEvent
from ._common import Address, network_error
from ._exports import *  # noqa: F403 - the names of the Queue API docs' imports
from ._threads import in_daemon_thread
from ._tls import TlsStream

__all__ = ["DecartClient", "QueueClient"]
__all__ += _exports.__all__

T = TypeVar("T")
# Stop reading from the socket while this much is received and not yet asked for, so that a
# download is paced by its consumer (the output file) and memory stays bounded.
_HIGH_WATER = 1 << 20
_TLS_HIGH_WATER = 4 << 20
# The receive buffer is made at the first read, with room for this much: a status answer is a
# few hundred bytes, and a client may hold many connections. Each read that fills all the room
# it was offered doubles the room offered next, up to _MAX_READ: a download soon reads in
# large gulps (fewer system calls), while a connection that only polls stays small. Once the
# stream quiets down (a read that did not fill its room, and all of it taken), a grown buffer
# is let go: an idle or waiting connection holds no more than a first read's room.
_FIRST_READ = 16 * 1024
_MAX_READ = 256 * 1024


class _Stream(asyncio.BufferedProtocol):
    """One connection. The loop reads straight into one reused buffer (``BufferedProtocol``),
    where bytes wait until the driver asks for them: no allocation per read, one copy out."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.socket: socket.socket | None = None  # set by the connect that made it
        self.buffer = bytearray()
        self.start = 0  # received, not yet asked for: buffer[start:end]
        self.end = 0
        self.read_size = _FIRST_READ  # the room to offer the next read
        self.filled = False  # the last read filled all the room it was offered
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
        if len(self.buffer) - self.end < self.read_size:
            # Move what waits to the front; grow only if the room is still short (reading
            # pauses at _HIGH_WATER, so the buffer stays bounded).
            pending = self.end - self.start
            if self.start:
                self.buffer[:pending] = self.buffer[self.start : self.end]
                self.start, self.end = 0, pending
            short = self.read_size - (len(self.buffer) - pending)
            if short > 0:
                self.buffer.extend(bytes(short))
        return memoryview(self.buffer)[self.end :]

    def buffer_updated(self, nbytes: int) -> None:
        self.end += nbytes
        self.filled = self.end == len(self.buffer)
        if self.filled and self.read_size < _MAX_READ:
            self.read_size *= 2
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
        if stop == self.end and not self.filled and len(self.buffer) > _FIRST_READ:
            # Quiet: let the grown buffer go (a new one is made at the next read).
            self.buffer = bytearray()
            self.start = self.end = 0
            self.read_size = _FIRST_READ
        if self.reading_paused and self.end - stop <= _HIGH_WATER // 2 and not self.lost:
            self.reading_paused = False
            assert self.transport is not None
            self.transport.resume_reading()
        return data

    async def send(self, data: bytes | memoryview, deadline: float) -> None:
        if self.lost:
            raise self._broken()
        transport = self.transport
        assert transport is not None
        # A view is copied: the transport may keep what it could not send at once (the stdlib
        # loop does from Python 3.12, uvloop does) while the caller reuses the view's memory.
        transport.write(data if isinstance(data, bytes) else bytes(data))
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


class _Event(AsyncEvent):
    """One future: set by the call that frees a connection, awaited by the one in line, with a
    plain timer for its deadline (many calls may wait at once: no timeout context each)."""

    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def set(self) -> None:
        _settle(self.future, True)

    async def wait(self, deadline: float) -> bool:
        timer = self.future.get_loop().call_at(deadline, _settle, self.future, False)
        try:
            return await self.future
        finally:
            timer.cancel()


def _settle(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


class AsyncioIO(AsyncIO[Stream]):
    name = "asyncio"

    def clock(self) -> float:
        return asyncio.get_running_loop().time()

    async def connect(self, address: Address, deadline: float) -> _Stream:
        loop = asyncio.get_running_loop()
        family, kind, proto, _, sockaddr = address
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await _within(deadline, loop.sock_connect(sock, sockaddr))
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
        assert isinstance(stream, _Stream), stream
        secure = TlsStream(stream, context, server_hostname)
        await secure.handshake(deadline)
        # A deeper write buffer lets the next piece of an upload be encrypted while the last
        # one drains.
        assert stream.transport is not None
        stream.transport.set_write_buffer_limits(high=_TLS_HIGH_WATER)
        return secure

    async def send(self, stream: Stream, data: bytes | memoryview, deadline: float) -> None:
        await stream.send(data, deadline)

    async def sendfile(
        self, stream: Stream, file: IO[bytes], offset: int, count: int, deadline: float
    ) -> int | None:
        if isinstance(stream, TlsStream):
            return None
        if stream.lost:
            raise stream._broken()
        assert stream.transport is not None
        try:
            return await _within(
                deadline,
                stream.loop.sendfile(stream.transport, file, offset, count, fallback=False),
            )
        except (asyncio.SendfileNotAvailableError, NotImplementedError):
            # Not a plain socket transport after all, or a loop without sendfile (uvloop: the
            # base class's NotImplementedError): nothing was sent yet.
            return None

    async def receive(self, stream: Stream, max_bytes: int, deadline: float) -> bytes:
        return await stream.receive(max_bytes, deadline)

    async def sleep_until(self, until: float) -> None:
        await asyncio.sleep(max(0.0, until - asyncio.get_running_loop().time()))

    async def run_in_thread(self, deadline: float, call: Callable[[], T]) -> T:
        # Not the loop's executor: asyncio.run() waits for its threads at its end (and the
        # stdlib loop resolves names there, uvloop on libuv's pool), so a call that blocks
        # for good would hold the program long after ours had ended at its deadline.
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[T] = loop.create_future()

        def settle(done: concurrent.futures.Future[T]) -> None:
            if waiter.done():  # given up on: timed out, or cancelled
                return
            error = done.exception()
            if error is not None:
                waiter.set_exception(error)
            else:
                waiter.set_result(done.result())

        def on_loop(done: concurrent.futures.Future[T]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: no one waits
                loop.call_soon_threadsafe(settle, done)

        in_daemon_thread(call).add_done_callback(on_loop)
        return await _within(deadline, waiter)

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

    def event(self) -> AsyncEvent:
        return _Event()


class DecartClient(AsyncDecartClient[Stream]):
    """A Decart Queue API client for asyncio (any loop: uvloop too). ``async with
    DecartClient() as client:`` closes its connections on exit; one client serves any number
    of concurrent tasks."""

    def _make_io(self) -> AsyncIO[Stream]:
        return AsyncioIO()
