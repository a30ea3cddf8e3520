"""A client's ``default_headers=``: headers added to every request (a gateway's token, a
tracing id), checked once when the client is made.

Some headers are the client's to write, never the caller's: the API key (one set by the caller
would be sent beside the real one, or instead of it), ``Host`` (which server the request is
for), the framing of the body (a wrong ``Content-Length`` or ``Transfer-Encoding`` would cut a
request in two or make the server wait for bytes that never come; ``Content-Type`` carries the
multipart boundary), the proxy's ``Proxy-Authorization`` (from the proxy URL), and those that
manage the connection itself (keep-alive, upgrades, ``Expect``). They are refused at once with
the header's name, rather than dropped in silence or found out by the server.
A default header with the name of one the client sends by choice (``User-Agent``, ``Accept``,
``Accept-Encoding``) replaces it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ._errors import InvalidInputError

__all__ = ["RESERVED", "default_headers"]

RESERVED = {
    "x-api-key": "the API key is api_key's (or DECART_API_KEY's)",
    "host": "the host comes from base_url",
    "content-length": "the body's framing is the client's",
    "transfer-encoding": "the body's framing is the client's",
    "content-type": "a submit's multipart boundary is the client's",
    "proxy-authorization": "a proxy's credentials go in its URL (http://user:password@host:port)",
    "connection": "the connection is managed by the client",
    "keep-alive": "the connection is managed by the client",
    "upgrade": "the connection is managed by the client",
    "te": "the connection is managed by the client",
    "trailer": "the body's framing is the client's",
    "expect": "the client sends each body at once",
}

# RFC 9110 §5.1 (a token) and §5.5 (visible ASCII and spaces, none at either end).
_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VALUE = re.compile(r"([\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?)?")


def default_headers(headers: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """*headers* checked: names that are tokens, values that fit in a header, none that is the
    client's own (:data:`RESERVED`), no name twice."""
    if headers is None:
        return ()
    if not isinstance(headers, Mapping):
        raise InvalidInputError(
            f"default_headers must be a mapping of header names to values, got "
            f"{type(headers).__name__}"
        )
    checked: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, value in headers.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidInputError(f"default_headers: {name!r} is not a header name")
        lower = name.lower()
        why = RESERVED.get(lower)
        if why is not None:
            raise InvalidInputError(
                f"default_headers: {name} cannot be set, {why}; remove it from default_headers"
            )
        if lower in seen:
            raise InvalidInputError(f"default_headers: {name} is given twice (in other cases)")
        seen.add(lower)
        # The value itself is never shown: a default header often carries a token.
        if not isinstance(value, str) or not _VALUE.fullmatch(value):
            raise InvalidInputError(
                f"default_headers: the value of {name} must be a string of visible ASCII "
                "(spaces inside only; no line breaks)"
            )
        checked.append((name, value))
    return tuple(checked)
