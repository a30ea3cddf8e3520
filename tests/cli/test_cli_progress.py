"""Progress comes from the client's ``on_progress`` hook: the upload of a multi-MiB file is
reported up to its whole body, in plain lines and in the live display, and a result saved
through the client's own atomic writer is the one reported."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

from cli_helpers import (
    FAST,
    StreamWatcher,
    cli_env,
    content_requests,
    is_mp4,
    run_cli,
    start_cli,
)

from decart_emulator import Emulator, Fault

SIZE = 5 * 1024 * 1024 + 12345  # several upload pieces of the client, not a round number


def _big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.mp4"
    path.write_bytes(os.urandom(SIZE))
    return path


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def test_plain_upload_progress_reaches_the_whole_body(emu: Emulator, tmp_path: Path) -> None:
    big = _big_file(tmp_path)
    env = cli_env(emu, DECART_PROTO_PROGRESS="plain")
    result = run_cli(["--json", "submit", str(big), "-p", "x", "--no-wait"], emu, tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["job_id"] in emu.jobs
    uploaded = answer["uploaded"]
    # The whole multipart body: the file and its few form fields around it.
    assert SIZE < uploaded < SIZE + 4096, uploaded
    lines = result.stderr.splitlines()
    assert f"big.mp4: upload: {_megabytes(uploaded)} started" in lines, lines
    assert any(
        re.fullmatch(rf"big\.mp4: upload: {re.escape(_megabytes(uploaded))} in \S+ s \(.*/s\)", x)
        for x in lines
    ), lines


def test_rich_upload_bar_reaches_100_percent(emu: Emulator, tmp_path: Path) -> None:
    big = _big_file(tmp_path)
    env = cli_env(emu, DECART_PROTO_PROGRESS="rich", COLUMNS="200")
    result = run_cli(["--json", "submit", str(big), "-p", "x", "--no-wait"], emu, tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    uploaded = json.loads(result.stdout)["uploaded"]
    megabytes = _megabytes(uploaded)[:-3]
    assert re.search(
        rf"big\.mp4: upload\b.* 100% {re.escape(megabytes)}/{megabytes} MB", result.stderr
    ), result.stderr


def test_a_download_cut_and_retried_is_saved_whole(
    emu: Emulator, video: Path, tmp_path: Path
) -> None:
    emu.add_fault(Fault(method="GET", path=r".*/content", close_after_body_bytes=100))
    result = run_cli(
        ["--json", "submit", str(video), "-p", "x", "-o", "out.mp4", *FAST], emu, tmp_path
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    out = tmp_path / "out.mp4"
    assert is_mp4(out) and answer["bytes"] == out.stat().st_size
    assert answer["uploaded"] > video.stat().st_size
    assert len(content_requests(emu)) == 2  # the cut download, then the whole one
    assert not list(tmp_path.glob(".*.part"))


def test_batch_ctrl_c_abandons_an_upload_from_its_progress_report(
    emu: Emulator, tmp_path: Path
) -> None:
    # The server reads nothing for a while, so the upload stalls with most of its body unsent;
    # the next progress report after Ctrl-C abandons it, and no job is ever created.
    big = tmp_path / "huge.mp4"
    with big.open("wb") as f:
        f.truncate(48 * 1024 * 1024)
    emu.add_fault(Fault(method="POST", delay=5.0))  # generous on a loaded machine
    proc = start_cli(["batch", str(big), "-p", "x", "--out-dir", "out", *FAST], emu, tmp_path)
    err = StreamWatcher(proc.stderr)
    err.wait_for(lambda lines: any("huge.mp4: upload:" in line for line in lines))
    proc.send_signal(signal.SIGINT)
    code = proc.wait(60)
    assert proc.stdout is not None
    proc.stdout.close()
    stderr = err.text()
    assert code == 130, stderr
    assert "Resume with: decart-proto batch" in stderr and "Traceback" not in stderr
    assert emu.submit_count == 0 and not emu.jobs
    journal = tmp_path / "out" / "decart-batch.jsonl"
    assert not journal.exists() or "submitted" not in journal.read_text()
    assert not list((tmp_path / "out").glob(".*.part"))
