"""Per-model input rules of WIRE.md, as data, and the one function that checks them.

Rules run before anything is sent, so that a typo costs an exception instead of a paid job.
They check the shape of the options only; the server stays the authority on everything else.

Adding a model is one row in the registry (``models.py``, naming the model's family), one row in
the emulator's independent table (``decart_emulator/_models.py``), and the test that holds the
two together (``tests/emulator/test_emu_rules_agree.py``). A new family is one more entry in
:data:`FAMILIES` here and in the emulator's table, and the same test.
"""

# Theory of operation
# -------------------
#
# Every queue model names one family (RuleSet). A family is two things: the fields it takes at
# all, and an ordered tuple of rules. A rule is a frozen value of one of the few types below; it
# names the field a complaint is about and says what ``given`` breaks, or None. check_options
# refuses a field the family does not take, then walks the rules in the order they are written
# and raises for the first one broken. So the table is the whole behaviour: its order is the
# order of the checks, and decides which field is named when several are wrong. No rule reads
# another; a rule about a field that is absent is satisfied unless it is about presence.

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import InvalidInputError

__all__ = ["FAMILIES", "FILE_FIELDS", "TEXT_FIELDS", "Family", "RuleSet", "check_options"]

FILE_FIELDS = frozenset({"data", "reference_image", "start", "end"})
TEXT_FIELDS = frozenset({"prompt", "seed", "resolution", "enhance_prompt"})
# Keys a caller may put in the options dict that are not form fields.
CONTROL_KEYS = frozenset({"model", "on_status_change"})
MAX_PROMPT = 1000


class RuleSet(enum.Enum):
    """The three families of queue models; each model of the registry names one."""

    EDIT = "edit"
    RESTYLE = "restyle"
    CLIP = "clip"


@dataclass(frozen=True)
class Required:
    """The field must be given; ``says`` is the complaint as it reads after the field's name."""

    field: str
    says: str

    def broken(self, given: Mapping[str, Any]) -> str | None:
        return None if self.field in given else self.says


@dataclass(frozen=True)
class Integer:
    """An int and not a bool: ``True`` is an int to Python but would be sent as ``true``."""

    field: str

    def broken(self, given: Mapping[str, Any]) -> str | None:
        value = given.get(self.field)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return None
        return f"must be an integer, got {type(value).__name__}"


@dataclass(frozen=True)
class Boolean:
    """A bool only: ``"yes"`` or ``1`` may pass the server's lax parsing, but as a guess."""

    field: str

    def broken(self, given: Mapping[str, Any]) -> str | None:
        value = given.get(self.field)
        return None if value is None or isinstance(value, bool) else "must be True or False"


@dataclass(frozen=True)
class String:
    """A str; ``example`` shows the caller a value the server takes."""

    field: str
    example: str

    def broken(self, given: Mapping[str, Any]) -> str | None:
        value = given.get(self.field)
        if value is None or isinstance(value, str):
            return None
        return f"must be a string such as {self.example!r}"


@dataclass(frozen=True)
class Text:
    """A str of ``min`` to ``max`` characters (characters, not bytes, as the server counts).

    ``min`` is 0 or 1, the only lower bounds WIRE.md has, so "too short" always reads
    "must not be empty".
    """

    field: str
    min: int
    max: int

    def __post_init__(self) -> None:
        if self.min not in (0, 1):
            raise ValueError(f"Text.min must be 0 or 1, got {self.min}")

    def broken(self, given: Mapping[str, Any]) -> str | None:
        value = given.get(self.field)
        if value is None:
            return None
        if not isinstance(value, str):
            return f"must be a string, got {type(value).__name__}"
        if len(value) > self.max:
            return f"must be at most {self.max} characters, got {len(value)}"
        if len(value) < self.min:
            return "must not be empty"
        return None


@dataclass(frozen=True)
class ExactlyOneOf:
    """One of the two fields and not both; the complaint is about ``field``."""

    field: str
    other: str

    def broken(self, given: Mapping[str, Any]) -> str | None:
        if (self.field in given) == (self.other in given):
            return f"give exactly one of {self.field} or {self.other}"
        return None


@dataclass(frozen=True)
class OnlyWith:
    """The field may be given only when ``partner`` is."""

    field: str
    partner: str

    def broken(self, given: Mapping[str, Any]) -> str | None:
        if self.field in given and self.partner not in given:
            return f"is only allowed together with {self.partner}"
        return None


Rule = Required | Integer | Boolean | String | Text | ExactlyOneOf | OnlyWith


@dataclass(frozen=True)
class Family:
    """The fields a family takes, and its rules in the order they are checked."""

    takes: frozenset[str]
    rules: tuple[Rule, ...]


# Every family checks the video first, then the types of the scalars.
_FIRST: tuple[Rule, ...] = (
    Required("data", "is required: the input video"),
    Integer("seed"),
    String("resolution", example="720p"),
    Boolean("enhance_prompt"),
)
_SCALARS = frozenset({"seed", "resolution", "enhance_prompt"})

FAMILIES: Mapping[RuleSet, Family] = {
    RuleSet.EDIT: Family(
        takes=frozenset({"data", "prompt", "reference_image", *_SCALARS}),
        rules=(
            *_FIRST,
            Required("prompt", "is required (it may be empty)"),
            Text("prompt", 0, MAX_PROMPT),
        ),
    ),
    RuleSet.RESTYLE: Family(
        takes=frozenset({"data", "prompt", "reference_image", *_SCALARS}),
        rules=(
            *_FIRST,
            ExactlyOneOf("prompt", "reference_image"),
            Text("prompt", 1, MAX_PROMPT),
            OnlyWith("enhance_prompt", "prompt"),
        ),
    ),
    RuleSet.CLIP: Family(
        takes=frozenset({"data", "prompt", "start", "end", *_SCALARS}),
        rules=(
            *_FIRST,
            Required("prompt", f"is required, 1 to {MAX_PROMPT} characters"),
            Text("prompt", 1, MAX_PROMPT),
        ),
    ),
}


def _fail(model: str, field: str, rule: str) -> InvalidInputError:
    return InvalidInputError(f"Invalid inputs for {model}: {field}: {rule}", data={"field": field})


def check_options(model: str, rules: RuleSet, given: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidInputError` naming the field and the first rule that *given* breaks.

    *given* holds the form fields only, with ``None`` values already dropped.
    """
    family = FAMILIES[rules]
    unknown = sorted(set(given) - family.takes)
    if unknown:
        takes = ", ".join(sorted(family.takes))
        raise _fail(model, unknown[0], f"is not an input of this model (it takes {takes})")
    for rule in family.rules:
        says = rule.broken(given)
        if says is not None:
            raise _fail(model, rule.field, says)
