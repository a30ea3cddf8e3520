"""The model registry: ``models.video("lucy-2.1")`` as in Decart's clients.

A model is a name, the path its jobs are submitted to, and the family of rules its inputs are
checked against (the rules themselves are data, in ``_rules.py``). A model this release does not
know is still usable through :func:`custom`, without client-side rules, so that a model the
server adds tomorrow needs no new release.

Adding a model is one row in ``_FAMILY_OF`` below (or in :data:`DEPRECATED`), one row in the
emulator's independent table (``decart_emulator/_models.py``), and the test that the two agree
(``tests/emulator/test_emu_rules_agree.py``).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from urllib.parse import quote, unquote

from ._errors import InvalidInputError, ModelNotFoundError
from ._rules import RuleSet

__all__ = ["DEPRECATED", "VIDEO_MODELS", "ModelDefinition", "RuleSet", "custom", "video"]


@dataclass(frozen=True)
class ModelDefinition:
    name: str
    url_path: str
    rules: RuleSet | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidInputError("model name must not be empty")
        if not isinstance(self.url_path, str) or not _PATH.fullmatch(self.url_path):
            raise InvalidInputError(
                f"model path {self.url_path!r} must be an absolute path of unreserved "
                "characters and %XX escapes, such as '/v1/jobs/my-model'"
            )
        for segment in self.url_path[1:].split("/"):
            # As a server or a proxy reads it: escapes decoded.
            plain = unquote(segment)
            if plain in (".", "..") or "/" in plain or "\\" in plain:
                raise InvalidInputError(
                    f"model path {self.url_path!r} has the segment {segment!r}, which would "
                    "lead somewhere else once a server or proxy resolves it"
                )


# An origin-form path of RFC 3986 unreserved characters and percent escapes, with no empty
# segment (dot segments are refused after it, escaped or not).
_PATH = re.compile(r"(/([A-Za-z0-9._~-]|%[0-9A-Fa-f]{2})+)+")

# Model name -> the family of rules its inputs follow (WIRE.md's model table).
_FAMILY_OF: dict[str, RuleSet] = {
    "lucy-2.1": RuleSet.EDIT,
    "lucy-2.1-vton": RuleSet.EDIT,
    "lucy-2.5": RuleSet.EDIT,
    "lucy-vton-2": RuleSet.EDIT,
    "lucy-vton-3": RuleSet.EDIT,
    "lucy-restyle-2": RuleSet.RESTYLE,
    "lucy-clip": RuleSet.CLIP,
    "lucy-latest": RuleSet.EDIT,
    "lucy-vton-latest": RuleSet.EDIT,
    "lucy-restyle-latest": RuleSet.RESTYLE,
    "lucy-clip-latest": RuleSet.CLIP,
}

DEPRECATED: dict[str, str] = {
    "lucy-2.1-vton-2": "lucy-vton-2",
    "lucy-pro-v2v": "lucy-clip",
    "lucy-restyle-v2v": "lucy-restyle-2",
}

VIDEO_MODELS: tuple[str, ...] = (*_FAMILY_OF, *DEPRECATED)

_warned: set[str] = set()


def video(name: str) -> ModelDefinition:
    """The definition of queue model *name*; deprecated names warn once per process."""
    if not isinstance(name, str):
        raise ModelNotFoundError(repr(name))
    if name in DEPRECATED:
        target = DEPRECATED[name]
        if name not in _warned:
            _warned.add(name)
            warnings.warn(
                f'Model "{name}" is deprecated. Use "{target}" instead.',
                DeprecationWarning,
                stacklevel=2,
            )
        # The deprecated name is still what the server is asked for: it accepts it, and the
        # caller asked for it; only the rules come from the target.
        return ModelDefinition(name, f"/v1/jobs/{name}", _FAMILY_OF[target])
    if name not in _FAMILY_OF:
        raise ModelNotFoundError(name)
    return ModelDefinition(name, f"/v1/jobs/{name}", _FAMILY_OF[name])


def custom(name: str, url_path: str | None = None) -> ModelDefinition:
    """A model without client-side rules: every non-None option is sent as given.

    Its jobs are submitted to ``/v1/jobs/{name}``, with each segment of *name* percent-encoded
    as job ids are: a ``/`` in the name separates segments (a model served under a nested
    path, ``"org/model"``), and a segment may be neither empty nor ``.`` or ``..``, so that the
    path never leaves ``/v1/jobs/``. *url_path* replaces that path with the caller's own,
    already encoded (a gateway's path, say): an absolute path, without dot segments, escaped
    or not."""
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"model name must be a non-empty string, got {name!r}")
    if url_path is None:
        segments = name.split("/")
        for segment in segments:
            if segment in ("", ".", "..") or "\\" in segment:
                raise InvalidInputError(
                    f"model name {name!r} cannot be a path under /v1/jobs/: its segment "
                    f"{segment!r} is empty, '.' or '..', or has a backslash"
                )
        url_path = "/v1/jobs/" + "/".join(quote(segment, safe="-._~") for segment in segments)
    return ModelDefinition(name, url_path)
