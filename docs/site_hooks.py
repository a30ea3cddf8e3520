"""mkdocs hooks: the API reference reads the package laid out as it is installed.

The repository's ``transports/`` and ``cli/`` folders are installed as
``decart_proto.transports`` and ``decart_proto.cli``. griffe, mkdocstrings' reader, finds a
package by its folders, as mypy does (``mypy-layout/``), and an installed copy may be stale or
absent; so each build shows it a fresh tree of links with the installed layout.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parent.parent


def installed_layout() -> Path:
    """A temporary folder holding ``decart_proto`` (the core's files, with ``transports`` and
    ``cli`` inside) and ``decart_emulator``, as links into the repository."""
    layout = Path(tempfile.mkdtemp(prefix="decart-proto-api-"))
    atexit.register(shutil.rmtree, layout, ignore_errors=True)
    package = layout / "decart_proto"
    package.mkdir()
    for entry in (ROOT / "decart_proto").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for folder in ("transports", "cli"):
        (package / folder).symlink_to(ROOT / folder, target_is_directory=True)
    (layout / "decart_emulator").symlink_to(ROOT / "decart_emulator", target_is_directory=True)
    return layout


@event_priority(100)  # before mkdocstrings reads its handler's options
def on_config(config: Any) -> Any:
    python = config["plugins"]["mkdocstrings"].config["handlers"]["python"]
    python["paths"] = [str(installed_layout())]
    return config
