"""The queue models the emulator serves, and their form rules, checked on the server side.

The rules are written here from WIRE.md, independently of the client package ``decart_proto``,
so that the emulator checks the client's bytes with code that shares no logic with it. They are
data, in the shape a FastAPI service declares a form: typed fields with their constraints, then
model validators. Errors use the shape such a service returns for a failed form: a list of
``{"type", "loc", "msg", "input"}`` entries, answered with status 422.

Adding a model is one row in :data:`MODELS` here, one row in the client's registry
(``decart_proto/models.py``), and the test that the two tables agree
(``tests/emulator/test_emu_rules_agree.py``).

Value parsing follows pydantic's lax mode, which the real (FastAPI) service applies to form
strings: integers in decimal, booleans from ``true/false/1/0/yes/no/on/off/t/f/y/n`` in any case
(Decart's own Python client sends ``True``/``False``).
"""

# Theory of operation
# -------------------
#
# A model name maps to one rule set; a rule set (Form) is its declared fields, in order, and its
# model checks. Each declared field is parsed by its kind, then held to its own constraints, and
# every field error is reported, as pydantic does. The model checks then run in order and the
# first one that fails is reported alone, as one pydantic model validator raises once. A field
# the form does not declare is ignored, as FastAPI ignores unknown form fields.

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FORMS",
    "MODELS",
    "EitherOr",
    "Field",
    "Form",
    "FormInput",
    "Kind",
    "ModelSpec",
    "OnlyWith",
    "Rules",
    "validate_form",
]

MAX_PROMPT_CHARS = 1000


class Rules(enum.Enum):
    """The three input rule sets of WIRE.md's model table."""

    EDIT = "edit"
    RESTYLE = "restyle"
    CLIP = "clip"


class Kind(enum.Enum):
    """How a field's value is read: an upload, or a form string parsed as pydantic would."""

    FILE = "UploadFile"
    STR = "str"
    INT = "int"
    BOOL = "bool"


@dataclass(frozen=True)
class Field:
    """One declared form field; the length bounds apply to ``STR`` fields."""

    name: str
    kind: Kind
    required: bool = False
    min_length: int = 0
    max_length: int | None = None


@dataclass(frozen=True)
class EitherOr:
    """Model check: exactly one of two fields is given."""

    first: str
    second: str


@dataclass(frozen=True)
class OnlyWith:
    """Model check: ``field`` is given only together with ``partner`` (and not ``instead``)."""

    field: str
    partner: str
    instead: str


@dataclass(frozen=True)
class Form:
    """One rule set: its fields in declaration order, and its model checks in order."""

    fields: tuple[Field, ...]
    checks: tuple[EitherOr | OnlyWith, ...] = ()


_DATA = Field("data", Kind.FILE, required=True)
_REFERENCE = Field("reference_image", Kind.FILE)
_SCALARS = (
    Field("seed", Kind.INT),
    Field("resolution", Kind.STR),
    Field("enhance_prompt", Kind.BOOL),
)

FORMS: Mapping[Rules, Form] = {
    # WIRE.md: prompt required but may be empty.
    Rules.EDIT: Form(
        (
            _DATA,
            Field("prompt", Kind.STR, required=True, max_length=MAX_PROMPT_CHARS),
            _REFERENCE,
            *_SCALARS,
        )
    ),
    Rules.RESTYLE: Form(
        (
            _DATA,
            Field("prompt", Kind.STR, min_length=1, max_length=MAX_PROMPT_CHARS),
            _REFERENCE,
            *_SCALARS,
        ),
        checks=(
            EitherOr("prompt", "reference_image"),
            OnlyWith("enhance_prompt", "prompt", instead="reference_image"),
        ),
    ),
    # The first-last-frame family: start and end frames, no reference image.
    Rules.CLIP: Form(
        (
            _DATA,
            Field("prompt", Kind.STR, required=True, min_length=1, max_length=MAX_PROMPT_CHARS),
            Field("start", Kind.FILE),
            Field("end", Kind.FILE),
            *_SCALARS,
        )
    ),
}


@dataclass(frozen=True)
class ModelSpec:
    """One servable model name; ``replaced_by`` is set for deprecated names, and ``source`` says
    where the name comes from (WIRE.md's table, or only the official client's list)."""

    name: str
    rules: Rules
    replaced_by: str | None = None
    source: str = "WIRE.md"


_OFFICIAL = "official client 0.2"

# fmt: off
_ROWS = (
    ModelSpec("lucy-2.1",            Rules.EDIT),
    ModelSpec("lucy-2.1-vton",       Rules.EDIT),
    ModelSpec("lucy-2.5",            Rules.EDIT),
    ModelSpec("lucy-vton-2",         Rules.EDIT),
    ModelSpec("lucy-vton-3",         Rules.EDIT),
    ModelSpec("lucy-latest",         Rules.EDIT),
    ModelSpec("lucy-vton-latest",    Rules.EDIT),
    ModelSpec("lucy-restyle-2",      Rules.RESTYLE),
    ModelSpec("lucy-restyle-latest", Rules.RESTYLE),
    ModelSpec("lucy-clip",           Rules.CLIP),
    ModelSpec("lucy-clip-latest",    Rules.CLIP),
    # Deprecated names: accepted, answered with a Warning header naming the replacement.
    ModelSpec("lucy-2.1-vton-2",     Rules.EDIT,    replaced_by="lucy-vton-2"),
    ModelSpec("lucy-pro-v2v",        Rules.CLIP,    replaced_by="lucy-clip"),
    ModelSpec("lucy-restyle-v2v",    Rules.RESTYLE, replaced_by="lucy-restyle-2"),
    # Not in WIRE.md's table but served by the installed official client; accepting them keeps
    # "the official client works unchanged" true for every name it offers.
    ModelSpec("lucy-2.6",            Rules.EDIT,    source=_OFFICIAL),
    ModelSpec("lucy-vton-3.5",       Rules.EDIT,    source=_OFFICIAL),
    ModelSpec("lucy-vton-3.6",       Rules.EDIT,    source=_OFFICIAL),
)
# fmt: on

MODELS: Mapping[str, ModelSpec] = {spec.name: spec for spec in _ROWS}


@dataclass(frozen=True)
class FormInput:
    """What the multipart parser found: text values, and the names of the file parts."""

    texts: Mapping[str, str]
    files: frozenset[str]

    def given(self, field: Field) -> bool:
        """Whether the field arrived in the part its kind needs (a misplaced one is not given)."""
        return field.name in (self.files if field.kind is Kind.FILE else self.texts)


_INT_RE = re.compile(r"[+-]?\d+")
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def _error(kind: str, loc: tuple[str, ...], msg: str, value: Any, **ctx: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": kind, "loc": ["body", *loc], "msg": msg, "input": value}
    if ctx:
        entry["ctx"] = ctx
    return entry


def _file_error(field: Field, form: FormInput) -> dict[str, Any] | None:
    """An upload: a text value where a file belongs is FastAPI's ``UploadFile`` error."""
    if field.name in form.files:
        return None
    if field.name in form.texts:
        return _error(
            "value_error",
            (field.name,),
            "Value error, Expected UploadFile, received: <class 'str'>",
            form.texts[field.name],
        )
    return _error("missing", (field.name,), "Field required", None) if field.required else None


def _length_error(field: Field, value: str) -> dict[str, Any] | None:
    if len(value) < field.min_length:
        plural = "" if field.min_length == 1 else "s"
        return _error(
            "string_too_short",
            (field.name,),
            f"String should have at least {field.min_length} character{plural}",
            value,
            min_length=field.min_length,
        )
    if field.max_length is not None and len(value) > field.max_length:
        return _error(
            "string_too_long",
            (field.name,),
            f"String should have at most {field.max_length} characters",
            value,
            max_length=field.max_length,
        )
    return None


def _text_error(field: Field, form: FormInput) -> dict[str, Any] | None:
    """A form string: a file part where text belongs is a type error, as for a ``str``."""
    if field.name in form.files:
        return _error("string_type", (field.name,), "Input should be a valid string", None)
    value = form.texts.get(field.name)
    if value is None:
        return _error("missing", (field.name,), "Field required", None) if field.required else None
    if field.kind is Kind.INT and not _INT_RE.fullmatch(value.strip()):
        return _error(
            "int_parsing",
            (field.name,),
            "Input should be a valid integer, unable to parse string as an integer",
            value,
        )
    if field.kind is Kind.BOOL and value.strip().lower() not in _TRUE | _FALSE:
        return _error(
            "bool_parsing",
            (field.name,),
            "Input should be a valid boolean, unable to interpret input",
            value,
        )
    return _length_error(field, value) if field.kind is Kind.STR else None


def _check_error(check: EitherOr | OnlyWith, given: set[str]) -> dict[str, Any] | None:
    if isinstance(check, EitherOr):
        if (check.first in given) != (check.second in given):
            return None
        msg = f"Must provide either '{check.first}' or '{check.second}', but not both"
    else:
        if check.field not in given or check.partner in given:
            return None
        msg = f"'{check.field}' is only valid when using '{check.partner}', not '{check.instead}'"
    return _error("value_error", (), f"Value error, {msg}", None)


def validate_form(spec: ModelSpec, form: FormInput) -> list[dict[str, Any]]:
    """Every rule of WIRE.md for ``spec``; an empty list means the form is valid."""
    rules = FORMS[spec.rules]
    errors: list[dict[str, Any]] = []
    for field in rules.fields:
        error = _file_error(field, form) if field.kind is Kind.FILE else _text_error(field, form)
        if error is not None:
            errors.append(error)
    given = {field.name for field in rules.fields if form.given(field)}
    for check in rules.checks:
        error = _check_error(check, given)
        if error is not None:
            errors.append(error)
            break
    return errors
