"""An output the command could not save is refused before anything is sent: uploading a video
and waiting minutes for a paid job, only to fail at the last step, is the worst order.

The folder that refuses files must refuse them to root too, since the tests may run as root,
which ignores permission bits: ``/proc`` accepts no new file from anyone (``os.access`` says
it is writable for root all the same, so only trying, as the command does, finds out).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from cli_helpers import FAST, assert_one_line_error, is_mp4, run_cli

from decart_emulator import Emulator

NO_FILES = "/proc"  # a real folder in which no one, root included, can create a file


def _commands(video: Path) -> dict[str, list[str]]:
    out = f"{NO_FILES}/out.mp4"
    return {
        "submit": ["submit", str(video), "-p", "x", "-o", out],
        "wait": ["wait", "job-1", "-o", out],
        "result": ["result", "job-1", "-o", out],
        # The journal elsewhere, so that only the results' folder refuses.
        "batch": ["batch", str(video), "-p", "x", "--out-dir", NO_FILES, "--journal", "j.jsonl"],
        "demo": ["demo", "-o", out],
    }


@pytest.mark.parametrize("name", ["submit", "wait", "result", "batch", "demo"])
def test_a_folder_that_takes_no_file_is_refused_before_anything_is_sent(
    emu: Emulator, video: Path, tmp_path: Path, name: str
) -> None:
    polls = FAST if name != "result" else ()  # result asks once: it takes no --poll-interval
    result = run_cli([*_commands(video)[name], *polls], emu, tmp_path)
    line = assert_one_line_error(result, 2)
    assert f"'{NO_FILES}'" in line and "cannot" in line, line
    assert ("--out-dir" if name == "batch" else "-o") in line
    assert emu.requests == [] and emu.submit_count == 0
    assert "emulator at" not in result.stderr  # the demo did not even start its own


def _can_create_in(folder: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def test_a_read_only_folder_is_refused_when_it_is_read_only_for_us(
    emu: Emulator, video: Path, tmp_path: Path
) -> None:
    # chmod 0o500 stops an ordinary user, not root: the command refuses exactly when saving
    # would fail, and never refuses a folder it can write to.
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        writable = _can_create_in(folder)
        result = run_cli(
            ["submit", str(video), "-p", "x", "-o", "ro/out.mp4", *FAST], emu, tmp_path
        )
    finally:
        folder.chmod(0o700)
    if writable:
        assert result.returncode == 0, result.stderr
        assert is_mp4(folder / "out.mp4")
    else:
        assert f"'{folder}'" in assert_one_line_error(result, 2)
        assert emu.requests == []


def test_a_name_too_long_for_the_temporary_file_is_refused(
    emu: Emulator, video: Path, tmp_path: Path
) -> None:
    # The name fits, but not the temporary file's (".NAME.xxxxxxxx.part") the result is first
    # written to: the job would run, and its result could not be saved.
    name_max = os.pathconf(tmp_path, "PC_NAME_MAX")
    name = "v" * (name_max - 4) + ".mp4"
    result = run_cli(["wait", "job-1", "-o", name, *FAST], emu, tmp_path)
    line = assert_one_line_error(result, 2)
    assert f"cannot save the output in '{tmp_path}'" in line and "too long" in line
    assert emu.requests == []


def test_an_output_below_a_file_is_not_said_to_be_missing(
    emu: Emulator, video: Path, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = run_cli(["result", "job-1", "-o", "notes.txt/out.mp4"], emu, tmp_path)
    assert "notes.txt' is not a directory" in assert_one_line_error(result, 2)
    assert emu.requests == []


def test_the_batch_checks_the_folder_for_jobs_it_resumes_too(
    emu: Emulator, video: Path, tmp_path: Path
) -> None:
    # A journaled job is resumed, not submitted: its download needs the folder all the same.
    out = tmp_path / "out"
    args = ["batch", str(video), "-p", "x", "--out-dir", "out", "--journal", "j.jsonl", *FAST]
    first = run_cli(args, emu, tmp_path)
    assert first.returncode == 0, first.stderr
    shutil.rmtree(out)
    out.symlink_to(NO_FILES)  # the same --out-dir, now a folder that takes no file
    requests = len(emu.requests)
    again = run_cli(args, emu, tmp_path)
    assert "--out-dir" in assert_one_line_error(again, 2)
    assert len(emu.requests) == requests
