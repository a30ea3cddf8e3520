"""The wheel: what ``pip install decart-proto`` puts on a user's ``sys.path``.

Its top-level import names are ``decart_proto`` and ``decart_emulator`` only. A wheel that
installed a top-level ``transports`` (as this one once did) collides with PyPI's ``transports``
project: installing both overwrote one ``transports/__init__.py`` with the other, and
uninstalling either deleted it. The transports and the command are inside the namespace
(``decart_proto.transports``, ``decart_proto.cli``), typed (``py.typed``) and runnable.

The wheel is built from a copy of the working tree, without build isolation (no network: the
dev extra installs setuptools), so that concurrent runs never share a ``build/`` folder.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["pyproject.toml", "README.md", "decart_proto", "transports", "cli", "decart_emulator"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tree / name)
    out = tmp_path_factory.mktemp("wheel")
    build = ["wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", out, tree]
    done = subprocess.run(
        [sys.executable, "-m", "pip", *build],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("decart_proto-*.whl")
    return built


def _names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_the_top_level_names_are_decart_proto_and_decart_emulator(wheel: Path) -> None:
    names = _names(wheel)
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"decart_proto", "decart_emulator"}
    (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(top_level).decode().split() == ["decart_emulator", "decart_proto"]


def test_the_transports_the_command_and_their_types_are_inside(wheel: Path) -> None:
    names = set(_names(wheel))
    expected = {
        "decart_proto/py.typed",
        "decart_proto/transports/__init__.py",
        "decart_proto/transports/blocking.py",
        "decart_proto/transports/asyncio.py",
        "decart_proto/transports/trio.py",
        "decart_proto/transports/py.typed",
        "decart_proto/cli/__init__.py",
        "decart_proto/cli/__main__.py",
        "decart_proto/cli/py.typed",
        "decart_emulator/py.typed",
        "decart_emulator/sample.mp4",
    }
    assert expected <= names
    # Every module of the repository's folders made it, and nothing of the command stayed in
    # the transports.
    for folder, package in (("transports", "decart_proto/transports"), ("cli", "decart_proto/cli")):
        assert {f"{package}/{p.name}" for p in (ROOT / folder).glob("*.py")} <= names
    in_transports = [n.rsplit("/", 1)[1] for n in names if n.startswith("decart_proto/transports/")]
    assert [n for n in in_transports if n == "cli.py" or n.startswith("_cli_")] == []


def test_the_command_is_the_cli_package(wheel: Path) -> None:
    (entry_points,) = [n for n in _names(wheel) if n.endswith(".dist-info/entry_points.txt")]
    with zipfile.ZipFile(wheel) as archive:
        parser = configparser.ConfigParser()
        parser.read_string(archive.read(entry_points).decode())
    assert dict(parser["console_scripts"]) == {
        "decart-proto": "decart_proto.cli:main",
        "decart-emulator": "decart_emulator.__main__:main",
    }


def _run_from(site: Path, cwd: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """*code* in a fresh interpreter started in *cwd*, the unpacked wheel *site* first on its
    path."""
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(site)!r})\n{code}", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_installed_it_imports_from_anywhere_and_has_no_transports(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    elsewhere = tmp_path / "elsewhere"  # a directory that holds no sources
    elsewhere.mkdir()
    code = (
        "import decart_proto.transports.blocking, decart_proto.transports.trio\n"
        "import decart_proto.transports.asyncio, decart_proto.cli\n"
        "for m in ('decart_proto', 'decart_proto.transports.blocking', 'decart_proto.cli'):\n"
        "    print(sys.modules[m].__file__)\n"
        "try:\n"
        "    import transports\n"
        "except ImportError:\n"
        "    print('no transports')\n"
    )
    done = _run_from(site, elsewhere, code)
    assert done.returncode == 0, done.stderr
    *files, last = done.stdout.splitlines()
    assert last == "no transports"
    assert len(files) == 3 and all(Path(f).is_relative_to(site) for f in files), files
    version = _run_from(site, elsewhere, "from decart_proto.cli import main; main()", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("decart-proto ")
