"""What a transport implements, :class:`SyncIO` (how its event loop connects, sends, receives
and waits), and the pool of kept-alive connections a client's calls share.

Generated from ``_async_pool.py`` by ``scripts/unasync.py``: do not edit;
edit that file and run the script.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import IO, Generic, Protocol, TypeVar

from decart_proto import Connection, ConnectionPool, Origin, Proxy

from . import _style
from ._common import Address

__all__ = ["SyncIO", "SyncPool"]

S = TypeVar("S")
T = TypeVar("T")


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

    def take(self, origin: Origin, proxy: Proxy | None = None) -> Connection[S] | None:
        """An idle connection to *origin* (through *proxy*) still fit for a request, or None;
        the stale ones found on the way are closed."""
        while True:
            with self._lock:
                conn = self._pooled.take(origin, proxy)
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
