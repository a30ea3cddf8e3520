"""Failures on the caller's side of the wire are the caller's: a full device or an output that
cannot be written fails the call at once (no retried download, no network error), names the
output and the OS's reason, gives the job id to fetch the video with later, and leaves no
partial file behind; an input that vanishes mid-upload is an input error."""

from __future__ import annotations

import errno
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from decart_proto.transports import _common
from transport_helpers import leftovers

from decart_emulator import Emulator
from decart_proto import InvalidInputError, OutputError, models

pytestmark = pytest.mark.anyio

MODEL = models.video("lucy-2.1")
NO_SPACE = os.strerror(errno.ENOSPC)  # "No space left on device"
ROOM = 64 * 1024  # free bytes on the full disk below: less than the 300 KB video


class _FillingDisk(io.FileIO):
    """A file on a disk with ROOM bytes free: a write past them stores what fits, and the next
    one fails, as on a real disk (so does the flush of what a buffer still holds)."""

    def write(self, data: Any) -> int:
        room = ROOM - self.tell()
        if room <= 0:
            raise OSError(errno.ENOSPC, NO_SPACE)
        return super().write(memoryview(data)[:room])


@pytest.fixture(params=["write", "flush"])
def full_disk(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Files the client writes land on a disk that fills up after ROOM bytes; files it reads
    (the input) are untouched. The full disk shows at a write (through Python's usual 8 KiB
    buffer, the video's pieces go straight to the disk), or only when the buffer is flushed
    (a 1 MiB buffer holds the whole video): then the close() of a failed call fails too."""
    buffer = io.DEFAULT_BUFFER_SIZE if request.param == "write" else 1024 * 1024

    def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode:
            return io.BufferedWriter(_FillingDisk(file, "w"), buffer)
        return open(file, mode, *args, **kwargs)

    monkeypatch.setattr(_common, "open", fake_open, raising=False)


@pytest.fixture
def dev_full() -> Iterator[Any]:
    """A file object whose every write fails with ENOSPC, as on a full device."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "wb") as f:
        yield f


def _content_requests(emu: Emulator, job_id: str) -> int:
    return sum(r.path == f"/v1/jobs/{job_id}/content" for r in emu.requests)


async def _fails_once(
    connect: Any, emu: Emulator, video: tuple[Path, bytes], output: Any
) -> tuple[OutputError, str]:
    """Submits the video, then waits for the job into *output*: the OutputError, and the job."""
    async with connect() as api:
        job = await api.queue.submit({"model": MODEL, "data": video[0], "prompt": "x"})
        with pytest.raises(OutputError) as caught:
            await api.queue.wait(job.job_id, output=output)
        api.assert_pool_clean()
    assert _content_requests(emu, job.job_id) == 1  # not retried
    return caught.value, job.job_id


@pytest.mark.usefixtures("instant_jobs", "full_disk")
async def test_a_full_disk_fails_the_download_at_once(
    connect: Any, emu: Emulator, video: tuple[Path, bytes], tmp_path: Path
) -> None:
    out = tmp_path / "out.mp4"
    error, job_id = await _fails_once(connect, emu, video, out)
    assert str(out) in error.message and NO_SPACE in error.message
    assert error.data["job_id"] == job_id
    assert job_id in error.message  # the hint to fetch it again
    assert leftovers(tmp_path) == [] and not out.exists()


@pytest.mark.usefixtures("instant_jobs")
async def test_a_full_device_as_the_output_path(
    connect: Any, emu: Emulator, video: tuple[Path, bytes]
) -> None:
    """A device is written in place: a temporary file renamed over /dev/full would replace the
    device with a regular file."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    error, job_id = await _fails_once(connect, emu, video, "/dev/full")
    assert "'/dev/full'" in error.message and NO_SPACE in error.message
    assert error.data["job_id"] == job_id
    assert Path("/dev/full").is_char_device()


@pytest.mark.usefixtures("instant_jobs")
async def test_a_full_device_as_the_output_file(
    connect: Any, emu: Emulator, video: tuple[Path, bytes], dev_full: Any
) -> None:
    error, job_id = await _fails_once(connect, emu, video, dev_full)
    assert "'/dev/full'" in error.message and NO_SPACE in error.message
    assert error.data["job_id"] == job_id


@pytest.mark.usefixtures("instant_jobs")
async def test_an_output_that_cannot_be_renamed_into_place(
    connect: Any, emu: Emulator, video: tuple[Path, bytes], tmp_path: Path
) -> None:
    """The last step of a path's output, after the download: here the path is a directory
    (as root, no permission bit would stop a write)."""
    out = tmp_path / "out.mp4"
    out.mkdir()
    error, job_id = await _fails_once(connect, emu, video, out)
    assert str(out) in error.message and os.strerror(errno.EISDIR) in error.message
    assert error.data["job_id"] == job_id
    assert job_id in error.message
    assert leftovers(tmp_path) == [] and out.is_dir()


async def test_an_input_removed_during_the_upload(
    connect: Any, emu: Emulator, video: tuple[Path, bytes]
) -> None:
    """The input is opened when its bytes are due, after the form's first bytes went out: it
    is gone by then. The caller's mistake, reported as such, not as a network failure."""
    path = video[0]
    submits = sum(r.method == "POST" for r in emu.requests)

    def remove(progress: Any) -> None:
        if path.exists():
            path.unlink()

    async with connect() as api:
        with pytest.raises(InvalidInputError) as caught:
            await api.queue.submit(
                {"model": MODEL, "data": path, "prompt": "x"}, on_progress=remove
            )
    assert str(path) in caught.value.message
    assert os.strerror(errno.ENOENT) in caught.value.message
    assert sum(r.method == "POST" for r in emu.requests) <= submits + 1


@pytest.mark.parametrize("callback", ["on_status_change", "on_progress"])
async def test_a_callback_oserror_is_the_callers(connect: Any, callback: str) -> None:
    """An OSError raised by a callback (say, printing to a closed pipe) is the callback's own,
    not a network failure to wrap or retry: every client lets it through as it is."""
    calls = []

    def broken(arg: Any) -> None:
        calls.append(arg)
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    async with connect() as api:
        with pytest.raises(BrokenPipeError):
            await api.queue.submit_and_poll(
                {"model": MODEL, "data": b"video", "prompt": "x"}, **{callback: broken}
            )
    assert len(calls) == 1
