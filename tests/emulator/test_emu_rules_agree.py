"""The client's model table and the emulator's independent one tell the same rules.

Adding a model is one row in each table (decart_proto/models.py, decart_emulator/_models.py) and
this test, which holds them together three ways:

- by name: the same model names, the same deprecated names and their targets;
- by shape: each model's fields, their kinds, what is required, the text length bounds, the
  exactly-one-of pairs and the only-with pairs, read out of each table into one neutral shape;
- by behaviour: generated option dicts are judged by the client (``prepare_submit``: accepted or
  ``InvalidInputError``) and by the emulator's pure ``validate_form`` (no errors, or a 422's
  list), and the verdicts must agree; and every client path reaches its model on a running
  emulator.

Two differences are by design, and the behavioural test allows exactly them. The client refuses
a field the model does not take, where the server ignores it (FastAPI drops unknown form
fields). And the client judges Python values where the server judges text: ``seed="7"`` is
refused by the client, though its text would parse, so a refusal the server would not give must
be about a value of another Python type than the field's kind.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from emulator_helpers import encode_form, request
from hypothesis import given, settings
from hypothesis import strategies as st

from decart_emulator import Emulator
from decart_emulator import _models as emu
from decart_proto import (
    InvalidInputError,
    ModelNotFoundError,
    models,
    prepare_submit,
)
from decart_proto import _rules as client
from decart_proto.models import ModelDefinition

WIRE_FILES = frozenset({"data", "reference_image", "start", "end"})  # WIRE.md's "file" kind


def _quietly(name: str) -> ModelDefinition:
    """``models.video(name)`` without using up the once-per-process deprecation warning that
    tests/core/test_models_inputs.py expects to see."""
    seen = set(models._warned)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return models.video(name)
    finally:
        models._warned.clear()
        models._warned.update(seen)


CLIENT: Mapping[str, ModelDefinition] = {name: _quietly(name) for name in models.VIDEO_MODELS}
EMULATOR: Mapping[str, emu.ModelSpec] = emu.MODELS


# -- by name -----------------------------------------------------------------------------------


def test_the_same_model_names() -> None:
    documented = {name for name, spec in EMULATOR.items() if spec.source == "WIRE.md"}
    assert set(CLIENT) == documented


def test_names_only_the_official_client_offers_are_unknown_to_this_client() -> None:
    # Once the client learns one of these, its emulator row must say WIRE.md.
    extra = sorted(name for name, spec in EMULATOR.items() if spec.source != "WIRE.md")
    assert extra
    for name in extra:
        with pytest.raises(ModelNotFoundError):
            models.video(name)


def test_the_same_deprecated_names_and_targets() -> None:
    told = {name: spec.replaced_by for name, spec in EMULATOR.items() if spec.replaced_by}
    assert told == models.DEPRECATED


# -- by shape ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What both tables can say about a model's inputs, in neither table's words."""

    kinds: frozenset[tuple[str, str]]  # (field, "file" | "text" | "int" | "bool")
    required: frozenset[str]
    lengths: frozenset[tuple[str, int, int]]  # (field, min, max) of bounded text
    one_of: frozenset[frozenset[str]]
    only_with: frozenset[tuple[str, str]]


def client_shape(rules: client.RuleSet) -> Shape:
    family = client.FAMILIES[rules]
    kinds = {(f, "file") for f in family.takes & client.FILE_FIELDS}
    required, lengths, one_of, only_with = set(), set(), set(), set()
    for rule in family.rules:
        if isinstance(rule, client.Required):
            required.add(rule.field)
        elif isinstance(rule, client.Integer):
            kinds.add((rule.field, "int"))
        elif isinstance(rule, client.Boolean):
            kinds.add((rule.field, "bool"))
        elif isinstance(rule, client.String):
            kinds.add((rule.field, "text"))
        elif isinstance(rule, client.Text):
            kinds.add((rule.field, "text"))
            lengths.add((rule.field, rule.min, rule.max))
        elif isinstance(rule, client.ExactlyOneOf):
            one_of.add(frozenset({rule.field, rule.other}))
        elif isinstance(rule, client.OnlyWith):
            only_with.add((rule.field, rule.partner))
        else:
            raise AssertionError(f"a client rule this test cannot compare: {rule!r}")
    return Shape(*map(frozenset, (kinds, required, lengths, one_of, only_with)))


_EMU_KINDS = {
    emu.Kind.FILE: "file",
    emu.Kind.STR: "text",
    emu.Kind.INT: "int",
    emu.Kind.BOOL: "bool",
}


def emulator_shape(rules: emu.Rules) -> Shape:
    form = emu.FORMS[rules]
    kinds = {(f.name, _EMU_KINDS[f.kind]) for f in form.fields}
    required = {f.name for f in form.fields if f.required}
    lengths = {
        (f.name, f.min_length, f.max_length)
        for f in form.fields
        if f.max_length is not None or f.min_length  # an unbounded str has no length rule
    }
    one_of, only_with = set(), set()
    for check in form.checks:
        if isinstance(check, emu.EitherOr):
            one_of.add(frozenset({check.first, check.second}))
        else:
            only_with.add((check.field, check.partner))
    return Shape(*map(frozenset, (kinds, required, lengths, one_of, only_with)))


@pytest.mark.parametrize("name", sorted(CLIENT))
def test_the_same_rules_for_every_model(name: str) -> None:
    rules = CLIENT[name].rules
    assert rules is not None
    assert client_shape(rules) == emulator_shape(EMULATOR[name].rules)


def test_a_deprecated_name_has_its_targets_rules_in_the_emulator() -> None:
    for name, spec in EMULATOR.items():
        if spec.replaced_by is not None:
            assert spec.rules is EMULATOR[spec.replaced_by].rules, name


# -- by behaviour ------------------------------------------------------------------------------


def _lengths_around_every_bound() -> list[int]:
    """Text lengths at and beside every bound either table has, so that moving one is seen."""
    bounds = {0}
    for family in client.FAMILIES.values():
        for rule in family.rules:
            if isinstance(rule, client.Text):
                bounds |= {rule.min, rule.max}
    for form in emu.FORMS.values():
        for field in form.fields:
            bounds |= {field.min_length, field.max_length or 0}
    return sorted({n for b in bounds for n in (b - 1, b, b + 1) if n >= 0})


LENGTHS = _lengths_around_every_bound()
# Any value of any type, so that no field is only ever given what it expects.
ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(["", "7", "-2", "1.5", "true", "no", "maybe", "720p", "clip.mp4"]),
    st.binary(min_size=1, max_size=4),
)
# Mostly what WIRE.md's form table gives each field (its own knowledge, neither table's), so
# that the rules beyond the types are reached; prompts at and beside every length bound.
TYPICAL = {
    "data": st.one_of(st.binary(min_size=1, max_size=4), st.just("clip.mp4")),
    "reference_image": st.binary(min_size=1, max_size=4),
    "start": st.binary(min_size=1, max_size=4),
    "end": st.binary(min_size=1, max_size=4),
    "prompt": st.sampled_from(LENGTHS).map(lambda n: "é" * n),  # characters, not bytes
    "seed": st.integers(-(2**40), 2**40),
    "resolution": st.sampled_from(["720p", "480p", ""]),
    "enhance_prompt": st.booleans(),
    "colour": st.just("red"),  # in neither table
}


def _mostly(typical: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # Three in four typical (a nested one_of would be flattened into ANY's many branches).
    return st.integers(0, 3).flatmap(lambda pick: typical if pick else ANY)


# The video is nearly always there (ANY holds None), so that the rules after it are reached.
OPTIONS = st.fixed_dictionaries(
    {"data": _mostly(TYPICAL["data"])},
    optional={field: _mostly(typical) for field, typical in TYPICAL.items() if field != "data"},
)


def test_the_generator_knows_every_field_of_both_tables() -> None:
    fields = {f for family in client.FAMILIES.values() for f in family.takes}
    fields |= {f.name for form in emu.FORMS.values() for f in form.fields}
    assert fields <= set(TYPICAL)


def _declared(name: str) -> dict[str, emu.Kind]:
    return {f.name: f.kind for f in emu.FORMS[EMULATOR[name].rules].fields}


def _on_the_wire(options: Mapping[str, Any]) -> emu.FormInput:
    """The form these options make, written from WIRE.md: bytes, or a path (a non-empty str) in
    a file field, are a file part; booleans are ``true``/``false``; anything else is its text."""
    texts: dict[str, str] = {}
    files: set[str] = set()
    for key, value in options.items():
        if isinstance(value, bytes) or (key in WIRE_FILES and isinstance(value, str) and value):
            files.add(key)
        elif isinstance(value, bool):
            texts[key] = "true" if value else "false"
        else:
            texts[key] = str(value)
    return emu.FormInput(texts=texts, files=frozenset(files))


def _of_its_kind(kind: emu.Kind, value: Any) -> bool:
    """Whether a Python value is what the emulator's kind reads, before any text is made."""
    if kind is emu.Kind.FILE:
        return isinstance(value, bytes) or (isinstance(value, str) and value != "")
    if kind is emu.Kind.INT:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, bool if kind is emu.Kind.BOOL else str)


def _client_verdict(name: str, options: Mapping[str, Any]) -> Any:
    """The form the client would send, or the refusal it raises."""
    try:
        return prepare_submit({"model": CLIENT[name], **options})
    except InvalidInputError as refusal:
        return refusal


def judge_alike(name: str, options: dict[str, Any]) -> None:
    options = {k: v for k, v in options.items() if v is not None}  # None is not sent, by both
    declared = _declared(name)
    ignored = sorted(set(options) - set(declared))
    if ignored:
        # The server drops a field it does not declare; the client refuses the first one.
        refusal = _client_verdict(name, options)
        assert isinstance(refusal, InvalidInputError), (name, options)
        assert refusal.data == {"field": ignored[0]}, refusal.message
        assert "is not an input of this model" in refusal.message
        options = {k: v for k, v in options.items() if k in declared}
    verdict = _client_verdict(name, options)
    if not isinstance(verdict, InvalidInputError):
        sent = emu.FormInput(
            texts=dict(verdict.fields), files=frozenset(f.field for f in verdict.files)
        )
        assert emu.validate_form(EMULATOR[name], sent) == [], (name, options)
        return
    if emu.validate_form(EMULATOR[name], _on_the_wire(options)):
        return  # both refuse
    field = verdict.data.get("field")
    assert field in options, (name, options, verdict.message)
    assert not _of_its_kind(declared[field], options[field]), (name, options, verdict.message)


@settings(max_examples=1000)
@given(name=st.sampled_from(sorted(CLIENT)), options=OPTIONS)
def test_client_and_emulator_judge_generated_options_alike(
    name: str, options: dict[str, Any]
) -> None:
    judge_alike(name, options)


# Cases the generator must not be trusted to find: every bound and pair, on every family.
_VIDEO = b"\x00\x00\x00\x18ftypmp42"
EDGES = [
    (name, options)
    for name in ("lucy-2.1", "lucy-restyle-2", "lucy-clip")
    for options in (
        {"data": _VIDEO},
        {"data": _VIDEO, "prompt": ""},
        {"data": _VIDEO, "prompt": "p" * 1000},
        {"data": _VIDEO, "prompt": "p" * 1001},
        {"data": _VIDEO, "reference_image": b"i"},
        {"data": _VIDEO, "prompt": "p", "reference_image": b"i"},
        {"data": _VIDEO, "reference_image": b"i", "enhance_prompt": False},
        {"data": _VIDEO, "prompt": "p", "enhance_prompt": True, "seed": -1, "resolution": "720p"},
        {"data": _VIDEO, "prompt": "p", "start": b"s", "end": b"e"},
        {"data": _VIDEO, "prompt": "p", "seed": True},
        {"data": _VIDEO, "prompt": "p", "enhance_prompt": "maybe"},
        {"prompt": "p"},
    )
]


@pytest.mark.parametrize(("name", "options"), EDGES)
def test_client_and_emulator_judge_the_edges_alike(name: str, options: dict[str, Any]) -> None:
    judge_alike(name, options)


# -- every client path reaches its model -------------------------------------------------------


@pytest.fixture(scope="module")
def shared() -> Iterator[Emulator]:
    with Emulator(pending_seconds=60, reencode=False) as emulator:
        yield emulator


@pytest.mark.parametrize("name", sorted(CLIENT))
def test_every_client_path_reaches_its_model(shared: Emulator, name: str) -> None:
    form = prepare_submit({"model": CLIENT[name], "data": _VIDEO, "prompt": "snow"})
    assert [f.field for f in form.files] == ["data"]
    body, content_type = encode_form(dict(form.fields), {"data": _VIDEO})
    reply = request(shared, "POST", CLIENT[name].url_path, body, {"Content-Type": content_type})
    assert reply.status == 200, reply.body
    warning = reply.headers.get("warning")
    if name in models.DEPRECATED:
        assert warning == f'299 - "model {name} is deprecated; use {models.DEPRECATED[name]}"'
    else:
        assert warning is None
