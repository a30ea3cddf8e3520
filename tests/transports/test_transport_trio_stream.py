"""The trio transport's plain stream, on a socket pair: the waits a loopback test against a
server cannot force (a send into a socket already full; a wait ended by another task closing
the socket)."""

from __future__ import annotations

import contextlib
import os
import socket

import pytest
import trio
import trio.testing
from decart_proto.transports.trio import _Tcp

from decart_proto import NetworkError


def _pair() -> tuple[socket.socket, socket.socket]:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    theirs.setblocking(False)
    return ours, theirs


def _fill(sock: socket.socket) -> int:
    """Send until the socket takes no more; how much it took."""
    sent = 0
    with contextlib.suppress(BlockingIOError):
        while True:
            sent += sock.send(b"\0" * 65536)
    return sent


def test_a_send_into_a_full_socket_waits_for_room() -> None:
    ours, theirs = _pair()
    data = os.urandom(1 << 20)

    async def main() -> bytes:
        filled = _fill(ours)
        got = bytearray()

        async def read_all() -> None:
            while len(got) < filled + len(data):
                await trio.lowlevel.wait_readable(theirs)
                got.extend(theirs.recv(1 << 20))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(_Tcp(ours).send, data, trio.current_time() + 10)
            nursery.start_soon(read_all)
        return bytes(got[filled:])

    try:
        assert trio.run(main) == data
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize("op", ["send", "receive"])
def test_a_wait_ended_by_closing_the_socket_is_a_network_error(op: str) -> None:
    """A call's stream closed under it by another task (as a client's close() or a cancelled
    call's clean-up may): the waiting op ends at once, as a network failure."""
    ours, theirs = _pair()
    tcp = _Tcp(ours)

    async def main() -> list[NetworkError]:
        if op == "send":
            _fill(ours)  # the send below must wait for room that never comes
        deadline = trio.current_time() + 10
        caught: list[NetworkError] = []

        async def waiting() -> None:
            try:
                if op == "send":
                    await tcp.send(b"more", deadline)
                else:
                    await tcp.receive(100, deadline)
            except NetworkError as exc:
                caught.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiting)
            await trio.testing.wait_all_tasks_blocked()
            tcp.close()
        return caught

    try:
        (error,) = trio.run(main)
    finally:
        theirs.close()
    assert str(error) == "the connection was closed"
