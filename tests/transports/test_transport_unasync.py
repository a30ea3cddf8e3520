"""The blocking client is generated from the async one (``scripts/unasync.py``): the committed
file must be what the script makes of the committed source, and the script's check must catch
a file that is not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "unasync.py"
SOURCE = ROOT / "transports" / "_async_client.py"
TARGET = ROOT / "transports" / "_sync_client.py"


def _unasync(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_generated_blocking_client_is_current() -> None:
    done = _unasync("--check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_hand_edit_of_the_generated_file_is_caught(tmp_path: Path) -> None:
    edited = tmp_path / "_sync_client.py"
    edited.write_text(TARGET.read_text().replace("def run(", "def run_edited(", 1))
    done = _unasync("--check", "--target", edited)
    assert done.returncode == 1
    assert "-    def run_edited(" in done.stdout and "+    def run(" in done.stdout
    assert "run python scripts/unasync.py" in done.stderr


def test_a_source_edit_not_regenerated_is_caught(tmp_path: Path) -> None:
    source = tmp_path / "_async_client.py"
    source.write_text(SOURCE.read_text() + "\n\nasync def added() -> None: ...\n")
    done = _unasync("--check", "--source", source)
    assert done.returncode == 1
    assert "+def added() -> None: ..." in done.stdout


def test_the_generation_writes_the_file_and_every_rule_is_used(tmp_path: Path) -> None:
    target = tmp_path / "_sync_client.py"
    assert _unasync("--target", target).returncode == 0
    assert target.read_text() == TARGET.read_text()
    # A rule no line needs is a rule for code that is gone: refused.
    source = tmp_path / "_async_client.py"
    source.write_text(SOURCE.read_text().replace("__aexit__", "__exit__"))
    done = _unasync("--check", "--source", source, "--target", target)
    assert done.returncode == 1
    assert "__aexit__" in done.stderr
