"""DECART_PROTO_REQUIRE_ALL=1 turns every skip into a failure, and changes nothing else: a
small suite with each kind of skip, run by pytest in a subprocess with and without it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import require_all
from require_all import ENV

TESTS = Path(__file__).resolve().parent

SUITE = {
    "conftest.py": f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
from require_all import pytest_make_collect_report, pytest_runtest_makereport
""",
    # An extra missing at a module's top: the module is skipped at collection.
    "test_top.py": """
import pytest
pytest.importorskip("decart_proto_no_such_extra")
def test_never_collected(): pass
""",
    "test_kinds.py": """
import pytest
@pytest.fixture
def loop():
    pytest.importorskip("decart_proto_no_such_loop")
def test_in_a_fixture(loop): pass
def test_in_the_test():
    pytest.importorskip("decart_proto_no_such_module")
def test_explicit():
    pytest.skip("no /dev/full on this system")
@pytest.mark.skipif(True, reason="no fork() here")
def test_marked(): pass
@pytest.mark.xfail(reason="a known bug", strict=True)
def test_expected_failure(): assert False
def test_passing(): pass
""",
}


def _run(tmp_path: Path, require: bool) -> subprocess.CompletedProcess[str]:
    for name, text in SUITE.items():
        (tmp_path / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if k != ENV}
    if require:
        env[ENV] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-p",
         "no:randomly", "--continue-on-collection-errors", "--rootdir", str(tmp_path), "-c",
         os.devnull, str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_without_it_skips_are_skips(tmp_path: Path) -> None:
    done = _run(tmp_path, require=False)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert "1 passed, 5 skipped, 1 xfailed" in summary, done.stdout


def test_with_it_every_skip_fails_naming_its_reason(tmp_path: Path) -> None:
    done = _run(tmp_path, require=True)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    summary = out.strip().splitlines()[-1]
    # A skip in a test's run fails it; one while setting it up (a fixture, a skipif mark) or
    # collecting its module is an error; the passing and the expected failure are as before.
    assert "2 failed, 1 passed, 1 xfailed, 3 errors" in summary, out
    for nodeid, reason in [
        ("test_top.py", "could not import 'decart_proto_no_such_extra'"),
        ("test_kinds.py::test_in_a_fixture", "could not import 'decart_proto_no_such_loop'"),
        ("test_kinds.py::test_in_the_test", "could not import 'decart_proto_no_such_module'"),
        ("test_kinds.py::test_explicit", "no /dev/full on this system"),
        ("test_kinds.py::test_marked", "no fork() here"),
    ]:
        assert f"{nodeid} was skipped ({reason}" in out, (nodeid, out)
    assert f"{ENV}=1 allows no skip" in out
    assert "install what is missing (pip install -e '.[dev]')" in out


def test_ci_runs_the_suite_with_it(pytestconfig: pytest.Config) -> None:
    ci = (TESTS.parent / ".ci" / "run").read_text()
    assert re.search(rf"^{ENV}=1 \S+ -m pytest", ci, re.MULTILINE), ci
    # ...and this suite's conftest has the hooks, so that the variable does something.
    hooks = {
        getattr(plugin, name, None)
        for plugin in pytestconfig.pluginmanager.get_plugins()
        for name in ("pytest_runtest_makereport", "pytest_make_collect_report")
    }
    assert require_all.pytest_runtest_makereport in hooks
    assert require_all.pytest_make_collect_report in hooks
