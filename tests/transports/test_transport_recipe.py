"""docs/transport-recipe.md tells the truth about the code: its line counts are the files' and
the classes' own, and the protocol it lists is the protocol's members, no more, no fewer."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

from decart_proto.transports import AsyncIO, SyncIO

ROOT = Path(__file__).resolve().parents[2]
RECIPE = (ROOT / "docs" / "transport-recipe.md").read_text()
# A row of the line-count table: | `a file or a dotted class` (a comment) | 123 |
ROW = re.compile(r"^\| `([\w./]+)`[^|]* \| (\d+) \|$", re.MULTILINE)


def _lines(name: str) -> int:
    if name.endswith(".py"):
        return len((ROOT / name).read_text().splitlines())
    module, _, attribute = name.rpartition(".")
    return len(inspect.getsourcelines(getattr(importlib.import_module(module), attribute))[0])


def test_every_line_count_in_the_recipe_is_true() -> None:
    claims = {name: int(count) for name, count in ROW.findall(RECIPE)}
    assert len(claims) >= 10, claims  # the table is there, and read
    actual = {name: _lines(name) for name in claims}
    assert claims == actual


def _members(protocol: type) -> set[str]:
    return {
        name
        for name in {*vars(protocol), *getattr(protocol, "__annotations__", {})}
        if not name.startswith("_")
    }


def test_the_recipe_lists_the_protocol_as_it_is() -> None:
    listing = RECIPE.split("class AsyncIO(Protocol[S]):", 1)[1].split("```", 1)[0]
    listed = set(re.findall(r"^    (?:async def |def )?(\w+)[(:]", listing, re.MULTILINE))
    assert listed == _members(AsyncIO)
    assert _members(SyncIO) == _members(AsyncIO)  # the blocking twin has the same methods
