"""One integration suite for every transport: each test body is an ``async def`` run by anyio's
pytest plugin, parametrized over blocking / asyncio / uvloop / trio x http / https.

The asyncio and trio clients are awaited directly on their own loop (anyio's backend is picked
to match the transport; ``uvloop`` is the asyncio client on uvloop, and its tests see
``transport == "asyncio"``). The blocking client's calls run in a worker thread of the asyncio
backend, so the same ``await api.queue.submit(...)`` line drives all three; its own timeout and
threading are the real ones.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from transport_helpers import (
    LOOPS,
    PENDING,
    PROCESSING,
    SCHEMES,
    SECRET,
    Api,
    anyio_backend_of,
    client_options,
    module_of,
)

from decart_emulator import Emulator, Fault


@pytest.fixture(params=LOOPS)
def loop(request: pytest.FixtureRequest) -> str:
    """The loop under test, which names the test: blocking, asyncio, uvloop or trio."""
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    return str(request.param)


@pytest.fixture
def transport(loop: str) -> str:
    """The client module under test: ``decart_proto.transports.<transport>``."""
    return module_of(loop)


@pytest.fixture
def anyio_backend(loop: str) -> Any:
    return anyio_backend_of(loop)


@pytest.fixture(params=SCHEMES)
def scheme(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def emulators() -> Iterator[dict[str, Emulator]]:
    """One emulator per scheme for the whole session (starting one costs a certificate)."""
    started: dict[str, Emulator] = {}
    with contextlib.ExitStack() as stack:
        for name in SCHEMES:
            emu = Emulator(
                api_keys=("test-key", SECRET),
                pending_seconds=PENDING,
                processing_seconds=PROCESSING,
                tls=name == "https",
                reencode=False,  # the result is the input: a test knows the right bytes
            )
            started[name] = stack.enter_context(emu)
        yield started


@pytest.fixture
def emu(emulators: dict[str, Emulator], scheme: str) -> Iterator[Emulator]:
    emulator = emulators[scheme]
    emulator.clear_faults()
    yield emulator
    emulator.clear_faults()


@pytest.fixture
def connect(transport: str, emu: Emulator) -> Callable[..., Any]:
    """``async with connect(**overrides) as api:`` a client of the transport under test, with
    the suite's short timings, closed on exit."""

    @contextlib.asynccontextmanager
    async def opened(**overrides: Any) -> AsyncIterator[Api]:
        module = importlib.import_module(f"decart_proto.transports.{transport}")
        client = module.DecartClient(**client_options(emu, **overrides))
        try:
            yield Api(transport, client)
        finally:
            if transport == "blocking":
                client.close()
            else:
                await client.close()

    return opened


@pytest.fixture
def instant_jobs(emu: Emulator) -> None:
    """Jobs submitted in this test complete at once: for tests about bytes, not statuses."""
    emu.add_fault(Fault(job_pending_seconds=0, job_processing_seconds=0, times=1000))


@pytest.fixture
def each_status_polled(emu: Emulator) -> None:
    """The next job stays processing for 0.5 s, not the suite's 0.15 s: a client polling every
    0.04 s sees it processing even on a loaded machine, where a thread may wait its turn for
    longer than 0.15 s."""
    emu.add_fault(Fault(method="POST", job_processing_seconds=0.5))


@pytest.fixture
def video(tmp_path: Path) -> tuple[Path, bytes]:
    """An input file of 300 KB of random bytes: more than one receive of 256 KiB, distinct per
    test, so a result with the right bytes cannot be an accident."""
    data = os.urandom(300_000)
    path = tmp_path / "input.mp4"
    path.write_bytes(data)
    return path, data
