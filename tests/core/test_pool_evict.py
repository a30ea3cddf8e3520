"""The pool gives up an idle connection when a connection to another origin needs its room (a
client at its ``max_connections``): the oldest of the origin pooled first."""

from __future__ import annotations

from decart_proto import Connection, ConnectionPool, Origin

A = Origin("https", "a.example", 443)
B = Origin("http", "b.example", 8080)


def test_evict_gives_up_the_oldest_idle_connection_of_any_origin() -> None:
    pool: ConnectionPool[str] = ConnectionPool()
    assert pool.evict() is None
    older, newer, other = Connection(A, "a1"), Connection(A, "a2"), Connection(B, "b1")
    for conn in (older, newer, other):
        pool.give_back(conn, reuse=True)
    assert pool.evict() is older
    assert pool.evict() is newer
    assert pool.take(A) is None  # forgotten: never lent out again
    assert pool.evict() is other
    assert pool.evict() is None
    assert pool.drain() == []
