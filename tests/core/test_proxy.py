"""Proxies in the core: the URL of a proxy, the choice among the environment's variables and
NO_PROXY, and a driver's calls through a scripted proxy (a CONNECT tunnel for https, absolute-form
requests for plain http), with the proxy's credentials in no error."""

from __future__ import annotations

import base64
import random
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import h11
import pytest

from decart_proto import (
    Acquire,
    Connect,
    Connection,
    ConnectionPool,
    Driver,
    InvalidInputError,
    IOTimeout,
    NetworkError,
    Origin,
    Proxy,
    ProxyError,
    QueueStatusError,
    Receive,
    Release,
    RemoteProtocolError,
    RetryPolicy,
    SendBytes,
    Sleep,
    StartTLS,
    bypasses_proxy,
    parse_proxy_url,
    proxy_for,
)

KEY = "proxy-test-key-4Hq9Zr2Wm7Xc"
PASSWORD = "s3cr:t@pw/9Kd"  # percent-encoded in URLs below
USER = "alice"
PROXY_URL = "http://alice:s3cr%3At%40pw%2F9Kd@proxy.example:3128"
TOKEN = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
HTTPS = Origin("https", "api.example", 443)
HTTP = Origin("http", "api.example", 8080)


# -- the proxy's URL --------------------------------------------------------------------------


def test_a_proxy_url_gives_address_and_percent_decoded_credentials() -> None:
    proxy = parse_proxy_url(PROXY_URL)
    assert proxy.origin == Origin("http", "proxy.example", 3128)
    assert (proxy.username, proxy.password) == (USER, PASSWORD)
    assert proxy.authorization == f"Basic {TOKEN}"
    assert proxy.url == "http://proxy.example:3128"
    assert PASSWORD not in repr(proxy) and USER not in repr(proxy)
    assert repr(proxy) == "Proxy('http://proxy.example:3128', source='proxy=')"


@pytest.mark.parametrize(
    ("url", "origin", "authorization"),
    [
        ("proxy.example:3128", Origin("http", "proxy.example", 3128), None),  # as curl reads it
        ("HTTP://Proxy.Example", Origin("http", "proxy.example", 80), None),
        ("  http://proxy.example:3128/  ", Origin("http", "proxy.example", 3128), None),
        ("http://[::1]:8899", Origin("http", "::1", 8899), None),
        ("http://bücher.example:1", Origin("http", "xn--bcher-kva.example", 1), None),
        ("http://bob@p:1", Origin("http", "p", 1), "Basic " + base64.b64encode(b"bob:").decode()),
        ("http://bob:@p:1", Origin("http", "p", 1), "Basic " + base64.b64encode(b"bob:").decode()),
    ],
)
def test_proxy_urls_read_as_other_clients_read_them(
    url: str, origin: Origin, authorization: str | None
) -> None:
    proxy = parse_proxy_url(url)
    assert (proxy.origin, proxy.authorization, proxy.secrets) == (origin, authorization, ())


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://alice:s3cret-pw@proxy.example:443", "https:// proxies"),
        ("socks5://alice:s3cret-pw@proxy.example:1080", "socks5:// proxies are not supported"),
        ("http://alice:s3cret-pw@proxy.example:3128/path", "no path, query or fragment"),
        ("http://alice:s3cret-pw@proxy.example:3128/?q", "no path, query or fragment"),
        ("http://alice:s3cret-pw@:3128", "names no host"),
        ("http://alice:s3cret-pw@proxy.example:99999", "no URL of the form http://user:"),
        # A password with a / or a # not percent-encoded: the parser reads the rest as a path
        # or a port, and no part of it is shown.
        ("http://alice:s3cret/pw@proxy.example:1", "no URL of the form http://user:"),
        ("http://alice:s3cret#pw@proxy.example:1", "no URL of the form http://user:"),
        ("http://alice:s3cret-pw@[::1:1", "no URL of the form http://user:"),
        ("http://alice:s3cret-pw@proxy.example:0", "port 0"),
        ("http://alice:s3cret-pw@bad_host!\x01:1", "not a valid host name"),
        ("http://alice:s3cret-pw@a..b:1", "not a valid host name"),
    ],
)
def test_a_bad_proxy_url_is_refused_naming_the_setting_without_its_credentials(
    url: str, why: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_proxy_url(url, "HTTPS_PROXY")
    message = str(info.value)
    assert message.startswith("HTTPS_PROXY: ")
    assert why in message
    assert "s3cret" not in message and "pw" not in message and "alice" not in message


def test_a_proxy_that_is_no_string_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="proxy=: a proxy is a URL string, got int"):
        parse_proxy_url(3128)  # type: ignore[arg-type]


# -- which proxy, from the environment ----------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "origin", "chosen"),
    [
        ({"HTTPS_PROXY": "http://hs:1"}, HTTPS, ("hs", "HTTPS_PROXY")),
        ({"https_proxy": "http://hs:1"}, HTTPS, ("hs", "https_proxy")),
        (
            {"HTTPS_PROXY": "http://up:1", "https_proxy": "http://low:1"},
            HTTPS,
            ("low", "https_proxy"),
        ),
        ({"HTTP_PROXY": "http://h:1"}, HTTPS, None),  # an https API is not an http one
        ({"HTTP_PROXY": "http://h:1"}, HTTP, ("h", "HTTP_PROXY")),
        ({"HTTPS_PROXY": "http://hs:1"}, HTTP, None),
        ({"ALL_PROXY": "http://a:1"}, HTTPS, ("a", "ALL_PROXY")),
        ({"all_proxy": "http://a:1"}, HTTP, ("a", "all_proxy")),
        ({"ALL_PROXY": "http://a:1", "HTTPS_PROXY": "http://hs:1"}, HTTPS, ("hs", "HTTPS_PROXY")),
        # An empty lower-case variable turns the upper-case one off (urllib's reading), and
        # falls through to nothing, not to ALL_PROXY.
        ({"HTTPS_PROXY": "http://up:1", "https_proxy": ""}, HTTPS, None),
        ({"https_proxy": " ", "ALL_PROXY": "http://a:1"}, HTTPS, None),
        # In a CGI process, HTTP_PROXY may be a request's "Proxy:" header (httpoxy).
        ({"HTTP_PROXY": "http://evil:1", "REQUEST_METHOD": "GET"}, HTTP, None),
        ({"http_proxy": "http://h:1", "REQUEST_METHOD": "GET"}, HTTP, ("h", "http_proxy")),
        ({"HTTPS_PROXY": "http://hs:1", "REQUEST_METHOD": "GET"}, HTTPS, ("hs", "HTTPS_PROXY")),
        ({"HTTPS_PROXY": "http://hs:1", "NO_PROXY": "api.example"}, HTTPS, None),
        ({"HTTPS_PROXY": "http://hs:1", "no_proxy": "other.example"}, HTTPS, ("hs", "HTTPS_PROXY")),
        # The lower-case NO_PROXY decides, as for the proxies.
        (
            {"HTTPS_PROXY": "http://hs:1", "no_proxy": "other", "NO_PROXY": "api.example"},
            HTTPS,
            ("hs", "HTTPS_PROXY"),
        ),
        ({}, HTTPS, None),
    ],
)
def test_the_environment_chooses_as_requests_and_httpx_do(
    environ: dict[str, str], origin: Origin, chosen: tuple[str, str] | None
) -> None:
    proxy = proxy_for(origin, None, environ)
    if chosen is None:
        assert proxy is None
    else:
        assert proxy is not None
        assert (proxy.origin.host, proxy.source) == chosen


def test_proxy_given_wins_over_the_environment_and_no_environment_means_none() -> None:
    environ = {"HTTPS_PROXY": "http://env:1", "NO_PROXY": "*"}
    given = proxy_for(HTTPS, "http://given:2", environ)
    assert given is not None and (given.origin.host, given.source) == ("given", "proxy=")
    assert proxy_for(HTTPS, None, None) is None  # trust_env=False


def test_a_bad_proxy_in_the_environment_names_its_variable() -> None:
    with pytest.raises(InvalidInputError, match=r"^https_proxy: 'socks5://h:1' is not"):
        proxy_for(HTTPS, None, {"https_proxy": "socks5://h:1"})


@pytest.mark.parametrize(
    ("no_proxy", "origin", "bypassed"),
    [
        ("*", HTTPS, True),
        ("api.example", HTTPS, True),
        ("API.Example.", HTTPS, True),
        ("example", HTTPS, True),  # a domain covers its subdomains
        (".example", HTTPS, True),
        ("*.example", HTTPS, True),
        ("i.example", HTTPS, False),  # a suffix of the name, not a domain of it
        ("pi.example", HTTPS, False),
        ("sub.api.example", HTTPS, False),
        ("api.example:443", HTTPS, True),
        ("api.example:8080", HTTPS, False),
        ("other, api.example", HTTPS, True),
        ("other api.example", HTTPS, True),  # spaces separate too
        (",, ,", HTTPS, False),
        ("", HTTPS, False),
        (".", HTTPS, False),
        ("*.", HTTPS, False),
        ("api.example:http", HTTPS, False),  # no port: the whole entry is a name
        ("127.0.0.1", HTTPS, False),  # names are not looked up
        ("127.0.0.1", Origin("http", "127.0.0.1", 80), True),
        ("127.0.0.0/8", Origin("http", "127.1.2.3", 80), True),
        ("10.0.0.0/8", Origin("http", "127.1.2.3", 80), False),
        ("127.0.0.1:80", Origin("http", "127.0.0.1", 80), True),
        ("127.0.0.1:81", Origin("http", "127.0.0.1", 80), False),
        ("::1", Origin("http", "::1", 80), True),
        ("[::1]", Origin("http", "::1", 80), True),
        ("[::1]:80", Origin("http", "::1", 80), True),
        ("[::1]:81", Origin("http", "::1", 80), False),
        ("[::1]:x", Origin("http", "::1", 80), True),  # a port that is none: no port
        ("fe80::/10", Origin("http", "fe80::1", 80), True),
        ("fe80::/10", Origin("http", "::1", 80), False),
        ("bücher.example", Origin("http", "xn--bcher-kva.example", 80), True),
        ("xn--.example", HTTPS, False),
        ("\udcff.example", HTTPS, False),  # not even a name
    ],
)
def test_no_proxy_reads_as_curl_and_requests_read_it(
    no_proxy: str, origin: Origin, bypassed: bool
) -> None:
    assert bypasses_proxy(no_proxy, origin) is bypassed


# -- the pool ---------------------------------------------------------------------------------


def test_pooled_connections_are_kept_apart_by_the_proxy_they_go_through() -> None:
    proxy = parse_proxy_url("http://p:1")
    other = parse_proxy_url("http://q:1")
    pool: ConnectionPool[str] = ConnectionPool()
    direct, tunnel = Connection(HTTPS, "direct"), Connection(HTTPS, "tunnel", proxy=proxy)
    pool.give_back(direct, reuse=True)
    pool.give_back(tunnel, reuse=True)
    assert pool.take(HTTPS, other) is None
    assert pool.take(HTTPS, proxy) is tunnel
    assert pool.take(HTTPS, proxy) is None
    assert pool.take(HTTPS) is direct


# -- a driver through a scripted proxy --------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Stream:
    """One connection's far end: the proxy (an h11 server reading CONNECT or absolute-form
    requests) until a tunnel opens, then the API."""

    host: str
    port: int
    server: h11.Connection = field(default_factory=lambda: h11.Connection(h11.SERVER))
    outgoing: bytearray = field(default_factory=bytearray)
    tunnel: bool = False
    tls: str | None = None


@dataclass
class World:
    """A proxy at proxy.example:3128 and the API behind it, played by hand. ``connect_answer``
    is the bytes the proxy sends back to a CONNECT (None: a 200), after which it opens the
    tunnel only when ``opens``."""

    connect_answer: bytes | None = None
    opens: bool = False
    connect_error: NetworkError | None = None
    heads: list[h11.Request] = field(default_factory=list)  # every request head received
    connects: list[tuple[str, int]] = field(default_factory=list)
    streams: list[Stream] = field(default_factory=list)
    pool: ConnectionPool[Stream] = field(default_factory=ConnectionPool)
    ops: list[Any] = field(default_factory=list)
    clock: Clock = field(default_factory=Clock)

    def run(self, gen: Generator[Any, Any, Any]) -> Any:
        reply: Any = None
        error: BaseException | None = None
        while True:
            try:
                op = gen.throw(error) if error is not None else gen.send(reply)
            except StopIteration as stop:
                return stop.value
            self.ops.append(op)
            reply, error = None, None
            try:
                reply = self.answer(op)
            except NetworkError as exc:
                error = exc

    def answer(self, op: Any) -> Any:
        if isinstance(op, Acquire):
            return self.pool.take(op.origin, op.proxy)
        if isinstance(op, Release):
            self.pool.give_back(op.connection, op.reuse)
            return None
        if isinstance(op, Sleep):
            self.clock.now = max(self.clock.now, op.until)
            return None
        if isinstance(op, Connect):
            self.connects.append((op.host, op.port))
            if self.connect_error is not None:
                raise self.connect_error
            stream = Stream(op.host, op.port)
            self.streams.append(stream)
            return Connection(op.origin, stream)
        stream = op.connection.stream
        if isinstance(op, StartTLS):
            stream.tls = op.server_hostname
            return None
        if isinstance(op, SendBytes):
            self.serve(stream, op.data)
            return None
        assert isinstance(op, Receive), op
        data = bytes(stream.outgoing[: op.max_bytes])
        del stream.outgoing[: op.max_bytes]
        return data

    def serve(self, stream: Stream, data: bytes) -> None:
        server = stream.server
        server.receive_data(data)
        while True:
            event = server.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Request):
                self.heads.append(event)
                if event.method == b"CONNECT":
                    self.open_tunnel(stream)
                    return
            elif isinstance(event, h11.EndOfMessage):
                self.answer_api(stream)

    def open_tunnel(self, stream: Stream) -> None:
        if self.connect_answer is not None:
            stream.outgoing += self.connect_answer
            if not self.opens:
                return
        else:
            stream.outgoing += b"HTTP/1.1 200 Connection established\r\n\r\n"
        stream.tunnel = True
        stream.server = h11.Connection(h11.SERVER)  # the API's, inside the tunnel

    def answer_api(self, stream: Stream) -> None:
        server = stream.server
        body = b'{"job_id": "j1", "status": "processing"}'
        response = h11.Response(status_code=200, headers=[("Content-Length", str(len(body)))])
        stream.outgoing += server.send(response) or b""
        stream.outgoing += server.send(h11.Data(data=body)) or b""
        stream.outgoing += server.send(h11.EndOfMessage()) or b""
        server.start_next_cycle()


def driver(base_url: str, world: World, **settings: Any) -> Driver[Stream]:
    return Driver(
        api_key=KEY,
        base_url=base_url,
        clock=world.clock,
        rand=random.Random(0),
        retry=RetryPolicy(max_retries=2),
        **settings,
    )


def headers_of(head: h11.Request) -> dict[bytes, bytes]:
    return dict(head.headers)


def test_an_https_api_is_reached_through_a_connect_tunnel_with_tls_to_the_api() -> None:
    world = World()
    client = driver("https://api.example", world, proxy=PROXY_URL)
    for _ in range(2):
        status = world.run(client.status("j1"))
        assert (status.job_id, status.status) == ("j1", "processing")
    assert world.connects == [("proxy.example", 3128)]  # one tunnel, kept alive and reused
    (stream,) = world.streams
    assert stream.tunnel and stream.tls == "api.example"  # verified against the API's name
    connect, first, second = world.heads
    assert (connect.method, connect.target) == (b"CONNECT", b"api.example:443")
    assert headers_of(connect) == {
        b"host": b"api.example:443",
        b"proxy-authorization": f"Basic {TOKEN}".encode(),
    }
    # Inside the tunnel: the API's own requests, with no word of the proxy.
    for head in (first, second):
        assert head.target == b"/v1/jobs/j1"
        assert b"proxy-authorization" not in headers_of(head)
        assert headers_of(head)[b"x-api-key"] == KEY.encode()


def test_a_tunnel_to_an_ipv6_api_names_it_in_brackets_and_a_1xx_before_the_200_is_skipped() -> None:
    world = World(
        connect_answer=b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", opens=True
    )
    client = driver("https://[2001:db8::1]", world, proxy="http://proxy.example:3128")
    assert world.run(client.status("j1")).status == "processing"
    connect, _request = world.heads
    assert connect.target == b"[2001:db8::1]:443"
    assert b"proxy-authorization" not in headers_of(connect)
    assert world.streams[0].tls == "2001:db8::1"


def test_a_plain_http_api_is_asked_in_absolute_form_with_proxy_authorization_on_each_request() -> (
    None
):
    world = World()
    client = driver("http://api.example:8080/base", world, proxy=PROXY_URL)
    world.run(client.status("j1"))
    world.run(client.status("j1"))
    assert world.connects == [("proxy.example", 3128)]
    assert not any(isinstance(op, StartTLS) for op in world.ops)
    for head in world.heads:
        assert head.method == b"GET"
        assert head.target == b"http://api.example:8080/base/v1/jobs/j1"
        assert headers_of(head)[b"host"] == b"api.example:8080"
        assert headers_of(head)[b"proxy-authorization"] == f"Basic {TOKEN}".encode()
    assert len(world.heads) == 2
    assert PASSWORD not in repr(client) and TOKEN not in repr(client)


def test_no_proxy_sends_the_driver_straight_to_the_api() -> None:
    world = World()
    environ = {"HTTPS_PROXY": PROXY_URL, "NO_PROXY": ".example"}
    world.run(driver("https://api.example", world, environ=environ).status("j1"))
    assert world.connects == [("api.example", 443)]
    assert world.streams[0].tls == "api.example" and not world.streams[0].tunnel


def refused(status: int, reason: str) -> bytes:
    return f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n\r\n".encode()


def status_error(world: World, proxy: str = PROXY_URL) -> QueueStatusError:
    client = driver("https://api.example", world, proxy=proxy)
    with pytest.raises(QueueStatusError) as info:
        world.run(client.status("j1", timeout=60))
    return info.value


def test_407_says_the_credentials_were_refused_and_is_not_retried() -> None:
    world = World(connect_answer=refused(407, "Proxy Authentication Required"))
    error = status_error(world)
    assert str(error).startswith("Failed to ")
    assert str(error).endswith(
        ": the proxy http://proxy.example:3128 (from proxy=) refused "
        "the credentials in its URL (407 Proxy Authentication Required); check the user name "
        "and the password (percent-encode any of : @ / in them)"
    )
    assert isinstance(error.cause, ProxyError) and error.cause.status == 407
    assert error.data["status"] is None  # no answer of the API's
    assert len(world.connects) == 1  # given up at once
    assert [op.reuse for op in world.ops if isinstance(op, Release)] == [False]


def test_407_without_credentials_says_where_they_go() -> None:
    world = World(connect_answer=refused(407, ""))
    error = status_error(world, "http://proxy.example:3128")
    assert "the proxy http://proxy.example:3128 (from proxy=) asks for credentials (407); " in str(
        error
    )
    assert "http://user:password@host:port" in str(error)


def test_a_proxy_that_forbids_the_tunnel_ends_the_call() -> None:
    world = World(connect_answer=refused(403, "Forbidden"))
    error = status_error(world)
    assert "refused a tunnel to api.example:443 (403 Forbidden)" in str(error)
    assert len(world.connects) == 1


def test_a_proxy_that_cannot_reach_the_api_is_retried_as_a_network_failure() -> None:
    world = World(connect_answer=refused(502, "Bad Gateway"))
    error = status_error(world)
    assert "could not open a tunnel to api.example:443 (502 Bad Gateway)" in str(error)
    assert len(world.connects) == 3  # the first try and max_retries=2


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (NetworkError("ConnectionRefusedError: Connection refused"), NetworkError),
        (IOTimeout("timed out"), IOTimeout),
    ],
)
def test_a_dead_proxy_is_named_without_its_credentials(
    failure: NetworkError, kind: type[NetworkError]
) -> None:
    world = World(connect_error=failure)
    error = status_error(world)
    assert f"cannot reach the proxy http://proxy.example:3128 (from proxy=): {failure}" in str(
        error
    )
    assert type(error.cause) is kind
    assert PASSWORD not in str(error) and USER not in str(error)
    assert len(world.connects) == 3  # a refused connection is retried, as without a proxy


@pytest.mark.parametrize(
    ("answer", "error", "text"),
    [
        (b"", NetworkError, "closed the connection without answering CONNECT api.example:443"),
        (b"HTTP/1.1 200 OK\r\n\r\nsurprise", RemoteProtocolError, "sent bytes after its 200"),
        (b"HTTP/1.1 2OO OK\r\n\r\n", RemoteProtocolError, "broke HTTP/1.1"),
    ],
)
def test_a_proxy_that_breaks_the_exchange_says_so(
    answer: bytes, error: type[NetworkError], text: str
) -> None:
    world = World(connect_answer=answer)
    failure = status_error(world)
    assert type(failure.cause) is error
    assert text in str(failure)
    assert "the proxy http://proxy.example:3128 (from proxy=)" in str(failure)
    assert len(world.connects) == 3  # retried


@pytest.mark.parametrize(
    "answer",
    [
        # A hostile proxy echoes what it was sent: the password, the Basic token.
        f"HTTP/1.1 407 {PASSWORD} {TOKEN}\r\n\r\n".encode(),
        f"HTTP/1.1 200 OK\r\nX: {TOKEN}\r\nbroken {PASSWORD}\r\n\r\n".encode(),
        f"HTTP/1.1 502 {TOKEN[:10]}\r\n\r\n".encode(),
    ],
)
def test_a_hostile_proxy_cannot_make_an_error_show_its_credentials(answer: bytes) -> None:
    world = World(connect_answer=answer)
    error = status_error(world)
    shown = [str(error), repr(error), str(error.cause), repr(error.cause), str(error.data)]
    shown += [str(error.cause.__cause__), repr(error.cause.__cause__)] if error.cause else []
    for text in shown:
        assert PASSWORD not in text and TOKEN[:10] not in text and KEY not in text


def test_a_driver_through_no_proxy_is_the_same_as_before() -> None:
    world = World()
    world.run(driver("http://api.example:8080", world).status("j1"))
    assert world.connects == [("api.example", 8080)]
    assert world.heads[0].target == b"/v1/jobs/j1"
    assert b"proxy-authorization" not in headers_of(world.heads[0])


def test_a_proxy_without_credentials_has_no_secrets_and_a_repr_with_its_source() -> None:
    proxy = Proxy(Origin("http", "p", 1), "ALL_PROXY")
    assert proxy.secrets == () and proxy.authorization is None
    assert proxy.named == "the proxy http://p:1 (from ALL_PROXY)"
