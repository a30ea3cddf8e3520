"""Helpers for driving ``decart-proto`` as a user does: a subprocess, against an emulator."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from decart_emulator import Emulator

KEY = "cli-secret-key-0123456789abcdef"
FAST = ("--poll-interval", "0.1")


def cli_env(emu: Emulator | None, **extra: str) -> dict[str, str]:
    # The caller's DECART_* settings never leak in; coverage's COVERAGE_PROCESS_CONFIG does, so
    # that a run with --cov measures the command in its subprocess (pyproject's patch setting).
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECART_")}
    env["PYTHONUNBUFFERED"] = "1"
    if emu is not None:
        env["DECART_API_KEY"] = emu.api_key
        env["DECART_BASE_URL"] = emu.base_url
    env.update(extra)
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "decart_proto.cli", *args]


def run_cli(
    args: Sequence[str],
    emu: Emulator | None,
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args),
        cwd=cwd,
        env=env if env is not None else cli_env(emu),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(args: Sequence[str], emu: Emulator | None, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(*args),
        cwd=cwd,
        env=cli_env(emu),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    """An expected failure: its exit code, one line on stderr, never a traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("decart-proto: error: "), errors[0]
    return errors[0]


def resume_args(text: str) -> list[str]:
    """The arguments of the ``decart-proto wait …`` command *text* ends with ("resume with:",
    "save it with:"), split as a shell splits them (the user pastes it)."""
    match = re.search(r"with: (decart-proto wait .*)$", text, re.MULTILINE)
    assert match, text
    return shlex.split(match.group(1))[1:]


def is_mp4(path: Path) -> bool:
    data = path.read_bytes()
    return len(data) > 100 and data[4:8] == b"ftyp"


def content_requests(emu: Emulator) -> list[Any]:
    return [r for r in emu.requests if r.method == "GET" and r.path.endswith("/content")]


class StreamWatcher:
    """Collects a subprocess stream's lines in a thread, so a test can wait for one."""

    def __init__(self, stream: Any) -> None:
        import threading  # noqa: PLC0415

        self.lines: list[str] = []
        self.closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> list[str]:
        with self._cond:
            self._cond.wait_for(lambda: self.closed or predicate(self.lines), timeout)
            ok = predicate(self.lines)
        assert ok, f"not seen (stream closed: {self.closed}); lines so far: {self.lines}"
        return list(self.lines)

    def text(self) -> str:
        self._thread.join(10)
        return "\n".join(self.lines)
