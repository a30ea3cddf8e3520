"""The async clients' deadline holds on an upload that a server reads slowly but steadily: each
wait on the socket is short, so only a deadline that counts the whole call ends it. Over TLS
that is our TLS layer's sends (asyncio, uvloop and trio alike); over plain TCP, asyncio's
``loop.sendfile`` (stdlib loop) or chunks (uvloop, trio)."""

from __future__ import annotations

import importlib
import io
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import trustme
from transport_helpers import SlowReader

from decart_proto import DeadlineExceededError, models

pytestmark = pytest.mark.anyio

MODEL = models.video("lucy-2.1")
DEADLINE = 1.0
# How long past its deadline a call may end: far less is the goal; the rest is slack for a
# loaded machine. The upload below takes over 10 s at the server's pace.
SLACK = 2.0
UPLOAD = 32 * 1024 * 1024


@pytest.fixture(params=("asyncio", "uvloop", "trio"))
def loop(request: pytest.FixtureRequest) -> str:
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    return str(request.param)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def slow_server(scheme: str, ca: trustme.CA) -> Iterator[tuple[str, Any]]:
    """The server's base URL and the client's TLS context (None for plain HTTP)."""
    if scheme == "http":
        with SlowReader(None) as server:
            yield f"http://127.0.0.1:{server.port}", None
        return
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with SlowReader(server_context) as server:
        yield f"https://127.0.0.1:{server.port}", client_context


async def test_a_slowly_read_upload_ends_at_the_deadline(
    transport: str, slow_server: tuple[str, Any], tmp_path: Path
) -> None:
    """From a path (sendfile on plain TCP where the loop has it) and, at the same time, from a
    file object without a descriptor (chunks, whatever the scheme)."""
    base_url, context = slow_server
    path = tmp_path / "input.mp4"
    path.write_bytes(bytes(UPLOAD))
    sources = {"path": path, "file object": io.BufferedReader(io.BytesIO(bytes(UPLOAD)))}
    module = importlib.import_module(f"decart_proto.transports.{transport}")
    took: dict[str, float] = {}

    async def upload(client: Any, source: str) -> None:
        start = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            await client.queue.submit(
                {"model": MODEL, "data": sources[source], "prompt": "x"}, timeout=DEADLINE
            )
        took[source] = time.monotonic() - start

    client = module.DecartClient(api_key="k", base_url=base_url, ssl_context=context)
    async with client, anyio.create_task_group() as group:
        for source in sources:
            group.start_soon(upload, client, source)
    for source, seconds in took.items():
        assert DEADLINE <= seconds < DEADLINE + SLACK, f"{source}: {seconds:.1f} s"
    assert len(took) == len(sources)
