"""The keep-alive pool's bookkeeping and the error classes' shapes."""

from __future__ import annotations

import inspect
import random
from typing import Any

import pytest

import decart_proto
from decart_proto import (
    Connect,
    Connection,
    ConnectionPool,
    DeadlineExceededError,
    DecartSDKError,
    Driver,
    InvalidAPIKeyError,
    IOTimeout,
    LocalProtocolError,
    NetworkError,
    Origin,
    QueueStatusError,
    Receive,
    RemoteProtocolError,
    RetryPolicy,
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


def test_a_local_protocol_error_is_no_service_error() -> None:
    # As in h11: a bug in the code driving the core must not be caught by a handler of the
    # service's errors.
    assert not issubclass(LocalProtocolError, DecartSDKError)
    error = LocalProtocolError("an op was answered with the wrong type")
    assert (error.message, str(error)) == ("an op was answered with the wrong type",) * 2


def test_a_cause_is_the_errors_chain() -> None:
    underneath = NetworkError("ConnectionResetError: Connection reset by peer")
    error = QueueStatusError("Failed to get job status: reset", cause=underneath)
    assert error.__cause__ is underneath is error.cause
    assert error.__suppress_context__  # the cause explains it, as after raise ... from
    other = IOTimeout("timed out")
    error.cause = other
    assert error.__cause__ is other
    assert DecartSDKError("m").__cause__ is None


def test_a_failure_reaches_the_caller_with_its_cause_chained() -> None:
    driver: Driver[None] = Driver(
        api_key="k" * 20,
        base_url="http://x.invalid",
        clock=lambda: 0.0,
        rand=random.Random(1),
        retry=RetryPolicy(max_retries=0),
    )
    reset = NetworkError("ConnectionResetError: Connection reset by peer")
    gen = driver.status("j1")
    reply: Any = None
    error: BaseException | None = None
    with pytest.raises(QueueStatusError) as info:
        while True:
            op = gen.throw(error) if error is not None else gen.send(reply)
            reply = Connection(op.origin, None) if isinstance(op, Connect) else None
            error = reset if isinstance(op, Receive) else None
    assert info.value.__cause__ is reset
    assert "Connection reset by peer" in info.value.message


def test_error_data_is_copied() -> None:
    data = {"status": 500}
    error = DecartSDKError("m", data)
    data["status"] = 1
    assert error.data == {"status": 500}


def test_every_public_name_is_ours_under_its_own_name() -> None:
    """A class or function is exported under the name it was defined with (a transport or a
    user importing ``Foo`` gets ``Foo``, not another class aliased to it), and from the core
    itself: no foreign module or class leaks in as a public name (an ``import h11`` in the
    package would make ``decart_proto.h11`` one)."""
    wrong = []
    for name in dir(decart_proto):
        value = getattr(decart_proto, name)
        if name.startswith("_"):
            continue
        if inspect.ismodule(value):
            ours = value.__name__.startswith("decart_proto.")
        elif inspect.isclass(value) or inspect.isfunction(value):
            ours = value.__name__ == name and value.__module__.startswith("decart_proto.")
        else:
            continue  # constants and type aliases: no name of their own
        if not ours:
            wrong.append(f"{name} is {value!r}")
    assert wrong == []
