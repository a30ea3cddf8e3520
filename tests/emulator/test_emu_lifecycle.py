"""Job lifecycle: timings, the server-side limit, forced failures, and restart with a state dir."""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path

import pytest
from emulator_helpers import request, submit, wait_for

from decart_emulator import Emulator, Fault, sample_video_path
from decart_emulator._core import SMALL_UPLOAD_BYTES
from decart_emulator._jobs import Job, status_at


def job(**changes: object) -> Job:
    base = {
        "job_id": "j", "owner": "o", "model": "lucy-2.1", "created_at": 100.0,
        "pending_seconds": 1.0, "processing_seconds": 2.0, "limit_seconds": 600.0,
        "input_path": "/in",
    }  # fmt: skip
    base.update(changes)
    return Job(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "now", "expected"),
    [
        ({}, 100.0, "pending"),
        ({}, 100.99, "pending"),
        ({}, 101.0, "processing"),
        ({}, 500.0, "processing"),  # never rendered: still processing...
        ({}, 700.0, "failed"),  # ...until the limit
        ({"rendered_at": 100.5, "result_path": "/r"}, 102.9, "processing"),
        ({"rendered_at": 100.5, "result_path": "/r"}, 103.0, "completed"),
        ({"rendered_at": 100.5, "result_path": "/r"}, 9999.0, "completed"),
        ({"rendered_at": 110.0, "result_path": "/r"}, 105.0, "processing"),  # slow render
        ({"rendered_at": 110.0, "result_path": "/r"}, 110.0, "completed"),
        ({"rendered_at": 100.5, "result_path": None}, 103.0, "failed"),  # render failed
        ({"rendered_at": 100.5, "result_path": "/r", "scripted_failure": "x"}, 103.0, "failed"),
        ({"rendered_at": 100.5, "result_path": "/r", "limit_seconds": 2.0}, 102.0, "failed"),
        ({"rendered_at": 100.5, "result_path": "/r", "limit_seconds": 3.0}, 103.0, "failed"),
        ({"forced_failure_at": 100.2}, 100.1, "pending"),
        ({"forced_failure_at": 100.2}, 100.2, "failed"),
    ],
)
def test_status_is_a_function_of_time(
    changes: dict[str, object], now: float, expected: str
) -> None:
    assert status_at(job(**changes), now) == expected


def test_pending_then_processing_then_completed() -> None:
    """Each status only in its window: pending for 0.4 s after the submit, then processing for
    0.4 s, then completed. Each answer is checked against the times around its request, which a
    loaded machine can widen but never contradict (a sleep-paced loop that expected to see all
    three, within 3 s, could fail under load and prove nothing more)."""
    windows = {"pending": (0.0, 0.4), "processing": (0.4, 0.8), "completed": (0.8, math.inf)}
    with Emulator(pending_seconds=0.4, processing_seconds=0.4) as emu:
        before = time.monotonic()
        job_id = submit(emu).json()["job_id"]
        after = time.monotonic()  # the job was created between before and after
        seen: list[tuple[float, float, str]] = []  # the job's least and greatest age, status

        def completed() -> bool:
            asked = time.monotonic()
            status = request(emu, "GET", f"/v1/jobs/{job_id}").json()["status"]
            seen.append((asked - after, time.monotonic() - before, status))
            return status == "completed"

        wait_for(completed, timeout=30)
    statuses = [status for *_, status in seen]
    assert statuses == sorted(statuses, key=list(windows).index), "a status came back"
    for youngest, oldest, status in seen:
        # The job's age while the request was answered lay in [youngest, oldest]: it must
        # meet the window of the status it was given.
        start, end = windows[status]
        assert oldest >= start and youngest < end, (youngest, oldest, status)


def test_the_server_side_limit_fails_a_job_that_takes_too_long() -> None:
    with Emulator(pending_seconds=0.05, processing_seconds=0.05, job_limit_seconds=0.4) as emu:
        quick = submit(emu).json()["job_id"]
        emu.add_fault(Fault(job_processing_seconds=60))
        slow = submit(emu).json()["job_id"]
        wait_for(lambda: emu.jobs[quick] == "completed")
        assert emu.jobs[slow] == "processing"
        wait_for(lambda: emu.jobs[slow] == "failed", timeout=3)
        reply = request(emu, "GET", f"/v1/jobs/{slow}/content")
        assert reply.json() == {"detail": "Job failed: Job did not finish within 0.4 seconds"}
        # quick was created before slow, so it is past its limit too, and stays completed.
        assert emu.jobs[quick] == "completed"


def test_fail_job() -> None:
    with Emulator(pending_seconds=30) as emu:
        job_id = submit(emu).json()["job_id"]
        emu.fail_job(job_id, "no")
        assert request(emu, "GET", f"/v1/jobs/{job_id}").json()["status"] == "failed"
        with pytest.raises(ValueError, match="already ended"):
            emu.fail_job(job_id)
        with pytest.raises(KeyError):
            emu.fail_job("unknown")


def test_jobs_view_is_read_only(emu: Emulator) -> None:
    job_id = submit(emu).json()["job_id"]
    view = emu.jobs
    with pytest.raises(TypeError):
        view[job_id] = "completed"  # type: ignore[index]


def test_jobs_survive_a_restart_with_a_state_dir(tmp_path: Path) -> None:
    settings = {"pending_seconds": 0.3, "processing_seconds": 0.3, "state_dir": tmp_path}
    with Emulator(**settings) as first:  # type: ignore[arg-type]
        done = submit(first).json()["job_id"]
        wait_for(lambda: first.jobs[done] == "completed")
        result = request(first, "GET", f"/v1/jobs/{done}/content").body
        running = submit(first).json()["job_id"]
        assert first.jobs[running] == "pending"
    with Emulator(**settings) as second:  # type: ignore[arg-type]
        assert request(second, "GET", f"/v1/jobs/{done}").json()["status"] == "completed"
        assert request(second, "GET", f"/v1/jobs/{done}/content").body == result
        wait_for(lambda: second.jobs[running] == "completed")
        assert request(second, "GET", f"/v1/jobs/{running}/content").status == 200
        assert request(second, "GET", f"/v1/jobs/{done}", api_key="other").status == 401
    databases = list(tmp_path.glob("jobs.sqlite3*"))
    assert databases
    assert not any(b"test-key" in path.read_bytes() for path in databases)  # only digests


def test_without_a_state_dir_nothing_is_left_behind() -> None:
    emu = Emulator(pending_seconds=0, processing_seconds=0)
    with emu:
        submit(emu)
        state_dir = emu._running().state_dir
        assert state_dir.exists()
    assert not state_dir.exists()


def test_without_a_state_dir_a_small_job_creates_no_file() -> None:
    """Without a state directory or re-encoding, a small input stays in memory and is served
    from there (creating a file cost about 1 ms of kernel time per submit); a larger one is
    spooled and kept on disk as before, and both come back byte for byte."""
    small = sample_video_path().read_bytes()
    large = bytes(range(256)) * (SMALL_UPLOAD_BYTES // 256) + b"one byte past the limit"
    with Emulator(pending_seconds=0, processing_seconds=0, reencode=False) as emu:
        core = emu._running()
        small_id = submit(emu, files={"data": small, "reference_image": b"png"}).json()["job_id"]
        assert list(core.spool_dir.iterdir()) == list(core.jobs_dir.iterdir()) == []
        large_id = submit(emu, files={"data": large}).json()["job_id"]
        assert [p.name for p in core.jobs_dir.iterdir()] == [large_id]
        assert list(core.spool_dir.iterdir()) == []
        wait_for(lambda: emu.jobs == {small_id: "completed", large_id: "completed"})
        for job_id, video in ((small_id, small), (large_id, large)):
            reply = request(emu, "GET", f"/v1/jobs/{job_id}/content")
            assert (reply.status, reply.body) == (200, video)
            assert reply.headers["content-type"] == "video/mp4"


def test_a_render_interrupted_by_a_restart_is_done_again(tmp_path: Path) -> None:
    settings = {"pending_seconds": 0, "processing_seconds": 0, "state_dir": tmp_path}
    with Emulator(**settings) as first:  # type: ignore[arg-type]
        job_id = submit(first).json()["job_id"]
        wait_for(lambda: first.jobs[job_id] == "completed")
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as db:  # as if stopped mid-render
        db.execute("UPDATE jobs SET rendered_at = NULL, result_path = NULL")
    with Emulator(**settings) as second:  # type: ignore[arg-type]
        wait_for(lambda: second.jobs[job_id] == "completed")
        assert request(second, "GET", f"/v1/jobs/{job_id}/content").body[4:8] == b"ftyp"
