"""Memory per connection in proportion to what it holds: the asyncio transport's receive
buffer grows for a download (large reads, fewer system calls) and is let go once the
connection is idle, so that a pool of kept-alive connections holds kilobytes, not a download's
worth each."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from decart_proto.transports.asyncio import _FIRST_READ, DecartClient
from transport_helpers import read_request_head

pytestmark = pytest.mark.anyio
VIDEO = bytes(range(256)) * (8 << 10)  # 2 MiB


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def video_server() -> Iterator[str]:
    """A server of the test's own on 127.0.0.1: keep-alive answers, the 2 MiB video for a
    result, a completed status otherwise."""
    listener = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while read_request_head(conn):
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(VIDEO), VIDEO)
                )

    def accept() -> None:
        listener.settimeout(0.1)
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stopping.set()
        thread.join(timeout=5)
        listener.close()


async def test_an_idle_connection_lets_a_download_buffer_go(video_server: str) -> None:
    async with DecartClient(api_key="k", base_url=video_server) as client:
        result = await client.queue.result("job-1")
        assert result.data == VIDEO
        idle = [conn for pooled in client._pool._pooled._idle.values() for conn in pooled]
        assert len(idle) == 1
        stream = idle[0].stream
        assert len(stream.buffer) <= _FIRST_READ
        # The next download grows it again.
        assert (await client.queue.result("job-1")).data == VIDEO
