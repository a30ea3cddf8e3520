"""The Queue API's calls through each transport: the right bytes, the right statuses, every
kind of input and output."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

import anyio
import pytest
from transport_helpers import leftovers

from decart_emulator import Emulator, Fault
from decart_proto import InvalidInputError, RequestStarted, models

pytestmark = pytest.mark.anyio

MODEL = models.video("lucy-2.1")


async def test_submit_status_result(connect: Any, emu: Emulator, video: tuple[Path, bytes]) -> None:
    path, data = video
    async with connect() as api:
        job = await api.queue.submit({"model": MODEL, "data": path, "prompt": "anime"})
        assert job.status == "pending"
        assert emu.jobs[job.job_id] == "pending"
        status = await api.queue.status(job.job_id)
        assert status.job_id == job.job_id
        assert status.status in ("pending", "processing")
        finished = await api.queue.wait(job.job_id)
        assert (finished.status, finished.data) == ("completed", data)
        assert (await api.queue.status(job.job_id)).status == "completed"
        result = await api.queue.result(job.job_id)
        assert (result.status, result.data, result.error) == ("completed", data, None)


@pytest.mark.usefixtures("each_status_polled")
async def test_submit_and_poll_reports_each_change_once(
    connect: Any, video: tuple[Path, bytes]
) -> None:
    path, data = video
    seen: list[str] = []
    async with connect() as api:
        result = await api.queue.submit_and_poll(
            {"model": MODEL, "data": path, "prompt": "anime"},
            on_status_change=lambda job: seen.append(job.status),
        )
    assert (result.status, result.data) == ("completed", data)
    assert seen == ["pending", "processing", "completed"]


@pytest.mark.usefixtures("each_status_polled")
async def test_callback_in_the_options_as_in_the_docs(
    connect: Any, video: tuple[Path, bytes]
) -> None:
    path, data = video
    seen: list[str] = []
    options = {
        "model": MODEL,
        "data": path,
        "prompt": "anime",
        "on_status_change": lambda job: seen.append(job.status),
    }
    async with connect() as api:
        result = await api.queue.submit_and_poll(options)
    assert result.data == data
    assert seen == ["pending", "processing", "completed"]
    assert "on_status_change" in options  # the caller's dict is left as it was


@pytest.mark.usefixtures("each_status_polled")
async def test_async_callback_is_awaited(
    connect: Any, transport: str, video: tuple[Path, bytes]
) -> None:
    path, _ = video
    seen: list[str] = []

    async def record(job: Any) -> None:
        seen.append(job.status)

    async with connect() as api:
        call = api.queue.submit_and_poll(
            {"model": MODEL, "data": path, "prompt": "x"}, on_status_change=record
        )
        if transport == "blocking":
            # A blocking client has no loop to await it on: a clear error, not a silent skip.
            with pytest.raises(TypeError, match="cannot await"):
                await call
            return
        result = await call
    assert result.status == "completed"
    assert seen == ["pending", "processing", "completed"]


class _Awaitable:
    """An awaitable that is not a coroutine (as a Future or a task handle may be)."""

    def __init__(self, seen: list[str], status: str) -> None:
        self.seen = seen
        self.status = status

    def __await__(self) -> Generator[Any, None, None]:
        self.seen.append(self.status)
        return
        yield  # a generator that finishes at once


@pytest.mark.usefixtures("instant_jobs")
async def test_a_callback_returning_another_awaitable(connect: Any, transport: str) -> None:
    seen: list[str] = []
    async with connect() as api:
        call = api.queue.submit_and_poll(
            {"model": MODEL, "data": b"video", "prompt": "x"},
            on_status_change=lambda job: _Awaitable(seen, job.status),
        )
        if transport == "blocking":
            with pytest.raises(TypeError, match="cannot await on_status_change"):
                await call
            assert seen == []
            return
        assert (await call).status == "completed"
    assert seen[-1] == "completed"


async def test_options_that_are_not_a_dict(connect: Any) -> None:
    async with connect() as api:
        with pytest.raises(InvalidInputError, match="options must be a dict"):
            await api.queue.submit_and_poll(["video"])


async def test_failed_job_is_a_failed_result(connect: Any, emu: Emulator) -> None:
    emu.add_fault(Fault(job_fails=True, job_pending_seconds=0.05))
    seen: list[str] = []
    async with connect() as api:
        result = await api.queue.submit_and_poll(
            {"model": MODEL, "data": b"video", "prompt": "x"},
            on_status_change=lambda job: seen.append(job.status),
        )
        assert (result.status, result.data) == ("failed", None)
        assert result.error
        assert seen[0] == "pending" and seen[-1] == "failed"
        # result() of a failed job: a failed QueueJobResult, as the Queue API docs describe.
        again = await api.queue.result(result.job_id)
        assert again.status == "failed"


async def test_failed_job_leaves_no_output_file(
    connect: Any, emu: Emulator, tmp_path: Path
) -> None:
    """A failed job has no video: an output path must not appear (an empty file there would
    look like a result), and no temporary file may stay behind."""
    emu.add_fault(Fault(job_fails=True, job_pending_seconds=0.05))
    target = tmp_path / "out.mp4"
    async with connect() as api:
        result = await api.queue.submit_and_poll(
            {"model": MODEL, "data": b"video", "prompt": "x"}, output=target
        )
        assert result.status == "failed"
        again = await api.queue.result(result.job_id, output=target)
        assert again.status == "failed"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["path", "str-path", "bytes", "bytesio", "open-file"])
@pytest.mark.usefixtures("instant_jobs")
async def test_every_kind_of_file_input(connect: Any, video: tuple[Path, bytes], kind: str) -> None:
    path, data = video
    source: Any = {
        "path": path,
        "str-path": str(path),
        "bytes": data,
        "bytesio": io.BytesIO(data),
        "open-file": None,
    }[kind]
    async with connect() as api:
        if kind == "open-file":
            with open(path, "rb") as f:
                result = await api.queue.submit_and_poll({"model": MODEL, "data": f, "prompt": "x"})
        else:
            result = await api.queue.submit_and_poll(
                {"model": MODEL, "data": source, "prompt": "x"}
            )
    assert result.data == data


@pytest.mark.usefixtures("instant_jobs")
async def test_file_object_is_read_from_its_position(connect: Any) -> None:
    stream = io.BytesIO(b"HEADER" + b"body" * 1000)
    stream.seek(6)
    async with connect() as api:
        result = await api.queue.submit_and_poll({"model": MODEL, "data": stream, "prompt": "x"})
    assert result.data == b"body" * 1000


@pytest.mark.usefixtures("instant_jobs")
async def test_pipe_is_uploaded_chunked(connect: Any, emu: Emulator) -> None:
    """A non-seekable input has no size up front: the body goes with chunked encoding, read
    as the writer writes."""
    data = os.urandom(700_000)
    read_fd, write_fd = os.pipe()

    def write() -> None:
        with os.fdopen(write_fd, "wb") as w:
            for start in range(0, len(data), 65536):
                w.write(data[start : start + 65536])

    writer = threading.Thread(target=write)
    writer.start()
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            assert not pipe.seekable()
            async with connect() as api:
                result = await api.queue.submit_and_poll(
                    {"model": MODEL, "data": pipe, "prompt": "x"}
                )
    finally:
        writer.join(10)
    assert result.data == data


@pytest.mark.usefixtures("instant_jobs")
async def test_output_to_a_path_is_atomic(
    connect: Any, tmp_path: Path, video: tuple[Path, bytes]
) -> None:
    path, data = video
    out = tmp_path / "out" / "result.mp4"
    out.parent.mkdir()
    async with connect() as api:
        result = await api.queue.submit_and_poll(
            {"model": MODEL, "data": path, "prompt": "x"}, output=out
        )
        assert (result.status, result.data) == ("completed", None)
        assert out.read_bytes() == data
        assert leftovers(out.parent) == []
        # result() to a path replaces the file whole.
        out.write_bytes(b"old")
        again = await api.queue.result(result.job_id, output=str(out))
        assert again.status == "completed"
    assert out.read_bytes() == data
    assert sorted(p.name for p in out.parent.iterdir()) == ["result.mp4"]


@pytest.mark.usefixtures("instant_jobs")
async def test_output_to_a_file_object(connect: Any, video: tuple[Path, bytes]) -> None:
    path, data = video
    sink = io.BytesIO()
    sink.write(b"prefix:")
    async with connect() as api:
        job = await api.queue.submit({"model": MODEL, "data": path, "prompt": "x"})
        result = await api.queue.wait(job.job_id, output=sink)
    assert (result.status, result.data) == ("completed", None)
    assert sink.getvalue() == b"prefix:" + data


@pytest.mark.usefixtures("instant_jobs")
async def test_failed_download_leaves_no_partial_file(
    connect: Any, emu: Emulator, tmp_path: Path, video: tuple[Path, bytes]
) -> None:
    path, _ = video
    out = tmp_path / "result.mp4"
    async with connect() as api:
        job = await api.queue.submit({"model": MODEL, "data": path, "prompt": "x"})
        await api.queue.wait(job.job_id)
        # Every try of the download is cut after 1000 bytes, more times than the retries.
        emu.add_fault(Fault(method="GET", path=r"/v1/jobs/.*/content", times=20,
                            close_after_body_bytes=1000))  # fmt: skip
        with pytest.raises(api.module.QueueResultError):
            await api.queue.result(job.job_id, output=out)
    assert not out.exists()
    assert leftovers(tmp_path) == []


@pytest.mark.usefixtures("instant_jobs")
async def test_existing_output_survives_a_failed_download(
    connect: Any, emu: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "result.mp4"
    out.write_bytes(b"the previous video")
    emu.add_fault(Fault(method="GET", path=r"/v1/jobs/.*/content", status=500, times=20))
    async with connect() as api:
        with pytest.raises(api.module.QueueResultError):
            await api.queue.submit_and_poll(
                {"model": MODEL, "data": b"new", "prompt": "x"}, output=out
            )
    assert out.read_bytes() == b"the previous video"
    assert leftovers(tmp_path) == []


async def test_connections_are_kept_alive(connect: Any, emu: Emulator) -> None:
    def exchanges() -> list[int]:
        return sorted(conn.exchanges for conn in api.idle_connections())

    options = {"model": MODEL, "data": b"v", "prompt": "x"}
    async with connect() as api:
        job = await api.queue.submit(options)
        for _ in range(2):
            await api.queue.status(job.job_id)
        # The status requests rode the submit's connection, kept alive.
        assert exchanges() == [3]
        # A submit never rides a kept-alive connection, though one is idle in the pool: were
        # the server to have closed it, nobody could tell whether a job had been created.
        await api.queue.submit(options)
        assert exchanges() == [1, 3]
        # A status request does: one of the two, and no third connection.
        await api.queue.status(job.job_id)
        assert len(exchanges()) == 2 and sum(exchanges()) == 5
        api.assert_pool_clean()


async def test_close_also_closes_what_running_calls_give_back(
    connect: Any, emu: Emulator
) -> None:
    sent = threading.Event()

    def hook(event: object) -> None:
        if isinstance(event, RequestStarted) and event.method == "GET":
            sent.set()

    async with connect(event_hook=hook) as api:
        job = await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
        assert len(api.idle_connections()) == 1
        emu.add_fault(Fault(method="GET", delay=0.5))  # the status call below is in flight
        answers = []

        async def status() -> None:
            answers.append(await api.queue.status(job.job_id))

        async with anyio.create_task_group() as tg:
            tg.start_soon(status)
            with anyio.fail_after(30):
                while not sent.is_set():
                    await anyio.sleep(0.01)
            await _close(api)
            assert api.idle_connections() == []
        # The call that was running finished, and its connection was closed, not pooled.
        assert [answer.job_id for answer in answers] == [job.job_id]
        assert api.idle_connections() == []


async def _close(api: Any) -> None:
    if api.transport == "blocking":
        api.client.close()
    else:
        await api.client.close()


class _Shrinking(io.BytesIO):
    """A file that claims 1000 bytes more than it has, as one truncated while being sent."""

    def seek(self, offset: int, whence: int = 0) -> int:
        position = super().seek(offset, whence)
        return position + 1000 if whence == os.SEEK_END else position


async def test_a_file_that_shrinks_while_sent_is_the_callers_error(
    connect: Any, emu: Emulator
) -> None:
    before = emu.submit_count
    async with connect() as api:
        with pytest.raises(api.module.InvalidInputError, match="changed while being sent"):
            await api.queue.submit({"model": MODEL, "data": _Shrinking(b"v" * 5000), "prompt": "x"})
        assert api.idle_connections() == []
    assert emu.submit_count == before
