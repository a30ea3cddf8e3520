"""What users expect of any HTTP client, in every transport: a closed client says so when used;
results are typed by what happened (in memory, saved to an output, failed); a URL given as an
input is refused, saying URLs are not fetched, before anything is sent."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from transport_helpers import Api, client_options

from decart_emulator import Emulator, Fault
from decart_proto import CompletedResult, FailedResult, InvalidInputError, SavedResult, models

pytestmark = pytest.mark.anyio

MODEL = models.video("lucy-2.1")


async def test_a_closed_client_refuses_calls_and_sends_nothing(
    connect: Any, emu: Emulator, transport: str
) -> None:
    async with connect() as api:
        if transport == "blocking":
            api.client.close()
        else:
            await api.client.close()
        before = len(emu.jobs)
        for call in (
            lambda: api.queue.status("some-job"),
            lambda: api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"}),
        ):
            with pytest.raises(RuntimeError, match=r"closed.*make a new client"):
                await call()
        assert len(emu.jobs) == before


async def test_a_client_closed_by_its_with_block_refuses_calls(
    emu: Emulator, transport: str
) -> None:
    module = importlib.import_module(f"decart_proto.transports.{transport}")
    client = module.DecartClient(**client_options(emu))
    if transport == "blocking":
        with client:
            pass
    else:
        async with client:
            pass
    with pytest.raises(RuntimeError, match="closed"):
        await Api(transport, client).queue.status("some-job")


async def test_each_result_is_typed_by_what_happened(
    connect: Any, emu: Emulator, tmp_path: Path, instant_jobs: None
) -> None:
    async with connect() as api:
        options = {"model": MODEL, "data": b"the video", "prompt": "x"}
        in_memory = await api.queue.submit_and_poll(options)
        assert isinstance(in_memory, CompletedResult)
        assert (in_memory.status, in_memory.data) == ("completed", b"the video")

        saved = await api.queue.submit_and_poll(options, output=tmp_path / "out.mp4")
        assert isinstance(saved, SavedResult)
        assert (saved.status, saved.data) == ("completed", None)
        assert (tmp_path / "out.mp4").read_bytes() == b"the video"

        emu.clear_faults()  # the instant jobs' fault would answer this submit first
        emu.add_fault(
            Fault(method="POST", job_fails=True, job_pending_seconds=0, job_processing_seconds=0)
        )
        failed = await api.queue.submit_and_poll(options)
        assert isinstance(failed, FailedResult)
        assert (failed.status, failed.data, failed.error) == ("failed", None, "Job failed")
        assert failed.job_id not in (in_memory.job_id, saved.job_id)


@pytest.mark.parametrize(
    "url", ["https://cdn.example/video.mp4?sig=hush-hush-token", "s3://bucket/hush-hush-token"]
)
async def test_a_url_input_is_refused_before_anything_is_sent(
    connect: Any, emu: Emulator, url: str
) -> None:
    async with connect() as api:
        before = len(emu.jobs)
        with pytest.raises(InvalidInputError) as caught:
            await api.queue.submit_and_poll({"model": MODEL, "data": url, "prompt": "x"})
        message = str(caught.value)
        assert "is a URL" in message and "not fetched" in message
        assert "hush-hush-token" not in message  # a signed URL's secret is not echoed
        assert len(emu.jobs) == before


async def test_a_path_that_merely_contains_a_colon_is_still_a_path(
    connect: Any, tmp_path: Path, instant_jobs: None
) -> None:
    odd = tmp_path / "take:2.mp4"
    odd.write_bytes(b"colons are fine")
    async with connect() as api:
        result = await api.queue.submit_and_poll({"model": MODEL, "data": str(odd), "prompt": "x"})
    assert isinstance(result, CompletedResult) and result.data == b"colons are fine"
