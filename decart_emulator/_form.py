"""Streaming ``multipart/form-data`` reader: file parts go to disk chunk by chunk.

The body is fed to python-multipart's callback parser as it arrives, so memory stays flat
whatever the upload size: file parts are written to spool files as their bytes come, and only
text parts (capped at 1 MiB each, like Starlette's default) are held in memory.

A part is a file when its ``Content-Disposition`` has a ``filename`` parameter, as FastAPI's
``UploadFile`` requires; Decart's official Python client sends bytes with the field name as the
filename. When a field appears twice the last one wins, as in Starlette's form.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ._models import FormInput

__all__ = ["FormError", "ParsedForm", "UploadedFile", "discard_form", "read_form"]

MAX_TEXT_PART_BYTES = 1024 * 1024
MAX_PARTS = 64
PARSE_ERROR = "There was an error parsing the body"


class FormError(Exception):
    """The body cannot be read as a form; ``status`` and ``detail`` are what to answer."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class UploadedFile:
    """One file part, spooled to ``path``."""

    path: Path
    size: int
    filename: str
    content_type: str


@dataclass
class ParsedForm:
    """Text values and spooled file parts, by field name."""

    texts: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)

    def as_input(self) -> FormInput:
        return FormInput(texts=dict(self.texts), files=frozenset(self.files))


def discard_form(form: ParsedForm) -> None:
    """Delete the spool files of a form that will not become a job."""
    for upload in form.files.values():
        with contextlib.suppress(FileNotFoundError):
            upload.path.unlink()


@dataclass
class _Part:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    header_name: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    name: str = ""
    filename: str | None = None
    content_type: str = "application/octet-stream"
    text: bytearray = field(default_factory=bytearray)
    spool: BinaryIO | None = None
    spool_path: Path | None = None
    size: int = 0


class _FormBuilder:
    """The parser's callbacks: builds a ParsedForm, spooling file parts under ``spool_dir``."""

    def __init__(self, spool_dir: Path) -> None:
        self.spool_dir = spool_dir
        self.form = ParsedForm()
        self.part = _Part()
        self.parts_seen = 0
        self.ended = False
        self.orphans: list[Path] = []

    def on_part_begin(self) -> None:
        self.parts_seen += 1
        if self.parts_seen > MAX_PARTS:
            raise FormError(400, f"Too many parts (at most {MAX_PARTS})")
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.part.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.part.header_value += data[start:end]

    def on_header_end(self) -> None:
        part = self.part
        part.headers.append((bytes(part.header_name).lower(), bytes(part.header_value)))
        part.header_name.clear()
        part.header_value.clear()

    def on_headers_finished(self) -> None:
        part = self.part
        headers = dict(part.headers)
        disposition, options = parse_options_header(headers.get(b"content-disposition"))
        if disposition != b"form-data" or not options.get(b"name"):
            raise FormError(400, PARSE_ERROR)
        part.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            part.filename = options[b"filename"].decode("utf-8", "replace")
            if b"content-type" in headers:
                part.content_type = headers[b"content-type"].decode("latin-1")
            fd, path = tempfile.mkstemp(dir=self.spool_dir, prefix="part-")
            part.spool = os.fdopen(fd, "wb")
            part.spool_path = Path(path)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self.part
        if part.spool is not None:
            part.spool.write(data[start:end])
            part.size += end - start
            return
        part.text += data[start:end]
        if len(part.text) > MAX_TEXT_PART_BYTES:
            raise FormError(400, f"Part exceeded maximum size of {MAX_TEXT_PART_BYTES // 1024}KB.")

    def on_part_end(self) -> None:
        part = self.part
        if part.spool is not None and part.spool_path is not None and part.filename is not None:
            part.spool.close()
            part.spool = None
            replaced = self.form.files.get(part.name)
            if replaced is not None:
                self.orphans.append(replaced.path)
            self.form.files[part.name] = UploadedFile(
                part.spool_path, part.size, part.filename, part.content_type
            )
            self.form.texts.pop(part.name, None)
            return
        try:
            self.form.texts[part.name] = part.text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormError(400, PARSE_ERROR) from exc
        replaced = self.form.files.pop(part.name, None)
        if replaced is not None:
            self.orphans.append(replaced.path)

    def on_end(self) -> None:
        self.ended = True

    def abandon(self) -> None:
        """Remove every spool file, kept or not: used when the form fails."""
        if self.part.spool is not None:
            self.part.spool.close()
        paths = [*self.orphans, *(u.path for u in self.form.files.values())]
        if self.part.spool_path is not None:
            paths.append(self.part.spool_path)
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }


def multipart_boundary(content_type: str | None) -> bytes | None:
    """The boundary of a ``multipart/form-data`` content type; None for any other type.

    Raises FormError when the type is multipart but carries no boundary.
    """
    ctype, options = parse_options_header(content_type)
    if ctype != b"multipart/form-data":
        return None
    boundary = options.get(b"boundary")
    if not boundary:
        raise FormError(400, "Missing boundary in multipart.")
    return boundary


async def read_form(
    chunks: AsyncIterator[bytes], boundary: bytes, spool_dir: Path, max_bytes: int
) -> ParsedForm:
    """Parse the whole body; FormError(413) once it grows past ``max_bytes``.

    On any error the spool files already written are removed before the error propagates.
    """
    builder = _FormBuilder(spool_dir)
    parser = MultipartParser(boundary, builder.callbacks())  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in chunks:
            received += len(chunk)
            if received > max_bytes:
                raise FormError(413, f"Request body larger than the limit of {max_bytes} bytes")
            parser.write(chunk)
        parser.finalize()
        if not builder.ended:
            raise FormError(400, PARSE_ERROR)
    except MultipartParseError as exc:
        builder.abandon()
        raise FormError(400, PARSE_ERROR) from exc
    except BaseException:
        builder.abandon()
        raise
    for orphan in builder.orphans:
        with contextlib.suppress(FileNotFoundError):
            orphan.unlink()
    return builder.form
