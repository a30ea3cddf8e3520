"""A coverage bar per folder of the repository, checked after a run with ``--cov``.

One ``fail_under`` for the whole report cannot say "the core at 100%, the transports at 95%":
the folders are measured together (so that the command's subprocesses and the transports' tests
count) and judged apart. ``tests/conftest.py`` reads the data pytest-cov has combined, prints a
line per folder, and fails the run when a folder misses its bar.

A folder of which nothing ran (``pytest --cov tests/core`` runs no transport) is reported, not
judged: a part of the suite then still checks the part of the code it tests.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import coverage
from coverage.results import should_fail_under

ROOT = Path(__file__).resolve().parent.parent

# The folder -> its bar (percent of lines and branches); None: measured and reported only.
BARS: dict[str, float | None] = {
    "decart_proto": 100.0,  # the core: every line and every branch
    "transports": 95.0,  # the I/O edge: a few branches are answers the OS rarely gives
    "cli": None,
}


@dataclass(frozen=True)
class Verdict:
    folder: str
    percent: float | None  # None: nothing in the folder ran
    bar: float | None

    @property
    def failed(self) -> bool:
        if self.bar is None or self.percent is None:
            return False
        return should_fail_under(self.percent, self.bar, precision=2)

    def line(self) -> str:
        if self.percent is None:
            return f"coverage of {self.folder}/: not run"
        measured = f"coverage of {self.folder}/: {self.percent:.2f}%"
        if self.bar is None:
            return f"{measured} (no bar)"
        verdict = "below" if self.failed else "meets"
        return f"{measured}, {verdict} its bar of {self.bar:g}%"


def verdicts(
    cov: coverage.Coverage, root: Path = ROOT, bars: Mapping[str, float | None] = BARS
) -> list[Verdict]:
    """Each folder's coverage in *cov*'s data (lines and branches together), against its bar."""
    data = cov.get_data()
    ran = [name for name in data.measured_files() if data.lines(name)]
    found = []
    for folder, bar in bars.items():
        prefix = os.path.join(os.path.realpath(root / folder), "")
        percent = None
        if any(name.startswith(prefix) for name in ran):
            percent = cov.report(include=[prefix + "*"], file=io.StringIO(), skip_covered=False)
        found.append(Verdict(folder, percent, bar))
    return found


def check(data_file: Path, root: Path = ROOT) -> list[Verdict]:
    """The verdicts on the combined data in *data_file*, with the project's configuration."""
    cov = coverage.Coverage(data_file=str(data_file), config_file=str(root / "pyproject.toml"))
    cov.load()
    return verdicts(cov, root)
