"""The core stays pure: standard library and h11 only, no I/O modules, no file opening.

The core is decart_proto's own modules. The transports and the CLI are installed inside the
``decart_proto`` namespace (``decart_proto.transports``, from the repository's ``transports/``
folder) but are not the core: the core never imports them, so importing ``decart_proto`` never
loads a socket.

Checked twice: statically over the source of every module (so a violation is caught even in a
branch no test runs), and at run time by importing the package in a fresh interpreter whose
import system refuses the forbidden modules (so a violation hidden in a stdlib module the core
imports, such as ``email.utils`` importing ``socket``, is caught too).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import decart_proto

PACKAGE = Path(decart_proto.__file__).resolve().parent
FORBIDDEN_MODULES = frozenset(
    {
        "socket",
        "ssl",
        "selectors",
        "select",
        "asyncio",
        "trio",
        "anyio",
        "threading",
        "time",
        "subprocess",
        # Dynamic imports would hide the rest from this check; builtins would hide open().
        "importlib",
        "builtins",
    }
)
ALLOWED_THIRD_PARTY = frozenset({"h11"})
# The subpackages installed inside the namespace that are not the core.
NOT_THE_CORE = frozenset({"transports", "cli"})
# Callables that open files, or run code this check cannot see.
FORBIDDEN_NAMES = frozenset({"open", "__import__", "exec", "eval", "compile"})
# Methods that open or read files: io.open, os.open/fdopen/popen, pathlib's readers and writers.
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "open",
        "fdopen",
        "popen",
        "read_text",
        "read_bytes",
        "write_text",
        "write_bytes",
        "open_code",
        "system",
        "spawnl",
        "execv",
        "__import__",
    }
)


def violations(source: str, filename: str = "<source>") -> list[str]:
    """Every impure import or call in *source*, as ``file:line: what``."""
    found: list[str] = []
    tree = ast.parse(source, filename)

    def flag(node: ast.AST, what: str) -> None:
        found.append(f"{filename}:{getattr(node, 'lineno', 0)}: {what}")

    def check_module(node: ast.AST, name: str) -> None:
        top = name.split(".", maxsplit=1)[0]
        if top in FORBIDDEN_MODULES:
            flag(node, f"imports {name}")
        elif top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY:
            flag(node, f"imports {name}, which is neither the standard library nor h11")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check_module(node, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                assert node.module is not None
                check_module(node, node.module)
            elif _reaches_outside_the_core(node):
                flag(node, "imports the transports or the CLI, which are not the core")
            for alias in node.names:
                if alias.name in FORBIDDEN_NAMES | FORBIDDEN_ATTRIBUTES:
                    flag(node, f"imports the name {alias.name}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            # Any use, not only a call: `reader = open` is as bad as `open(path)`.
            flag(node, f"uses {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            flag(node, f"uses .{node.attr}")
        elif isinstance(node, ast.Call) and _is_getattr_of_forbidden(node):
            flag(node, "reaches a forbidden name through getattr")
    return found


def _reaches_outside_the_core(node: ast.ImportFrom) -> bool:
    """``from .transports import x``, ``from . import cli``, ``from ..transports import x``."""
    if node.module is not None:
        return node.level > 1 or node.module.split(".", maxsplit=1)[0] in NOT_THE_CORE
    return node.level > 1 or any(alias.name in NOT_THE_CORE for alias in node.names)


def _is_getattr_of_forbidden(node: ast.Call) -> bool:
    if not (isinstance(node.func, ast.Name) and node.func.id == "getattr"):
        return False
    return any(
        isinstance(arg, ast.Constant) and arg.value in FORBIDDEN_NAMES | FORBIDDEN_ATTRIBUTES
        for arg in node.args[1:]
    )


def package_files() -> list[Path]:
    # Installed from a wheel, the transports and the command sit inside the package's folder
    # (decart_proto/transports, decart_proto/cli): they are the I/O edge, not the core.
    edge = {"transports", "cli"}
    return sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in edge)


def test_the_package_has_the_expected_modules() -> None:
    names = {p.name for p in package_files()}
    # The check below must be looking at the real package, not an empty directory.
    assert {"__init__.py", "_exchange.py", "_requests.py", "_responses.py", "models.py"} <= names


@pytest.mark.parametrize("path", package_files(), ids=lambda p: p.name)
def test_module_is_pure(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8"), path.name) == []


@pytest.mark.parametrize(
    "source",
    [
        "import socket",
        "import os, ssl",
        "import asyncio.events",
        "from threading import Thread",
        "from time import monotonic",
        "import selectors as s",
        "from select import select",
        "import subprocess",
        "import trio",
        "from anyio import sleep",
        "import requests",
        "from numpy import array",
        "import importlib",
        "from importlib import import_module",
        "m = __import__('socket')",
        "f = open('x')",
        "reader = open",
        "import io\nio.open('x')",
        "import os\nos.open('x', 0)",
        "import os\nos.fdopen(3)",
        "from os import open as o",
        "from io import open",
        "import pathlib\npathlib.Path('x').read_bytes()",
        "import pathlib\npathlib.Path('x').read_text()",
        "import pathlib\npathlib.Path('x').open()",
        "import pathlib\npathlib.Path('x').write_bytes(b'')",
        "import builtins\nbuiltins.open('x')",
        "o = getattr(__builtins__, 'open')",
        "exec('import socket')",
        "def f():\n    import socket\n",
        "try:\n    import ssl\nexcept ImportError:\n    pass\n",
        "from .transports.blocking import DecartClient",
        "from .transports import blocking",
        "from . import transports",
        "from .cli import main",
        "from . import models, cli",
        "from ..transports import blocking",
        "import decart_proto.transports.blocking",
        "from decart_proto.transports import blocking",
    ],
)
def test_checker_catches(source: str) -> None:
    assert violations(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "import re, json, enum, os, posixpath, warnings",
        "from urllib.parse import quote",
        "import h11",
        "from h11 import Request",
        "from . import models",
        "from ._errors import NetworkError",
        "x.opened = 1\nopen_count = 2",
    ],
)
def test_checker_allows(source: str) -> None:
    assert violations(source) == []


RUNTIME_CHECK = textwrap.dedent(
    """
    import importlib.abc, json, pkgutil, sys

    FORBIDDEN = set(json.loads(sys.argv[1]))
    asked = []

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in FORBIDDEN:
                asked.append(name)
                raise ImportError(name + " is forbidden in the core")
            return None

    # Some (time) are loaded by the interpreter itself: forget them, so that an import of
    # them from the core reaches the finder instead of the module cache.
    for name in [m for m in sys.modules if m.split(".")[0] in FORBIDDEN]:
        del sys.modules[name]
    sys.meta_path.insert(0, Refuse())

    import __PKG__
    # Every module of the core, which is flat; installed from a wheel, the package's folder
    # also holds the transports and the command (NOT_THE_CORE), which are not imported.
    for info in pkgutil.iter_modules(__PKG__.__path__, "__PKG__."):
        if info.name.rpartition(".")[2] not in ("transports", "cli"):
            __import__(info.name)
    print(json.dumps({
        "loaded": sorted(m for m in sys.modules if m.startswith("__PKG__")),
        "forbidden": sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN),
        "asked": asked,
    }))
    """
)

RUNTIME_FORBIDDEN = sorted(FORBIDDEN_MODULES - {"importlib", "builtins"})


def run_guarded_import(package: str, search_path: Path) -> subprocess.CompletedProcess[str]:
    """Import *package* (found first on *search_path*) and all its modules in a fresh
    interpreter that refuses the forbidden modules."""
    code = f"import sys; sys.path.insert(0, {str(search_path)!r})\n"
    code += RUNTIME_CHECK.replace("__PKG__", package)
    # Without coverage's subprocess measurement: a tracer that needs threading and time cannot
    # run (nor save its data) in an interpreter that refuses them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS_")}
    return subprocess.run(
        [sys.executable, "-I", "-c", code, json.dumps(RUNTIME_FORBIDDEN)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_loads_no_forbidden_module() -> None:
    done = run_guarded_import("decart_proto", PACKAGE.parent)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert "decart_proto._exchange" in report["loaded"]
    assert "decart_proto._driver" in report["loaded"]
    outside = [m for m in report["loaded"] if m.split(".")[1:2] and m.split(".")[1] in NOT_THE_CORE]
    assert outside == []
    assert report["forbidden"] == []
    assert report["asked"] == []


@pytest.mark.parametrize(
    "source",
    [
        # Through a stdlib module, as the core once did: email.utils imports socket.
        "from email.utils import parsedate_to_datetime\n",
        "import time\n",
        "import os\nif os.sep == '/':\n    import threading\n",
    ],
)
def test_runtime_check_catches(tmp_path: Path, source: str) -> None:
    pkg = tmp_path / "impure_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(source)
    done = run_guarded_import("impure_pkg", tmp_path)
    assert done.returncode != 0
    assert "is forbidden in the core" in done.stderr
