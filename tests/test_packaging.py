"""The packages: the sdist a release ships, the wheel built from it, and what each installs.

The sdist is the whole project (tests, docs, benchmarks, scripts, CI), so that a build from it
can be checked the way the repository is. The wheel is built *from the unpacked sdist*, as pip
does when it installs one, so a file the sdist forgets fails these tests too.

The wheel's top-level import names are ``decart_proto`` and ``decart_emulator`` only. A wheel
that installed a top-level ``transports`` (as this one once did) collides with PyPI's
``transports`` project: installing both overwrote one ``transports/__init__.py`` with the other,
and uninstalling either deleted it. The transports and the command are inside the namespace
(``decart_proto.transports``, ``decart_proto.cli``), typed (``py.typed``) and runnable.

Everything is built from a copy of the working tree, offline and without build isolation (the
dev extra installs setuptools), so that concurrent runs never share a ``build/`` folder. The
fresh virtual environments these tests make borrow their *dependencies* (h11, pytest,
hypothesis, mypy's view of h11) from the running environment through a ``.pth`` line, since a
test may not download them; the package itself comes only from what was built, and each test
checks that it imported that copy.
"""

from __future__ import annotations

import configparser
import email.parser
import os
import re
import shlex
import shutil
import site
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["decart_proto", "transports", "cli", "decart_emulator"]
# What the sdist holds besides the packages: every file of these folders, and these files.
PROJECT_FOLDERS = ["tests", "docs", "benchmarks", "scripts", ".ci"]
PROJECT_FILES = ["pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "mkdocs.yml"]
JUNK = ("__pycache__", ".pyc", ".coverage", ".pytest_cache", ".mypy_cache", ".hypothesis")

pytestmark = pytest.mark.slow


def _run(*command: str | Path, cwd: Path | None = None, timeout: float = 300) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _copy_tree(destination: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".coverage*", "build", "*.egg-info")
    for name in [*PACKAGES, *PROJECT_FOLDERS, "mypy-layout", *PROJECT_FILES]:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, destination / name)
    return destination


def _project_files() -> set[str]:
    """The repository's files the sdist must hold, relative to the root."""
    names = {name for name in PROJECT_FILES if (ROOT / name).exists()}
    for folder in [*PACKAGES, *PROJECT_FOLDERS]:
        for path in (ROOT / folder).rglob("*"):
            relative = path.relative_to(ROOT).as_posix()
            if path.is_file() and not any(junk in relative for junk in JUNK):
                names.add(relative)
    return names


class Built:
    """The sdist built from a copy of the tree, unpacked, and the wheel built from that."""

    def __init__(self, work: Path) -> None:
        tree = _copy_tree(work / "tree")
        out = work / "sdist"
        hook = f"import setuptools.build_meta as b; print(b.build_sdist({str(out)!r}))"
        self.sdist_log = _run(sys.executable, "-c", hook, cwd=tree)
        (self.sdist,) = out.glob("decart_proto-*.tar.gz")
        with tarfile.open(self.sdist) as archive:
            archive.extractall(work / "unpacked", filter="data")
            self.sdist_names = archive.getnames()
        (self.unpacked,) = (work / "unpacked").iterdir()
        wheels = work / "wheel"
        build = ["wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", wheels]
        _run(sys.executable, "-m", "pip", *build, self.unpacked)
        (self.wheel,) = wheels.glob("decart_proto-*.whl")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return Built(tmp_path_factory.mktemp("built"))


@pytest.fixture(scope="module")
def wheel(built: Built) -> Path:
    return built.wheel


def _fresh_venv(where: Path) -> Path:
    """A virtual environment without the project, its dependencies reachable through a ``.pth``
    line naming the running environment's site-packages (whose own ``.pth`` files, the editable
    install's finder among them, are not processed from there). Returns its interpreter."""
    _run(sys.executable, "-m", "venv", "--without-pip", where)
    python = where / "bin" / "python"
    target = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip()
    )
    (target.resolve() / "borrowed-dependencies.pth").write_text(
        "".join(f"{path}\n" for path in site.getsitepackages())
    )
    return python


def _pip_into(python: Path, *args: str | Path) -> str:
    return _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", *args)


# -- the sdist ------------------------------------------------------------------------------------


def test_the_sdist_is_the_whole_project(built: Built) -> None:
    prefix = built.unpacked.name + "/"
    held = {name.removeprefix(prefix) for name in built.sdist_names}
    missing = sorted(_project_files() - held)
    assert missing == []
    assert [name for name in held if any(junk in name for junk in JUNK)] == []
    # mypy-layout's links are stored as the files they point to, so test_static works there.
    assert "mypy-layout/decart_proto/transports/blocking.py" in held


def test_the_metadata_has_an_spdx_license_urls_authors_and_versions(built: Built) -> None:
    pkg_info = (built.unpacked / "PKG-INFO").read_text()
    metadata = email.parser.Parser().parsestr(pkg_info)
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert metadata["License"] is None  # the deprecated free-text field
    assert metadata["Author"] or metadata["Author-email"]
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Source", "Issues", "Changelog"} <= set(urls)
    classifiers = metadata.get_all("Classifier") or []
    requires = metadata["Requires-Python"]
    assert requires == ">=3.10"
    for minor in (10, 11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert metadata.get_all("Keywords") or metadata["Keywords"]
    assert "docs" in (metadata.get_all("Provides-Extra") or [])


def test_the_build_warns_of_nothing_deprecated(built: Built) -> None:
    """setuptools warns on every build made with a deprecated setting (a ``license`` table,
    license classifiers): such a build stops working on the announced date."""
    assert "Deprecat" not in built.sdist_log, built.sdist_log


def test_a_build_from_the_sdist_installs_and_passes_the_fast_tests(
    built: Built, tmp_path: Path
) -> None:
    """The wheel built from the sdist, installed in a fresh venv, passes ``tests/core`` and
    ``tests/job`` (``-x``) run from the unpacked sdist: the pure core and the job machine, about
    30 s, so that CI stays well under its limit. The transports' and the emulator's suites need
    the servers and take minutes; the repository runs them."""
    python = _fresh_venv(tmp_path / "venv")
    _pip_into(python, "--no-index", built.wheel)
    # -c puts the current directory first on sys.path: drop it, or the sdist's own
    # decart_proto/ folder would be imported instead of the installed package.
    code = textwrap.dedent(
        """
        import sys
        del sys.path[0]
        import decart_proto, decart_proto.transports.blocking, pytest
        print('imported', decart_proto.__file__, flush=True)
        sys.exit(pytest.main(['-q', '-x', '-p', 'no:cacheprovider', 'tests/core', 'tests/job']))
        """
    )
    output = _run(python, "-c", code, cwd=built.unpacked, timeout=600)
    imported = Path(output.split("imported ", 1)[1].split()[0])
    assert imported.is_relative_to(tmp_path / "venv"), output
    assert " passed" in output and " failed" not in output, output


# -- the wheel ------------------------------------------------------------------------------------


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
    # The project's tests and tools stay in the sdist.
    assert [n for n in names if n.split("/")[0] in {"tests", "benchmarks", "docs", "scripts"}] == []
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


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


# -- the README's install commands ---------------------------------------------------------------


def _readme_install_commands() -> list[list[str]]:
    """The ``pip`` commands of the README's Install section, as argument lists (one list per
    ``&&``-separated command)."""
    section = (ROOT / "README.md").read_text().split("## Install\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        while "&&" in words:
            at = words.index("&&")
            commands.append(words[:at])
            words = words[at + 1 :]
        commands.append(words)
    return commands


def _git_repository(tree: Path) -> Path:
    git = [
        "git",
        "-C",
        tree,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "-c",
        "init.defaultBranch=main",
    ]
    _run(*git, "init", "-q")
    _run(*git, "add", "-A")
    _run(*git, "commit", "-q", "-m", "the tree")
    return tree


@pytest.mark.parametrize("form", ["clone", "git URL", "wheel"])
def test_the_readmes_install_commands_work(form: str, tmp_path: Path) -> None:
    """Each of the README's three installs, run as written into a fresh venv, gives a working
    ``decart-proto`` command. Offline: the git URL's host is a local repository
    (``git+file://``), and pip is told not to reach an index (``--no-index``, ``--no-deps``,
    ``--no-build-isolation``: the dependencies are borrowed, see the module's docstring)."""
    by_form = {"clone": 0, "git URL": 1, "wheel": 2}
    commands = _readme_install_commands()
    assert [c[:2] for c in commands] == [["pip", "install"]] * 2 + [
        ["pip", "wheel"],
        ["pip", "install"],
    ]
    tree = _copy_tree(tmp_path / "clone")
    python = _fresh_venv(tmp_path / "venv")
    offline = ["--no-index", "--no-deps", "--no-build-isolation"]
    if form == "wheel":
        wheel_command, install = commands[2], commands[3]
        _run(sys.executable, "-m", "pip", *wheel_command[1:], "--no-build-isolation", cwd=tree)
        _run(sys.executable, "-m", "pip", "--python", python, *install[1:], *offline, cwd=tree)
    else:
        install = commands[by_form[form]]
        target = install[2]
        if form == "git URL":
            # With a host: the pip a fresh venv brings (23.2) refuses "git+file:///path" in a
            # "name @ url" requirement (no netloc), newer ones take both.
            url = f"git+file://localhost{_git_repository(tree)}@main"
            target = re.sub(r"git\+https://\S+", url, target)
        _run(sys.executable, "-m", "pip", "--python", python, "install", target, *offline, cwd=tree)
    done = _run(tmp_path / "venv" / "bin" / "decart-proto", "--version", cwd=tmp_path)
    assert done.startswith("decart-proto ")
    code = "import decart_proto.transports.blocking as m; print(m.__file__)"
    where = _run(python, "-c", code, cwd=tmp_path)  # not in a folder holding decart_proto/
    assert Path(where.strip()).is_relative_to(tmp_path / "venv")


# -- an extra left out ----------------------------------------------------------------------------

# A finder placed first on sys.meta_path that finds the named top-level modules nowhere: the
# interpreter behaves as if their extra had not been installed.
_BLOCKER = textwrap.dedent(
    """
    import sys

    class Uninstalled:
        def __init__(self, *names):
            self.names = set(names)

        def find_spec(self, name, path=None, target=None):
            if name.partition('.')[0] in self.names:
                raise ModuleNotFoundError(f'No module named {name!r}', name=name)
            return None

    sys.meta_path.insert(0, Uninstalled(*sys.argv[1].split(',')))
    del sys.argv[1]
    """
)


def _without(modules: str, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCKER + code, modules, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("missing", ["python_multipart", "uvicorn", "trustme"])
def test_the_emulator_without_its_extra_says_which_to_install(missing: str) -> None:
    done = _without(
        missing, "import runpy; runpy.run_module('decart_emulator', run_name='__main__')"
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        f"ModuleNotFoundError: decart_emulator needs {missing}, which the 'emulator' extra "
        "installs: pip install 'decart-proto[emulator]'"
    )


def test_the_emulator_lets_other_missing_modules_through() -> None:
    """Only the extra's modules are blamed on the extra: a missing module of the standard
    library is the bare error it is."""
    done = _without("secrets", "import decart_emulator")
    assert done.stderr.strip().splitlines()[-1] == "ModuleNotFoundError: No module named 'secrets'"


def test_the_trio_client_without_trio_says_which_extra_to_install() -> None:
    done = _without("trio", "import decart_proto.transports.trio")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "ModuleNotFoundError: decart_proto.transports.trio needs trio: "
        "pip install 'decart-proto[trio]'"
    )
    # The other clients do not need it.
    assert _without("trio", "import decart_proto.transports.asyncio").returncode == 0


# -- an editable install, seen by mypy from outside ----------------------------------------------

_USER_SCRIPT = """\
from decart_proto.transports.blocking import DecartClient, models


def edit(path: str) -> bytes:
    with DecartClient(api_key="key") as client, open(path, "rb") as video:
        result = client.queue.submit_and_poll(
            {"model": models.video("lucy-2.1"), "data": video, "prompt": "anime"}
        )
    reveal_type(client)
    return result.data or b""
"""


def test_an_editable_strict_install_is_seen_by_mypy_outside_the_repository(
    tmp_path: Path,
) -> None:
    """The README's editable install, ``--config-settings editable_mode=strict``: setuptools
    lays out the installed package as links (``build/__editable__.*``), which mypy reads. Its
    default editable mode installs an import hook instead, which mypy cannot follow: a user's
    script outside the repository then fails with ``import-not-found`` for
    ``decart_proto.transports`` (the repository's ``transports/`` folder is installed there)."""
    tree = _copy_tree(tmp_path / "tree")
    python = _fresh_venv(tmp_path / "venv")
    strict = ["--config-settings", "editable_mode=strict"]
    _pip_into(python, "--no-index", "--no-build-isolation", *strict, "-e", tree)
    user = tmp_path / "user"
    user.mkdir()
    (user / "edit.py").write_text(_USER_SCRIPT)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--strict", "--python-executable", str(python)),
            *("--cache-dir", str(tmp_path / "cache"), "--no-incremental", "edit.py"),
        ],
        cwd=user,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "MYPYPATH": ""},
    )
    # The one note is the reveal_type: the client's class as mypy found it, through the links.
    assert done.stdout.splitlines()[0] == (
        'edit.py:9: note: Revealed type is "decart_proto.transports.blocking.DecartClient"'
    ), done.stdout + done.stderr
    assert "Success: no issues found in 1 source file" in done.stdout, done.stdout
