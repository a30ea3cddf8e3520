"""``batch``: interrupted in the middle, then resumed from its journal: no input submitted
twice, no result downloaded twice."""

from __future__ import annotations

import json
import shutil
import signal
from collections import Counter
from pathlib import Path

from cli_helpers import (
    FAST,
    StreamWatcher,
    assert_one_line_error,
    content_requests,
    is_mp4,
    run_cli,
    start_cli,
)

from decart_emulator import Emulator, Fault


def _inputs(video: Path, n: int) -> list[str]:
    paths = []
    for i in range(n):
        path = video.with_name(f"clip{i}.mp4")
        shutil.copyfile(video, path)
        paths.append(str(path))
    return paths


def _journal(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_batch_interrupted_and_resumed(emu: Emulator, video: Path, tmp_path: Path) -> None:
    inputs = _inputs(video, 4)
    # The first jobs stay pending long enough to be interrupted while being waited for.
    emu.add_fault(Fault(job_pending_seconds=4, times=2))
    args = ["batch", *inputs, "-p", "x", "--out-dir", "out", "--concurrency", "2", *FAST]
    proc = start_cli(args, emu, tmp_path)
    err = StreamWatcher(proc.stderr)
    err.wait_for(lambda lines: sum(" pending (" in line for line in lines) >= 2)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 130
    assert proc.stdout is not None
    proc.stdout.close()
    stderr = err.text()
    assert "Traceback" not in stderr
    assert "Resume with: decart-proto batch" in stderr
    journal = tmp_path / "out" / "decart-batch.jsonl"
    first = _journal(journal)
    submitted_first = {r["input"]: r["job_id"] for r in first if r["event"] == "submitted"}
    assert len(submitted_first) == emu.submit_count >= 2
    assert set(submitted_first.values()) == set(emu.jobs)
    assert not any(r["event"] == "done" for r in first)

    # A crash can tear the last line: the rerun drops it and goes on.
    with journal.open("ab") as f:
        f.write(b'{"v": 1, "event": "subm')
    resumed = run_cli([*args, "--json"], emu, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["completed"] == 4
    assert emu.submit_count == 4  # the interrupted run's jobs were resumed, not resubmitted
    records = _journal(journal)  # every line whole again
    submitted = Counter(r["input"] for r in records if r["event"] == "submitted")
    assert sorted(submitted) == sorted(str(Path(p)) for p in inputs)
    assert set(submitted.values()) == {1}
    resumed_rows = [row for row in summary["jobs"] if row["input"] in submitted_first]
    assert len(resumed_rows) == len(submitted_first)
    for row in summary["jobs"]:
        assert is_mp4(Path(row["output"]))
    for row in resumed_rows:
        assert row["job_id"] == submitted_first[row["input"]]
    downloads = Counter(r.path for r in content_requests(emu))
    assert len(downloads) == 4 and set(downloads.values()) == {1}

    # A third run has nothing to do: no submit, no download.
    again = run_cli(args, emu, tmp_path)
    assert again.returncode == 0, again.stderr
    assert emu.submit_count == 4
    assert len(content_requests(emu)) == 4
    assert again.stdout.count("completed") >= 4 and "already saved" in again.stderr


def test_batch_refuses_existing_outputs_and_reports_failures(
    emu: Emulator, video: Path, tmp_path: Path
) -> None:
    inputs = _inputs(video, 2)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "clip1.mp4").write_bytes(b"mine")
    refused = run_cli(["batch", *inputs, "-p", "x", "--out-dir", "out"], emu, tmp_path)
    assert "clip1.mp4" in assert_one_line_error(refused, 2)
    assert emu.submit_count == 0

    (tmp_path / "out" / "clip1.mp4").unlink()
    emu.add_fault(Fault(job_fails=True))
    args = ["batch", *inputs, "-p", "x", "--out-dir", "out", "--concurrency", "1", *FAST]
    first = run_cli([*args, "--json"], emu, tmp_path)
    assert first.returncode == 6, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["completed"], summary["failed"]) == (1, 1)
    # A failed job is not paid for twice unless asked.
    again = run_cli(args, emu, tmp_path)
    assert again.returncode == 6 and emu.submit_count == 2
    retried = run_cli([*args, "--retry-failed"], emu, tmp_path)
    assert retried.returncode == 0, retried.stderr
    assert emu.submit_count == 3
    assert is_mp4(tmp_path / "out" / "clip0.mp4") and is_mp4(tmp_path / "out" / "clip1.mp4")
