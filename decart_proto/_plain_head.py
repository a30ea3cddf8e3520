"""A response head of the plain kind every status poll gets, read without h11.

h11 reads a small JSON answer in about 35 us on the machine of docs/benchmarks.md, which is
most of a status request to a nearby server: it validates every header with a regex each, and
builds events and runs its state machine for each piece. The answers the API actually sends
are one shape: ``HTTP/1.1``, a 2xx-5xx status, visible-ASCII headers, one ``Content-Length``,
no ``Transfer-Encoding``, no ``Content-Encoding``. :func:`read_plain_head` recognises exactly
that shape with two regexes and a split, and answers None for everything else, so the exchange
hands those bytes to h11 unchanged. It accepts only what h11 accepts and reads it the same
way, which tests/core/test_plain_head.py checks against h11 on generated and mutated responses.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["PlainHead", "read_fields", "read_plain_head"]

# h11's grammar (h11/_abnf.py) narrowed: HTTP/1.1 only, no 1xx, a reason of visible ASCII and
# spaces (h11 also takes tabs and bytes past 0x7f), header values of visible ASCII with inner
# spaces and tabs (h11 also takes bytes past 0x7f). Anything outside goes to h11.
_STATUS_LINE = re.compile(rb"HTTP/1\.1 ([2-5][0-9][0-9]) [\x20-\x7e]*\r\n")
# A header line: a token, a colon, then visible ASCII, spaces and tabs. (h11's OWS, field
# content, OWS is any string of those; which of its blanks surround the value is read later.)
_HEADER_LINES = re.compile(rb"(?:[-!#$%&'*+.^_`|~0-9a-zA-Z]+:[\t\x20-\x7e]*\r\n)+")
# Once the lines are known to be of that form, findall() splits them with no Python loop.
_FIELD = re.compile(rb"([^:]+):([^\r]*)\r\n")


class PlainHead(NamedTuple):
    status: int
    fields: bytes  # the header lines, each ending with CRLF: read_fields() makes headers of them
    body_start: int  # where the body starts in the data read
    body_length: int  # from Content-Length


def read_plain_head(data: bytes) -> PlainHead | None:
    """The head at the start of *data* when it is complete and plain; None when h11 must read
    it (not plain, or not all there yet)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    line = _STATUS_LINE.match(data)
    if line is None:
        return None
    status = int(line[1])
    start = line.end()
    # 204 and 304 have no body whatever their Content-Length says; a head without headers has
    # no Content-Length. Both are h11's to frame.
    if status in (204, 304) or start > end:
        return None
    end += 2  # the header lines run from the status line's end through this CRLF
    if _HEADER_LINES.fullmatch(data, start, end) is None:
        return None
    # The framing, found without reading the other headers: every line is "name:value\r\n",
    # so "\r\nname:" in the lines lower-cased (from the status line's CRLF on) is exactly a
    # header of that name. Plain means one Content-Length, all digits; no Transfer-Encoding;
    # no Connection but keep-alive. h11 merges or refuses repeated lengths, frames by
    # Transfer-Encoding, and closes on "Connection: close". A compressed body is left to the
    # h11 path too, whose Response says its coding (a plain answer's has none to say).
    lines = data[start - 2 : end].lower()
    if b"\r\ntransfer-encoding:" in lines or b"\r\ncontent-encoding:" in lines:
        return None
    length = _only_value(lines, b"\r\ncontent-length:")
    if length is None or not length.isdigit():
        return None
    if b"\r\nconnection:" in lines and _only_value(lines, b"\r\nconnection:") != b"keep-alive":
        return None
    return PlainHead(status, data[start:end], end + 2, int(length))


def _only_value(lines: bytes, prefix: bytes) -> bytes | None:
    """The value of the one header line starting with *prefix*; None when there are none or
    several."""
    at = lines.find(prefix)
    if at < 0 or lines.find(prefix, at + 1) >= 0:
        return None
    at += len(prefix)
    return lines[at : lines.index(b"\r\n", at)].strip(b" \t")


def read_fields(fields: bytes) -> tuple[tuple[bytes, bytes], ...]:
    """Headers as h11 gives them (names lower-cased, values without the blanks around them)
    from the header lines of a :class:`PlainHead`."""
    return tuple([(name.lower(), value.strip(b" \t")) for name, value in _FIELD.findall(fields)])
