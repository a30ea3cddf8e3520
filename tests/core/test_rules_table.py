"""The input rules as a table: its shape holds together, and its order is the order of checks.

What each rule says is in test_models_inputs.py; that the table agrees with the emulator's is in
tests/emulator/test_emu_rules_agree.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from decart_proto import InvalidInputError, models, prepare_submit
from decart_proto._rules import (
    FAMILIES,
    FILE_FIELDS,
    Boolean,
    Integer,
    RuleSet,
    String,
    Text,
)

VIDEO = b"\x00\x00\x00\x18ftypmp42"
TYPED = (Integer, Boolean, String, Text)


def test_every_family_is_in_the_table() -> None:
    assert set(FAMILIES) == set(RuleSet)


@pytest.mark.parametrize("rules", list(RuleSet))
def test_every_rule_is_about_a_field_the_family_takes(rules: RuleSet) -> None:
    family = FAMILIES[rules]
    for rule in family.rules:
        assert rule.field in family.takes, rule
        for other in (getattr(rule, "other", None), getattr(rule, "partner", None)):
            assert other is None or other in family.takes, rule


@pytest.mark.parametrize("rules", list(RuleSet))
def test_every_field_taken_has_exactly_one_kind(rules: RuleSet) -> None:
    # A file, or text of one checked type: a field without a kind would be sent unchecked.
    family = FAMILIES[rules]
    for field in family.takes:
        typed = [r for r in family.rules if isinstance(r, TYPED) and r.field == field]
        assert len(typed) + (field in FILE_FIELDS) == 1, (field, typed)


@pytest.mark.parametrize("low", [-1, 2, 5])
def test_text_lower_bounds_are_the_ones_its_message_tells(low: int) -> None:
    # "must not be empty" is only true of a lower bound of 1 (0 never complains).
    with pytest.raises(ValueError, match=r"Text\.min must be 0 or 1"):
        Text("prompt", low, 1000)


# (model, options, the field named): several rules broken at once; the first in the table wins.
FIRST_BROKEN: list[tuple[str, dict[str, Any], str]] = [
    ("lucy-2.1", {"prompt": 5, "seed": "x", "colour": 1}, "colour"),  # unknown before all
    ("lucy-2.1", {"prompt": 5, "seed": "x"}, "data"),
    ("lucy-2.1", {"data": VIDEO, "prompt": 5, "seed": "x", "enhance_prompt": 1}, "seed"),
    ("lucy-2.1", {"data": VIDEO, "resolution": 1, "enhance_prompt": 1}, "resolution"),
    ("lucy-2.1", {"data": VIDEO, "enhance_prompt": 1}, "enhance_prompt"),
    ("lucy-restyle-2", {"data": VIDEO, "prompt": 5, "reference_image": b"i"}, "prompt"),
    ("lucy-restyle-2", {"data": VIDEO, "enhance_prompt": True}, "prompt"),
    ("lucy-clip", {"data": VIDEO, "enhance_prompt": "no"}, "enhance_prompt"),
]


@pytest.mark.parametrize(("name", "options", "field"), FIRST_BROKEN)
def test_the_first_rule_broken_is_the_one_told(
    name: str, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        prepare_submit({"model": models.video(name), **options})
    assert info.value.data == {"field": field}


def test_unknown_fields_are_told_with_what_the_family_takes() -> None:
    with pytest.raises(InvalidInputError) as info:
        prepare_submit({"model": models.video("lucy-clip"), "data": VIDEO, "mask": b"m"})
    assert info.value.message == (
        "Invalid inputs for lucy-clip: mask: is not an input of this model "
        "(it takes data, end, enhance_prompt, prompt, resolution, seed, start)"
    )
