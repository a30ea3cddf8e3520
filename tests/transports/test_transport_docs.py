"""The Queue API docs' examples, run for each transport against the emulator (the examples
themselves are in ``docs_examples_<transport>.py``, as close to the docs' text as they can be).

Each example runs on its transport's own loop: ``asyncio.run`` or ``trio.run`` around a client
made there, or plainly for the blocking client; what it prints is compared with what the docs
say it prints.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import trio
from transport_helpers import TRANSPORTS

from decart_emulator import Emulator, Fault, sample_video_path
from decart_proto import InvalidInputError, PollPolicy

# The timings the docs' sample output needs under the official polling rhythm (first poll 0.5 s
# after submit, then every 1.5 s): pending at 0.5 s, processing at 2 s would be too late, so
# the job is processing from 0.3 s to 0.9 s and completed at the 2 s poll.
DOCS_PENDING = 0.3
DOCS_PROCESSING = 0.6
# The snippets that are given a client get one that polls quickly.
QUICK = PollPolicy(initial_delay=0.05, interval=0.05)


@pytest.fixture(scope="module")
def docs_emu() -> Iterator[Emulator]:
    with Emulator(
        pending_seconds=DOCS_PENDING, processing_seconds=DOCS_PROCESSING, reencode=False
    ) as emu:
        yield emu


@pytest.fixture(params=TRANSPORTS)
def examples(request: pytest.FixtureRequest, docs_emu: Emulator) -> Iterator[ModuleType]:
    module = importlib.import_module(f"docs_examples_{request.param}")
    module.API_KEY = docs_emu.api_key  # type: ignore[attr-defined]
    module.BASE_URL = docs_emu.base_url  # type: ignore[attr-defined]
    docs_emu.clear_faults()
    yield module
    docs_emu.clear_faults()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The docs read ``input.mp4`` and write ``output.mp4`` in the current directory."""
    shutil.copy(sample_video_path(), tmp_path / "input.mp4")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(examples: ModuleType, snippet: str, *args: Any) -> Any:
    """Run ``examples.<snippet>(client, *args)`` with a client of the examples' transport,
    made and closed on that transport's loop."""
    transport = examples.__name__.rsplit("_", 1)[1]
    example = getattr(examples, snippet)
    options = {"api_key": examples.API_KEY, "base_url": examples.BASE_URL, "poll": QUICK}
    if transport == "blocking":
        with examples.DecartClient(**options) as client:
            return example(client, *args)

    async def main() -> Any:
        async with examples.DecartClient(**options) as client:
            return await example(client, *args)

    if transport == "asyncio":
        return asyncio.run(main())
    return trio.run(main)


def test_submit_status_and_result(
    examples: ModuleType, docs_emu: Emulator, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open("input.mp4", "rb") as video_file:
        job = run(examples, "submit_a_job", video_file)
    assert capsys.readouterr().out == f"Job ID: {job.job_id}\nStatus: pending\n"

    run(examples, "check_job_status", job)
    assert capsys.readouterr().out == "Status: pending\n"

    # Before the job completes the result example does nothing, as written.
    run(examples, "get_job_result", job)
    assert not (workdir / "output.mp4").exists()
    _wait_until_completed(docs_emu, job.job_id)
    run(examples, "get_job_result", job)
    assert (workdir / "output.mp4").read_bytes() == (workdir / "input.mp4").read_bytes()
    assert capsys.readouterr().out == ""


def test_submit_and_poll(
    examples: ModuleType, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(examples, "submit_and_poll")
    assert capsys.readouterr().out == "Status: pending\nStatus: processing\nStatus: completed\n"
    assert (workdir / "output.mp4").read_bytes() == (workdir / "input.mp4").read_bytes()


def test_complete_example(
    examples: ModuleType, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its own client, with the official polling rhythm: the output is the docs' own.
    examples.complete_example()
    assert capsys.readouterr().out == (
        "Submitting video editing job...\n"
        "  Status: pending\n"
        "  Status: processing\n"
        "  Status: completed\n"
        "Video saved to output.mp4\n"
    )
    assert (workdir / "output.mp4").read_bytes() == (workdir / "input.mp4").read_bytes()


def test_manual_polling_as_written(examples: ModuleType, docs_emu: Emulator, workdir: Path) -> None:
    # As written in the docs, the submit has no "data": lucy-2.1 requires the input video, so
    # the client refuses it with InvalidInputError before sending anything.
    before = len(docs_emu.requests)
    with pytest.raises(InvalidInputError, match="data"):
        run(examples, "manual_polling")
    assert len(docs_emu.requests) == before
    assert not (workdir / "output.mp4").exists()


def test_manual_polling_with_data(
    examples: ModuleType, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open("input.mp4", "rb") as video_file:
        run(examples, "manual_polling_with_data", video_file)
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"Job submitted: \S+", lines[0])
    statuses = [line.removeprefix("Status: ") for line in lines[1:-1]]
    assert statuses[0] == "pending" and statuses[-1] == "completed"
    assert set(statuses) == {"pending", "processing", "completed"}
    assert lines[-1] == "Video saved!"
    assert (workdir / "output.mp4").read_bytes() == (workdir / "input.mp4").read_bytes()


def test_error_handling_as_written(
    examples: ModuleType, docs_emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # As written, the submit lacks "data": InvalidInputError, a DecartSDKError, lands in the
    # docs' last except clause.
    before = len(docs_emu.requests)
    run(examples, "error_handling")
    out = capsys.readouterr().out
    assert out.startswith("SDK error: ") and "data" in out
    assert len(docs_emu.requests) == before


@pytest.mark.parametrize(
    ("fault", "printed"),
    [
        (Fault(method="POST", status=400, body='{"detail": "no"}'),
         "Failed to submit job: Failed to submit job: 400 - "),
        (Fault(method="GET", path=r"/v1/jobs/[^/]+", status=404, body='{"detail": "gone"}'),
         "Failed to check status: Failed to get job status: 404 - "),
        (Fault(method="GET", path=r"/v1/jobs/[^/]+/content", status=400, body="{}"),
         "Failed to get result: Failed to get job content: 400 - "),
    ],
)  # fmt: skip
def test_error_handling_branches(
    examples: ModuleType,
    docs_emu: Emulator,
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    fault: Fault,
    printed: str,
) -> None:
    # With the "data" the model needs, each server failure reaches its own except clause.
    docs_emu.add_fault(fault)
    with open("input.mp4", "rb") as video_file:
        run(examples, "error_handling_with_data", video_file)
    assert capsys.readouterr().out.startswith(printed)


def _wait_until_completed(emu: Emulator, job_id: str) -> None:
    give_up = time.monotonic() + 10
    while emu.jobs[job_id] != "completed":
        assert time.monotonic() < give_up
        time.sleep(0.02)
