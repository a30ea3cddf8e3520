"""The command's modules depend on each other one way, and on the client through its public API.

Read from the source with ``ast``, so that an import inside a function or under
``TYPE_CHECKING`` counts as much as one at the top: a cycle hidden in a function body is still
a cycle (the command once had ``cli.py`` <-> ``_cli_batch.py`` that way).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[2] / "cli"
PACKAGE = "decart_proto.cli"
# What the command may take from the transports: the blocking client, and the client's own
# atomic writer (so that the output check before a submit creates the very temporary file the
# download will).
FROM_TRANSPORTS = {
    ("decart_proto.transports.blocking", "DecartClient"),
    ("decart_proto.transports._common", "AtomicFileOutput"),
}


def _imports(path: Path) -> list[tuple[str, str]]:
    """Every ``(module, name)`` *path* imports, relative imports made absolute."""
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = PACKAGE.rsplit(".", node.level - 1)[0]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found += [(module, alias.name) for alias in node.names]
    return found


def _graph() -> dict[str, set[str]]:
    """Each module of the command -> the modules of the command it imports."""
    modules = {f"{PACKAGE}.{p.stem}" if p.stem != "__init__" else PACKAGE for p in _files()}
    graph: dict[str, set[str]] = {}
    for path in _files():
        name = f"{PACKAGE}.{path.stem}" if path.stem != "__init__" else PACKAGE
        targets = set()
        for module, imported in _imports(path):
            if f"{module}.{imported}" in modules:  # from . import _text
                targets.add(f"{module}.{imported}")
            elif module in modules:
                targets.add(module)
        graph[name] = targets - {name}
    return graph


def _files() -> list[Path]:
    return sorted(CLI.glob("*.py"))


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of *graph*, as the path that closes it, or [] when there is none."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once all seen
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = "done"
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_the_command_is_its_own_package() -> None:
    names = {p.name for p in _files()}
    assert {"__init__.py", "__main__.py", "_main.py", "_batch.py", "_demo.py"} <= names
    left = [p.name for p in (CLI.parent / "transports").glob("*.py")]
    assert [n for n in left if n == "cli.py" or n.startswith("_cli_")] == []


def test_no_import_cycle_among_the_commands_modules() -> None:
    graph = _graph()
    # The check must see real edges, not an empty graph.
    assert f"{PACKAGE}._checks" in graph[f"{PACKAGE}._batch"]
    assert f"{PACKAGE}._session" in graph[f"{PACKAGE}._demo"]
    assert find_cycle(graph) == []


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
        ({"a": {"b"}, "b": {"c"}, "c": {"b"}}, ["b", "c", "b"]),
        ({"a": {"a"}}, ["a", "a"]),
        ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_find_cycle(graph: dict[str, set[str]], cycle: list[str]) -> None:
    assert find_cycle(graph) == cycle


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from . import _text\nfrom ._checks import x\nfrom .. import models\n"
        "def f():\n    from ._batch import run_batch\n"
    )
    assert _imports(module) == [
        (PACKAGE, "_text"),
        (f"{PACKAGE}._checks", "x"),
        ("decart_proto", "models"),
        (f"{PACKAGE}._batch", "run_batch"),
    ]


def test_the_command_uses_the_clients_public_api() -> None:
    taken = {
        (module, name)
        for path in _files()
        for module, name in _imports(path)
        if module.startswith("decart_proto.transports")
    }
    assert ("decart_proto.transports.blocking", "DecartClient") in taken
    assert taken <= FROM_TRANSPORTS
