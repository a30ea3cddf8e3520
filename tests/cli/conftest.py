"""Fixtures: a fast emulator with a known key, and a copy of the sample video."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import KEY

from decart_emulator import Emulator, sample_video_path


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(api_keys=(KEY,), pending_seconds=0.2, processing_seconds=0.2) as emulator:
        yield emulator


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    shutil.copyfile(sample_video_path(), path)
    return path
