"""From the caller's options dict to form fields and file *descriptions*.

The core never reads a file: a file input is described (which field, what it is, its name and
content type) and the transport later answers how long it is. ``str`` in a file field is a path,
as in Decart's clients (URLs are not fetched: that is an SSRF risk the caller should take
knowingly, by fetching the bytes themselves).
"""

from __future__ import annotations

import io
import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Union

from ._errors import InvalidInputError
from ._rules import CONTROL_KEYS, FILE_FIELDS, check_options
from .models import ModelDefinition

__all__ = ["FileInfo", "FileInput", "FileSource", "SubmitForm", "prepare_submit"]

FileSource = Union[bytes, bytearray, memoryview, "os.PathLike[str]", str, BinaryIO]

# A str that starts as a URL does ("https://", "s3://"): never a path anyone means. Only the
# scheme is quoted back, as the rest may carry credentials or a signature.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")

_CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
}


@dataclass(frozen=True, eq=False)
class FileInput:
    """One file part to send. ``source`` is bytes (sent as they are), a path (the transport
    opens it) or a binary file object (the transport reads it from its current position)."""

    field: str
    source: FileSource
    filename: str
    content_type: str

    @property
    def in_memory(self) -> bytes | None:
        if isinstance(self.source, bytes):
            return self.source  # immutable: no copy of what may be a large video
        if isinstance(self.source, (bytearray, memoryview)):
            return bytes(self.source)
        return None

    @property
    def path(self) -> str | None:
        if isinstance(self.source, (str, os.PathLike)):
            return os.fspath(self.source)
        return None


@dataclass(frozen=True)
class FileInfo:
    """The transport's answer about a file: where its bytes start and how many there are
    (``size=None``: unknown, so the body is sent with chunked transfer encoding)."""

    size: int | None
    offset: int = 0

    def __post_init__(self) -> None:
        if self.size is not None and self.size < 0:
            raise InvalidInputError(f"file size must not be negative, got {self.size}")
        if self.offset < 0:
            raise InvalidInputError(f"file offset must not be negative, got {self.offset}")


@dataclass(frozen=True)
class SubmitForm:
    model: ModelDefinition
    fields: tuple[tuple[str, str], ...]
    files: tuple[FileInput, ...]


def _text(field: str, value: Any) -> str:
    # WIRE.md: booleans are sent as true/false, integers in decimal.
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        # A lone surrogate: no byte sequence would carry it faithfully.
        raise InvalidInputError(
            f"{field}: text must be valid Unicode (it has a lone surrogate)"
        ) from exc
    return text


def _describe(field: str, value: Any) -> FileInput:
    name: str | None = None
    if isinstance(value, (bytes, bytearray, memoryview)):
        name = field
    elif isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if not isinstance(path, str) or not path:
            raise InvalidInputError(f"{field}: a path must be a non-empty str or os.PathLike[str]")
        url = _URL.match(path) if isinstance(value, str) else None
        if url is not None:
            raise InvalidInputError(
                f"{field}: {url[0]}... is a URL, and URLs are not fetched: download "
                "the file and pass its path, its bytes or an open binary file. (Decart's own "
                "clients fetch URLs; this one does not, by choice: it never makes a request "
                "you did not ask for, to a server you did not name.)"
            )
        name = posixpath.basename(path.replace("\\", "/")) or field
    elif hasattr(value, "read"):
        if isinstance(value, io.TextIOBase):
            raise InvalidInputError(f"{field}: file object must be opened in binary mode ('rb')")
        if isinstance(getattr(value, "mode", "b"), str) and "b" not in getattr(value, "mode", "b"):
            raise InvalidInputError(f"{field}: file object must be opened in binary mode ('rb')")
        raw = getattr(value, "name", None)
        name = posixpath.basename(raw.replace("\\", "/")) if isinstance(raw, str) else None
        name = name or field
    else:
        raise InvalidInputError(
            f"{field}: expected bytes, a path or a binary file object, got {type(value).__name__}"
        )
    suffix = posixpath.splitext(name)[1].lower()
    return FileInput(field, value, name, _CONTENT_TYPES.get(suffix, "application/octet-stream"))


def prepare_submit(options: Mapping[str, Any]) -> SubmitForm:
    """Check *options* against the model's rules and split them into fields and files.

    The mapping is only read, never changed. ``None`` values are left out, as in Decart's
    clients.
    """
    if not isinstance(options, Mapping):
        raise InvalidInputError(f"options must be a dict, got {type(options).__name__}")
    model = options.get("model")
    if model is None:
        raise InvalidInputError("model is required: use models.video('lucy-2.1')")
    if not isinstance(model, ModelDefinition):
        raise InvalidInputError(
            f"model must come from models.video() or models.custom(), got {type(model).__name__}"
        )
    given = {k: v for k, v in options.items() if k not in CONTROL_KEYS and v is not None}
    for key in given:
        if not isinstance(key, str) or not key:
            raise InvalidInputError(f"option names must be non-empty strings, got {key!r}")
    if model.rules is not None:
        check_options(model.name, model.rules, given)
    fields: list[tuple[str, str]] = []
    files: list[FileInput] = []
    for key, value in given.items():
        if key in FILE_FIELDS or (model.rules is None and _looks_like_file(value)):
            files.append(_describe(key, value))
        else:
            fields.append((key, _text(key, value)))
    return SubmitForm(model, tuple(fields), tuple(files))


def _looks_like_file(value: Any) -> bool:
    # For custom models only: bytes and file objects can only be files; a str stays text.
    return isinstance(value, (bytes, bytearray, memoryview, os.PathLike)) or hasattr(value, "read")
