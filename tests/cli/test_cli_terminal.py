"""The terminal is the user's: whatever a server sends (a job id, a status, an error body, a
job's error), the command's stdout and stderr carry no control character but its own newlines.

A job id of ``ESC [2J ESC ]0;pwned BEL`` would otherwise clear the screen and set the window's
title; a C1 CSI (``\\x9b``) does the same on terminals that honour 8-bit controls, and a bidi
override makes a line read backwards. The bytes are checked as the terminal would receive them.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from cli_helpers import FAST, cli_env, command
from hypothesis import given
from hypothesis import strategies as st

from decart_emulator import Emulator, Fault

# ESC CSI, an OSC ended by BEL, a C1 CSI, DEL, a right-to-left override, a line separator.
EVIL = "\x1b[2J\x1b]0;pwned\x07job\x9b31m\x7f\u202eevil\u2028x"
EVIL_BYTES = EVIL.encode("utf-8")
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _unsafe(c: str) -> bool:
    return unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") or c in BIDI


def _inert(data: bytes) -> str:
    """*data* as text, asserted to hold nothing a terminal would act on but newlines."""
    text = data.decode("utf-8")  # strict: an undecodable byte is a failure too
    bad = sorted({c for c in text if c != "\n" and _unsafe(c)})
    assert not bad, (bad, text)
    return text


def _run(args: list[str], emu: Emulator, cwd: Path, **env: str) -> tuple[int, str, str]:
    """The command's raw bytes (no newline translation, which would hide a carriage return)."""
    done = subprocess.run(
        command(*args),
        cwd=cwd,
        env=cli_env(emu, **env),
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.returncode, _inert(done.stdout), _inert(done.stderr)


def _submit_answer(job_id: str) -> Fault:
    return Fault(
        method="POST", status=200, body=json.dumps({"job_id": job_id, "status": "pending"})
    )


@pytest.mark.parametrize("progress", ["plain", "rich"])
def test_a_hostile_job_id_is_shown_escaped(
    emu: Emulator, video: Path, tmp_path: Path, progress: str
) -> None:
    emu.add_fault(_submit_answer(EVIL))
    code, out, err = _run(
        ["submit", str(video), "-p", "x", "--no-wait"],
        emu,
        tmp_path,
        DECART_PROTO_PROGRESS=progress,
    )
    assert code == 0, err
    # Visible, in the notation of a Python string, so the user sees what the server sent.
    assert "Submitted job \\x1b[2J\\x1b]0;pwned\\x07job\\x9b31m\\x7f\\u202eevil\\u2028x" in out
    assert "Traceback" not in err


def test_json_keeps_the_exact_job_id_and_stays_ascii(
    emu: Emulator, video: Path, tmp_path: Path
) -> None:
    # A lone surrogate cannot even be written as UTF-8: it must not crash the command.
    job_id = EVIL + "\ud800"
    emu.add_fault(_submit_answer(job_id))
    code, out, err = _run(["--json", "submit", str(video), "-p", "x", "--no-wait"], emu, tmp_path)
    assert code == 0, err
    assert json.loads(out)["job_id"] == job_id  # scripts get the id as the server sent it
    assert out.isascii()


@pytest.mark.parametrize("progress", ["plain", "rich"])
def test_a_hostile_job_id_in_the_progress_display(
    emu: Emulator, video: Path, tmp_path: Path, progress: str
) -> None:
    # The id is followed by status polls (which the emulator answers 404: it never made it).
    emu.add_fault(_submit_answer(EVIL))
    code, _, err = _run(
        ["submit", str(video), "-p", "x", "-o", "o.mp4", "--timeout", "5", *FAST],
        emu,
        tmp_path,
        DECART_PROTO_PROGRESS=progress,
    )
    assert code not in (0, 1), err
    assert "Traceback" not in err


@pytest.mark.parametrize("content_type", ["text/plain", "application/json"])
@pytest.mark.parametrize("json_mode", [False, True])
def test_an_error_body_with_control_bytes(
    emu: Emulator, tmp_path: Path, content_type: str, json_mode: bool
) -> None:
    emu.add_fault(
        Fault(method="GET", status=404, body=EVIL_BYTES, headers={"content-type": content_type})
    )
    code, out, err = _run(["status", "abc", *(["--json"] if json_mode else [])], emu, tmp_path)
    assert code == 2, err
    assert "pwned" in err  # the body is reported, made harmless
    if json_mode:
        assert "pwned" in json.loads(out)["error"]["message"]


def test_a_batch_summary_with_hostile_ids_and_errors(
    emu: Emulator, video: Path, tmp_path: Path
) -> None:
    second = video.with_name("second.mp4")
    shutil.copyfile(video, second)
    # The first input's job gets a hostile id, and its first poll a hostile error body.
    emu.add_fault(_submit_answer(EVIL))
    emu.add_fault(Fault(method="GET", status=404, body=EVIL_BYTES))
    args = ["batch", str(video), str(second), "-p", "x", "--out-dir", "out", "--concurrency", "1"]
    code, out, err = _run([*args, *FAST], emu, tmp_path)
    assert code == 2, err
    rows = out.splitlines()
    assert len(rows) == 3 and rows[-1].startswith("2 inputs: 1 completed, 1 error"), out
    assert rows[0].count("pwned") == 2  # the job id, and the error detail


# -- the one place every line goes through ---------------------------------------------------


def test_every_terminal_write_of_the_cli_goes_through_cli_text() -> None:
    """Each print of the command's modules, and each write to a stream or console, takes its
    text from ``_text`` (or is in it), so no output path can skip the escaping. Writes to
    files (the journal, the output's probe) are not to a terminal."""
    modules = sorted((Path(__file__).resolve().parents[2] / "cli").glob("*.py"))
    escaping = {"clean", "one_line", "visible"}
    terminals = ("stdout", "stderr", "stream", "console")
    offenders = []
    for module in modules:
        if module.name == "_text.py":
            continue
        for node in ast.walk(ast.parse(module.read_text(), str(module))):
            if not isinstance(node, ast.Call):
                continue
            name, func = _called(node), node.func
            to_terminal = name in ("print_exc", "print_help", "print_usage") or (
                name == "print"
                if isinstance(func, ast.Name)
                else name in ("write", "print")
                and isinstance(func, ast.Attribute)
                and any(word in ast.unparse(func.value) for word in terminals)
            )
            first = node.args[0] if node.args else None
            if to_terminal and not (isinstance(first, ast.Call) and _called(first) in escaping):
                offenders.append(f"{module.name}:{node.lineno} {ast.unparse(node)}")
    assert len(modules) >= 8 and not offenders, offenders


def _called(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


@given(st.text())
def test_visible_text_holds_nothing_a_terminal_acts_on(text: str) -> None:
    from decart_proto.cli._text import visible  # noqa: PLC0415

    shown = visible(text)
    assert not any(_unsafe(c) for c in shown), ascii(shown)
    shown.encode("utf-8")  # writable on any UTF-8 stream: no lone surrogate left
    if not any(_unsafe(c) for c in text):
        assert shown == text  # printable text, any script, is untouched
