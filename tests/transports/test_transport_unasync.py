"""The blocking client is generated from the async one (``scripts/unasync.py``): each committed
``_sync_*`` file must be what the script makes of its committed ``_async_*`` source, and the
script's check must catch one that is not."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "unasync.py"
FOLDER = ROOT / "transports"
NAMES = ["pool", "run", "client"]


def _unasync(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )


def _copy(tmp_path: Path) -> Path:
    for name in NAMES:
        for style in ("async", "sync"):
            shutil.copy(FOLDER / f"_{style}_{name}.py", tmp_path)
    return tmp_path


def test_the_generated_blocking_client_is_current() -> None:
    done = _unasync("--check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_source_has_its_twin_and_nothing_else_is_generated() -> None:
    sources = sorted(p.name for p in FOLDER.glob("_async_*.py"))
    twins = sorted(p.name for p in FOLDER.glob("_sync_*.py"))
    assert sources == sorted(f"_async_{name}.py" for name in NAMES)
    assert twins == sorted(f"_sync_{name}.py" for name in NAMES)


def test_a_hand_edit_of_a_generated_file_is_caught(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    edited = folder / "_sync_run.py"
    edited.write_text(edited.read_text().replace("def run(", "def run_edited(", 1))
    done = _unasync("--check", "--folder", folder)
    assert done.returncode == 1
    assert "-    def run_edited(" in done.stdout and "+    def run(" in done.stdout
    assert "_sync_run.py" in done.stderr and "run python scripts/unasync.py" in done.stderr


def test_a_source_edit_not_regenerated_is_caught(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    source = folder / "_async_pool.py"
    source.write_text(source.read_text() + "\n\nasync def added() -> None: ...\n")
    done = _unasync("--check", "--folder", folder)
    assert done.returncode == 1
    assert "+def added() -> None: ..." in done.stdout


def test_the_generation_writes_the_files_and_every_rule_is_used(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    for name in NAMES:
        (folder / f"_sync_{name}.py").unlink()
    assert _unasync("--folder", folder).returncode == 0
    for name in NAMES:
        assert (folder / f"_sync_{name}.py").read_text() == (
            FOLDER / f"_sync_{name}.py"
        ).read_text()
    # A rule no line needs is a rule for code that is gone: refused.
    client = folder / "_async_client.py"
    client.write_text(client.read_text().replace("__aexit__", "__exit__"))
    done = _unasync("--check", "--folder", folder)
    assert done.returncode == 1
    assert "__aexit__" in done.stderr
