"""An output that cannot be written fails the call with the job id to resume, on every loop: the
run loop hands the OutputError to the driver (as it does a network error), which adds the id."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from decart_emulator import Emulator, Fault
from decart_proto import OutputError, models

pytestmark = pytest.mark.anyio

MODEL = models.video("lucy-2.1")
CONTENT_PATH = r"/v1/jobs/[^/]+/content"


@pytest.fixture
def full_device() -> Iterator[Any]:
    """A file object whose every write fails with ENOSPC, as on a full device."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "wb", buffering=0) as f:
        yield f


@pytest.mark.usefixtures("instant_jobs")
async def test_a_failed_write_names_the_job_to_resume(
    connect: Any, emu: Emulator, video: tuple[Path, bytes], full_device: Any
) -> None:
    async with connect() as api:
        job = await api.queue.submit({"model": MODEL, "data": video[0], "prompt": "x"})
        with pytest.raises(OutputError) as caught:
            await api.queue.wait(job.job_id, output=full_device)
        api.assert_pool_clean()
    assert caught.value.data["job_id"] == job.job_id
    assert job.job_id in caught.value.message


class _Unseekable(io.BytesIO):
    """An output that cannot be rewound (a pipe, a socket)."""

    def seekable(self) -> bool:
        return False


@pytest.mark.usefixtures("instant_jobs")
async def test_an_output_that_cannot_be_rewound_names_the_job_to_resume(
    connect: Any, emu: Emulator, video: tuple[Path, bytes]
) -> None:
    # The download breaks off after 100 kB: a retry would have to start the output again.
    async with connect() as api:
        job = await api.queue.submit({"model": MODEL, "data": video[0], "prompt": "x"})
        await api.queue.wait(job.job_id, output=os.devnull)
        emu.add_fault(Fault(method="GET", path=CONTENT_PATH, close_after_body_bytes=100_000))
        with pytest.raises(OutputError) as caught:
            await api.queue.result(job.job_id, output=_Unseekable())
        api.assert_pool_clean()
    assert "cannot be rewound" in caught.value.message
    assert caught.value.data["job_id"] == job.job_id
    assert job.job_id in caught.value.message
