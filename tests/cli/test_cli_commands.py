"""Each command through a subprocess against an in-process emulator."""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

from cli_helpers import (
    FAST,
    KEY,
    assert_one_line_error,
    cli_env,
    content_requests,
    is_mp4,
    resume_args,
    run_cli,
)

from decart_emulator import Emulator, Fault
from decart_proto import __version__


def test_version_and_help(tmp_path: Path) -> None:
    version = run_cli(["--version"], None, tmp_path)
    assert version.returncode == 0
    assert version.stdout.strip() == f"decart-proto {__version__}"
    help_text = run_cli(["--help"], None, tmp_path)
    assert help_text.returncode == 0
    for command in ("submit", "status", "wait", "result", "batch", "demo", "emulator"):
        assert command in help_text.stdout
    assert "examples:" in help_text.stdout and "exit codes:" in help_text.stdout
    submit_help = run_cli(["submit", "--help"], None, tmp_path)
    assert "--no-wait" in submit_help.stdout and "example:" in submit_help.stdout
    # The emulator's own options, also after ours (which it does not use).
    for args in (["emulator", "--help"], ["--json", "--timeout", "3", "emulator", "--help"]):
        emulator_help = run_cli(args, None, tmp_path)
        assert emulator_help.returncode == 0, emulator_help.stderr
        assert emulator_help.stdout.startswith("usage: decart-emulator")


def test_submit_waits_and_saves(emu: Emulator, video: Path, tmp_path: Path) -> None:
    result = run_cli(
        ["submit", str(video), "--prompt", "anime", "-o", "out.mp4", *FAST], emu, tmp_path
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out.mp4"
    assert is_mp4(out)
    assert emu.submit_count == 1
    assert len(content_requests(emu)) == 1
    assert "Saved out.mp4" in result.stdout
    # one plain line per event, since stderr is not a terminal
    assert re.search(r"clip\.mp4: upload: .* in .* s", result.stderr)
    for status in ("pending", "completed"):
        assert re.search(rf"clip\.mp4: job \S+ {status} \(\d+\.\d s\)", result.stderr), status
    assert not list(tmp_path.glob(".*.part"))


def test_submit_default_output_name_and_json(emu: Emulator, video: Path, tmp_path: Path) -> None:
    result = run_cli(["--json", "submit", str(video), "-p", "x", *FAST], emu, tmp_path)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    out = tmp_path / "clip-edited.mp4"
    assert answer["status"] == "completed"
    # Absolute, as batch and demo report theirs: a script may go on from another directory.
    assert os.path.isabs(answer["output"]) and os.path.samefile(answer["output"], out)
    assert answer["bytes"] == out.stat().st_size
    assert answer["job_id"] in emu.jobs


def test_no_wait_status_wait_result(emu: Emulator, video: Path, tmp_path: Path) -> None:
    submitted = run_cli(["submit", str(video), "-p", "x", "--no-wait", "-q"], emu, tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()
    assert job_id in emu.jobs and submitted.stderr == ""

    # After "--", as for any id that may start with a dash (one in 64 of the emulator's do).
    status = run_cli(["status", "--json", "--", job_id], emu, tmp_path)
    assert json.loads(status.stdout) == {"job_id": job_id, "status": emu.jobs[job_id]} or (
        json.loads(status.stdout)["status"] in ("pending", "processing", "completed")
    )

    waited = run_cli(["wait", "-o", "a.mp4", *FAST, "--", job_id], emu, tmp_path)
    assert waited.returncode == 0, waited.stderr
    assert is_mp4(tmp_path / "a.mp4")
    done = run_cli(["status", "-q", "--", job_id], emu, tmp_path)
    assert done.stdout.strip() == "completed"

    fetched = run_cli(["result", "-o", "b.mp4", "--json", "--", job_id], emu, tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    fetched_answer = json.loads(fetched.stdout)
    assert fetched_answer["bytes"] == (tmp_path / "b.mp4").stat().st_size
    assert fetched_answer["output"] == os.path.join(os.path.realpath(tmp_path), "b.mp4")
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()

    again = run_cli(["result", "-o", "b.mp4", "--", job_id], emu, tmp_path)
    assert "--force" in assert_one_line_error(again, 2)
    forced = run_cli(["result", "-o", "b.mp4", "--force", "--", job_id], emu, tmp_path)
    assert forced.returncode == 0
    assert emu.submit_count == 1


def test_existing_output_refused_before_any_upload(
    emu: Emulator, video: Path, tmp_path: Path
) -> None:
    (tmp_path / "out.mp4").write_bytes(b"precious")
    result = run_cli(["submit", str(video), "-p", "x", "-o", "out.mp4"], emu, tmp_path)
    line = assert_one_line_error(result, 2)
    assert "exists" in line and "--force" in line
    assert emu.submit_count == 0 and emu.requests == []
    assert (tmp_path / "out.mp4").read_bytes() == b"precious"


def test_refusals(emu: Emulator, video: Path, tmp_path: Path) -> None:
    missing = run_cli(["submit", "nope.mp4", "-p", "x"], emu, tmp_path)
    assert "nope.mp4" in assert_one_line_error(missing, 2)

    model = run_cli(["submit", str(video), "-p", "x", "--model", "lucy-9"], emu, tmp_path)
    assert "lucy-9" in assert_one_line_error(model, 2)

    rules = run_cli(["submit", str(video), "--model", "lucy-clip"], emu, tmp_path)
    assert "prompt" in assert_one_line_error(rules, 2)

    no_key = run_cli(
        ["submit", str(video), "-p", "x"],
        None,
        tmp_path,
        env=cli_env(None, DECART_BASE_URL=emu.base_url),
    )
    assert "DECART_API_KEY" in assert_one_line_error(no_key, 3)

    usage = run_cli(["submit", str(video), "--seed", "many"], emu, tmp_path)
    assert_one_line_error(usage, 2)
    assert emu.submit_count == 0 and emu.requests == []


def test_api_key_never_printed(emu: Emulator, video: Path, tmp_path: Path) -> None:
    wrong = "wrong-secret-key-for-this-test-42"
    env = cli_env(emu, DECART_API_KEY=wrong)
    emu.add_fault(
        Fault(method="POST", status=401, body=json.dumps({"detail": f"Invalid API key {wrong}"}))
    )
    echoed = run_cli(["submit", str(video), "-p", "x", "--json"], emu, tmp_path, env=env)
    line = assert_one_line_error(echoed, 3)
    assert "401" in line
    assert json.loads(echoed.stdout)["error"]["kind"] == "auth"
    rejected = run_cli(["status", "some-job", "--api-key", wrong], emu, tmp_path, env=env)
    assert_one_line_error(rejected, 3)
    usage = run_cli(["status", "--api-key", wrong, "--bogus", wrong], emu, tmp_path, env=env)
    assert_one_line_error(usage, 2)
    for result in (echoed, rejected, usage):
        assert wrong not in result.stdout + result.stderr
    assert KEY not in echoed.stdout + echoed.stderr


def test_job_failed(emu: Emulator, video: Path, tmp_path: Path) -> None:
    emu.add_fault(Fault(job_fails=True, job_error="the model refused"))
    result = run_cli(
        ["submit", str(video), "-p", "x", "-o", "o.mp4", "--json", *FAST], emu, tmp_path
    )
    line = assert_one_line_error(result, 6)
    assert "failed" in line
    answer = json.loads(result.stdout)
    assert answer["status"] == "failed" and answer["error"]["exit_code"] == 6
    assert answer["job_id"] in emu.jobs
    assert not (tmp_path / "o.mp4").exists() and not list(tmp_path.glob(".*.part"))


def test_network_failure_after_the_upload(emu: Emulator, video: Path, tmp_path: Path) -> None:
    # The job is created but the answer is lost: not retried (that could duplicate a paid job).
    emu.add_fault(Fault(method="POST", close_after_handling=True))
    result = run_cli(["submit", str(video), "-p", "x"], emu, tmp_path)
    assert_one_line_error(result, 5)
    assert emu.submit_count == 1


def _refusing_env() -> dict[str, str]:
    """A base URL on a port nothing listens on: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return cli_env(None, DECART_API_KEY=KEY, DECART_BASE_URL=f"http://127.0.0.1:{port}")


def test_connection_refused_until_the_deadline(tmp_path: Path) -> None:
    env = _refusing_env()
    result = run_cli(["status", "job-1", "--timeout", "1"], None, tmp_path, env=env)
    line = assert_one_line_error(result, 7)
    assert "Deadline" in line or "deadline" in line
    # A status is asked again, not resumed: the hint is about the connection and the time.
    assert "resume" not in line.lower() and "--timeout" in line


def test_a_deadline_says_how_to_resume_once(tmp_path: Path) -> None:
    env = _refusing_env()
    result = run_cli(["wait", "job-1", "-o", "w.mp4", "--timeout", "1"], None, tmp_path, env=env)
    line = assert_one_line_error(result, 7)
    # One way to resume (the command to paste), not the client's sentence beside it.
    assert line.lower().count("resume") == 1, line
    assert line.count("job-1") == 2, line  # the message names the job, the command resumes it
    assert resume_args(line) == ["wait", "job-1", "-o", "w.mp4"]


def test_server_breaks_the_protocol(emu: Emulator, tmp_path: Path) -> None:
    emu.add_fault(Fault(method="GET", status=200, body="<html>oops</html>"))
    result = run_cli(["status", "job-1"], emu, tmp_path)
    assert_one_line_error(result, 4)


def test_unknown_job_and_unfinished_result(emu: Emulator, video: Path, tmp_path: Path) -> None:
    unknown = run_cli(["status", "no-such-job"], emu, tmp_path)
    assert "404" in assert_one_line_error(unknown, 2)
    emu.add_fault(Fault(job_pending_seconds=30))
    submitted = run_cli(["submit", str(video), "-p", "x", "--no-wait", "--json"], emu, tmp_path)
    job_id = json.loads(submitted.stdout)["job_id"]
    early = run_cli(["result", "-o", "r.mp4", "--", job_id], emu, tmp_path)
    line = assert_one_line_error(early, 8)
    assert f"job {job_id} is still pending" in line and "409" not in line
    resume = resume_args(line)
    assert job_id in resume and resume[resume.index("-o") + 1] == "r.mp4"
    early_json = run_cli(["result", "--json", "-o", "r.mp4", "--", job_id], emu, tmp_path)
    answer = json.loads(early_json.stdout)
    assert early_json.returncode == 8 and answer["status"] == "pending"
    assert answer["error"]["kind"] == "not-ready" and answer["job_id"] == job_id
    waiting = ["wait", "-o", "r.mp4", "--timeout", "1", *FAST, "--", job_id]
    deadline = run_cli(waiting, emu, tmp_path)
    line = assert_one_line_error(deadline, 7)
    resume = resume_args(line)
    assert job_id in resume and resume[resume.index("-o") + 1] == "r.mp4"
    assert not (tmp_path / "r.mp4").exists()
