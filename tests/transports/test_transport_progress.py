"""``on_progress`` through each transport: the upload is reported piece by piece up to the whole
request body, the download up to the whole video; async callbacks are awaited; no callback, no
reports."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest

from decart_emulator import Emulator
from decart_proto import Progress, models

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("instant_jobs")]

MODEL = models.video("lucy-2.1")
MIB = 1024 * 1024


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_progress_of_upload_and_download(
    connect: Any, transport: str, tmp_path: Path, kind: str
) -> None:
    data = os.urandom(9 * MIB + 321)  # more than one 8 MiB upload piece
    path = tmp_path / "big.mp4"
    path.write_bytes(data)
    seen: list[Progress] = []

    async def record_async(p: Progress) -> None:
        seen.append(p)

    record: Any = seen.append if kind == "sync" else record_async
    async with connect() as api:
        call = api.queue.submit_and_poll(
            {"model": MODEL, "data": path, "prompt": "x"},
            on_progress=record,
            output=tmp_path / "out.mp4",
        )
        if kind == "async" and transport == "blocking":
            # No loop to await it on: a clear error at once, not a silently dropped report.
            with pytest.raises(TypeError, match="cannot await on_progress"):
                await call
            assert list(tmp_path.iterdir()) == [path]
            return
        result = await call
    assert result.status == "completed"
    assert (tmp_path / "out.mp4").read_bytes() == data
    up = [p for p in seen if p.phase == "upload"]
    down = [p for p in seen if p.phase == "download"]
    total = up[-1].total
    assert total is not None and len(data) < total < len(data) + 4096
    assert up[-1].done == total
    assert [p.done for p in up] == sorted({p.done for p in up})
    assert any(b.done - a.done >= 8 * MIB for a, b in itertools.pairwise(up))
    assert down[-1] == Progress("download", len(data), len(data))
    assert 9 <= len(down) <= 11  # about one report per MiB, not one per read


async def test_no_progress_without_a_callback(connect: Any, emu: Emulator) -> None:
    async with connect() as api:
        job = await api.queue.submit({"model": MODEL, "data": b"v" * 1000, "prompt": "x"})
        result = await api.queue.result(job.job_id, on_progress=None)
    assert result.data == b"v" * 1000
