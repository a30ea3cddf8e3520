"""Request heads for the three Queue API exchanges.

Heads are h11 ``Request`` events; the API key travels only inside them and in nothing that is
ever printed (see :class:`Credentials`).
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote, urlsplit

import h11

from ._errors import (
    InvalidAPIKeyError,
    InvalidBaseURLError,
    InvalidInputError,
    LocalProtocolError,
)
from ._multipart import BodyPlan
from ._version import __version__

if TYPE_CHECKING:
    from h11._headers import Headers

__all__ = [
    "Credentials",
    "Origin",
    "Target",
    "job_id_problem",
    "job_path",
    "parse_base_url",
    "result_request",
    "shown_job_id",
    "status_request",
    "submit_request",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class Origin(NamedTuple):
    """Where connections go. A named tuple: the pool looks origins up for every request, and a
    tuple hashes in C (a frozen dataclass's hash is a Python call)."""

    scheme: str
    host: str
    port: int

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == _DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class Target:
    """Where requests go: an origin and the path prefix every API path is appended to."""

    origin: Origin
    prefix: str


def parse_base_url(url: str) -> Target:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidBaseURLError(str(url), "it must start with http:// or https://")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidBaseURLError(url, str(exc)) from exc
    if not parts.hostname:
        raise InvalidBaseURLError(url, "it names no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidBaseURLError(url, "credentials belong in api_key, not in the URL")
    if parts.query or parts.fragment:
        raise InvalidBaseURLError(url, "it must not have a query or fragment")
    prefix = parts.path.rstrip("/")
    if prefix and not re.fullmatch(r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+", prefix):
        raise InvalidBaseURLError(url, "its path has characters that need encoding")
    if port == 0:
        raise InvalidBaseURLError(url, "port 0 is not a port a server listens on")
    scheme = parts.scheme.lower()
    host = _ascii_host(url, parts.hostname)
    return Target(Origin(scheme, host, port or _DEFAULT_PORTS[scheme]), prefix)


# A registered name (RFC 3986 §3.2.2 without percent-encoding), an IPv4 or an IPv6 address
# (urlsplit has already taken the brackets off).
_HOST = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=-]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")


def _ascii_host(url: str, host: str) -> str:
    """The host as it goes into ``Host`` and the TLS server name: internationalised names in
    their IDNA (punycode) form, anything else that is not a host refused here rather than
    failing later inside a request."""
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidBaseURLError(url, f"its host {host!r} is not a valid host name") from exc
    if not _HOST.fullmatch(host):
        raise InvalidBaseURLError(url, f"its host {host!r} is not a valid host name")
    return host


@dataclass(frozen=True)
class Credentials:
    """The API key and the User-Agent, kept out of every repr; ``headers``, what every request
    carries besides (the caller's ``default_headers``, checked by ``_default_headers.py``, and
    a plain-http proxy's ``Proxy-Authorization``), kept out too: they often hold tokens."""

    api_key: str = field(repr=False)
    transport: str = "sans-io"
    integration: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        # The key and the integration are the caller's (their errors are the SDK's, as the
        # official clients' are); the transport's name is a transport's bug.
        if not self.api_key or not _HEADER_VALUE.fullmatch(self.api_key):
            # The key itself is never echoed: it may be a real secret pasted by mistake.
            raise InvalidAPIKeyError(
                "it must be visible ASCII with no space at either end (a key read from a "
                "file may end with a newline)"
            )
        if not _HEADER_VALUE.fullmatch(self.transport):
            raise LocalProtocolError(f"transport {self.transport!r} must be visible ASCII")
        if self.integration is not None and not _HEADER_VALUE.fullmatch(self.integration):
            raise InvalidInputError(
                f"integration {self.integration!r} must be visible ASCII with no space at "
                "either end"
            )

    @property
    def user_agent(self) -> str:
        agent = f"decart-proto/{__version__} ({self.transport})"
        return f"{agent} {self.integration}" if self.integration else agent


_HEADER_VALUE = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")


def job_path(job_id: str, suffix: str = "") -> str:
    """``/v1/jobs/{job_id}{suffix}`` with the id percent-encoded, refusing ids that could
    leave ``/v1/jobs/`` once a proxy decodes them."""
    problem = job_id_problem(job_id)
    if problem is not None:
        raise InvalidInputError(
            f"job id {shown_job_id(job_id)} {problem}; job ids come from submit()"
        )
    if _UNRESERVED.fullmatch(job_id):  # the usual id: nothing to encode
        return f"/v1/jobs/{job_id}{suffix}"
    return f"/v1/jobs/{quote(job_id, safe='-._~')}{suffix}"


_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+")


# The API's ids are a few dozen characters. One far longer is a server (or a caller) gone
# wrong: it would go back out in every poll's request line, and be kept with every built request.
MAX_JOB_ID = 256


def job_id_problem(job_id: object) -> str | None:
    """Why *job_id* cannot name a job in a URL path, or None when it can."""
    if not isinstance(job_id, str) or not job_id:
        return "is empty or not a string"
    if len(job_id) > MAX_JOB_ID:
        return f"is {len(job_id)} characters long; a job id has at most {MAX_JOB_ID}"
    if job_id in (".", "..") or "/" in job_id or "\\" in job_id:
        bad = "/" if "/" in job_id else "\\" if "\\" in job_id else job_id
        return f"contains {bad!r}, which would leave /v1/jobs/"
    return None


def shown_job_id(job_id: object) -> str:
    """*job_id* for a message: its repr, cut short when it is long (an id refused for its
    length may be megabytes)."""
    if isinstance(job_id, str) and len(job_id) > 80:
        return f"{job_id[:80]!r}… ({len(job_id)} characters)"
    return repr(job_id)


def _headers(target: Target, creds: Credentials) -> list[tuple[str, str]]:
    return [
        ("Host", target.origin.host_header),
        ("X-API-KEY", creds.api_key),
        ("User-Agent", creds.user_agent),
        # No compression, please: a video does not compress, and a JSON answer is small. (One
        # compressed anyway is decoded or refused: _coding.py.)
        ("Accept-Encoding", "identity"),
    ]


def submit_request(target: Target, creds: Credentials, path: str, body: BodyPlan) -> h11.Request:
    headers = _headers(target, creds)
    headers.append(("Content-Type", body.content_type))
    if body.content_length is None:
        headers.append(("Transfer-Encoding", "chunked"))
    else:
        headers.append(("Content-Length", str(body.content_length)))
    return h11.Request(method="POST", target=target.prefix + path, headers=_more(headers, creds))


def _get(target: Target, creds: Credentials, path: str, json: bool) -> h11.Request:
    # A poll is the request a process tracking many jobs makes most: its headers are checked
    # (h11 runs a regex over each name and value) once per client, not once per poll. h11
    # takes a checked Headers as it is, and never changes one.
    checked = _CHECKED.setdefault(creds, {})
    headers = checked.get((target, json))
    if headers is None:
        listed = _headers(target, creds)
        if json:
            listed.append(("Accept", "application/json"))
        first = h11.Request(method="GET", target="/", headers=_more(listed, creds))
        headers = checked[target, json] = first.headers
    return h11.Request(method="GET", target=target.prefix + path, headers=headers)


# The checked headers of the GETs made with each credentials (to a target, with Accept: json or
# not), for as long as the credentials live (a driver holds them): the key is not kept after.
_CHECKED: weakref.WeakKeyDictionary[Credentials, dict[tuple[Target, bool], Headers]] = (
    weakref.WeakKeyDictionary()
)


def _more(headers: list[tuple[str, str]], creds: Credentials) -> list[tuple[str, str]]:
    """*headers* with ``creds.headers`` added; one of those replaces ours of the same name."""
    if creds.headers:
        replaced = {name.lower() for name, _ in creds.headers}
        headers = [header for header in headers if header[0].lower() not in replaced]
        headers.extend(creds.headers)
    return headers


def status_request(target: Target, creds: Credentials, job_id: str) -> h11.Request:
    return _get(target, creds, job_path(job_id), json=True)


def result_request(target: Target, creds: Credentials, job_id: str) -> h11.Request:
    return _get(target, creds, job_path(job_id, "/content"), json=False)
