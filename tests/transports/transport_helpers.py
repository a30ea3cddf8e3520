"""Helpers for the transport suite: a client whose queue methods are awaitable for every
transport, the suite's timings, and checks for what a cancelled call may leave behind."""

from __future__ import annotations

import asyncio
import functools
import importlib
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import h11
import trio

from decart_emulator import Emulator
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


def read_request_head(conn: socket.socket) -> bool:
    """For a server of a test's own: read from *conn* until a request's head is in (its body,
    if any, left unread); False if the client closed first."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        head += chunk
    return True


def leftovers(directory: Path) -> list[str]:
    """Temporary or partial outputs left in *directory*."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


class SlowReader:
    """A server on 127.0.0.1 that reads *piece* bytes every *pace* seconds from each
    connection and never answers: an upload to it moves, slowly, so only a deadline that
    counts the whole call (not each wait on the socket) ends it. ``with SlowReader(tls) as
    server:`` serves on ``server.port`` and stops on exit."""

    def __init__(self, tls: ssl.SSLContext | None, piece: int = 256 * 1024, pace: float = 0.1):
        self.tls = tls
        self.piece = piece
        self.pace = pace
        self.listener = socket.socket()
        # A small receive buffer (set before listen(), so accepted sockets inherit it): the
        # kernel must not swallow the upload on the server's behalf.
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, piece)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.listener.settimeout(0.1)
        self.port: int = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def __enter__(self) -> SlowReader:
        self._start(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.listener.close()

    def _start(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self._start(self._read_slowly, conn)

    def _read_slowly(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1.0)
            try:
                if self.tls is not None:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                while not self.stopping.wait(self.pace):
                    got = 0
                    while got < self.piece:  # a TLS recv() gives at most one record
                        try:
                            data = conn.recv(self.piece - got)
                        except (TimeoutError, ssl.SSLWantReadError):
                            break
                        if not data:
                            return
                        got += len(data)
            except OSError:  # the client gave up and closed: done
                return
