"""The ``multipart/form-data`` body as a plan: byte segments and file regions.

Planning instead of building means the body's exact length is known before a byte is sent (so
``Content-Length`` can be set and a 2 GiB video streams in constant memory, with ``sendfile``
where the transport can), and the core never touches a file. Names and filenames are escaped as
the WHATWG HTML standard's form encoding does (``"`` → ``%22``, CR → ``%0D``, LF → ``%0A``), which
is what browsers send and what multipart parsers expect; other non-ASCII text goes as UTF-8.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._errors import LocalProtocolError
from ._inputs import FileInfo, FileInput, SubmitForm

__all__ = ["BodyPlan", "FileRegion", "plan_body"]


@dataclass(frozen=True, eq=False)
class FileRegion:
    """``length`` bytes of ``file`` from ``offset``; ``length=None`` means "to its end, length
    unknown"."""

    file: FileInput
    offset: int
    length: int | None

    def __len__(self) -> int:
        # h11's send_with_data_passthrough() asks the length of what it passes through.
        if self.length is None:
            raise TypeError("a region of unknown length has no len()")
        return self.length


Segment = bytes | FileRegion


@dataclass(frozen=True)
class BodyPlan:
    segments: tuple[Segment, ...]
    content_type: str
    # None when a file's length is unknown: the body then goes with chunked transfer encoding.
    content_length: int | None


def _escape(text: str) -> bytes:
    # A lone surrogate (a path's undecodable byte, kept by os.fsdecode) cannot be UTF-8: it
    # becomes '?' rather than an exception, since a name is only a label for the server.
    escaped = text.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    return escaped.encode("utf-8", "replace")


# RFC 2046 §5.1.1 allows more, but these need no quoting in the Content-Type parameter.
_BOUNDARY = re.compile(r"[0-9A-Za-z'+_.-]{1,70}")
_CONTENT_TYPE = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")


def _part_head(boundary: bytes, name: str, file: FileInput | None) -> bytes:
    head = b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + _escape(name) + b'"'
    if file is not None:
        head += b'; filename="' + _escape(file.filename) + b'"\r\nContent-Type: '
        head += file.content_type.encode("ascii")
    return head + b"\r\n\r\n"


def plan_body(form: SubmitForm, infos: dict[str, FileInfo], boundary: str) -> BodyPlan:
    """Lay out *form* as multipart segments. *infos* maps a file field to the transport's
    answer for it; in-memory files need none."""
    if not isinstance(boundary, str) or not _BOUNDARY.fullmatch(boundary):
        raise LocalProtocolError(
            f"multipart boundary {boundary!r} must be 1 to 70 letters, digits or '+_.-"
        )
    b = boundary.encode("ascii")
    pending = b""
    segments: list[Segment] = []
    length: int | None = 0
    for name, value in form.fields:
        pending += _part_head(b, name, None) + value.encode("utf-8") + b"\r\n"
    for file in form.files:
        if not _CONTENT_TYPE.fullmatch(file.content_type):
            raise LocalProtocolError(
                f"{file.field}: content type {file.content_type!r} must be visible ASCII"
            )
        pending += _part_head(b, file.field, file)
        data = file.in_memory
        part: Segment
        size: int | None
        if data is not None:
            # Kept as its own segment: the caller's bytes are sent as they are, never copied
            # into a bigger buffer.
            part, size = data, len(data)
        else:
            info = infos.get(file.field)
            if info is None:
                raise LocalProtocolError(
                    f"{file.field}: no FileInfo given; answer ProbeFile for every file that "
                    "is not in memory"
                )
            part = FileRegion(file, info.offset, info.size)
            size = info.size
        segments.append(pending)
        segments.append(part)
        if length is not None:
            length = None if size is None else length + len(pending) + size
        pending = b"\r\n"
    pending += b"--" + b + b"--\r\n"
    segments.append(pending)
    if length is not None:
        length += len(pending)
    return BodyPlan(
        tuple(s for s in segments if not isinstance(s, bytes) or s),
        f"multipart/form-data; boundary={boundary}",
        length,
    )
