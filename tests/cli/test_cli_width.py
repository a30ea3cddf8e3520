"""The live display fits the terminal: on 80 columns and narrower, no row wraps and no number
is cut (rich's table of columns once showed ``3.1… 10… 0:0…`` and wrapped)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_helpers import FAST, cli_env, command
from decart_proto.cli._rows import BAR_MAX, BAR_MIN, LABEL_MIN, Field, cells, fit, shorten
from hypothesis import given
from hypothesis import strategies as st

from decart_emulator import Emulator, sample_video_path

FIELDS = [
    Field(" 42%", "", 0),
    Field("3.1/10.0 MB", "", 1),
    Field("12.3 MB/s", "", 2),
    Field("0:00:05", "", 3),
]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_on_80_columns_a_transfer_shows_every_field_whole() -> None:
    row = fit("clip.mp4: upload", FIELDS, 78, bar=True)
    assert row.label == "clip.mp4: upload" and row.fields == tuple(FIELDS)
    assert BAR_MIN <= row.bar <= BAR_MAX and row.width() <= 78


def test_a_narrow_terminal_drops_the_least_useful_fields_first() -> None:
    texts = [
        [f.text for f in fit("clip.mp4: upload", FIELDS, w, bar=True).fields]
        for w in (70, 60, 50, 40)
    ]
    assert texts == [
        [" 42%", "3.1/10.0 MB", "12.3 MB/s", "0:00:05"],
        [" 42%", "3.1/10.0 MB", "12.3 MB/s"],
        [" 42%", "3.1/10.0 MB"],
        [" 42%"],
    ]


def test_a_long_label_is_shortened_in_its_middle() -> None:
    label = "holiday-footage-from-the-drone-2026-12-02.mp4: download"
    row = fit(label, FIELDS, 78, bar=True)
    assert row.label.startswith("holiday") and row.label.endswith(": download")
    assert "…" in row.label and row.bar == BAR_MIN and row.width() == 78


def test_cells_and_shorten_count_wide_characters_twice() -> None:
    assert cells("視頻.mp4") == 8 and cells("e\u0301") == 1
    assert shorten("視頻視頻視頻.mp4", 9) == "視頻….mp4" and cells("視頻….mp4") == 9
    assert shorten("視頻視頻視頻.mp4", 8) == "視頻…mp4"
    assert shorten("視頻視頻", 6) == "視…頻"  # 3 cells for the head: one wide character fits
    assert shorten("abcdefgh", 5) == "ab…gh" and shorten("abc", 5) == "abc"
    assert shorten("abc", 1) == "…" and shorten("abc", 0) == ""


@given(
    label=st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]), max_size=80),
    width=st.integers(min_value=0, max_value=200),
    bar=st.booleans(),
)
def test_a_row_fits_and_keeps_its_fields_whole(label: str, width: int, bar: bool) -> None:
    row = fit(label, FIELDS, width, bar=bar)
    essential = sum(cells(f.text) + 1 for f in FIELDS if f.rank == 0) + (BAR_MIN + 1 if bar else 0)
    if width >= essential + min(cells(label), 1):
        assert row.width() <= width
    assert set(row.fields) <= set(FIELDS)  # whole or absent, never cut
    assert [f for f in FIELDS if f in row.fields] == list(row.fields)  # in their order
    assert FIELDS[0] in row.fields
    # (A wide character is never split: a shortened label may be one cell short of its room.)
    if cells(row.label) < min(cells(label), LABEL_MIN) - 1:
        assert row.fields == (FIELDS[0],)  # the label is cut short only when nothing is left
    assert bool(row.bar) is bar


def _display_lines(stderr: bytes) -> list[str]:
    """What the terminal shows: each frame's rows, the cursor moves taken out."""
    text = ANSI.sub("", stderr.decode("utf-8"))
    return [line for line in re.split(r"[\r\n]", text) if line.strip()]


@pytest.mark.parametrize("columns", [80, 44])
def test_the_live_display_fits_the_terminal(emu: Emulator, tmp_path: Path, columns: int) -> None:
    video = tmp_path / "a-rather-long-name-for-a-video-from-the-camera.mp4"
    shutil.copyfile(sample_video_path(), video)
    env = cli_env(emu, DECART_PROTO_PROGRESS="rich", COLUMNS=str(columns))
    done = subprocess.run(
        command("submit", str(video), "-p", "x", "-o", "out.mp4", *FAST),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = _display_lines(done.stderr)
    rows = [line for line in lines if line.startswith("✓ ")]
    assert len(rows) == 3, lines  # the upload, the job, the download: each on one row
    too_wide = [line for line in lines if cells(line) > columns]
    assert too_wide == []
    for line in rows:
        assert "…" not in line.split(": ", 1)[1], line  # the name may be shortened, no number
    upload, job, download = rows
    assert ": upload " in upload and "100%" in upload
    assert "completed" in job and ": download " in download
    if columns == 80:
        assert re.search(r" 100% \d+\.\d/\d+\.\d kB ", upload), upload
        assert "job " in job
