"""A download that restarts (the first answer was cut short) into each kind of output: a device
path is written again in place; a file object that cannot be rewound (no seek, or a tell that
fails) ends the call with an OutputError that says so and gives the job id, rather than a
video with the first attempt's bytes in front."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Any

import pytest

from decart_emulator import Emulator, Fault
from decart_proto import OutputError, models

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("instant_jobs")]

MODEL = models.video("lucy-2.1")
CONTENT_PATH = r"/v1/jobs/[^/]+/content"


class _WriteOnly:
    """A sink with write() alone (a socket's file, a hash): it cannot go back."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        return len(data)


class _TellFails(_WriteOnly):
    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        raise OSError(errno.ESPIPE, os.strerror(errno.ESPIPE))


class _SeekFails(_WriteOnly):
    """Says it can seek, but a disk error stops the rewind."""

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return 0

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        raise OSError(errno.EIO, os.strerror(errno.EIO))


class _FlushFails(_WriteOnly):
    def flush(self) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


async def _cut_short_then(
    connect: Any, emu: Emulator, video: Path, output: Any
) -> tuple[str, Any]:
    """The job's id, and its result fetched into *output* once the first answer was cut short
    (or the OutputError that fetch ended with)."""
    async with connect() as api:
        job = await api.queue.submit({"model": MODEL, "data": video, "prompt": "x"})
        await api.queue.wait(job.job_id, output=os.devnull)
        emu.add_fault(Fault(method="GET", path=CONTENT_PATH, close_after_body_bytes=100_000))
        try:
            return job.job_id, await api.queue.result(job.job_id, output=output)
        except OutputError as exc:
            return job.job_id, exc


def _content_answers(emu: Emulator) -> list[int | None]:
    return [r.status for r in emu.requests if re.fullmatch(CONTENT_PATH, r.path)]


async def test_a_restarted_download_into_a_device_path(
    connect: Any, emu: Emulator, video: tuple[Path, bytes]
) -> None:
    _, result = await _cut_short_then(connect, emu, video[0], os.devnull)
    assert result.status == "completed"
    assert _content_answers(emu)[-2:] == [200, 200]


async def test_a_download_into_a_sink_with_write_alone(
    connect: Any, video: tuple[Path, bytes]
) -> None:
    sink = _WriteOnly()
    async with connect() as api:
        result = await api.queue.submit_and_poll(
            {"model": MODEL, "data": video[0], "prompt": "x"}, output=sink
        )
    assert result.status == "completed" and sink.written == len(video[1])


@pytest.mark.parametrize("kind", [_WriteOnly, _TellFails])
async def test_a_restarted_download_into_an_output_that_cannot_rewind(
    connect: Any, emu: Emulator, video: tuple[Path, bytes], kind: type[_WriteOnly]
) -> None:
    output = kind()
    job_id, error = await _cut_short_then(connect, emu, video[0], output)
    assert isinstance(error, OutputError), error
    assert "cannot be rewound" in error.message
    assert "pass a path or a seekable file" in error.message
    assert error.data["job_id"] == job_id and job_id in error.message
    assert 0 < output.written < len(video[1])  # what the cut answer brought, and no more


async def test_a_rewind_that_fails_is_an_output_error(
    connect: Any, emu: Emulator, video: tuple[Path, bytes]
) -> None:
    job_id, error = await _cut_short_then(connect, emu, video[0], _SeekFails())
    assert isinstance(error, OutputError), error
    assert os.strerror(errno.EIO) in error.message and "file object" in error.message
    assert error.data["job_id"] == job_id


async def test_a_last_flush_that_fails_is_an_output_error(
    connect: Any, emu: Emulator, video: tuple[Path, bytes]
) -> None:
    """The download is whole when the output's flush fails: the job id is given to fetch the
    video again, and it is not fetched twice."""
    sink = _FlushFails()
    async with connect() as api:
        job = await api.queue.submit({"model": MODEL, "data": video[0], "prompt": "x"})
        with pytest.raises(OutputError) as caught:
            await api.queue.wait(job.job_id, output=sink)
    assert os.strerror(errno.ENOSPC) in caught.value.message
    assert caught.value.data["job_id"] == job.job_id and job.job_id in caught.value.message
    assert sink.written == len(video[1])
    assert _content_answers(emu)[-1:] == [200]


async def test_a_failed_job_opens_no_device(connect: Any, emu: Emulator, tmp_path: Path) -> None:
    """A device path is opened at the first byte: a job that fails never opens it (a FIFO
    without a reader would otherwise hold the call)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    emu.clear_faults()  # not the instant jobs of this module: this one fails
    emu.add_fault(Fault(job_fails=True, job_pending_seconds=0, job_processing_seconds=0))
    async with connect() as api:
        result = await api.queue.submit_and_poll(
            {"model": MODEL, "data": b"video", "prompt": "x"}, output=fifo, timeout=10
        )
    assert result.status == "failed"
