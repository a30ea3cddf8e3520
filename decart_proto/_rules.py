"""Per-model input rules of WIRE.md, as data plus one checking function.

Rules run before anything is sent, so that a typo costs an exception instead of a paid job.
They check the shape of the options only; the server stays the authority on everything else.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from ._errors import InvalidInputError

__all__ = ["FILE_FIELDS", "TEXT_FIELDS", "RuleSet", "check_options"]

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


# Which fields each family accepts at all.
_ALLOWED: dict[RuleSet, frozenset[str]] = {
    RuleSet.EDIT: frozenset(
        {"data", "prompt", "reference_image", "seed", "resolution", "enhance_prompt"}
    ),
    RuleSet.RESTYLE: frozenset(
        {"data", "prompt", "reference_image", "seed", "resolution", "enhance_prompt"}
    ),
    RuleSet.CLIP: frozenset(
        {"data", "prompt", "seed", "resolution", "enhance_prompt", "start", "end"}
    ),
}


def _fail(model: str, field: str, rule: str) -> InvalidInputError:
    return InvalidInputError(f"Invalid inputs for {model}: {field}: {rule}", data={"field": field})


def _check_prompt(model: str, prompt: Any, *, allow_empty: bool) -> None:
    if not isinstance(prompt, str):
        raise _fail(model, "prompt", f"must be a string, got {type(prompt).__name__}")
    if len(prompt) > MAX_PROMPT:
        raise _fail(model, "prompt", f"must be at most {MAX_PROMPT} characters, got {len(prompt)}")
    if not allow_empty and not prompt:
        raise _fail(model, "prompt", "must not be empty")


def _check_scalars(model: str, given: Mapping[str, Any]) -> None:
    seed = given.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _fail(model, "seed", f"must be an integer, got {type(seed).__name__}")
    resolution = given.get("resolution")
    if resolution is not None and not isinstance(resolution, str):
        raise _fail(model, "resolution", "must be a string such as '720p'")
    enhance = given.get("enhance_prompt")
    if enhance is not None and not isinstance(enhance, bool):
        raise _fail(model, "enhance_prompt", "must be True or False")


def check_options(model: str, rules: RuleSet, given: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidInputError` naming the field and the rule that *given* breaks.

    *given* holds the form fields only, with ``None`` values already dropped.
    """
    unknown = sorted(set(given) - _ALLOWED[rules])
    if unknown:
        allowed = ", ".join(sorted(_ALLOWED[rules]))
        raise _fail(model, unknown[0], f"is not an input of this model (it takes {allowed})")
    if "data" not in given:
        raise _fail(model, "data", "is required: the input video")
    _check_scalars(model, given)
    if rules is RuleSet.EDIT:
        if "prompt" not in given:
            raise _fail(model, "prompt", "is required (it may be empty)")
        _check_prompt(model, given["prompt"], allow_empty=True)
    elif rules is RuleSet.RESTYLE:
        has_prompt = "prompt" in given
        if has_prompt == ("reference_image" in given):
            raise _fail(model, "prompt", "give exactly one of prompt or reference_image")
        if has_prompt:
            _check_prompt(model, given["prompt"], allow_empty=False)
        elif "enhance_prompt" in given:
            raise _fail(model, "enhance_prompt", "is only allowed together with prompt")
    else:
        if "prompt" not in given:
            raise _fail(model, "prompt", "is required, 1 to 1000 characters")
        _check_prompt(model, given["prompt"], allow_empty=False)
