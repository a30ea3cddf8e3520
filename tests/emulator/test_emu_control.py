"""The HTTP control endpoint, and the command line (a separate process, as other tests use it)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emulator_helpers import (
    RemoteServer,
    raw_exchange,
    raw_get,
    request,
    stop_process,
    submit,
    wait_for,
)

from decart_emulator import Emulator, Fault

REPO = Path(__file__).resolve().parents[2]


def control(base_url: str, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(base_url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.fixture
def controlled() -> Iterator[Emulator]:
    with Emulator(pending_seconds=0.05, processing_seconds=0.05, control_endpoint=True) as emu:
        yield emu


def test_stats_and_faults_over_http(controlled: Emulator) -> None:
    url = controlled.base_url
    status, queued = control(url, "POST", "/_emulator/faults",
                             [{"method": "POST", "status": 503, "times": 2},
                              {"path": "/v1/jobs/x", "status": 500, "body": "<html>oops</html>",
                               "headers": {"Content-Type": "text/html"}}])  # fmt: skip
    assert (status, queued) == (200, {"queued": 2})
    assert submit(controlled).status == 503
    assert submit(controlled).status == 503
    job_id = submit(controlled).json()["job_id"]
    reply = request(controlled, "GET", "/v1/jobs/x")
    assert (reply.status, reply.body) == (500, b"<html>oops</html>")
    status, stats = control(url, "GET", "/_emulator/stats")
    assert status == 200
    assert stats["submit_count"] == 1
    assert list(stats["jobs"]) == [job_id]
    assert [row[2] for row in stats["requests"]] == [503, 503, 200, 500]
    assert stats["faults"] == []
    assert not any("/_emulator/" in record.path for record in controlled.requests)


def test_faults_never_touch_the_control_paths(controlled: Emulator) -> None:
    controlled.add_fault(Fault(status=500))
    status, stats = control(controlled.base_url, "GET", "/_emulator/stats")
    assert status == 200
    assert stats["faults"][0]["remaining"] == 1
    assert control(controlled.base_url, "DELETE", "/_emulator/faults") == (200, {"cleared": 1})
    assert request(controlled, "GET", "/v1/jobs/x").status == 404


def test_invalid_faults_are_refused_whole(controlled: Emulator) -> None:
    url = controlled.base_url
    status, body = control(url, "POST", "/_emulator/faults", [{"status": 503}, {"times": 0}])
    assert status == 400 and "Fault" in body["detail"]
    assert control(url, "POST", "/_emulator/faults", {"colour": "red"})[0] == 400
    assert control(url, "POST", "/_emulator/faults", "text")[0] == 400
    assert control(url, "GET", "/_emulator/stats")[1]["faults"] == []


def test_fail_a_job_over_http() -> None:
    with Emulator(pending_seconds=30, control_endpoint=True) as emu:
        job_id = submit(emu).json()["job_id"]
        path = f"/_emulator/jobs/{job_id}/fail"
        assert control(emu.base_url, "POST", path, {"error": "x"})[0] == 200
        assert emu.jobs[job_id] == "failed"
        assert control(emu.base_url, "POST", path, {})[0] == 409
        assert control(emu.base_url, "POST", "/_emulator/jobs/nope/fail", {})[0] == 404


def test_the_control_endpoint_is_off_by_default(emu: Emulator) -> None:
    assert control(emu.base_url, "GET", "/_emulator/stats") == (404, {"detail": "Not Found"})


def start_cli(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "decart_emulator", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None
    return process, process.stdout.readline()


def test_cli_prints_where_it_listens_serves_and_stops_on_sigterm() -> None:
    process, line = start_cli("--port", "0", "--api-key", "k1", "--api-key", "k2", "--control",
                              "--pending-seconds", "0", "--processing-seconds", "0",
                              "--read-timeout-seconds", "0.2")  # fmt: skip
    try:
        match = re.fullmatch(r"decart-emulator listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        base_url = match.group(1)
        assert process.stdout is not None
        assert process.stdout.readline() == "api keys: k1, k2\n"
        remote = RemoteServer(base_url, api_key="k2")
        assert submit(remote).status == 200
        assert submit(remote, api_key="test-key").status == 401
        assert control(base_url, "GET", "/_emulator/stats")[1]["submit_count"] == 1
        assert raw_exchange(remote, raw_get(remote, "/v1/jobs/x")).startswith(b"HTTP/1.1 404")
        stalled = b"POST /_emulator/faults HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n{"
        assert raw_exchange(remote, stalled).startswith(b"HTTP/1.1 408")
    finally:
        status, stderr = stop_process(process, signal.SIGTERM)
        assert status == 0
        assert "Traceback" not in stderr


def test_cli_sigint_and_default_key(tmp_path: Path) -> None:
    process, line = start_cli("--state-dir", str(tmp_path))
    try:
        assert line.startswith("decart-emulator listening on http://127.0.0.1:")
        assert process.stdout is not None
        assert process.stdout.readline() == "api keys: test-key\n"
    finally:
        assert stop_process(process, signal.SIGINT)[0] == 0
    assert (tmp_path / "jobs.sqlite3").exists()


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--tls-cert", "x.pem"], "--tls-key"),
        (["--read-timeout-seconds", "0"], "read_timeout_seconds must be positive"),
        (["--pending-seconds", "-1"], "pending_seconds must not be negative"),
    ],
)
def test_cli_refuses_bad_settings_with_status_2(args: list[str], reason: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "decart_emulator", *args],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=30,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.returncode == 2
    assert reason in result.stderr
    assert "Traceback" not in result.stderr


def test_wait_for_helper_fails_when_the_condition_never_holds() -> None:
    with pytest.raises(AssertionError):
        wait_for(lambda: False, timeout=0.05)
