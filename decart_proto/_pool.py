"""Idle keep-alive connections, per origin and route (straight, or through a proxy): pure
bookkeeping a transport guards with its own lock where it has threads.
A connection is in the pool only between exchanges; one lent out is the transport's to track
(per call) and to close if the call is cancelled, so that a half-used connection never returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from ._ops import Connection
from ._requests import Origin

if TYPE_CHECKING:
    from ._proxy import Proxy

__all__ = ["ConnectionPool"]

S = TypeVar("S")


class ConnectionPool(Generic[S]):
    def __init__(self, max_idle_per_origin: int = 8) -> None:
        if max_idle_per_origin < 0:
            raise ValueError("max_idle_per_origin must be >= 0")
        self.max_idle = max_idle_per_origin
        self._idle: dict[tuple[Origin, Proxy | None], list[Connection[S]]] = {}

    def take(self, origin: Origin, proxy: Proxy | None = None) -> Connection[S] | None:
        """The most recently used idle connection to *origin* through *proxy* (the likeliest
        to be alive), or None. A connection to the proxy, or through another, is no connection
        to the origin (a tunnel leads to one origin only)."""
        idle = self._idle.get((origin, proxy))
        return idle.pop() if idle else None

    def give_back(self, conn: Connection[S], reuse: bool) -> Connection[S] | None:
        """Return *conn*; the connection the transport must now close, if any."""
        if not reuse:
            return conn
        idle = self._idle.setdefault((conn.origin, conn.proxy), [])
        idle.append(conn)
        if len(idle) > self.max_idle:
            return idle.pop(0)
        return None

    def evict(self) -> Connection[S] | None:
        """The idle connection to give up when one to another origin needs its room (a limit
        on open connections), forgotten: the oldest of the origin pooled first; None when none
        is idle."""
        for idle in self._idle.values():
            if idle:
                return idle.pop(0)
        return None

    def drain(self) -> list[Connection[S]]:
        """Every idle connection, forgotten: for the transport to close on exit."""
        every = [c for idle in self._idle.values() for c in idle]
        self._idle.clear()
        return every
