"""The options of a submit, typed per model family, so that a type checker catches what the
server would refuse only after an upload: a misspelt field (``"promt"``), a video given as a
number, a callback of the wrong shape. The rules a value must meet beyond its type (lengths,
which fields go together) are checked at run time from ``_rules.py``.

A model's family is known from its name only at run time, so the families' dicts are a union:
a dict literal must fit one of them. Options built dynamically (``dict[str, object]``) are
accepted by the driver as a ``Mapping`` and checked at run time alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, TypedDict, Union

from ._responses import JobStatusResponse
from .models import ModelDefinition

__all__ = [
    "ClipOptions",
    "EditOptions",
    "FileValue",
    "RestyleOptions",
    "StatusCallback",
    "SubmitOptions",
]

# A file field: its bytes, a path, or a binary file object read from its current position.
FileValue = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", IO[bytes]]
StatusCallback = Callable[[JobStatusResponse], object]


class _Needed(TypedDict):
    model: ModelDefinition
    data: FileValue


class _Common(_Needed, total=False):
    # None leaves a field out, as in Decart's clients.
    prompt: str | None
    seed: int | None
    resolution: str | None
    enhance_prompt: bool | None
    # Called with each new status by submit_and_poll, as in the Queue API docs.
    on_status_change: StatusCallback | None


class EditOptions(_Common, total=False):
    """lucy-2.1, lucy-2.5, the vton models, lucy-latest: a prompt (it may be empty) and an
    optional reference image."""

    reference_image: FileValue | None


class RestyleOptions(_Common, total=False):
    """lucy-restyle-2: a prompt or a reference image, exactly one."""

    reference_image: FileValue | None


class ClipOptions(_Common, total=False):
    """lucy-clip: a prompt, and optional start and end frames."""

    start: FileValue | None
    end: FileValue | None


SubmitOptions = EditOptions | RestyleOptions | ClipOptions
