"""What a transport implements, :class:`SyncIO` (how its event loop connects, sends, receives
and waits), and the pool of kept-alive connections a client's calls share.

Generated from ``_async_pool.py`` by ``scripts/unasync.py``: do not edit;
edit that file and run the script.
"""

from __future__ import annotations

import ssl
from collections import deque
from collections.abc import Callable
from typing import IO, Generic, Protocol, TypeVar

from decart_proto import Connection, ConnectionPool, IOTimeout, Origin, Proxy

from . import _style
from ._common import Address

__all__ = ["SyncEvent", "SyncIO", "SyncPool"]

S = TypeVar("S")
T = TypeVar("T")


class SyncEvent(Protocol):
    """A one-shot signal from one call of a client to another: how a call that frees a
    connection wakes the call waiting for one (the client's ``max_connections``)."""

    def set(self) -> None:
        """Wake the waiter (or let its wait return at once). Called with the pool's lock held,
        so it must not wait."""
        ...

    def wait(self, deadline: float) -> bool:
        """Return once set (True), or at *deadline* (False), whichever comes first; let the
        loop's own cancellation through."""
        ...


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

    def event(self) -> SyncEvent:
        """A new :class:`SyncEvent`, not set."""
        ...


class _Waiter(Generic[S]):
    """A call in the line for a connection: for an idle one to ``key`` (origin, proxy) or room
    to open one; or, with ``key`` None, for room only (a request that must go on a new
    connection). Whoever frees something sets ``granted`` (and ``conn``, for a connection
    handed over) under the pool's lock, then the event."""

    __slots__ = ("conn", "event", "granted", "key")

    def __init__(self, key: tuple[Origin, Proxy | None] | None, event: SyncEvent) -> None:
        self.key = key
        self.event = event
        self.granted = False
        self.conn: Connection[S] | None = None


class SyncPool(Generic[S]):
    """A client's connections: at most ``max_connections`` open at once (None: no limit),
    counting those lent to calls, those idle here, and room reserved for ones being opened;
    of those, the idle kept-alive ones, at most ``max_idle_per_origin`` per origin.

    A call asks for a connection at ``Acquire`` (:meth:`acquire`: an idle one, or room for a
    new one, which its ``Connect`` then uses) or, for a request that must go on a new
    connection, at ``Connect`` (:meth:`reserve`). At the limit it waits in one line, first come
    first served: whatever a call frees goes to the first in line — a connection given back
    after a clean exchange, handed over as it is when the first waits for one to its origin,
    else closed to make room; an idle connection is closed when room is needed, so nothing
    sits idle while a call waits. Every close (an exchange that failed, a stale connection, a
    cancelled call's clean-up, a failed connect) frees its room the same way."""

    def __init__(
        self, io: SyncIO[S], max_idle_per_origin: int, max_connections: int | None = None
    ) -> None:
        self._io = io
        self._pooled: ConnectionPool[S] = ConnectionPool(max_idle_per_origin)
        self._lock = _style.SyncPoolLock()
        self._closed = False
        self.max_connections = max_connections
        self.open = 0  # lent out, idle, or reserved for a connect
        self._line: deque[_Waiter[S]] = deque()

    def acquire(
        self, origin: Origin, proxy: Proxy | None, deadline: float
    ) -> Connection[S] | None:
        """An idle connection to *origin* (through *proxy*) still fit for a request; or None,
        with room reserved for a new one (closing the stale ones found on the way). Waits its
        turn at the limit, until *deadline*: then :class:`IOTimeout`."""
        key = (origin, proxy)
        while True:
            with self._lock:
                # Behind those already waiting (who would have had any idle connection).
                conn = None if self._line else self._pooled.take(origin, proxy)
                if conn is None:
                    waiter, evicted = self._room(key)
            if conn is None:
                if evicted is not None:
                    self._io.close(evicted.stream)
                return None if waiter is None else self._wait(waiter, deadline)
            if not self._io.is_stale(conn.stream):
                return conn
            self.discard(conn)

    def reserve(self, deadline: float) -> None:
        """Room for a new connection, waited for as in :meth:`acquire`: for a request that
        must not go on an idle one."""
        with self._lock:
            waiter, evicted = self._room(None)
        if evicted is not None:
            self._io.close(evicted.stream)
        if waiter is not None:
            self._wait(waiter, deadline)

    def give_back(self, conn: Connection[S], reuse: bool) -> None:
        """*conn*, lent out, after its exchange: to the first in line or into the pool when
        *reuse*, else closed."""
        with self._lock:
            closing: Connection[S] | None = conn
            if reuse and not self._closed:
                if not self._line:
                    closing = self._pooled.give_back(conn, reuse=True)
                elif self._line[0].key == (conn.origin, conn.proxy):
                    self._grant(conn)
                    closing = None
            if closing is not None:
                self._freed()
        if closing is not None:
            self._io.close(closing.stream)

    def discard(self, conn: Connection[S]) -> None:
        """Close *conn* (lent out, or just taken and stale): its room to the first in line."""
        with self._lock:
            self._freed()
        self._io.close(conn.stream)

    def unreserve(self) -> None:
        """Room reserved and not used (the connect failed; the call ended first)."""
        with self._lock:
            self._freed()

    def close(self) -> None:
        """Close the idle connections, and those that calls still running give back later."""
        with self._lock:
            self._closed = True
            idle = self._pooled.drain()
            for _ in idle:
                self._freed()
        for conn in idle:
            self._io.close(conn.stream)

    # -- under the lock ---------------------------------------------------------------------

    def _room(
        self, key: tuple[Origin, Proxy | None] | None
    ) -> tuple[_Waiter[S] | None, Connection[S] | None]:
        """Room for a new connection now (no waiter; and the idle connection to close to make
        it, if one had to go), or the caller's place at the end of the line."""
        limit = self.max_connections
        if not self._line:
            if limit is None or self.open < limit:
                self.open += 1
                return None, None
            evicted = self._pooled.evict()
            if evicted is not None:
                return None, evicted  # its room is the new connection's
        waiter: _Waiter[S] = _Waiter(key, self._io.event())
        self._line.append(waiter)
        return waiter, None

    def _grant(self, conn: Connection[S] | None) -> None:
        waiter = self._line.popleft()
        waiter.granted = True
        waiter.conn = conn
        waiter.event.set()

    def _freed(self) -> None:
        """A connection closed, or reserved room given up: the first in line has the room."""
        if self._line:
            self._grant(None)
        else:
            self.open -= 1

    def _wait(self, waiter: _Waiter[S], deadline: float) -> Connection[S] | None:
        try:
            waiter.event.wait(deadline)
        except BaseException:
            # Cancelled. What was handed over meanwhile goes on to the next in line.
            with self._lock:
                if not waiter.granted:
                    self._line.remove(waiter)
                    raise
            if waiter.conn is not None:
                self.give_back(waiter.conn, reuse=True)
            else:
                self.unreserve()
            raise
        with self._lock:
            if not waiter.granted:  # (granted at the deadline itself counts as in time)
                self._line.remove(waiter)
                limit = self.max_connections
                raise IOTimeout(
                    f"no connection came free in time: all {limit} that the client may open "
                    f"(max_connections={limit}) were in use by its other calls; raise "
                    "max_connections, or make fewer calls at once"
                )
        return waiter.conn
