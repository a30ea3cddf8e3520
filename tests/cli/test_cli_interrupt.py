"""Ctrl-C while waiting: the job id and the command that resumes it, exit 130, and the resumed
wait saves the result without a second submit."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from cli_helpers import FAST, StreamWatcher, is_mp4, resume_args, run_cli, start_cli

from decart_emulator import Emulator, Fault


def _interrupt_when_pending(args: list[str], emu: Emulator, cwd: Path) -> tuple[int, str]:
    proc = start_cli(args, emu, cwd)
    err = StreamWatcher(proc.stderr)
    err.wait_for(lambda lines: any(" pending (" in line for line in lines))
    proc.send_signal(signal.SIGINT)
    code = proc.wait(30)
    assert proc.stdout is not None
    proc.stdout.close()
    return code, err.text()


def test_ctrl_c_during_wait_then_wait_again(emu: Emulator, video: Path, tmp_path: Path) -> None:
    emu.add_fault(Fault(job_pending_seconds=4))
    submitted = run_cli(["submit", str(video), "-p", "x", "--no-wait", "--json"], emu, tmp_path)
    job_id = json.loads(submitted.stdout)["job_id"]

    code, stderr = _interrupt_when_pending(
        ["wait", "-o", "out.mp4", *FAST, "--", job_id], emu, tmp_path
    )
    assert code == 130
    assert "Traceback" not in stderr
    resume = resume_args(stderr)
    assert job_id in resume and resume[resume.index("-o") + 1] == "out.mp4"
    assert not (tmp_path / "out.mp4").exists() and not list(tmp_path.glob(".*.part"))
    assert emu.jobs[job_id] in ("pending", "processing")

    resumed = run_cli([*FAST, *resume], emu, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert is_mp4(tmp_path / "out.mp4")
    assert emu.submit_count == 1


def test_ctrl_c_during_submit_prints_the_job_id(emu: Emulator, video: Path, tmp_path: Path) -> None:
    emu.add_fault(Fault(job_pending_seconds=4))
    code, stderr = _interrupt_when_pending(
        ["submit", str(video), "-p", "x", "-o", "edited.mp4", *FAST], emu, tmp_path
    )
    assert code == 130
    resume = resume_args(stderr)
    assert resume[resume.index("-o") + 1] == "edited.mp4"
    (job_id,) = emu.jobs
    assert job_id in resume

    resumed = run_cli([*FAST, *resume], emu, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert is_mp4(tmp_path / "edited.mp4")
    assert emu.submit_count == 1
