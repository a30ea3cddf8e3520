"""The end of a TLS stream, both ways a server may end it: an answer whose body runs to the end
of the connection (no Content-Length) is read whole whether the server says close_notify first
or just closes the socket (a "ragged" end). For HTTPS both are the end of the stream: the HTTP
framing says whether anything is missing (RFC 9110 9.8).

The server is a small one of the test's own, as such a server would be: it reads a request's
head, answers with a body framed by the end of the connection, and closes the way asked.
"""

from __future__ import annotations

import contextlib
import importlib
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from transport_helpers import Api, read_request_head

from decart_proto import RetryPolicy

pytestmark = pytest.mark.anyio

BODY = b'{"job_id": "job-1", "status": "processing"}'
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n" + BODY


class _ClosingServer:
    """Answers each request with ANSWER, then ends the TLS stream with close_notify
    (``notify``) or by closing the socket under it."""

    def __init__(self, tls: ssl.SSLContext, notify: bool) -> None:
        self.tls = tls
        self.notify = notify
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.answered = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            with raw:
                raw.settimeout(5)
                with contextlib.suppress(OSError):  # a client that gave up: the next one
                    self._answer(self.tls.wrap_socket(raw, server_side=True))

    def _answer(self, conn: ssl.SSLSocket) -> None:
        if not read_request_head(conn):
            return
        conn.sendall(ANSWER)
        self.answered += 1
        if self.notify:
            conn.unwrap()  # close_notify, then the plain socket closes
        # else: the socket closes with no close_notify (SSLSocket.close() sends none)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        self.listener.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(params=["close_notify", "ragged"])
def server(request: pytest.FixtureRequest, ca: trustme.CA) -> Iterator[_ClosingServer]:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    started = _ClosingServer(tls, notify=request.param == "close_notify")
    yield started
    started.stop()


async def test_a_body_that_ends_with_the_tls_stream_is_read_whole(
    transport: str, server: _ClosingServer, ca: trustme.CA
) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    options: dict[str, Any] = {
        "api_key": "key",
        "base_url": f"https://127.0.0.1:{server.port}",
        "retry": RetryPolicy(max_retries=0),
        "ssl_context": context,
    }
    module = importlib.import_module(f"decart_proto.transports.{transport}")
    client = module.DecartClient(**options)
    try:
        api = Api(transport, client)
        for _ in range(2):  # the second on a new connection: the first was closed
            status = await api.queue.status("job-1", timeout=10)
            assert (status.job_id, status.status) == ("job-1", "processing")
    finally:
        if transport == "blocking":
            client.close()
        else:
            await client.close()
    assert server.answered == 2
