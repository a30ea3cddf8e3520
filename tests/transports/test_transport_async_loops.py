"""The async clients on the user's own loops: one client kept across several ``asyncio.run()``,
``uvloop.run()`` or ``trio.run()`` calls, as a program that builds its client at import time
does. Connections made on a loop that has ended are dropped, never reused, and fresh ones made.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from pathlib import Path
from typing import Any

import pytest
from transport_helpers import Api, client_options, run_on

from decart_emulator import Emulator
from decart_proto import models

MODEL = models.video("lucy-2.1")


@pytest.fixture(params=("asyncio", "uvloop", "trio"))
def loop(request: pytest.FixtureRequest) -> str:
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    return str(request.param)


def _client(transport: str, emu: Emulator) -> Any:
    module = importlib.import_module(f"decart_proto.transports.{transport}")
    return module.DecartClient(**client_options(emu))


def _plain(stream: Any) -> Any:
    """The plain connection under a stream (under TLS, the stream it runs over)."""
    return getattr(stream, "tcp", stream)


@pytest.mark.usefixtures("instant_jobs")
def test_a_client_outlives_its_loop(
    loop: str, transport: str, emu: Emulator, video: tuple[Path, bytes]
) -> None:
    path, data = video
    client = _client(transport, emu)
    api = Api(transport, client)

    async def first() -> str:
        job = await client.queue.submit({"model": MODEL, "data": path, "prompt": "x"})
        await client.queue.wait(job.job_id, output=os.devnull)
        return str(job.job_id)

    job_id = run_on(loop, first)
    old = [_plain(conn.stream) for conn in api.idle_connections()]
    assert old, "the first run's connection was not kept alive: nothing to test"

    async def second() -> tuple[Any, Any]:
        # A download, an upload (sendfile on plain TCP) and a status, all on the new loop.
        result = await client.queue.result(job_id)
        job = await client.queue.submit({"model": MODEL, "data": path, "prompt": "x"})
        return result, await client.queue.status(job.job_id)

    result, status = run_on(loop, second)
    assert (result.status, result.data) == ("completed", data)
    assert status.status in ("pending", "processing", "completed")
    if loop != "trio":  # a trio socket belongs to no run: reusing it is right
        assert not {id(s) for s in old} & {id(_plain(c.stream)) for c in api.idle_connections()}
        # Closed, not left open until the garbage collector finds them.
        assert [stream.socket.fileno() for stream in old] == [-1]

    async def close() -> None:
        await client.close()

    run_on(loop, close)
    assert api.idle_connections() == []


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_connection_of_a_live_loop_is_closed_on_that_loop(
    loop: str, transport: str, emu: Emulator
) -> None:
    # The first loop is idle, not closed: the connection it made is closed on it when it runs
    # again (a transport is not to be touched from another loop).
    client = _client(transport, emu)
    api = Api(transport, client)
    new_loop = importlib.import_module("uvloop" if loop == "uvloop" else "asyncio").new_event_loop
    first: asyncio.AbstractEventLoop = new_loop()
    try:
        job = first.run_until_complete(
            client.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
        )
        (old,) = [_plain(conn.stream) for conn in api.idle_connections()]

        async def status() -> Any:
            return await client.queue.status(job.job_id)

        assert run_on(loop, status).job_id == job.job_id
        assert not old.transport.is_closing()
        first.run_until_complete(asyncio.sleep(0))
        assert old.transport.is_closing()
    finally:
        first.close()
