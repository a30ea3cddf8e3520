"""The trio transport: ``async with DecartClient() as client: await client.queue...``.

Deadlines are trio cancel scopes on trio's clock, which is also the driver's clock, so a test
under ``trio.testing.MockClock`` runs polling and timeouts in virtual time. Uploads are sent
in chunks (trio has no ``sendfile``); TLS is ``_tls`` over the plain stream below.

Why a plain stream of our own rather than ``trio.SocketStream``: a status request is one send
and one receive, and trio's stream costs each of them a cancel scope (for the deadline), a
scheduler pass and two context managers. :class:`_Tcp` tries the socket first and opens a
cancel scope only around an actual wait, which is where a deadline can matter.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import IO, TypeVar

try:
    import trio
except ModuleNotFoundError as exc:  # trio is an extra: say which, not only "No module named"
    if exc.name != "trio":
        raise
    raise ModuleNotFoundError(
        "decart_proto.transports.trio needs trio: pip install 'decart-proto[trio]'", name="trio"
    ) from None
from trio.lowlevel import (
    cancel_shielded_checkpoint,
    checkpoint_if_cancelled,
    notify_closing,
    wait_readable,
    wait_writable,
)

from decart_proto import IOTimeout, NetworkError

from . import _exports
from ._async_client import AsyncDecartClient, AsyncIO
from ._async_client import AsyncQueueClient as QueueClient
from ._async_pool import AsyncEvent
from ._common import Address, readable_now
from ._exports import *  # noqa: F403 - the names of the Queue API docs' imports
from ._tls import TlsStream

__all__ = ["DecartClient", "QueueClient"]
__all__ += _exports.__all__

T = TypeVar("T")


async def _within(deadline: float, awaitable: Awaitable[T]) -> T:
    """*awaitable*'s result, or IOTimeout once trio's clock reaches *deadline*."""
    with trio.move_on_at(deadline):
        return await awaitable
    raise IOTimeout("timed out")


async def _wait_readable(sock: socket.socket, deadline: float) -> None:
    """Wait until *sock* is readable, under a cancel scope for *deadline* (a checkpoint)."""
    with trio.move_on_at(deadline):
        try:
            await wait_readable(sock)
        except trio.ClosedResourceError:
            # Closed by another task (client.close(), or a cancelled call's clean-up).
            raise NetworkError("the connection was closed") from None
        return
    raise IOTimeout("timed out")


class _Tcp:
    """A connected non-blocking socket moved by trio's low-level waits.

    Cancellation: every send and receive starts with ``checkpoint_if_cancelled``, and every
    wait is a full checkpoint, so a cancelled call stops at its next op. A receive that finds
    data without waiting still passes through the scheduler (a download must not starve other
    tasks); a send that did not wait does not, since the receive that follows it in every
    exchange does. Deadlines: a cancel scope is opened only once an op has to wait."""

    def __init__(self, sock: socket.socket) -> None:
        self.socket = sock

    async def send(self, data: bytes | memoryview, deadline: float) -> None:
        await checkpoint_if_cancelled()
        sock = self.socket
        with memoryview(data) as view:
            total = len(view)
            try:
                done = sock.send(view)
            except BlockingIOError:
                done = 0
            if done == total:
                return
            # One cancel scope for all the waits of a large send (a scope per wait cost a
            # TLS upload ~8%).
            with trio.move_on_at(deadline):
                try:
                    while done < total:
                        try:
                            done += sock.send(view[done:])
                        except BlockingIOError:
                            await wait_writable(sock)
                except trio.ClosedResourceError:
                    raise NetworkError("the connection was closed") from None
                return
        raise IOTimeout("timed out")

    async def receive(self, max_bytes: int, deadline: float) -> bytes:
        await checkpoint_if_cancelled()
        sock = self.socket
        try:
            data = sock.recv(max_bytes)
        except BlockingIOError:
            pass
        else:
            await cancel_shielded_checkpoint()
            return data
        while True:
            await _wait_readable(sock, deadline)
            try:
                return sock.recv(max_bytes)
            except BlockingIOError:
                continue

    def close(self) -> None:
        # Wakes any task still waiting on the socket (with ClosedResourceError).
        notify_closing(self.socket)
        self.socket.close()


Stream = _Tcp | TlsStream[_Tcp]


class _Event(AsyncEvent):
    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = trio.Event()

    def set(self) -> None:
        self.event.set()

    async def wait(self, deadline: float) -> bool:
        with trio.move_on_at(deadline):
            await self.event.wait()
        return self.event.is_set()


class TrioIO(AsyncIO[Stream]):
    name = "trio"

    def clock(self) -> float:
        return trio.current_time()

    async def connect(self, address: Address, deadline: float) -> _Tcp:
        family, kind, proto, _, sockaddr = address
        opening = trio.socket.socket(family, kind, proto)
        try:
            opening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await _within(deadline, opening.connect(sockaddr))
        except BaseException:
            opening.close()
            raise
        # Connected: the socket moves to a plain one of our own (see _Tcp).
        sock = socket.socket(fileno=opening.detach())
        sock.setblocking(False)
        return _Tcp(sock)

    async def start_tls(
        self, stream: Stream, context: ssl.SSLContext, server_hostname: str, deadline: float
    ) -> Stream:
        assert isinstance(stream, _Tcp), stream
        secure = TlsStream(stream, context, server_hostname)
        await secure.handshake(deadline)
        return secure

    async def send(self, stream: Stream, data: bytes | memoryview, deadline: float) -> None:
        await stream.send(data, deadline)

    async def sendfile(
        self, stream: Stream, file: IO[bytes], offset: int, count: int, deadline: float
    ) -> int | None:
        return None  # trio has no sendfile: the run loop sends the file in pieces

    async def receive(self, stream: Stream, max_bytes: int, deadline: float) -> bytes:
        return await stream.receive(max_bytes, deadline)

    async def sleep_until(self, until: float) -> None:
        await trio.sleep_until(until)

    async def run_in_thread(self, deadline: float, call: Callable[[], T]) -> T:
        return await _within(deadline, trio.to_thread.run_sync(call, abandon_on_cancel=True))

    def is_stale(self, stream: Stream) -> bool:
        if isinstance(stream, TlsStream):
            if stream.buffered():
                return True
            stream = stream.tcp
        return readable_now(stream.socket.fileno())

    def close(self, stream: Stream) -> None:
        stream.close()

    def event(self) -> AsyncEvent:
        return _Event()


class DecartClient(AsyncDecartClient[Stream]):
    """A Decart Queue API client for trio. ``async with DecartClient() as client:`` closes its
    connections on exit; one client serves any number of concurrent tasks."""

    def _make_io(self) -> AsyncIO[Stream]:
        return TrioIO()
