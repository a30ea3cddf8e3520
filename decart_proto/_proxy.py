"""Proxies: which one a request goes through, and the way through it.

The rules are those users know from curl, requests and httpx, so that a machine already set up
for them needs nothing new: ``proxy=`` wins; else ``HTTPS_PROXY`` (for an https API) or
``HTTP_PROXY`` (for an http one), then ``ALL_PROXY``, the lower-case name before the upper-case
one (an empty lower-case one turns the upper-case one off, as in urllib), unless ``NO_PROXY``
names the API's host. The environment is a mapping the transport passes in: the core reads no
process state.

An https API is reached through a ``CONNECT`` tunnel, with TLS inside it verified against the
API's own name, so the proxy sees neither the key nor the video. A plain-http API is asked
through the proxy in absolute form, with ``Proxy-Authorization`` on every request (the request
rewriting is :meth:`Proxy.forwarding`). The proxy's password and its Basic token are secrets as
the key is: never in a repr, a message or an error (:attr:`Proxy.secrets` go to the redactor).
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import h11

from ._errors import InvalidInputError, IOTimeout, NetworkError, RemoteProtocolError
from ._ops import MAX_HEAD, Connect, Connection, Op, Receive, Release, Reply, SendBytes, StartTLS
from ._requests import _HOST, Origin, Target

__all__ = [
    "PROXY_ENVIRONMENT",
    "Proxy",
    "ProxyError",
    "bypasses_proxy",
    "open_connection",
    "parse_proxy_url",
    "proxy_for",
]

# Every environment variable the choice reads; a transport passes these (when set) and nothing
# else. REQUEST_METHOD marks a CGI process, where HTTP_PROXY may come from a request's
# "Proxy:" header ("httpoxy") and is not trusted.
PROXY_ENVIRONMENT = (
    "https_proxy",
    "HTTPS_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "REQUEST_METHOD",
)

S = TypeVar("S")

_DEFAULT_PORT = 80
# A CONNECT answer is a head and, for a refusal, a short page; read in pieces this big.
_RECEIVE = 4096


class ProxyError(NetworkError):
    """The proxy answered ``CONNECT`` with something other than 2xx: ``status`` is its status.
    The API was never reached, so its answer is no API answer: a 4xx (407 above all: the
    credentials were refused) ends the call at once, a 5xx (the proxy could not reach the API)
    is a network failure like a refused connection."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, data={"proxy_status": status})
        self.status = status


@dataclass(frozen=True)
class Proxy:
    """An http proxy: its address, its credentials (percent-decoded, hidden from every repr)
    and ``source``, the setting it came from, for messages. Hashable: a pooled connection is
    keyed by the API's origin and the proxy it goes through."""

    origin: Origin
    source: str = field(compare=False)
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"Proxy({self.url!r}, source={self.source!r})"

    @property
    def url(self) -> str:
        """The proxy's URL without its credentials: what a message may show."""
        return f"http://{self.origin.host_header}"

    @property
    def named(self) -> str:
        """The proxy, and where it came from, for a message."""
        return f"the proxy {self.url} (from {self.source})"

    @property
    def authorization(self) -> str | None:
        """The ``Proxy-Authorization`` value for the URL's credentials, None without any."""
        if self.username is None:
            return None
        token = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(token).decode("ascii")

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never be shown: the password, as given and as sent."""
        if not self.password:
            return ()
        authorization = self.authorization
        assert authorization is not None
        return (self.password, authorization.split(" ", 1)[1])

    def forwarding(
        self, target: Target, headers: tuple[tuple[str, str], ...]
    ) -> tuple[Target, tuple[tuple[str, str], ...]]:
        """A plain-http *target* asked through this proxy: request targets in absolute form
        (the path appended to ``http://host:port``), and *headers* (those every request
        carries) with ``Proxy-Authorization``."""
        prefix = f"http://{target.origin.host_header}{target.prefix}"
        authorization = self.authorization
        if authorization is not None:
            headers = (*headers, ("Proxy-Authorization", authorization))
        return Target(target.origin, prefix), headers


def parse_proxy_url(url: str, source: str = "proxy=") -> Proxy:
    """*url* (``http://user:password@host:port``; ``host:port`` alone means http) as a
    :class:`Proxy`; *source* names the setting it came from in any error."""
    if not isinstance(url, str):
        raise InvalidInputError(f"{source}: a proxy is a URL string, got {type(url).__name__}")
    text = url.strip()
    if "://" not in text:
        text = "http://" + text  # as curl and requests read "proxy.example:3128"
    shown = _without_credentials(text)

    def refused(why: str) -> InvalidInputError:
        return InvalidInputError(
            f"{source}: {shown!r} is not a proxy URL this client can use: {why}"
        )

    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        # Not the parser's words: they quote the part it choked on, which may be the password.
        raise refused("it is no URL of the form http://user:password@host:port") from None
    scheme = parts.scheme.lower()
    if scheme == "https":
        raise refused(
            "https:// proxies (TLS to the proxy itself) are not supported; use the proxy's "
            "http:// address: requests to an https API stay encrypted end to end inside the "
            "tunnel"
        )
    if scheme != "http":
        raise refused(f"{scheme}:// proxies are not supported, only http://")
    if not parts.hostname:
        raise refused("it names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise refused("a proxy URL has no path, query or fragment")
    if port == 0:
        raise refused("port 0 is not a port a proxy listens on")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise refused(f"its host {parts.hostname!r} is not a valid host name") from None
    if not _HOST.fullmatch(host):
        raise refused(f"its host {parts.hostname!r} is not a valid host name")
    username = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    return Proxy(Origin("http", host, port or _DEFAULT_PORT), source, username, password)


def _without_credentials(url: str) -> str:
    """*url* without what comes before its last ``@``: the user and the password, even one
    with a ``/`` or a ``#`` that was not percent-encoded (the password is a secret; the user
    name goes with it)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


def proxy_for(origin: Origin, proxy: str | None, environ: Mapping[str, str] | None) -> Proxy | None:
    """The proxy requests to *origin* go through, None for none: *proxy* when given, else the
    environment's choice (no environment, as with ``trust_env=False``: none)."""
    if proxy is not None:
        return parse_proxy_url(proxy, "proxy=")
    if environ is None:
        return None
    names = ("https_proxy", "all_proxy") if origin.tls else ("http_proxy", "all_proxy")
    for name in names:
        found = _setting(environ, name)
        if found is not None:
            break
    else:
        return None
    source, url = found
    if not url:
        return None
    exceptions = _setting(environ, "no_proxy")
    if exceptions is not None and bypasses_proxy(exceptions[1], origin):
        return None
    return parse_proxy_url(url, source)


def _setting(environ: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """The variable *name* (lower case) or its upper-case twin, whichever is set, the lower
    first, and its value stripped; None when neither is set."""
    for key in (name, name.upper()):
        if key == "HTTP_PROXY" and "REQUEST_METHOD" in environ:
            continue  # a CGI request's "Proxy:" header (httpoxy), not the administrator's
        if key in environ:
            return key, environ[key].strip()
    return None


def bypasses_proxy(no_proxy: str, origin: Origin) -> bool:
    """Whether the ``NO_PROXY`` list *no_proxy* exempts *origin*. Entries are separated by
    commas or spaces: ``*`` (everything), a host name (itself and its subdomains; a leading
    ``.`` or ``*.`` changes nothing), an IP address or a CIDR block (which match an origin
    given by address: names are not looked up), each optionally with ``:port``."""
    host = origin.host.lower().rstrip(".")
    for entry in re.split(r"[\s,]+", no_proxy):
        if entry == "*":
            return True
        if not entry:
            continue
        name, port = _entry(entry)
        if port is not None and port != origin.port:
            continue
        if _matches(name, host):
            return True
    return False


def _entry(entry: str) -> tuple[str, int | None]:
    """A ``NO_PROXY`` entry's host part and its port, if it has one."""
    if entry.startswith("["):  # [IPv6] or [IPv6]:port
        address, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return address, int(port) if port.isdigit() else None
    if entry.count(":") == 1:  # host:port (an IPv6 address has more colons)
        name, _, port = entry.partition(":")
        if port.isdigit():
            return name, int(port)
    return entry, None


def _matches(name: str, host: str) -> bool:
    try:
        network = ipaddress.ip_network(name, strict=False)
    except ValueError:
        pass
    else:
        try:
            return ipaddress.ip_address(host) in network
        except ValueError:
            return False  # a host name: not looked up
    name = name.lower().removeprefix("*").lstrip(".").rstrip(".")
    try:
        name = name.encode("idna").decode("ascii")  # the origin's host is in this form
    except UnicodeError:
        return False
    return bool(name) and (host == name or host.endswith("." + name))


# -- the way through --------------------------------------------------------------------------


def open_connection(
    origin: Origin, proxy: Proxy | None, deadline: float
) -> Generator[Op[S], Reply[S], Connection[S]]:
    """A new connection for requests to *origin*: straight to it, or to *proxy* (through a
    tunnel when the origin is https), with TLS verified against the origin's own name when it
    is https. A failure closes what was opened."""
    if proxy is None:
        conn = yield Connect(origin, origin.host, origin.port, deadline)
        assert isinstance(conn, Connection), conn
    else:
        try:
            conn = yield Connect(origin, proxy.origin.host, proxy.origin.port, deadline)
        except NetworkError as exc:
            kind = IOTimeout if isinstance(exc, IOTimeout) else NetworkError
            raise kind(f"cannot reach {proxy.named}: {exc.message}") from exc
        assert isinstance(conn, Connection), conn
        conn.proxy = proxy
    try:
        if proxy is not None and origin.tls:
            yield from _tunnel(conn, proxy, origin, deadline)
        if origin.tls:
            yield StartTLS(conn, origin.host, deadline)
    except NetworkError:
        yield Release(conn, reuse=False)
        raise
    return conn


def _tunnel(
    conn: Connection[S], proxy: Proxy, origin: Origin, deadline: float
) -> Generator[Op[S], Reply[S], None]:
    """``CONNECT host:port`` on *conn*, answered 2xx: the stream is then the API's."""
    host = f"[{origin.host}]" if ":" in origin.host else origin.host
    authority = f"{host}:{origin.port}"
    headers = [("Host", authority)]
    authorization = proxy.authorization
    if authorization is not None:
        headers.append(("Proxy-Authorization", authorization))
    http = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
    request = h11.Request(method="CONNECT", target=authority, headers=headers)
    head = http.send(request)
    assert head is not None
    http.send(h11.EndOfMessage())  # no body, no bytes
    yield SendBytes(conn, head, deadline)
    while True:
        try:
            event = http.next_event()
        except h11.RemoteProtocolError as exc:
            raise RemoteProtocolError(f"{proxy.named} broke HTTP/1.1: {exc}") from exc
        if event is h11.NEED_DATA:
            data = yield Receive(conn, _RECEIVE, deadline)
            assert isinstance(data, bytes), data
            if not data:
                raise NetworkError(
                    f"{proxy.named} closed the connection without answering CONNECT {authority}"
                )
            http.receive_data(data)
        elif isinstance(event, h11.Response):
            break
        # else a 1xx: the answer follows
    status = event.status_code
    if status >= 300:
        raise ProxyError(_refusal(proxy, authority, status, event.reason), status)
    if http.trailing_data[0]:
        # The API speaks only once TLS starts: bytes before that are the proxy's confusion,
        # and they cannot be handed to the TLS stream underneath.
        raise RemoteProtocolError(
            f"{proxy.named} sent bytes after its {status} answer to CONNECT {authority}"
        )
    # The stream is the API's from here: a fresh HTTP/1.1 state for its requests.
    conn.http = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)


def _refusal(proxy: Proxy, authority: str, status: int, reason: bytes) -> str:
    said = reason.decode("ascii", "replace")[:100]
    answer = f"{status} {said}".rstrip()
    if status == 407 and proxy.username is None:
        return (
            f"{proxy.named} asks for credentials ({answer}); put them in its URL: "
            "http://user:password@host:port"
        )
    if status == 407:
        return (
            f"{proxy.named} refused the credentials in its URL ({answer}); check the user "
            "name and the password (percent-encode any of : @ / in them)"
        )
    if status >= 500:
        return f"{proxy.named} could not open a tunnel to {authority} ({answer})"
    return f"{proxy.named} refused a tunnel to {authority} ({answer})"
