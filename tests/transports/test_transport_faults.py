"""What goes wrong, beyond the conformance kit's scenarios (test_conformance.py runs those for
every transport: a stale connection, stalls before the answer, cancellation mid-poll and
mid-download, ...): a 503, a truncated result into a file object, a submit retried only when no
job exists, trio's virtual clock, an upload cancelled while the emulator holds it, pipes that
stall, and many jobs at once on one client."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import trio
import trio.testing
from decart_proto.transports.trio import DeadlineExceededError as TrioDeadlineExceededError
from decart_proto.transports.trio import DecartClient as TrioClient
from transport_helpers import leftovers

from decart_emulator import Emulator, Fault
from decart_proto import PollPolicy, Timeouts, models

pytestmark = pytest.mark.anyio

MODEL = models.video("lucy-2.1")
STATUS_PATH = r"/v1/jobs/[^/]+"
CONTENT_PATH = r"/v1/jobs/[^/]+/content"
SUBMIT_PATH = r"/v1/jobs/lucy-2\.1"
# How long a cancelled call may take to return: generous for a loaded 2-core machine, far
# below the server-side stalls (>= 1.5 s) that a call that ignored its cancellation would wait.
PROMPT = 1.0


def _answers(emu: Emulator, method: str, pattern: str) -> list[int | None]:
    return [r.status for r in emu.requests if r.method == method and re.fullmatch(pattern, r.path)]


def _dropped_submits(emu: Emulator) -> int:
    """Submits whose connection the server found closed before it could answer."""
    return _answers(emu, "POST", SUBMIT_PATH).count(None)


# -- retries ----------------------------------------------------------------------------------


async def test_status_retried_after_a_503(connect: Any, emu: Emulator) -> None:
    async with connect() as api:
        job = await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
        emu.add_fault(Fault(method="GET", path=STATUS_PATH, status=503, body="busy"))
        status = await api.queue.status(job.job_id)
    assert status.job_id == job.job_id
    assert _answers(emu, "GET", STATUS_PATH)[-2:] == [503, 200]


@pytest.mark.parametrize("sink", ["memory", "path", "file"])
@pytest.mark.usefixtures("instant_jobs")
async def test_truncated_result_is_fetched_again(
    connect: Any, emu: Emulator, tmp_path: Path, video: tuple[Path, bytes], sink: str
) -> None:
    path, data = video
    out = tmp_path / "out.mp4"
    async with connect() as api:
        job = await api.queue.submit({"model": MODEL, "data": path, "prompt": "x"})
        await api.queue.wait(job.job_id, output=os.devnull)
        emu.add_fault(Fault(method="GET", path=CONTENT_PATH, close_after_body_bytes=100_000))
        if sink == "memory":
            result = await api.queue.result(job.job_id)
            assert result.data == data
        elif sink == "path":
            await api.queue.result(job.job_id, output=out)
            assert out.read_bytes() == data
        else:
            with open(out, "w+b") as f:
                await api.queue.result(job.job_id, output=f)
            assert out.read_bytes() == data  # rewound and rewritten, not appended
    assert _answers(emu, "GET", CONTENT_PATH)[-2:] == [200, 200]
    assert leftovers(tmp_path) == []


async def test_a_retry_waits_the_seconds_retry_after_asks(connect: Any, emu: Emulator) -> None:
    # A 429 proves no job was created, so the submit is made again: after the server's 1 s,
    # not after the suite's own backoff (at most 50 ms), which is all that a client ignoring
    # Retry-After would wait.
    emu.add_fault(Fault(method="POST", path=SUBMIT_PATH, status=429, headers={"Retry-After": "1"}))
    async with connect() as api:
        started = time.monotonic()
        job = await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
        elapsed = time.monotonic() - started
    assert _answers(emu, "POST", SUBMIT_PATH)[-2:] == [429, 200]
    assert job.job_id in emu.jobs
    assert elapsed >= 1.0, elapsed


async def test_submit_retried_only_when_no_job_was_created(connect: Any, emu: Emulator) -> None:
    before = emu.submit_count
    emu.add_fault(Fault(method="POST", path=SUBMIT_PATH, status=503, headers={"Retry-After": "0"}))
    async with connect() as api:
        job = await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
        assert emu.submit_count == before + 1
        # The answer is lost after the job was created: retrying could pay for two jobs.
        emu.add_fault(Fault(method="POST", path=SUBMIT_PATH, close_after_handling=True))
        with pytest.raises(api.module.QueueSubmitError) as caught:
            await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
    assert caught.value.data["status"] is None
    assert emu.submit_count == before + 2
    assert job.job_id in emu.jobs


# -- deadlines --------------------------------------------------------------------------------


async def test_deadline_of_a_job_that_never_finishes(connect: Any, emu: Emulator) -> None:
    emu.add_fault(Fault(job_pending_seconds=60))
    async with connect() as api:
        started = time.monotonic()
        with pytest.raises(api.module.DeadlineExceededError) as caught:
            await api.queue.submit_and_poll(
                {"model": MODEL, "data": b"v", "prompt": "x"}, timeout=0.5
            )
        elapsed = time.monotonic() - started
        # The driver gives up as soon as the next poll would fall past the deadline.
        assert 0.4 <= elapsed < 0.5 + PROMPT
        assert isinstance(caught.value, TimeoutError)
        job_id = caught.value.data["job_id"]
        assert emu.jobs[job_id] == "pending"  # the job exists: the wait can be resumed
        api.assert_pool_clean()


def test_trio_deadlines_run_on_trios_clock(emulators: dict[str, Emulator]) -> None:
    """The driver's clock is trio's: under a MockClock, a 10-minute deadline on a request the
    server never answers passes in well under a second of real time."""
    emu = emulators["http"]

    async def main() -> None:
        # One request step may take the whole deadline, so the deadline is what ends it.
        one_step = Timeouts(job=900, request=1000)
        client = TrioClient(api_key=emu.api_key, base_url=emu.base_url, timeouts=one_step)
        async with client:
            job = await client.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
            emu.add_fault(Fault(method="GET", path=STATUS_PATH, delay=3.0, times=10))
            virtual = trio.current_time()
            with pytest.raises(TrioDeadlineExceededError):
                await client.queue.status(job.job_id, timeout=600)
            assert trio.current_time() - virtual >= 600

    emu.clear_faults()
    started = time.monotonic()
    try:
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0.5))
    finally:
        emu.clear_faults()
    assert time.monotonic() - started < 3.0


# -- cancellation -----------------------------------------------------------------------------


async def _cancel_when(
    transport: str, call: Callable[[], Awaitable[Any]], ready: Callable[[], bool]
) -> float:
    """Run *call*, cancel it the loop's own way once *ready()* (asyncio: ``task.cancel()``;
    trio: its cancel scope), and return how long it took to end after the cancel."""
    if transport == "asyncio":
        task = asyncio.ensure_future(call())
        await _until(ready)
        assert not task.done()
        cancelled_at = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - cancelled_at
    assert transport == "trio"
    scope = trio.CancelScope()
    ended_at: list[float] = []

    async def run() -> None:
        with scope:
            await call()
        ended_at.append(time.monotonic())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        await _until(ready)
        assert not ended_at
        cancelled_at = time.monotonic()
        scope.cancel()
    assert scope.cancelled_caught
    return ended_at[0] - cancelled_at


async def _until(ready: Callable[[], bool], limit: float = 10.0) -> None:
    give_up = time.monotonic() + limit
    while not ready():
        assert time.monotonic() < give_up, "the call never got to the point to cancel it at"
        await anyio.sleep(0.01)


def _after(seconds: float) -> Callable[[], bool]:
    at = time.monotonic() + seconds
    return lambda: time.monotonic() >= at


async def _interrupt(
    api: Any, transport: str, call: Callable[..., Awaitable[Any]], ready: Callable[[], bool],
    timeout: float,
) -> None:  # fmt: skip
    """Interrupt *call* midway: cancelled for the async clients, its ``timeout`` for the
    blocking one; either way it must end promptly."""
    if transport == "blocking":
        started = time.monotonic()
        with pytest.raises(api.module.DeadlineExceededError):
            await call(timeout=timeout)
        assert time.monotonic() - started < timeout + PROMPT
        return
    assert await _cancel_when(transport, call, ready) < PROMPT


async def test_cancel_mid_upload(
    connect: Any, emu: Emulator, transport: str, tmp_path: Path
) -> None:
    # The server waits before reading the body, so a 48 MB upload stalls once the socket
    # buffers are full: the call is cancelled with the upload under way.
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (48 << 20))
    emu.add_fault(Fault(method="POST", path=SUBMIT_PATH, delay=1.5))
    before = emu.submit_count
    dropped_before = _dropped_submits(emu)
    options = {"model": MODEL, "data": big, "prompt": "x"}
    async with connect() as api:

        async def call(**kw: Any) -> Any:
            return await api.queue.submit_and_poll(options, **kw)

        await _interrupt(api, transport, call, _after(0.4), timeout=0.4)
        assert api.idle_connections() == []
        # Closed, not left open: once its delay is over the server finds the client gone.
        await _until(lambda: _dropped_submits(emu) > dropped_before)
        assert emu.submit_count == before
        result = await api.queue.submit_and_poll({"model": MODEL, "data": b"ok", "prompt": "x"})
        assert result.data == b"ok"


@pytest.fixture
def stalled_pipe() -> Iterator[Any]:
    """A pipe that gives 30,000 bytes, then nothing: its writer stays open and never writes
    again."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"x" * 30_000)
    pipe = os.fdopen(read_fd, "rb")
    try:
        yield pipe
    finally:
        os.close(write_fd)  # an abandoned read in a worker thread ends...
        pipe.close()  # ...and lets go of the pipe


async def test_cancel_mid_upload_from_a_stalled_pipe(
    connect: Any, emu: Emulator, transport: str, stalled_pipe: Any
) -> None:
    """A pipe is read off the caller's loop (the blocking client: off its thread), so a writer
    that stalls holds up neither a cancellation nor a deadline."""
    dropped_before = _dropped_submits(emu)
    before = emu.submit_count
    options = {"model": MODEL, "data": stalled_pipe, "prompt": "x"}
    async with connect() as api:

        async def call(**kw: Any) -> Any:
            return await api.queue.submit_and_poll(options, **kw)

        await _interrupt(api, transport, call, _after(0.3), timeout=0.3)
        assert api.idle_connections() == []
    await _until(lambda: _dropped_submits(emu) > dropped_before)
    assert emu.submit_count == before


async def test_a_stalled_pipe_ends_at_the_calls_deadline(
    connect: Any, emu: Emulator, stalled_pipe: Any
) -> None:
    before = emu.submit_count
    options = {"model": MODEL, "data": stalled_pipe, "prompt": "x"}
    async with connect() as api:
        started = time.monotonic()
        with pytest.raises(api.module.DeadlineExceededError) as info:
            await api.queue.submit(options, timeout=0.5)
        assert time.monotonic() - started < 0.5 + PROMPT
        assert "the submit" in str(info.value)
        assert api.idle_connections() == []
    assert emu.submit_count == before


# -- many jobs at once ------------------------------------------------------------------------


async def test_100_concurrent_jobs_on_one_client(connect: Any, emu: Emulator) -> None:
    inputs = [i.to_bytes(4, "big") + os.urandom(2000) for i in range(100)]
    results: dict[int, Any] = {}
    async with connect(poll=PollPolicy(initial_delay=0.1, interval=0.1)) as api:

        async def one(i: int) -> None:
            results[i] = await api.queue.submit_and_poll(
                {"model": MODEL, "data": inputs[i], "prompt": f"job {i}"}, timeout=60
            )

        async with anyio.create_task_group() as group:
            for i in range(100):
                group.start_soon(one, i)
        assert len(api.idle_connections()) <= 8
        api.assert_pool_clean()
    assert sorted(results) == list(range(100))
    for i, result in results.items():
        assert (result.status, result.data) == ("completed", inputs[i])


# The program a user writes, in a process of its own: a submit from a pipe whose writer never
# writes, with a timeout; the process must end once the call has.
_STALLED_PIPE_PROGRAM = """
import os, sys
from decart_emulator import Emulator
transport = sys.argv[1]
if transport == "blocking":
    from decart_proto.transports.blocking import DecartClient, DeadlineExceededError, models
else:
    import asyncio, trio
    from importlib import import_module
    module = import_module("decart_proto.transports." + transport)
    DecartClient, DeadlineExceededError, models = (
        module.DecartClient, module.DeadlineExceededError, module.models
    )
read_fd, write_fd = os.pipe()
pipe = os.fdopen(read_fd, "rb")
options = {"model": models.video("lucy-2.1"), "data": pipe, "prompt": "x"}
with Emulator() as emu:
    if transport == "blocking":
        with DecartClient(api_key=emu.api_key, base_url=emu.base_url) as client:
            try:
                client.queue.submit(options, timeout=0.3)
            except DeadlineExceededError:
                print("deadline")
    else:
        async def main():
            async with DecartClient(api_key=emu.api_key, base_url=emu.base_url) as client:
                try:
                    await client.queue.submit(options, timeout=0.3)
                except DeadlineExceededError:
                    print("deadline")
        asyncio.run(main()) if transport == "asyncio" else trio.run(main)
print("done", flush=True)
"""


@pytest.mark.parametrize("transport", ["blocking", "asyncio", "trio"])
def test_a_stalled_pipe_does_not_hold_up_the_programs_end(transport: str) -> None:
    # asyncio.run() waits for its executor's threads at its end: a pipe read there, blocked
    # for good, used to keep the program from ever ending.
    done = subprocess.run(
        [sys.executable, "-c", _STALLED_PIPE_PROGRAM, transport],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "deadline\ndone\n"), done.stderr
