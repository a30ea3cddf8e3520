"""The trio transport: ``async with DecartClient() as client: await client.queue...``.

Deadlines are trio cancel scopes on trio's clock, which is also the driver's clock, so a test
under ``trio.testing.MockClock`` runs polling and timeouts in virtual time. Uploads are sent
in chunks (trio has no ``sendfile``); TLS is ``_trio_tls`` over trio's SocketStream.
"""

from __future__ import annotations

import select
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

from decart_proto import FileRegion, IOTimeout, NetworkError, Origin, models

from . import _errors
from ._async_client import AsyncDecartClient, AsyncIO, QueueClient
from ._common import network_error, opened_region
from ._errors import *  # noqa: F403 - the error classes of the Queue API docs' imports
from ._trio_tls import TlsStream

# The names of the Queue API docs' imports, so their examples run with the import line changed.
__all__ = ["DecartClient", "QueueClient", "models"]
__all__ += _errors.__all__

T = TypeVar("T")
_CHUNK = 1 << 20
Stream = trio.SocketStream | TlsStream


async def _within(deadline: float, awaitable: Awaitable[T]) -> T:
    """*awaitable*'s result, or IOTimeout once trio's clock reaches *deadline*; trio's stream
    errors in the core's terms."""
    with trio.move_on_at(deadline):
        try:
            return await awaitable
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            cause = exc.__cause__
            raise (
                network_error(cause)
                if cause is not None
                else NetworkError("the connection was closed")
            ) from None
    raise IOTimeout("timed out")


class TrioIO(AsyncIO):
    name = "trio"

    def clock(self) -> float:
        return trio.current_time()

    async def connect(self, origin: Origin, tls: ssl.SSLContext | None, deadline: float) -> object:
        tcp = await _within(deadline, trio.open_tcp_stream(origin.host, origin.port))
        if tls is None:
            return tcp
        stream = TlsStream(tcp, tls, origin.host)
        try:
            await _within(deadline, stream.handshake())
        except BaseException:
            tcp.socket.close()
            raise
        return stream

    async def send(self, stream: Stream, data: bytes, deadline: float) -> None:
        await _within(deadline, stream.send_all(data))

    async def send_file(self, stream: Stream, region: FileRegion, deadline: float) -> int:
        assert region.length is not None
        sent = 0
        with opened_region(region) as f:
            while sent < region.length:
                # One chunk at a time from a local file: short enough to read on the loop.
                chunk = f.read(min(_CHUNK, region.length - sent))
                if not chunk:
                    break
                await _within(deadline, stream.send_all(chunk))
                sent += len(chunk)
        return sent

    async def receive(self, stream: Stream, max_bytes: int, deadline: float) -> bytes:
        return bytes(await _within(deadline, stream.receive_some(max_bytes)))

    async def sleep_until(self, until: float) -> None:
        await trio.sleep_until(until)

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(fn, *args, abandon_on_cancel=True)

    def is_stale(self, stream: Stream) -> bool:
        sock = stream.socket
        try:
            readable, _, _ = select.select([sock.fileno()], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def close(self, stream: Stream) -> None:
        # Synchronous on purpose: it runs while a call is being cancelled, where an await
        # would be cancelled too. trio wakes any task still waiting on the socket.
        stream.socket.close()


class DecartClient(AsyncDecartClient):
    """A Decart Queue API client for trio. ``async with DecartClient() as client:`` closes its
    connections on exit; one client serves any number of concurrent tasks."""

    def _make_io(self) -> AsyncIO:
        return TrioIO()
