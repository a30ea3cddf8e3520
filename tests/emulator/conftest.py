"""Fixtures for the emulator's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emulator_helpers import FAST

from decart_emulator import Emulator


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """An emulator with tiny timings (50 ms pending, 50 ms processing)."""
    with Emulator(**FAST) as emulator:  # type: ignore[arg-type]
        yield emulator
