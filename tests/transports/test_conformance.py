"""The conformance kit (``decart_emulator.conformance``) run as a transport author runs it, for
each of our transports and for the ``selectors`` example of docs/examples/, over HTTP and over
HTTPS: every scenario, through public names only (the pool's idle connections through
``decart_proto.transports.toolkit``)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from decart_proto.transports import asyncio as asyncio_client
from decart_proto.transports import blocking, toolkit
from decart_proto.transports import trio as trio_client

from decart_emulator import conformance
from decart_emulator.conformance import SCENARIOS, AsyncioStyle, Kit, Scenario, Subject, TrioStyle

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "selectors_transport.py"


def load_example() -> ModuleType:
    """docs/examples/selectors_transport.py, imported as a user's module would be."""
    spec = importlib.util.spec_from_file_location("selectors_transport", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _example_idle(client: Any) -> list[Any]:
    # A peek at the example's pool (decart_proto.ConnectionPool) for the kit's check.
    return [conn for idle in client.loop.pool._idle.values() for conn in idle]


def _subject(name: str) -> Subject:
    idle = toolkit.idle_connections
    if name == "blocking":
        return Subject(name, blocking.DecartClient, conformance.BLOCKING, idle)
    if name == "asyncio":
        return Subject(name, asyncio_client.DecartClient, AsyncioStyle(), idle)
    if name == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        style = AsyncioStyle(uvloop.new_event_loop, "uvloop")
        return Subject(name, asyncio_client.DecartClient, style, idle)
    if name == "trio":
        return Subject(name, trio_client.DecartClient, TrioStyle(), idle)
    example = load_example()
    return Subject(name, example.DecartClient, conformance.BLOCKING, _example_idle)


@pytest.fixture(scope="module", params=["http", "https"])
def kit(request: pytest.FixtureRequest) -> Iterator[Kit]:
    with Kit(tls=request.param == "https") as started:
        yield started


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
@pytest.mark.parametrize("subject", ["blocking", "asyncio", "uvloop", "trio", "selectors-example"])
def test_conformance(kit: Kit, subject: str, scenario: Scenario) -> None:
    kit.run(_subject(subject), scenario)
