"""The command tells what the client is doing as it happens: each retry on stderr at once (a
refusing or failing server is seen in seconds, not after minutes of silence), every request
with ``-v``, nothing with ``-q``; the key in none of it."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from cli_helpers import KEY, assert_one_line_error, cli_env, command, run_cli

from decart_emulator import Emulator, Fault
from decart_proto import RetryPolicy

ATTEMPTS = RetryPolicy().max_retries + 1


def _refusing_env() -> dict[str, str]:
    """A base URL on a port nothing listens on: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return cli_env(None, DECART_API_KEY=KEY, DECART_BASE_URL=f"http://127.0.0.1:{port}")


def test_a_refused_connection_is_told_within_seconds_while_the_command_goes_on(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    proc = subprocess.Popen(
        command("status", "job-1", "--timeout", "60"),
        cwd=tmp_path,
        env=_refusing_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        took = time.monotonic() - started
        running = proc.poll() is None
    finally:
        proc.kill()
        proc.communicate()
    assert first.startswith("retrying in "), first
    assert "refused" in first.lower() and "(job job-1, attempt 2 of " in first, first
    # Told at the first failure (generous slack for a loaded machine), long before the
    # command's 60 s are up, while it is still trying.
    assert running and took < 30, (took, first)


def test_a_503_is_told_with_its_wait_and_request_id(
    emu: Emulator, video: Path, tmp_path: Path
) -> None:
    submitted = run_cli(["submit", "--no-wait", str(video), "-p", "x"], emu, tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    job = submitted.stdout.split()[-1]
    emu.add_fault(
        Fault(
            method="GET",
            path=r"/v1/jobs/[^/]+",
            status=503,
            body="overloaded",
            headers={"Retry-After": "1", "X-Request-ID": "req-cli-9"},
        )
    )
    result = run_cli(["status", job], emu, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"retrying in 1.0 s: 503 - overloaded (request id req-cli-9) "
        f"(job {job}, attempt 2 of {ATTEMPTS})"
    ]


def test_verbose_tells_each_request_and_its_answer(
    emu: Emulator, video: Path, tmp_path: Path
) -> None:
    result = run_cli(["submit", "--no-wait", str(video), "-p", "x", "-v"], emu, tmp_path)
    assert result.returncode == 0, result.stderr
    job = result.stdout.split()[-1]
    told = [line for line in result.stderr.splitlines() if "/v1/jobs/" in line]
    assert told[0] == "POST /v1/jobs/lucy-2.1: attempt 1 (the submit)", result.stderr
    assert told[1].startswith("POST /v1/jobs/lucy-2.1: 200 in "), result.stderr
    assert f"(job {job}, request id " in told[1], result.stderr
    plain = run_cli(["submit", "--no-wait", str(video), "-p", "x"], emu, tmp_path)
    assert plain.returncode == 0 and "/v1/jobs/" not in plain.stderr  # no request without -v


def test_quiet_tells_no_retry(tmp_path: Path) -> None:
    env = _refusing_env()
    result = run_cli(["status", "job-1", "--timeout", "2", "-q"], None, tmp_path, env=env)
    assert_one_line_error(result, 7)
    assert "retrying" not in result.stderr


def test_the_key_echoed_by_the_server_is_never_printed(emu: Emulator, tmp_path: Path) -> None:
    emu.add_fault(
        Fault(
            method="GET",
            path=r"/v1/jobs/[^/]+",
            status=503,
            body=f"bad key {KEY}",
            headers={"X-Request-ID": KEY, "x-echo": KEY},
        )
    )
    result = run_cli(["status", "job-1", "-v"], emu, tmp_path)
    assert "retrying in " in result.stderr and "[redacted]" in result.stderr, result.stderr
    runs = {KEY[i : i + 8] for i in range(len(KEY) - 7)}
    shown = result.stderr + result.stdout
    assert not any(run in shown for run in runs), shown


def test_the_demo_is_verbose_too(tmp_path: Path) -> None:
    demo = ("demo", "--pending-seconds", "0", "--processing-seconds", "0", "-v", "-o", "d.mp4")
    result = run_cli(demo, None, tmp_path, env=cli_env(None))
    assert result.returncode == 0, result.stderr
    assert "POST /v1/jobs/lucy-2.1: attempt 1 (the submit)" in result.stderr, result.stderr
    assert "/content: 200 in " in result.stderr, result.stderr
