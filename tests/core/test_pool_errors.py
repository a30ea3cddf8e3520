"""The keep-alive pool's bookkeeping and the error classes' shapes."""

from __future__ import annotations

import pytest

import decart_proto
from decart_proto import (
    Connection,
    ConnectionPool,
    DeadlineExceededError,
    DecartSDKError,
    InvalidAPIKeyError,
    IOTimeout,
    NetworkError,
    Origin,
    RemoteProtocolError,
)

A = Origin("https", "a.example", 443)
B = Origin("http", "b.example", 8080)


def test_pool_lends_the_most_recent_idle_connection_of_the_origin() -> None:
    pool = ConnectionPool()
    first, second, other = Connection(A, "s1"), Connection(A, "s2"), Connection(B, "s3")
    assert pool.take(A) is None
    for conn in (first, second, other):
        assert pool.give_back(conn, reuse=True) is None
    assert pool.take(A) is second
    assert pool.take(A) is first
    assert pool.take(A) is None
    assert pool.take(B) is other


def test_pool_closes_what_it_does_not_keep() -> None:
    pool = ConnectionPool(max_idle_per_origin=2)
    conns = [Connection(A, i) for i in range(3)]
    assert pool.give_back(conns[0], reuse=False) is conns[0]
    assert pool.give_back(conns[0], reuse=True) is None
    assert pool.give_back(conns[1], reuse=True) is None
    assert pool.give_back(conns[2], reuse=True) is conns[0]  # the oldest goes
    assert pool.drain() == conns[1:]
    assert pool.take(A) is None
    assert pool.drain() == []


def test_pool_of_zero_keeps_nothing() -> None:
    pool = ConnectionPool(max_idle_per_origin=0)
    conn = Connection(A, None)
    assert pool.give_back(conn, reuse=True) is conn
    assert pool.take(A) is None


def test_pool_refuses_a_negative_size() -> None:
    with pytest.raises(ValueError, match="max_idle_per_origin"):
        ConnectionPool(-1)


def test_origin_tls() -> None:
    assert A.tls and not B.tls


def test_error_hierarchy() -> None:
    assert issubclass(RemoteProtocolError, NetworkError)
    assert issubclass(IOTimeout, NetworkError)
    assert issubclass(DeadlineExceededError, TimeoutError)
    assert issubclass(DeadlineExceededError, DecartSDKError)
    error = InvalidAPIKeyError()
    assert "DECART_API_KEY" in error.message
    assert error.data == {} and error.cause is None


def test_error_data_is_copied() -> None:
    data = {"status": 500}
    error = DecartSDKError("m", data)
    data["status"] = 1
    assert error.data == {"status": 500}


def test_every_exported_name_exists() -> None:
    # The public names transports import are re-exported under their own names.
    for name in dir(decart_proto):
        if not name.startswith("_"):
            assert getattr(decart_proto, name) is not None
