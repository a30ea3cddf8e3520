"""Fixtures for the core's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from decart_proto import models


@pytest.fixture(autouse=True)
def _fresh_deprecation_memory() -> Iterator[None]:
    """``models._warned`` remembers which deprecated names already warned in this process."""
    saved = set(models._warned)
    models._warned.clear()
    yield
    models._warned.clear()
    models._warned.update(saved)
