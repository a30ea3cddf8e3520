"""Helpers for the transport suite: a client whose queue methods are awaitable for every
transport, the suite's timings, and checks for what a cancelled call may leave behind."""

from __future__ import annotations

import asyncio
import functools
import importlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import h11
import trio

from decart_emulator import Emulator

# The servers a test starts itself, shared with the conformance kit (which runs them too).
from decart_emulator.conformance_servers import SlowReader as SlowReader
from decart_emulator.conformance_servers import read_request_head as read_request_head
from decart_proto import PollPolicy, RetryPolicy

T = TypeVar("T")

# A second key the emulators accept, for the tests of its secrecy.
SECRET = "sk-test-0123456789abcdef-secret"
# The client modules (``decart_proto.transports.<name>``), and the loops the suite runs them on:
# the asyncio client runs on the stdlib loop and on uvloop (the default loop of uvicorn
# deployments), so a test id names the loop a call ran on.
TRANSPORTS = ("blocking", "asyncio", "trio")
LOOPS = ("blocking", "asyncio", "uvloop", "trio")
SCHEMES = ("http", "https")

# Short timings: a job is pending for 0.15 s and processing for 0.15 s; a client polls every
# 0.04 s, so it sees each of the three statuses, and retries after 10-50 ms.
PENDING = 0.15
PROCESSING = 0.15
FAST_POLL = PollPolicy(initial_delay=0.04, interval=0.04)
FAST_RETRY = RetryPolicy(max_retries=4, backoff_base=0.01, backoff_cap=0.05)

# Enough threads for the 100-call concurrency test of the blocking client.
_THREADS = anyio.CapacityLimiter(128)


class Api:
    """A client and its ``queue``, with every queue method awaitable whatever the transport."""

    def __init__(self, transport: str, client: Any) -> None:
        self.transport = transport
        self.client = client
        self.module = importlib.import_module(f"decart_proto.transports.{transport}")
        self.queue = _Queue(transport, client.queue)

    def idle_connections(self) -> list[Any]:
        """What the client's keep-alive pool holds (a peek at private state: "no half-used
        connection in the pool" cannot be observed from outside)."""
        return [conn for idle in self.client._pool._pooled._idle.values() for conn in idle]

    def assert_pool_clean(self) -> None:
        for conn in self.idle_connections():
            assert conn.http.our_state is h11.IDLE, conn.http.our_state
            assert conn.http.their_state is h11.IDLE, conn.http.their_state


class _Queue:
    def __init__(self, transport: str, queue: Any) -> None:
        self._transport = transport
        self._queue = queue

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._queue, name)
        if self._transport != "blocking":
            return method  # type: ignore[no-any-return]

        async def in_thread(*args: Any, **kwargs: Any) -> Any:
            call = functools.partial(method, *args, **kwargs)
            return await anyio.to_thread.run_sync(call, limiter=_THREADS)

        return in_thread


def module_of(loop: str) -> str:
    """The client module a loop of :data:`LOOPS` runs: uvloop runs the asyncio client."""
    return "asyncio" if loop == "uvloop" else loop


def anyio_backend_of(loop: str) -> Any:
    """anyio's backend for a loop of :data:`LOOPS` (the blocking client's calls run in threads
    of the stdlib asyncio loop)."""
    if loop == "trio":
        return "trio"
    if loop == "uvloop":
        return ("asyncio", {"use_uvloop": True})
    return "asyncio"


def run_on(loop: str, main: Callable[[], Awaitable[T]]) -> T:
    """``main()`` run to its end on a new loop of :data:`LOOPS` (not ``blocking``), as a
    program would: ``asyncio.run``, ``uvloop.run`` or ``trio.run``."""
    if loop == "trio":
        return trio.run(main)
    if loop == "uvloop":
        return importlib.import_module("uvloop").run(main())  # type: ignore[no-any-return]
    assert loop == "asyncio", loop
    return asyncio.run(main())


def client_options(emu: Emulator, **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "api_key": emu.api_key,
        "base_url": emu.base_url,
        "poll": FAST_POLL,
        "retry": FAST_RETRY,
    }
    if emu.ca_pem_path is not None:
        options["ssl_context"] = emu.client_ssl_context()
    options.update(overrides)
    return options


def leftovers(directory: Path) -> list[str]:
    """Temporary or partial outputs left in *directory*."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))
