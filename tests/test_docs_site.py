"""The documentation site builds without a warning, and its API reference has every public name.

``mkdocs build --strict`` turns each warning into a failure: a link to a page or an anchor that
does not exist, a page left out of the navigation, a reference entry (``::: name``) that names
nothing. The reference is written by hand, page by page, in the order a reader needs it; this
test holds it complete: every name in the ``__all__`` of a public module (the client modules,
``decart_proto.transports``, ``models``, the emulator) is documented by an entry for that very
object (the errors each client module re-exports are one entry each, not three).
"""

from __future__ import annotations

import html
import importlib
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import decart_proto.transports
import pytest

import decart_emulator
import decart_proto.models

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ENTRY = re.compile(r"^::: ([\w.]+)\s*$", re.MULTILINE)

pytest.importorskip("mkdocs", reason="the docs extra: pip install -e '.[docs]'")


def public_modules() -> list[ModuleType]:
    """The modules whose ``__all__`` is the public API: the client modules and any other public
    module of the transports (found, so that a new one is held to the rule too)."""
    found = [decart_proto.transports, decart_proto.models, decart_emulator]
    for info in pkgutil.iter_modules(decart_proto.transports.__path__):
        if not info.name.startswith("_"):
            found.append(importlib.import_module(f"decart_proto.transports.{info.name}"))
    return found


def _entries() -> dict[str, object]:
    """Every ``::: name`` of the site's pages, resolved to the object it documents."""
    resolved: dict[str, object] = {}
    for page in sorted(DOCS.rglob("*.md")):
        for name in ENTRY.findall(page.read_text()):
            module_name, _, attribute = name, "", ""
            while True:
                try:
                    target: object = importlib.import_module(module_name)
                    break
                except ModuleNotFoundError:
                    module_name, _, last = module_name.rpartition(".")
                    attribute = f"{last}.{attribute}".strip(".")
            for part in filter(None, attribute.split(".")):
                target = getattr(target, part)
            resolved[name] = target
    return resolved


def _documented(entries: dict[str, object]) -> list[object]:
    """The objects the entries document: each entry's object, and for a module entry the
    members of its ``__all__``, which mkdocstrings renders."""
    objects = list(entries.values())
    for target in entries.values():
        if isinstance(target, ModuleType):
            objects += [getattr(target, name) for name in getattr(target, "__all__", ())]
    return objects


def test_every_public_name_has_a_reference_entry() -> None:
    documented = _documented(_entries())
    missing = [
        f"{module.__name__}.{name}"
        for module in public_modules()
        for name in module.__all__
        if not any(getattr(module, name) is target for target in documented)
    ]
    assert missing == [], "add a '::: name' entry for each to a page of docs/reference/"


def test_the_entries_resolve_and_the_modules_are_found() -> None:
    """The completeness test above is only as good as what it walks: the client modules are
    among the public modules, and every entry names an object that exists."""
    names = {module.__name__ for module in public_modules()}
    for style in ("blocking", "asyncio", "trio"):
        assert f"decart_proto.transports.{style}" in names
    entries = _entries()
    assert "decart_proto.transports.blocking.DecartClient" in entries
    assert (
        entries["decart_proto.transports.blocking.DecartClient"]
        is not (entries["decart_proto.transports.asyncio.DecartClient"])
    )


def _dot_labels(dot: str) -> list[str]:
    labels = []
    for label in re.findall(r'label="([^"]*)"', dot):
        labels += label.split("\\n")
    return sorted(label for label in labels if label)


def _svg_texts(svg: str) -> list[str]:
    return sorted(html.unescape(text) for text in re.findall(r"<text[^>]*>([^<]*)</text>", svg))


def test_the_committed_diagram_is_drawn_from_the_committed_graph() -> None:
    """The site shows docs/job_states.svg, drawn by graphviz from docs/job_states.dot (which
    tests/job/test_draw_job_states.py holds to the transition table). Graphviz is not needed
    to check that the picture is current: it says exactly the graph's labels (states, events,
    calls), no more, no fewer."""
    dot = (DOCS / "job_states.dot").read_text()
    svg = (DOCS / "job_states.svg").read_text()
    assert _svg_texts(svg) == _dot_labels(dot), (
        "regenerate: dot -Tsvg docs/job_states.dot -o docs/job_states.svg"
    )


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    """About 15 s: mkdocstrings reads every documented module."""
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    # The lifecycle page shows the state diagram, and the reference rendered its entries.
    lifecycle = (tmp_path / "lifecycle" / "index.html").read_text()
    assert re.search(r'<img[^>]+src="\.\./job_states\.svg"', lifecycle), "the diagram is shown"
    assert (tmp_path / "job_states.svg").read_bytes() == (DOCS / "job_states.svg").read_bytes()
    clients = (tmp_path / "reference" / "clients" / "index.html").read_text()
    for style in ("blocking", "asyncio", "trio"):
        assert f'id="decart_proto.transports.{style}.DecartClient"' in clients
    assert 'id="decart_proto.transports.blocking.QueueClient.submit_and_poll"' in clients


def test_the_charts_are_drawn_from_the_committed_figures(tmp_path: Path) -> None:
    """benchmarks/plot.py, run on benchmarks/results/, draws the charts committed under
    docs/charts/: the same files, saying the same (titles, the machine and date, every bar's
    figure, as text). The drawing itself may differ between matplotlib versions; the words and
    numbers may not."""
    pytest.importorskip("matplotlib", reason="the docs extra: pip install -e '.[docs]'")
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "plot.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    drawn = sorted(path.name for path in tmp_path.glob("*.svg"))
    committed = sorted(path.name for path in (DOCS / "charts").glob("*.svg"))
    assert drawn == committed, "regenerate: python benchmarks/plot.py"
    assert {"many_jobs_cpu.svg", "upload_speed.svg", "download_speed.svg"} <= set(drawn)
    for name in drawn:
        fresh = _svg_texts((tmp_path / name).read_text())
        assert fresh == _svg_texts((DOCS / "charts" / name).read_text()), (
            f"{name} is stale: python benchmarks/plot.py"
        )
        assert any("Python" in text for text in fresh)  # the caption: date, machine, commit
