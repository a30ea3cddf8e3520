"""The asyncio transport's receive buffer, fed by hand: the paths a loopback test cannot force
(a consumer slower than the network: the buffer compacts, grows, and pauses reading)."""

from __future__ import annotations

import asyncio
import os

from decart_proto.transports.asyncio import _Stream


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.paused = False

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def is_closing(self) -> bool:
        return False


def _feed(stream: _Stream, data: bytes) -> None:
    while data:
        room = stream.get_buffer(-1)
        n = min(len(room), len(data))
        room[:n] = data[:n]
        room.release()
        stream.buffer_updated(n)
        data = data[n:]


def test_slow_consumer_gets_every_byte_in_order_and_pauses_the_network() -> None:
    async def main() -> None:
        stream = _Stream(asyncio.get_running_loop())
        transport = _Transport()
        stream.connection_made(transport)
        sent = os.urandom(3 << 20)
        got = bytearray()
        deadline = asyncio.get_running_loop().time() + 10
        # Feed 100 kB at a time, take 64 KiB at a time: the waiting bytes grow until reading
        # pauses above 1 MiB, and resume once the consumer catches up.
        position = 0
        paused_seen = False
        while len(got) < len(sent):
            if position < len(sent) and not transport.paused:
                _feed(stream, sent[position : position + 100_000])
                position += 100_000
            paused_seen |= transport.paused
            got += await stream.receive(65536, deadline)
        assert bytes(got) == sent
        assert paused_seen and not transport.paused
        assert len(stream.buffer) <= 4 << 20  # grew, but stayed bounded

    asyncio.run(main())


def test_end_of_stream_after_the_last_bytes() -> None:
    async def main() -> None:
        stream = _Stream(asyncio.get_running_loop())
        stream.connection_made(_Transport())
        _feed(stream, b"tail")
        stream.eof_received()
        deadline = asyncio.get_running_loop().time() + 10
        assert await stream.receive(2, deadline) == b"ta"
        assert await stream.receive(100, deadline) == b"il"
        assert await stream.receive(100, deadline) == b""

    asyncio.run(main())


def test_a_connection_holds_no_large_buffer_before_it_needs_one() -> None:
    """Memory per connection: nothing before the first read, and a small buffer for a status
    answer (a client may hold many connections); a download grows it, bounded."""

    async def main() -> None:
        stream = _Stream(asyncio.get_running_loop())
        stream.connection_made(_Transport())
        assert len(stream.buffer) == 0
        answer = b"HTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\n" + b"x" * 40
        _feed(stream, answer)
        deadline = asyncio.get_running_loop().time() + 10
        assert await stream.receive(65536, deadline) == answer
        assert 0 < len(stream.buffer) <= 16 * 1024
        # A download: every read fills the room it was offered, so the reads grow.
        for _ in range(8):
            with stream.get_buffer(-1) as room:
                offered = len(room)
            _feed(stream, os.urandom(offered))
            while await stream.receive(65536, deadline) and stream.start != stream.end:
                pass
        assert 16 * 1024 < len(stream.buffer) <= 256 * 1024

    asyncio.run(main())
