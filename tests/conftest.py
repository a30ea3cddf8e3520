"""Hypothesis defaults for the whole suite, and the coverage bars of each folder.

Hypothesis: CI must be deterministic and must not fail because a shared 2-core machine was slow
for a moment.

Derandomized unless ``DECART_HYPOTHESIS_RANDOM=1`` (for hunting bugs with fresh randomness), so a
failure seen in CI is seen again on the next run; no deadline and no too-slow health check,
since a draw that took two seconds on a loaded machine says nothing about the code.

Coverage: with ``--cov``, once pytest-cov has combined the data (the suite's and the command's
subprocesses'), each folder is judged against its bar in ``coverage_bars.BARS``; a miss fails
the run.
"""

from __future__ import annotations

import os

import pytest
from coverage_bars import Verdict, check
from hypothesis import HealthCheck, settings

# DECART_PROTO_REQUIRE_ALL=1 (set by .ci/run): a skipped test fails (require_all.py).
from require_all import pytest_make_collect_report as pytest_make_collect_report
from require_all import pytest_runtest_makereport as pytest_runtest_makereport

from decart_proto import PROXY_ENVIRONMENT

settings.register_profile(
    "decart-proto",
    derandomize=os.environ.get("DECART_HYPOTHESIS_RANDOM") != "1",
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile("decart-proto")

# The clients read the environment's proxies (trust_env, as httpx does): a proxy set on the
# machine that runs the suite must not carry its loopback calls. The proxy tests set their own.
for _name in PROXY_ENVIRONMENT:
    os.environ.pop(_name, None)

_VERDICTS = pytest.StashKey[list[Verdict]]()


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if config.pluginmanager.getplugin("_cov") is None or config.getoption("no_cov", False):
        return
    data_file = config.invocation_params.dir / ".coverage"  # where pytest-cov combined it
    if not data_file.exists():
        return
    verdicts = config.stash[_VERDICTS] = check(data_file)
    if any(v.failed for v in verdicts) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    for verdict in config.stash.get(_VERDICTS, []):
        terminalreporter.write_line(verdict.line(), red=verdict.failed, bold=verdict.failed)
