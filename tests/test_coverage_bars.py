"""The per-folder coverage bars judge each folder on its own: measured on a small project of
three folders, one fully run, one half run, one not run at all."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import coverage
import pytest
from coverage_bars import BARS, Verdict, verdicts

FULL = "def f(x):\n    if x:\n        return 1\n    return 2\n"
HALF = "def g(x):\n    if x:\n        return 1\n    return 2\n"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    for folder, source in (("full", FULL), ("half", HALF), ("idle", FULL)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / f"{folder}_mod.py").write_text(source)
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("full_mod", "half_mod", "idle_mod"):
            sys.modules.pop(name, None)


def _measure(root: Path) -> coverage.Coverage:
    cov = coverage.Coverage(
        data_file=str(root / ".coverage"),
        branch=True,
        source=[str(root / name) for name in ("full", "half", "idle")],
        config_file=False,
    )
    cov.start()
    try:
        sys.path[:0] = [str(root / "full"), str(root / "half")]
        full, half = importlib.import_module("full_mod"), importlib.import_module("half_mod")
        full.f(True)
        full.f(False)
        half.g(True)
    finally:
        cov.stop()
        del sys.path[:2]
    cov.save()
    return cov


def test_each_folder_is_judged_against_its_own_bar(project: Path) -> None:
    cov = _measure(project)
    bars = {"full": 100.0, "half": 90.0, "idle": 100.0}
    found = {v.folder: v for v in verdicts(cov, project, bars)}
    assert found["full"].percent == 100.0
    assert not found["full"].failed
    # half_mod: 3 of 4 lines, 1 of 2 branches.
    assert found["half"].percent == pytest.approx(100 * 4 / 6)
    assert found["half"].failed
    assert "below its bar of 90%" in found["half"].line()
    # Nothing of idle/ ran: reported, not judged, whatever its bar.
    assert found["idle"].percent is None
    assert not found["idle"].failed
    assert found["idle"].line() == "coverage of idle/: not run"


def test_a_bar_of_100_means_every_line_and_branch() -> None:
    assert Verdict("core", 99.999, 100.0).failed
    assert not Verdict("core", 100.0, 100.0).failed
    assert Verdict("transports", 94.99, 95.0).failed
    assert not Verdict("transports", 95.0, 95.0).failed
    assert not Verdict("cli", 10.0, None).failed
    assert Verdict("cli", 10.0, None).line() == "coverage of cli/: 10.00% (no bar)"


def test_the_core_keeps_its_bar_of_100() -> None:
    assert BARS["decart_proto"] == 100.0
    assert set(BARS) == {"decart_proto", "transports", "cli"}


def test_the_transports_are_held_to_95() -> None:
    bar = BARS["transports"]
    assert bar is not None and bar >= 95.0
