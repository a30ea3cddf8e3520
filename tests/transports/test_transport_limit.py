"""``max_connections``: a client opens at most that many connections at once; a call beyond it
waits its turn (first come, first served) within its own deadline, and one cancelled while it
waits leaves nothing behind. Every loop, against a server of the test's own that counts the
connections open at once and holds the answers it is told to."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import pytest
from decart_proto.transports._async_pool import AsyncPool
from decart_proto.transports.asyncio import AsyncioIO
from transport_helpers import FAST_POLL, FAST_RETRY, Api, run_on

from decart_proto import Connection, DeadlineExceededError, InvalidInputError, Origin

pytestmark = pytest.mark.anyio

API_KEY = "limit-test-key"
# Ample for every call here; a call that hangs fails the test instead of the suite.
CALL_TIMEOUT = 30.0


class CountingServer:
    """A keep-alive HTTP/1.1 server on 127.0.0.1 answering ``GET /v1/jobs/{id}`` with that job
    completed and any ``POST`` with a new pending job. It records each request (job id or
    "submit", and which connection, by number, carried it) in arrival order, counts the
    connections open now and the most at once, and holds the answer to each job id in
    :meth:`hold` until :meth:`release`. ``with CountingServer() as server:`` stops it on exit."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.listener.settimeout(0.1)
        self.port: int = self.listener.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.requests: list[tuple[str, int]] = []
        self.accepted = 0
        self.open_now = 0
        self.most_open = 0
        self.gates: dict[str, threading.Event] = {}
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def __enter__(self) -> CountingServer:
        self._start(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for gate in list(self.gates.values()):
            gate.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.listener.close()

    def hold(self, *job_ids: str) -> None:
        for job_id in job_ids:
            self.gates[job_id] = threading.Event()

    def release(self, *job_ids: str) -> None:
        for job_id in job_ids:
            self.gates[job_id].set()

    def seen(self) -> list[str]:
        with self.lock:
            return [what for what, _ in self.requests]

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        """Wait (for at most 10 s) until *condition* holds; if it never does, let every held
        answer go, so that the calls end and the failure shows at once."""
        give_up = time.monotonic() + 10
        while not condition():
            if time.monotonic() > give_up:
                for gate in list(self.gates.values()):
                    gate.set()
                raise AssertionError(f"never came to pass: {what}")
            await anyio.sleep(0.005)

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
            with self.lock:
                self.accepted += 1
                self.open_now += 1
                self.most_open = max(self.most_open, self.open_now)
                number = self.accepted
            self._start(self._serve, conn, number)

    def _serve(self, conn: socket.socket, number: int) -> None:
        try:
            with conn:
                conn.settimeout(0.2)
                buffered = b""
                while not self.stopping.is_set():
                    try:
                        chunk = conn.recv(65536)
                    except TimeoutError:
                        continue
                    if not chunk:
                        return
                    buffered += chunk
                    while b"\r\n\r\n" in buffered:
                        head, _, rest = buffered.partition(b"\r\n\r\n")
                        length = _content_length(head)
                        while len(rest) < length:
                            more = conn.recv(65536)
                            if not more:
                                return
                            rest += more
                        buffered = rest[length:]
                        conn.sendall(self._answer(head, number))
        except OSError:
            return
        finally:
            with self.lock:
                self.open_now -= 1

    def _answer(self, head: bytes, number: int) -> bytes:
        method, target = head.split(b" ", 2)[:2]
        if method == b"POST":
            what, job_id, status = "submit", "new-job", "pending"
        else:
            job_id = target.decode().rsplit("/", 1)[1]
            what, status = job_id, "completed"
        with self.lock:
            self.requests.append((what, number))
        gate = self.gates.get(what)
        if gate is not None:
            gate.wait(CALL_TIMEOUT)
        body = json.dumps({"job_id": job_id, "status": status}).encode()
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@pytest.fixture
def server() -> Iterator[CountingServer]:
    with CountingServer() as started:
        yield started


@pytest.fixture
def open_client(transport: str, server: CountingServer) -> Callable[..., Any]:
    """``async with open_client(**settings) as api:`` a client of the transport under test for
    the test's server, closed on exit."""

    @contextlib.asynccontextmanager
    async def opened(**settings: Any) -> AsyncIterator[Api]:
        module = importlib.import_module(f"decart_proto.transports.{transport}")
        client = module.DecartClient(
            api_key=API_KEY, base_url=server.base_url, poll=FAST_POLL, retry=FAST_RETRY, **settings
        )
        try:
            yield Api(transport, client)
        finally:
            if transport == "blocking":
                client.close()
            else:
                await client.close()

    return opened


def waiting(api: Api) -> int:
    """How many calls wait for a connection: the pool's line (private: a wait is not
    otherwise visible from outside while it lasts)."""
    return len(api.client._pool._line)


async def status(api: Api, job_id: str, **kwargs: Any) -> None:
    answer = await api.queue.status(job_id, timeout=kwargs.pop("timeout", CALL_TIMEOUT))
    assert (answer.job_id, answer.status) == (job_id, "completed")


async def test_the_limit_holds(open_client: Callable[..., Any], server: CountingServer) -> None:
    jobs = [f"job-{i}" for i in range(30)]
    server.hold(*jobs)
    async with open_client(max_connections=3) as api, anyio.create_task_group() as group:
        for job_id in jobs:
            group.start_soon(status, api, job_id)
        await server.until(lambda: len(server.seen()) == 3, "three requests in")
        await server.until(lambda: waiting(api) == 27, "the others in line")
        server.release(*jobs)
    assert sorted(server.seen()) == sorted(jobs)
    assert server.most_open == 3
    assert server.accepted == 3  # each handed on, never closed and made again


async def test_a_call_waits_for_the_connection_in_use(
    open_client: Callable[..., Any], server: CountingServer
) -> None:
    server.hold("first")
    async with open_client(max_connections=1) as api, anyio.create_task_group() as group:
        group.start_soon(status, api, "first")
        await server.until(lambda: server.seen() == ["first"], "the first request in")
        group.start_soon(status, api, "second")
        await server.until(lambda: waiting(api) == 1, "the second call in line")
        await anyio.sleep(0.2)
        assert server.seen() == ["first"]  # the second has not gone out
        server.release("first")
    assert server.requests == [("first", 1), ("second", 1)]  # on the same connection


async def test_the_wait_counts_against_the_deadline(
    open_client: Callable[..., Any], server: CountingServer
) -> None:
    server.hold("busy")
    async with open_client(max_connections=1) as api, anyio.create_task_group() as group:
        group.start_soon(status, api, "busy")
        await server.until(lambda: server.seen() == ["busy"], "the first request in")
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError) as caught:
            await api.queue.status("late", timeout=0.5)
        elapsed = time.monotonic() - started
        assert waiting(api) == 0  # it left the line
        server.release("busy")
    assert 0.5 <= elapsed < 5.0
    message = caught.value.message
    assert "max_connections=1" in message, message
    assert "in use" in message, message
    assert server.seen() == ["busy"]  # the late call never reached the server


@pytest.mark.parametrize("loop", ["asyncio", "uvloop", "trio"], indirect=True)
async def test_a_call_cancelled_while_waiting_leaves_nothing_behind(
    open_client: Callable[..., Any], server: CountingServer
) -> None:
    # (The blocking client has no cancellation but its timeout: the test above.)
    server.hold("busy")
    async with open_client(max_connections=1) as api:
        async with anyio.create_task_group() as group:
            group.start_soon(status, api, "busy")
            await server.until(lambda: server.seen() == ["busy"], "the first request in")
            with anyio.CancelScope() as scope:
                group.start_soon(_cancel_when_waiting, api, server, scope)
                await status(api, "cancelled")
            assert scope.cancelled_caught
            assert waiting(api) == 0
            server.release("busy")
        # The one connection is free again, and serves the next call.
        with anyio.fail_after(10):
            await status(api, "next")
        assert (api.client._pool.open, len(api.idle_connections())) == (1, 1)
    assert server.requests == [("busy", 1), ("next", 1)]


async def _cancel_when_waiting(api: Api, server: CountingServer, scope: anyio.CancelScope) -> None:
    await server.until(lambda: waiting(api) == 1, "the call in line")
    scope.cancel()


@pytest.mark.parametrize("what", ["connection", "room"])
@pytest.mark.parametrize("asyncio_loop", ["asyncio", "uvloop"])
def test_what_is_handed_to_a_call_cancelled_meanwhile_goes_to_the_next(
    asyncio_loop: str, what: str
) -> None:
    # On asyncio a task can be cancelled after it was handed a connection (or room for one)
    # and before it ran again: what it got goes on to the next in line. (On trio a woken task
    # takes what it got, and its call's clean-up closes it if cancelled later.) At the pool
    # itself: the moment cannot be chosen from outside.
    if asyncio_loop == "uvloop":
        pytest.importorskip("uvloop")
    origin = Origin("http", "127.0.0.1", 80)

    class Stream:
        closed = False

        def close(self) -> None:
            self.closed = True

    async def main() -> None:
        loop = asyncio.get_running_loop()
        pool: AsyncPool[Any] = AsyncPool(AsyncioIO(), 8, max_connections=1)
        deadline = loop.time() + CALL_TIMEOUT
        assert await pool.acquire(origin, None, deadline) is None  # the one room, reserved
        first = asyncio.create_task(pool.acquire(origin, None, deadline))
        second = asyncio.create_task(pool.acquire(origin, None, deadline))
        while len(pool._line) < 2:
            await asyncio.sleep(0)
        conn = Connection(origin, Stream())
        if what == "connection":
            pool.give_back(conn, reuse=True)
        else:
            pool.unreserve()
        assert len(pool._line) == 1  # the second waits on
        first.cancel()  # handed what the first freed, and not yet run
        with pytest.raises(asyncio.CancelledError):
            await first
        got = await second
        assert got is (conn if what == "connection" else None)
        assert not conn.stream.closed
        assert (pool.open, len(pool._line)) == (1, 0)

    run_on(asyncio_loop, main)


async def test_first_come_first_served(
    open_client: Callable[..., Any], server: CountingServer
) -> None:
    order = [f"job-{i}" for i in range(6)]
    server.hold("busy")
    async with open_client(max_connections=1) as api, anyio.create_task_group() as group:
        group.start_soon(status, api, "busy")
        await server.until(lambda: server.seen() == ["busy"], "the first request in")
        for count, job_id in enumerate(order, 1):
            group.start_soon(status, api, job_id)
            await server.until(lambda n=count: waiting(api) == n, f"{job_id} in line")  # type: ignore[misc]
        server.release("busy")
    assert server.requests == [("busy", 1)] + [(job_id, 1) for job_id in order]


async def test_a_submit_waits_and_goes_on_a_connection_of_its_own(
    open_client: Callable[..., Any], server: CountingServer
) -> None:
    server.hold("busy")
    async with open_client(max_connections=1) as api, anyio.create_task_group() as group:
        group.start_soon(status, api, "busy")
        await server.until(lambda: server.seen() == ["busy"], "the first request in")
        submitted: list[Any] = []

        async def submit() -> None:
            options = {"model": api.module.models.video("lucy-2.1"), "data": b"x" * 100}
            submitted.append(await api.queue.submit({**options, "prompt": ""}))

        group.start_soon(submit)
        await server.until(lambda: waiting(api) == 1, "the submit in line")
        server.release("busy")
    assert submitted[0].job_id == "new-job"
    # A submit never rides a kept-alive connection: the status call's was closed to make room
    # for its new one. (When the server sees that close may come after the new connection.)
    assert server.requests == [("busy", 1), ("submit", 2)]


async def test_none_means_no_limit(open_client: Callable[..., Any], server: CountingServer) -> None:
    jobs = [f"job-{i}" for i in range(120)]  # more than the default limit of 100
    server.hold(*jobs)
    async with open_client(max_connections=None) as api, anyio.create_task_group() as group:
        for job_id in jobs:
            group.start_soon(status, api, job_id)
        await server.until(lambda: len(server.seen()) == 120, "every request in at once")
        server.release(*jobs)
    assert server.most_open == 120


async def test_the_default_limit_is_100(
    open_client: Callable[..., Any], server: CountingServer
) -> None:
    jobs = [f"job-{i}" for i in range(120)]
    server.hold(*jobs)
    async with open_client() as api, anyio.create_task_group() as group:
        for job_id in jobs:
            group.start_soon(status, api, job_id)
        await server.until(lambda: len(server.seen()) == 100, "100 requests in")
        await server.until(lambda: waiting(api) == 20, "the other 20 in line")
        server.release(*jobs)
    assert server.most_open == 100
    assert sorted(server.seen()) == sorted(jobs)


async def test_the_limit_and_the_idle_pool_are_separate(
    open_client: Callable[..., Any], server: CountingServer
) -> None:
    jobs = [f"job-{i}" for i in range(4)]
    server.hold(*jobs)
    async with open_client(max_connections=4, max_idle_connections=1) as api:
        async with anyio.create_task_group() as group:
            for job_id in jobs:
                group.start_soon(status, api, job_id)
            await server.until(lambda: len(server.seen()) == 4, "four requests in at once")
            server.release(*jobs)
        assert server.most_open == 4  # the limit, not the idle pool's size
        assert len(api.idle_connections()) == 1  # of the four, one kept
        await server.until(lambda: server.open_now == 1, "the three others closed")
        assert api.client._pool.open == 1


@pytest.mark.parametrize("value", [0, -1, True, 2.5, "10"])
async def test_a_limit_that_is_no_count_is_refused(
    open_client: Callable[..., Any], value: object
) -> None:
    with pytest.raises(InvalidInputError, match="max_connections must be a whole number"):
        async with open_client(max_connections=value):
            pass


# Run in a process of its own, whose descriptors it uses up: the client's calls then find none
# left for a connection. The loop is made first (it needs descriptors of its own).
OUT_OF_DESCRIPTORS = """
import errno, json, os, resource, sys
transport, base_url = sys.argv[1], sys.argv[2]
import importlib
module = importlib.import_module("decart_proto.transports." + transport)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

def use_up():
    taken = []
    while True:
        try:
            taken.append(os.open(os.devnull, os.O_RDONLY))
        except OSError as exc:
            assert exc.errno == errno.EMFILE, exc
            return taken

def report(exc):
    cause = exc.__cause__
    print(json.dumps([type(exc).__name__, type(cause).__name__, exc.message]))

def call(client):
    return client.queue.status("job-1", timeout=30)

if transport == "blocking":
    client = module.DecartClient(api_key="k", base_url=base_url)
    use_up()
    try:
        call(client)
    except module.DecartSDKError as exc:
        report(exc)
else:
    async def main():
        client = module.DecartClient(api_key="k", base_url=base_url)
        use_up()
        try:
            await call(client)
        except module.DecartSDKError as exc:
            report(exc)
    if transport == "trio":
        import trio
        trio.run(main)
    else:
        import asyncio
        asyncio.run(main())
"""


@pytest.mark.parametrize("name", ["blocking", "asyncio", "trio"])
def test_running_out_of_descriptors_is_said_at_once(name: str, server: CountingServer) -> None:
    done = subprocess.run(
        [sys.executable, "-c", OUT_OF_DESCRIPTORS, name, server.base_url],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    kind, cause, message = json.loads(done.stdout)
    assert (kind, cause) == ("QueueStatusError", "TooManyOpenFilesError"), message
    assert "no file descriptor left for a new connection" in message
    assert "this process may have 64 open at once" in message
    assert "ulimit -n" in message and "max_connections" in message
    assert "given up after" not in message  # not retried: it would only fail again
    assert server.accepted == 0
