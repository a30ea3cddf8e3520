"""Decart's official Python client, unchanged but for ``base_url``, against the emulator."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

pytest.importorskip("decart")

from decart import DecartClient, QueueResultError, QueueStatusError, QueueSubmitError, models
from emulator_helpers import FAST

from decart_emulator import Emulator, sample_video_path

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def client_for(emulator: Emulator, api_key: str | None = None) -> DecartClient:
    return DecartClient(api_key=api_key or emulator.api_key, base_url=emulator.base_url)


def test_submit_status_result(emu: Emulator) -> None:
    video = sample_video_path().read_bytes()

    async def scenario() -> tuple[Any, Any, bytes]:
        async with client_for(emu) as client:
            job = await client.queue.submit(
                {"model": models.video("lucy-2.1"), "data": video, "prompt": "anime"}
            )
            # The docs' manual polling, with a generous bound instead of none: a job that never
            # completes fails the test rather than hanging it.
            deadline = time.monotonic() + 30
            while (status := await client.queue.status(job.job_id)).status != "completed":
                assert time.monotonic() < deadline, f"still {status.status} after 30 s"
                await asyncio.sleep(0.02)
            return job, status, await client.queue.result(job.job_id)

    job, status, data = run(scenario())
    assert job.status == "pending"
    assert status.job_id == job.job_id
    assert emu.jobs == {job.job_id: "completed"}
    assert emu.submit_count == 1
    assert data[4:8] == b"ftyp"  # an MP4
    assert len(data) > 1000


def test_submit_and_poll_gets_the_result_bytes(emu: Emulator) -> None:
    seen: list[str] = []

    async def scenario() -> Any:
        async with client_for(emu) as client:
            return await client.queue.submit_and_poll(
                {
                    "model": models.video("lucy-2.1"),
                    "data": sample_video_path().read_bytes(),
                    "prompt": "",
                    "on_status_change": lambda job: seen.append(job.status),
                }
            )

    result = run(scenario())
    assert result.status == "completed"
    (job_id,) = emu.jobs
    content = [r for r in emu.requests if r.path == f"/v1/jobs/{job_id}/content"]
    assert content and content[0].status == 200
    assert result.data[4:8] == b"ftyp"
    assert seen[0] == "pending" and seen[-1] == "completed"


@pytest.mark.slow
def test_default_timings_show_every_status_at_the_official_rhythm() -> None:
    """Defaults (1.0 s pending, 1.5 s processing) against polls at 0.5 s then every 1.5 s."""
    seen: list[str] = []

    async def scenario(emulator: Emulator) -> Any:
        async with client_for(emulator) as client:
            return await client.queue.submit_and_poll(
                {
                    "model": models.video("lucy-2.1"),
                    "data": sample_video_path().read_bytes(),
                    "prompt": "anime",
                    "on_status_change": lambda job: seen.append(job.status),
                }
            )

    with Emulator() as emulator:
        result = run(scenario(emulator))
    assert result.status == "completed"
    assert seen == ["pending", "pending", "processing", "completed"]


def test_a_failed_job_is_reported_failed() -> None:
    async def scenario(emulator: Emulator) -> Any:
        async with client_for(emulator) as client:
            job = await client.queue.submit(
                {"model": models.video("lucy-2.1"), "data": b"not a video", "prompt": "x"}
            )
            emulator.fail_job(job.job_id, "the test says so")
            return await client.queue.status(job.job_id)

    with Emulator(pending_seconds=5, processing_seconds=5) as emulator:
        status = run(scenario(emulator))
    assert status.status == "failed"


def test_errors_reach_the_official_client_as_its_own_exceptions(emu: Emulator) -> None:
    async def scenario() -> list[Exception]:
        errors: list[Exception] = []
        async with client_for(emu, api_key="wrong-key") as client:
            try:
                await client.queue.submit(
                    {"model": models.video("lucy-2.1"), "data": b"x", "prompt": "x"}
                )
            except QueueSubmitError as exc:
                errors.append(exc)
        async with client_for(emu) as client:
            try:
                await client.queue.status("no-such-job")
            except QueueStatusError as exc:
                errors.append(exc)
            try:
                await client.queue.result("no-such-job")
            except QueueResultError as exc:
                errors.append(exc)
        return errors

    submit_error, status_error, result_error = run(scenario())
    assert submit_error.data["status"] == 401
    assert "Failed to submit job: 401" in str(submit_error)
    assert status_error.data["status"] == 404
    assert result_error.data["status"] == 404


@pytest.mark.parametrize("model", ["lucy-restyle-2", "lucy-latest", "lucy-restyle-v2v"])
def test_other_models_the_official_client_knows(model: str) -> None:
    async def scenario(emulator: Emulator) -> Any:
        async with client_for(emulator) as client:
            return await client.queue.submit_and_poll(
                {
                    "model": models.video(model),  # type: ignore[arg-type]
                    "data": sample_video_path().read_bytes(),
                    "prompt": "watercolour",
                    "enhance_prompt": True,  # sent as "True" by the official client
                    "seed": 42,
                }
            )

    with Emulator(**FAST) as emulator:  # type: ignore[arg-type]
        assert run(scenario(emulator)).status == "completed"
