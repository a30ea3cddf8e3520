"""With ``DECART_PROTO_REQUIRE_ALL=1`` (set by ``.ci/run``), a skipped test is a failed one.

CI installs every extra (``.[dev]``) on Linux, so no test has a reason to skip there: a skip
means an extra failed to install or import (``pytest.importorskip("uvloop")`` turning a broken
wheel into a quiet pass), or a device went missing. Outside CI, on a machine without uvloop or
the official client, the same tests skip as before.

Both ways a test is skipped are caught: in its run (``pytest.skip``, ``importorskip`` in a test
or fixture, ``skipif``) and at collection (``importorskip`` at a module's top). An expected
failure (``xfail``) is left alone. ``tests/conftest.py`` imports the two hooks.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

__all__ = ["ENV", "pytest_make_collect_report", "pytest_runtest_makereport"]

ENV = "DECART_PROTO_REQUIRE_ALL"


def _required() -> bool:
    return os.environ.get(ENV) == "1"


def _reason(longrepr: object) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: why")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _refused(what: str, longrepr: object) -> str:
    return (
        f"{what} skipped ({_reason(longrepr)}), and {ENV}=1 allows no skip: CI installs every "
        f"extra, so install what is missing (pip install -e '.[dev]') or run without {ENV}"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if _required() and report.skipped and not hasattr(report, "wasxfail"):
        report.longrepr = _refused(f"{item.nodeid} was", report.longrepr)
        report.outcome = "failed"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    if _required() and report.skipped:
        report.longrepr = _refused(f"{collector.nodeid} was", report.longrepr)
        report.outcome = "failed"
    return report
