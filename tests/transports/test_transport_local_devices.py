"""An output path that names a pipe or a device is written in place: the atomic write of a
regular file (a temporary file renamed over the path) would replace it with a regular file —
as root, /dev/null itself."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from decart_proto import models

pytestmark = pytest.mark.anyio

MODEL = models.video("lucy-2.1")


@pytest.mark.usefixtures("instant_jobs")
async def test_a_fifo_as_the_output_path(
    connect: Any, video: tuple[Path, bytes], tmp_path: Path
) -> None:
    path, data = video
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received = bytearray()

    def read() -> None:
        with open(fifo, "rb") as f:  # waits for the client to open its end
            while chunk := f.read(65536):
                received.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    async with connect() as api:
        result = await api.queue.submit_and_poll(
            {"model": MODEL, "data": path, "prompt": "x"}, output=fifo
        )
    reader.join(timeout=10)
    assert result.status == "completed" and result.data is None
    assert bytes(received) == data
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.mp4", "out.fifo"]


@pytest.mark.usefixtures("instant_jobs")
async def test_dev_null_as_the_output_path(connect: Any, video: tuple[Path, bytes]) -> None:
    if not os.path.exists(os.devnull) or os.name != "posix":
        pytest.skip("no /dev/null")
    async with connect() as api:
        result = await api.queue.submit_and_poll(
            {"model": MODEL, "data": video[0], "prompt": "x"}, output=os.devnull
        )
    assert result.status == "completed"
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
