"""``decart-proto demo``: the README's Quickstart command, end to end, in a fresh directory."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import assert_one_line_error, cli_env, is_mp4, run_cli

DEMO = ("demo", "--pending-seconds", "0.2", "--processing-seconds", "0.2", "--poll-interval", "0.1")


def test_demo_end_to_end_and_rerunnable(tmp_path: Path) -> None:
    env = cli_env(None)  # no key, no base URL: the demo needs neither
    first = run_cli(DEMO, None, tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    output = tmp_path / "output.mp4"
    assert is_mp4(output)
    assert f"Saved {output}" in first.stdout
    assert "pending → processing → completed" in first.stdout
    assert "POST /v1/jobs/lucy-2.1 → 200" in first.stdout
    assert "Started a local Decart Queue API emulator at http://127.0.0.1:" in first.stderr
    assert "demo: upload:" in first.stderr and "demo: download:" in first.stderr

    # Run again: a new file, the first one untouched.
    before = output.read_bytes()
    second = run_cli([*DEMO, "--json"], None, tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    answer = json.loads(second.stdout)
    assert answer["output"] == str(tmp_path / "output-1.mp4")
    assert answer["statuses"][-1] == "completed" and answer["status"] == "completed"
    assert answer["bytes"] == (tmp_path / "output-1.mp4").stat().st_size
    assert output.read_bytes() == before

    # A name given explicitly is never overwritten without --force.
    named = run_cli([*DEMO, "-o", "output.mp4"], None, tmp_path, env=env)
    assert "--force" in assert_one_line_error(named, 2)
    forced = run_cli([*DEMO, "-o", "output.mp4", "--force", "-q"], None, tmp_path, env=env)
    assert forced.returncode == 0 and forced.stderr == ""
    assert forced.stdout.strip() == str(output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["output-1.mp4", "output.mp4"]
