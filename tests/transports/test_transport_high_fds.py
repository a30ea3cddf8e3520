"""A process tracking thousands of jobs holds descriptors above 1023, where ``select`` refuses
to look: an idle pooled connection there must not be judged closed (and reconnected) for it."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
from collections.abc import Iterator

import pytest
from decart_proto.transports import blocking, trio

HIGH = 2000


@pytest.fixture
def high_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= HIGH:
        pytest.fail(f"the test needs descriptors above {HIGH}; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, HIGH + 10), hard))
    a, b = socket.socketpair()
    high = socket.socket(fileno=os.dup2(a.fileno(), HIGH))
    a.close()
    try:
        yield high, b
    finally:
        high.close()
        b.close()
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def stale(transport: str, sock: socket.socket) -> bool:
    if transport == "trio":
        return trio.TrioIO().is_stale(trio._Tcp(sock))
    return blocking._Stream(sock).stale()


@pytest.mark.parametrize("transport", ["blocking", "trio"])
def test_an_idle_connection_above_1023_is_not_stale(
    transport: str, high_pair: tuple[socket.socket, socket.socket]
) -> None:
    high, _ = high_pair
    assert high.fileno() >= 1024
    assert stale(transport, high) is False


@pytest.mark.parametrize("transport", ["blocking", "trio"])
def test_a_closed_connection_above_1023_is_stale(
    transport: str, high_pair: tuple[socket.socket, socket.socket]
) -> None:
    high, peer = high_pair
    peer.close()
    assert stale(transport, high) is True
