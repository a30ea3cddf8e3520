"""The per-model form rules of WIRE.md, checked by the server, with FastAPI's 422 shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from emulator_helpers import submit

from decart_emulator import Emulator, sample_video_path

VIDEO = {"data": sample_video_path().read_bytes()}
IMAGE = {"reference_image": b"\x89PNG fake image"}
LONG = "x" * 1001

# (model, text fields, file fields, expected {(loc, type)}; empty means accepted)
CASES = [
    ("lucy-2.1", {"prompt": "anime"}, VIDEO, set()),
    ("lucy-2.1", {"prompt": ""}, VIDEO, set()),
    ("lucy-2.1", {"prompt": "x" * 1000}, VIDEO, set()),
    ("lucy-2.1", {"prompt": "é" * 1000}, VIDEO, set()),  # characters, not bytes
    ("lucy-2.1", {"prompt": "p"}, {**VIDEO, **IMAGE}, set()),
    ("lucy-2.1", {}, VIDEO, {(("body", "prompt"), "missing")}),
    ("lucy-2.1", {"prompt": LONG}, VIDEO, {(("body", "prompt"), "string_too_long")}),
    ("lucy-2.1", {"prompt": "p"}, {}, {(("body", "data"), "missing")}),
    ("lucy-2.1", {"prompt": "p", "data": "text"}, {}, {(("body", "data"), "value_error")}),
    ("lucy-2.1", {}, {**VIDEO, "prompt": b"p"}, {(("body", "prompt"), "string_type")}),
    ("lucy-2.1", {"prompt": "p", "reference_image": "u"}, VIDEO,
     {(("body", "reference_image"), "value_error")}),
    ("lucy-2.1", {"prompt": "p", "seed": "42", "resolution": "720p"}, VIDEO, set()),
    ("lucy-2.1", {"prompt": "p", "seed": "-7"}, VIDEO, set()),
    ("lucy-2.1", {"prompt": "p", "seed": "4.5"}, VIDEO, {(("body", "seed"), "int_parsing")}),
    ("lucy-2.1", {"prompt": "p", "enhance_prompt": "True"}, VIDEO, set()),
    ("lucy-2.1", {"prompt": "p", "enhance_prompt": "false"}, VIDEO, set()),
    ("lucy-2.1", {"prompt": "p", "enhance_prompt": "maybe"}, VIDEO,
     {(("body", "enhance_prompt"), "bool_parsing")}),
    ("lucy-2.1", {"prompt": "p", "start": "ignored"}, VIDEO, set()),  # unknown fields ignored
    ("lucy-clip", {"prompt": "p"}, VIDEO, set()),
    ("lucy-clip", {"prompt": ""}, VIDEO, {(("body", "prompt"), "string_too_short")}),
    ("lucy-clip", {}, VIDEO, {(("body", "prompt"), "missing")}),
    ("lucy-pro-v2v", {"prompt": LONG}, VIDEO, {(("body", "prompt"), "string_too_long")}),
    ("lucy-restyle-2", {"prompt": "p"}, VIDEO, set()),
    ("lucy-restyle-2", {"prompt": "p", "enhance_prompt": "true"}, VIDEO, set()),
    ("lucy-restyle-2", {}, {**VIDEO, **IMAGE}, set()),
    ("lucy-restyle-2", {}, VIDEO, {(("body",), "value_error")}),
    ("lucy-restyle-2", {"prompt": "p"}, {**VIDEO, **IMAGE}, {(("body",), "value_error")}),
    ("lucy-restyle-2", {"enhance_prompt": "1"}, {**VIDEO, **IMAGE}, {(("body",), "value_error")}),
    ("lucy-restyle-latest", {"prompt": ""}, VIDEO, {(("body", "prompt"), "string_too_short")}),
    ("lucy-restyle-v2v", {"prompt": LONG}, VIDEO, {(("body", "prompt"), "string_too_long")}),
    ("lucy-clip-latest", {}, {}, {(("body", "prompt"), "missing"), (("body", "data"), "missing")}),
]  # fmt: skip


@pytest.fixture(scope="module")
def shared() -> Iterator[Emulator]:
    with Emulator(pending_seconds=60, reencode=False) as emulator:
        yield emulator


@pytest.mark.parametrize(("model", "fields", "files", "expected"), CASES)
def test_rules(
    shared: Emulator,
    model: str,
    fields: dict[str, str],
    files: dict[str, bytes],
    expected: set[tuple[tuple[str, ...], str]],
) -> None:
    before = shared.submit_count
    reply = submit(shared, model, fields=fields, files=files)
    if not expected:
        assert reply.status == 200, reply.body
        assert shared.submit_count == before + 1
        return
    assert reply.status == 422
    detail = reply.json()["detail"]
    assert {(tuple(e["loc"]), e["type"]) for e in detail} == expected
    for entry in detail:
        assert set(entry) >= {"loc", "msg", "type"}
        assert isinstance(entry["msg"], str) and entry["msg"]
    assert shared.submit_count == before
    assert list(shared._running().spool_dir.iterdir()) == []


def test_messages_read_like_fastapi(shared: Emulator) -> None:
    reply = submit(shared, "lucy-2.1", fields={"prompt": LONG})
    (entry,) = reply.json()["detail"]
    assert entry == {
        "type": "string_too_long",
        "loc": ["body", "prompt"],
        "msg": "String should have at most 1000 characters",
        "input": LONG,
        "ctx": {"max_length": 1000},
    }
    reply = submit(shared, "lucy-2.1", fields={}, files={})
    assert {"type": "missing", "loc": ["body", "data"], "msg": "Field required", "input": None} in (
        reply.json()["detail"]
    )
