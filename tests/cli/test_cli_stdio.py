"""``-`` is stdin for the video and stdout for ``-o``: the command in a pipeline.

The emulator here keeps a job's input as its result (``reencode=False``), so the bytes that come
out on stdout are the bytes that went in on stdin, and any byte lost, added or reordered on
either side shows. Stdout carries those bytes and nothing else: the answer is on stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import (
    FAST,
    KEY,
    assert_one_line_error,
    cli_env,
    command,
    content_requests,
    resume_args,
)

from decart_emulator import Emulator, Fault, sample_video_path

# Several upload pieces and download reports, and no round number.
PAYLOAD = os.urandom(3 * 1024 * 1024 + 4321)


@pytest.fixture
def echo() -> Iterator[Emulator]:
    """An emulator whose results are their inputs, byte for byte."""
    with Emulator(
        api_keys=(KEY,), pending_seconds=0.1, processing_seconds=0.1, reencode=False
    ) as emulator:
        yield emulator


def _run(
    args: list[str], emu: Emulator | None, cwd: Path, **streams: Any
) -> subprocess.CompletedProcess[bytes]:
    """The command with its stdout as raw bytes; *streams* are subprocess.run's own."""
    streams.setdefault("stdout", subprocess.PIPE)
    streams.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(
        command(*args), cwd=cwd, env=cli_env(emu), timeout=60, check=False, **streams
    )


def _text(done: subprocess.CompletedProcess[bytes]) -> subprocess.CompletedProcess[str]:
    """The same run with text streams, for the helpers that read error lines."""
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode()
    )


def test_a_pipe_in_and_stdout_out_carry_the_exact_bytes(echo: Emulator, tmp_path: Path) -> None:
    done = _run(["submit", "-", "-p", "x", "-o", "-", *FAST], echo, tmp_path, input=PAYLOAD)
    assert done.returncode == 0, done.stderr
    assert done.stdout == PAYLOAD  # the video alone, to the byte
    err = done.stderr.decode()
    assert "Wrote the result to stdout (3.2 MB), job " in err
    assert "stdin: upload:" in err and "stdin: download:" in err
    assert echo.submit_count == 1 and len(content_requests(echo)) == 1
    assert os.listdir(tmp_path) == []  # no file named "-", no temporary file

    quiet = _run(["submit", "-", "-p", "x", "-o", "-", "-q", *FAST], echo, tmp_path, input=PAYLOAD)
    assert quiet.returncode == 0 and quiet.stdout == PAYLOAD and quiet.stderr == b""


def test_stdin_redirected_from_a_file_and_the_default_output(
    echo: Emulator, tmp_path: Path
) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(PAYLOAD)
    with source.open("rb") as stdin:
        done = _run(["--json", "submit", "-", "-p", "x", *FAST], echo, tmp_path, stdin=stdin)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    # The video has no name: its result is named after stdin, as INPUT-edited.mp4 would be.
    assert answer["output"] == str(tmp_path.resolve() / "stdin-edited.mp4")
    assert (tmp_path / "stdin-edited.mp4").read_bytes() == PAYLOAD


def test_wait_and_result_write_to_stdout(echo: Emulator, tmp_path: Path) -> None:
    submitted = _run(["submit", "-", "-p", "x", "--no-wait", "-q"], echo, tmp_path, input=PAYLOAD)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.decode().strip()
    waited = _run(["wait", "-o", "-", *FAST, "--", job_id], echo, tmp_path)
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout == PAYLOAD
    assert f"job {job_id}" in waited.stderr.decode()
    fetched = _run(["result", "-o", "-", "--", job_id], echo, tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    assert fetched.stdout == PAYLOAD
    assert os.listdir(tmp_path) == []


def test_a_cut_download_into_a_redirected_stdout_is_written_again_whole(
    echo: Emulator, tmp_path: Path
) -> None:
    # Stdout is a file (`> out`): the retried download rewinds it, and nothing of the cut one
    # is left before or after the whole video.
    echo.add_fault(Fault(method="GET", path=r".*/content", close_after_body_bytes=100_000))
    out = tmp_path / "out"
    with out.open("wb") as stdout:
        done = _run(
            ["submit", "-", "-p", "x", "-o", "-", *FAST],
            echo,
            tmp_path,
            input=PAYLOAD,
            stdout=stdout,
        )
    assert done.returncode == 0, done.stderr
    assert len(content_requests(echo)) == 2
    assert out.read_bytes() == PAYLOAD


def test_a_cut_download_into_a_pipe_fails_with_the_job_to_resume(
    echo: Emulator, tmp_path: Path
) -> None:
    # What went into a pipe cannot be taken back: the command says so, and how to start again.
    echo.add_fault(Fault(method="GET", path=r".*/content", close_after_body_bytes=100_000))
    done = _text(_run(["submit", "-", "-p", "x", "-o", "-", *FAST], echo, tmp_path, input=PAYLOAD))
    line = assert_one_line_error(done, 2)
    (job_id,) = echo.jobs
    assert "rewound" in line
    resume = resume_args(line)
    assert job_id in resume and resume[resume.index("-o") + 1] == "-"
    assert line.count(job_id) == 1  # the command to paste, not also the client's sentence


def test_the_demo_reads_stdin_and_writes_to_stdout(tmp_path: Path) -> None:
    demo = ["demo", "--pending-seconds", "0.1", "--processing-seconds", "0.1", *FAST]
    done = _run([*demo, "--input", "-", "-o", "-"], None, tmp_path, input=sample_bytes())
    assert done.returncode == 0, done.stderr
    assert done.stdout[4:8] == b"ftyp" and len(done.stdout) > 100
    err = done.stderr.decode()
    assert "Submitting stdin to lucy-2.1" in err and "Saved the result to stdout" in err
    assert os.listdir(tmp_path) == []


def sample_bytes() -> bytes:
    return sample_video_path().read_bytes()


def test_refusals_before_anything_is_sent(echo: Emulator, tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(PAYLOAD)
    cases = {
        # Two answers for one stdout.
        "--json": ["--json", "submit", str(video), "-p", "x", "-o", "-"],
        # A batch reads its inputs again when rerun; stdin cannot be.
        "stdin (-)": ["batch", "-", "-p", "x", "--out-dir", "out"],
        "reference image": ["submit", str(video), "-p", "x", "--reference-image", "-"],
    }
    for expected, args in cases.items():
        done = _text(_run(args, echo, tmp_path, input=b""))
        assert expected in assert_one_line_error(done, 2), args
    assert echo.requests == []


def test_a_terminal_is_refused_at_either_end(echo: Emulator, tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(PAYLOAD)
    leader, follower = os.openpty()
    try:
        typed = _text(
            _run(["submit", "-", "-p", "x", "-o", "o.mp4"], echo, tmp_path, stdin=follower)
        )
        assert "stdin is a terminal" in assert_one_line_error(typed, 2)
        shown = _run(["submit", str(video), "-p", "x", "-o", "-"], echo, tmp_path, stdout=follower)
        assert shown.returncode == 2, shown.stderr
        assert "would write the video to a terminal" in shown.stderr.decode()
    finally:
        os.close(leader)
        os.close(follower)
    assert echo.requests == []
