"""``decart-proto emulator`` in its own process, observed over its control endpoint, with the
other commands pointed at it by ``--base-url``."""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path

from cli_helpers import FAST, StreamWatcher, cli_env, is_mp4, run_cli, start_cli


def _stats(base_url: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{base_url}/_emulator/stats", timeout=10) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def test_emulator_command(video: Path, tmp_path: Path) -> None:
    proc = start_cli(
        ["emulator", "--control", "--api-key", "k-1", "--pending-seconds", "0.1",
         "--processing-seconds", "0.1"],
        None,
        tmp_path,
    )  # fmt: skip
    try:
        out = StreamWatcher(proc.stdout)
        first = out.wait_for(lambda lines: len(lines) >= 1)[0]
        assert first.startswith("decart-emulator listening on http://127.0.0.1:")
        base_url = first.rsplit(" ", 1)[1]
        assert _stats(base_url)["submit_count"] == 0
        env = cli_env(None, DECART_API_KEY="k-1")
        args = ["submit", str(video), "-p", "x", "-o", "o.mp4", "--base-url", base_url, *FAST]
        result = run_cli(args, None, tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert is_mp4(tmp_path / "o.mp4")
        assert _stats(base_url)["submit_count"] == 1
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        assert proc.stderr is not None
        proc.stderr.close()
