"""A response head of the plain kind every status poll gets, read without h11.

h11 reads a small JSON answer in about 35 us on the machine of docs/benchmarks.md, which is
most of a status request to a nearby server: it validates every header with a regex each, and
builds events and runs its state machine for each piece. The answers the API actually sends
are one shape: ``HTTP/1.1``, a 2xx-5xx status, visible-ASCII headers, one ``Content-Length``,
no ``Transfer-Encoding``. :func:`read_plain_head` recognises exactly that shape with two
regexes and a split, and answers None for everything else, so the exchange hands those bytes
to h11 unchanged. It accepts only what h11 accepts and reads it the same way, which
tests/core/test_plain_head.py checks against h11 on generated and mutated responses.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["PlainHead", "read_plain_head"]

# h11's grammar (h11/_abnf.py) narrowed: HTTP/1.1 only, no 1xx, a reason of visible ASCII and
# spaces (h11 also takes tabs and bytes past 0x7f), header values of visible ASCII with inner
# spaces and tabs (h11 also takes bytes past 0x7f). Anything outside goes to h11.
_STATUS_LINE = re.compile(rb"HTTP/1\.1 ([2-5][0-9][0-9]) [\x20-\x7e]*\r\n")
_HEADER_LINES = re.compile(
    rb"(?:[-!#$%&'*+.^_`|~0-9a-zA-Z]+:[ \t]*(?:[\x21-\x7e]+(?:[ \t]+[\x21-\x7e]+)*)?[ \t]*\r\n)+"
)


class PlainHead(NamedTuple):
    status: int
    # As h11 gives them: names lower-cased, values without surrounding spaces and tabs.
    headers: tuple[tuple[bytes, bytes], ...]
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
    status = int(line.group(1))
    start = line.end()
    # 204 and 304 have no body whatever their Content-Length says; a head without headers has
    # no Content-Length. Both are h11's to frame.
    if status in (204, 304) or start > end:
        return None
    if _HEADER_LINES.fullmatch(data, start, end + 2) is None:
        return None
    headers = []
    length = -1
    for field in data[start:end].split(b"\r\n"):
        name, _, value = field.partition(b":")
        name = name.lower()
        value = value.strip(b" \t")
        if name == b"content-length":
            # One, all digits: h11 merges or refuses the other cases.
            if length >= 0 or not value.isdigit():
                return None
            length = int(value)
        elif name == b"transfer-encoding" or (
            name == b"connection" and value.lower() != b"keep-alive"
        ):
            return None
        headers.append((name, value))
    if length < 0:
        return None
    return PlainHead(status, tuple(headers), end + 4, length)
