"""The queue models the emulator serves, and their form rules, checked on the server side.

Theory of operation: every model name of WIRE.md's table maps to one of three rule sets
(edit, restyle, clip). The rules are written here from WIRE.md, independently of the client
package `decart_proto`, so that the emulator checks the client's bytes with code that shares no
logic with it. Errors use the shape a FastAPI service returns for a failed form: a list of
``{"type", "loc", "msg", "input"}`` entries, answered with status 422.

Value parsing follows pydantic's lax mode, which the real (FastAPI) service applies to form
strings: integers in decimal, booleans from ``true/false/1/0/yes/no/on/off/t/f/y/n`` in any case
(Decart's own Python client sends ``True``/``False``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MODELS",
    "FormInput",
    "ModelSpec",
    "Rules",
    "validate_form",
]

MAX_PROMPT_CHARS = 1000


class Rules(enum.Enum):
    """The three input rule sets of WIRE.md's model table."""

    EDIT = "edit"
    RESTYLE = "restyle"
    CLIP = "clip"


@dataclass(frozen=True)
class ModelSpec:
    """One servable model name; ``replaced_by`` is set for deprecated names."""

    name: str
    rules: Rules
    replaced_by: str | None = None


def _table() -> dict[str, ModelSpec]:
    edit = [
        "lucy-2.1", "lucy-2.1-vton", "lucy-2.5", "lucy-vton-2", "lucy-vton-3",
        "lucy-latest", "lucy-vton-latest",
        # Not in WIRE.md's table but served by the installed official client (0.2.x); accepting
        # them keeps "the official client works unchanged" true for every name it offers.
        "lucy-2.6", "lucy-vton-3.5", "lucy-vton-3.6",
    ]  # fmt: skip
    specs = [ModelSpec(name, Rules.EDIT) for name in edit]
    specs += [
        ModelSpec("lucy-restyle-2", Rules.RESTYLE),
        ModelSpec("lucy-restyle-latest", Rules.RESTYLE),
        ModelSpec("lucy-clip", Rules.CLIP),
        ModelSpec("lucy-clip-latest", Rules.CLIP),
        # Deprecated names: accepted, answered with a Warning header naming the replacement.
        ModelSpec("lucy-2.1-vton-2", Rules.EDIT, replaced_by="lucy-vton-2"),
        ModelSpec("lucy-pro-v2v", Rules.CLIP, replaced_by="lucy-clip"),
        ModelSpec("lucy-restyle-v2v", Rules.RESTYLE, replaced_by="lucy-restyle-2"),
    ]
    return {spec.name: spec for spec in specs}


MODELS: Mapping[str, ModelSpec] = _table()


@dataclass(frozen=True)
class FormInput:
    """What the multipart parser found: text values, and the names of the file parts."""

    texts: Mapping[str, str]
    files: frozenset[str]


_INT_RE = re.compile(r"[+-]?\d+")
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def _error(kind: str, loc: tuple[str, ...], msg: str, value: Any, **ctx: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": kind, "loc": ["body", *loc], "msg": msg, "input": value}
    if ctx:
        entry["ctx"] = ctx
    return entry


def _check_text(form: FormInput, name: str, errors: list[dict[str, Any]]) -> str | None:
    """A text field sent as a file part is a type error, as for a FastAPI ``str`` parameter."""
    if name in form.files:
        errors.append(_error("string_type", (name,), "Input should be a valid string", None))
        return None
    return form.texts.get(name)


def _check_prompt(
    prompt: str | None, *, required: bool, min_len: int, errors: list[dict[str, Any]]
) -> None:
    if prompt is None:
        if required:
            errors.append(_error("missing", ("prompt",), "Field required", None))
        return
    if len(prompt) < min_len:
        errors.append(
            _error(
                "string_too_short",
                ("prompt",),
                f"String should have at least {min_len} character",
                prompt,
                min_length=min_len,
            )
        )
    elif len(prompt) > MAX_PROMPT_CHARS:
        errors.append(
            _error(
                "string_too_long",
                ("prompt",),
                f"String should have at most {MAX_PROMPT_CHARS} characters",
                prompt,
                max_length=MAX_PROMPT_CHARS,
            )
        )


def _check_file(
    form: FormInput, name: str, *, required: bool, errors: list[dict[str, Any]]
) -> bool:
    """Return whether the file is present; a text value where a file belongs is an error."""
    if name in form.files:
        return True
    if name in form.texts:
        errors.append(
            _error(
                "value_error",
                (name,),
                "Value error, Expected UploadFile, received: <class 'str'>",
                form.texts[name],
            )
        )
    elif required:
        errors.append(_error("missing", (name,), "Field required", None))
    return False


def _check_scalars(form: FormInput, errors: list[dict[str, Any]]) -> None:
    seed = _check_text(form, "seed", errors)
    if seed is not None and not _INT_RE.fullmatch(seed.strip()):
        errors.append(
            _error(
                "int_parsing",
                ("seed",),
                "Input should be a valid integer, unable to parse string as an integer",
                seed,
            )
        )
    _check_text(form, "resolution", errors)
    enhance = _check_text(form, "enhance_prompt", errors)
    if enhance is not None and enhance.strip().lower() not in _TRUE | _FALSE:
        errors.append(
            _error(
                "bool_parsing",
                ("enhance_prompt",),
                "Input should be a valid boolean, unable to interpret input",
                enhance,
            )
        )


def validate_form(spec: ModelSpec, form: FormInput) -> list[dict[str, Any]]:
    """Every rule of WIRE.md for ``spec``; an empty list means the form is valid.

    Fields a model does not know (``start``, ``end`` here) are ignored, as FastAPI ignores
    unknown form fields.
    """
    errors: list[dict[str, Any]] = []
    _check_file(form, "data", required=True, errors=errors)
    prompt = _check_text(form, "prompt", errors)
    has_reference = _check_file(form, "reference_image", required=False, errors=errors)
    _check_scalars(form, errors)
    if spec.rules is Rules.EDIT:
        # WIRE.md: prompt required but may be empty.
        _check_prompt(prompt, required="prompt" not in form.files, min_len=0, errors=errors)
    elif spec.rules is Rules.CLIP:
        _check_prompt(prompt, required="prompt" not in form.files, min_len=1, errors=errors)
    else:
        _check_prompt(prompt, required=False, min_len=1, errors=errors)
        has_prompt = prompt is not None
        if has_prompt == has_reference:
            errors.append(
                _error(
                    "value_error",
                    (),
                    "Value error, Must provide either 'prompt' or 'reference_image', but not both",
                    None,
                )
            )
        elif has_reference and "enhance_prompt" in form.texts:
            errors.append(
                _error(
                    "value_error",
                    (),
                    "Value error, 'enhance_prompt' is only valid when using 'prompt', "
                    "not 'reference_image'",
                    None,
                )
            )
    return errors
