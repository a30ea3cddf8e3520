"""docs/defaults.md and docs/errors.md against the code: a default changed, an error class added
or moved in the hierarchy, and the page is wrong; these tests say where.

The tables are read as a reader sees them: a row's first cell names the setting or the error in
backticks, the second gives the value (a Python literal in backticks) or the base class.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import random
import re
from pathlib import Path
from typing import Any

import pytest
from decart_proto.transports import _common, asyncio, blocking, trio

import decart_proto
from decart_proto import (
    JobEvent,
    JobMachine,
    Mode,
    PollPolicy,
    QueueStatusError,
    RetryPolicy,
    Timeouts,
    Verdict,
    _exchange,
    _ops,
    _policy,
    _responses,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
POLICIES = {"Timeouts": Timeouts, "PollPolicy": PollPolicy, "RetryPolicy": RetryPolicy}
# The modules whose constants the defaults page may name, bare.
CONSTANTS = (decart_proto, _policy, _exchange, _ops, _responses, _common)
CLIENTS = (blocking.DecartClient, asyncio.DecartClient, trio.DecartClient)
_CODE = re.compile(r"`([^`]+)`")


def table_rows(page: str) -> list[list[str]]:
    """The cells of every row of every table of *page*: its runs of lines that start with "|",
    less each run's header and rule lines."""
    rows: list[list[str]] = []
    run: list[str] = []
    for line in [*(DOCS / page).read_text().splitlines(), ""]:
        if line.startswith("|"):
            run.append(line)
            continue
        for row in run[2:]:
            rows.append([cell.strip() for cell in row.strip().strip("|").split("|")])
        run = []
    return rows


def first_code(cell: str) -> str:
    match = _CODE.search(cell)
    assert match, f"no `value` in {cell!r}"
    return match.group(1)


def code_default(name: str) -> Any:
    """The value in the code of a setting named as the defaults page names it."""
    if match := re.fullmatch(r"DecartClient\((\w+)=\)", name):
        defaults = {
            inspect.signature(client.__init__).parameters[match.group(1)].default
            for client in CLIENTS
        }
        assert len(defaults) == 1, f"the transports' clients disagree on {name}: {defaults}"
        return defaults.pop()
    if match := re.fullmatch(r"(\w+)\.(\w+)", name):
        return getattr(POLICIES[match.group(1)](), match.group(2))
    holders = [module for module in CONSTANTS if hasattr(module, name)]
    assert holders, f"{name} is no constant of {[m.__name__ for m in CONSTANTS]}"
    return getattr(holders[0], name)


# The settings tables (the last table, of what a failing server costs, names no setting).
DEFAULT_ROWS = [r for r in table_rows("defaults.md") if len(r) == 3 and r[0].startswith("`")]


@pytest.mark.parametrize("row", DEFAULT_ROWS, ids=[first_code(r[0]) for r in DEFAULT_ROWS])
def test_every_default_in_the_table_is_the_codes(row: list[str]) -> None:
    name = first_code(row[0])
    documented = ast.literal_eval(first_code(row[1]))
    assert code_default(name) == documented, f"docs/defaults.md says {name} = {documented!r}"


def test_every_default_of_the_code_is_in_the_table() -> None:
    named = {first_code(row[0]) for row in DEFAULT_ROWS}
    expected = {
        f"{policy}.{field.name}"
        for policy, cls in POLICIES.items()
        for field in dataclasses.fields(cls)
    }
    for client in CLIENTS:
        for param in inspect.signature(client.__init__).parameters.values():
            if param.default is not inspect.Parameter.empty:
                expected.add(f"DecartClient({param.name}=)")
    expected |= {
        "DEFAULT_MAX_IN_MEMORY_RESULT", "DEFAULT_BASE_URL", "LAST_ATTEMPT_SHARE",
        "EARLY_RESPONSE_WINDOW", "MAX_HEAD", "MAX_SMALL_BODY", "MAX_ERROR_TEXT", "PROGRESS_PIECE",
    }  # fmt: skip
    assert expected - named == set(), "defaults missing from docs/defaults.md"
    assert len(named) == len(DEFAULT_ROWS), "a setting is in the table twice"


def test_the_table_parser_sees_every_section() -> None:
    # 5 timeouts, 5 polling, 4 retries, 7 limits, 12 client settings: a parser that lost a
    # section would check less than the page says.
    assert len(DEFAULT_ROWS) == 33


# -- docs/errors.md -------------------------------------------------------------------------

ERROR_ROWS = {first_code(row[0]): row for row in table_rows("errors.md") if len(row) == 6}


def public_errors() -> dict[str, type[BaseException]]:
    found = {
        name: value
        for module in (decart_proto, blocking, asyncio, trio)
        for name, value in vars(module).items()
        if inspect.isclass(value) and issubclass(value, BaseException) and name[0] != "_"
    }
    # The transports re-export the core's classes: one class per name.
    assert all(getattr(decart_proto, name, value) is value for name, value in found.items())
    return found


def test_every_public_error_class_is_in_the_page_with_its_base() -> None:
    errors = public_errors()
    assert set(errors) == set(ERROR_ROWS), "docs/errors.md and the public errors differ"
    for name, cls in errors.items():
        base = first_code(ERROR_ROWS[name][1])
        assert cls.__bases__[0].__name__ == base, f"{name} is a {cls.__bases__[0].__name__}"


def test_the_deadline_errors_data_keys_are_the_documented_ones() -> None:
    machine = JobMachine(Mode.STATUS, now=0, deadline=1, rand=random.random, job_id="j")
    machine.handle(1, Verdict(JobEvent.NOT_DONE, QueueStatusError("Failed: 503")))
    error = machine.failure()
    assert error is not None
    documented = set(re.findall(r'`"(\w+)"`', ERROR_ROWS["DeadlineExceededError"][3]))
    assert set(error.data) == documented == {"job_id", "status", "last_failure"}
