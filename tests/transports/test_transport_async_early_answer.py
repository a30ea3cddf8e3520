"""A server that answers before reading the upload (a 401 for a bad key) and closes: every
transport reports that answer, not the broken pipe or reset its close causes, every time.

The server is a small one of the test's own on raw sockets, as such a server would be: it reads
the request's head, sends its 401 and closes with the body unread, so its kernel resets the
connection while the client is still sending. It sets TCP_NODELAY so that its answer leaves at
once: held back (Nagle's algorithm, behind the TLS session tickets) it would be discarded by
the reset, and no client could read it.
"""

from __future__ import annotations

import importlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from transport_helpers import Api, read_request_head

from decart_proto import RetryPolicy, models

pytestmark = pytest.mark.anyio

MODEL = models.video("lucy-2.1")
DETAIL = b'{"detail":"Invalid API key"}'
ANSWER = (
    b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(DETAIL), DETAIL)
)
RUNS = 20


class _EarlyAnswerServer:
    """Answers every request with a 401 as soon as its head is in, then closes."""

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        self.tls = tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.answered = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            conn, _ = self.listener.accept()
            if self.stopping:
                conn.close()
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            if not read_request_head(conn):
                return
            conn.sendall(ANSWER)
            self.answered += 1
        except OSError:
            pass
        finally:
            conn.close()  # the body unread: the kernel resets the connection

    def stop(self) -> None:
        self.stopping = True
        socket.create_connection(("127.0.0.1", self.port)).close()  # wakes the accept
        self.thread.join(timeout=10)
        self.listener.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server(scheme: str, ca: trustme.CA) -> Iterator[_EarlyAnswerServer]:
    tls = None
    if scheme == "https":
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1").configure_cert(tls)
    started = _EarlyAnswerServer(tls)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def big_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Far more than the socket buffers hold, so the upload is under way when the reset comes."""
    path = tmp_path_factory.mktemp("early") / "big.mp4"
    path.write_bytes(b"\0" * (32 << 20))
    return path


@pytest.mark.parametrize("kind", ["file", "bytes"])
async def test_an_answer_before_the_upload_ends_is_what_the_caller_gets(
    transport: str,
    scheme: str,
    server: _EarlyAnswerServer,
    ca: trustme.CA,
    big_video: Path,
    kind: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    options: dict[str, Any] = {
        "api_key": "not-the-key",
        "base_url": f"{scheme}://127.0.0.1:{server.port}",
        "retry": RetryPolicy(max_retries=0),
    }
    if scheme == "https":
        options["ssl_context"] = context = ssl.create_default_context()
        ca.configure_trust(context)
    module = importlib.import_module(f"decart_proto.transports.{transport}")
    client = module.DecartClient(**options)
    data = big_video if kind == "file" else big_video.read_bytes()
    outcomes: list[str] = []
    try:
        api = Api(transport, client)
        for _ in range(RUNS):
            with pytest.raises(module.QueueSubmitError) as caught:
                await api.queue.submit({"model": MODEL, "data": data, "prompt": "x"}, timeout=30)
            outcomes.append(str(caught.value))
    finally:
        if transport == "blocking":
            client.close()
        else:
            await client.close()
    expected = f"Failed to submit job: 401 - {DETAIL.decode()}"
    assert [o.split(" (request id")[0] for o in outcomes] == [expected] * RUNS, outcomes
    assert server.answered == RUNS
    # Nothing was written to a connection already lost (asyncio logs each such write).
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
