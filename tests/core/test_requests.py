"""Request heads, byte for byte, as an h11 client connection puts them on the wire."""

from __future__ import annotations

import h11
import pytest

from decart_proto import (
    BodyPlan,
    Credentials,
    DecartSDKError,
    InvalidAPIKeyError,
    InvalidBaseURLError,
    InvalidInputError,
    LocalProtocolError,
    Origin,
    Target,
    __version__,
    parse_base_url,
    result_request,
    status_request,
    submit_request,
)

KEY = "sk-test-123"
UA = f"decart-proto/{__version__}"


def wire(request: h11.Request) -> bytes:
    client = h11.Connection(h11.CLIENT)
    data = client.send(request)
    assert data is not None
    return data


def test_status_request_bytes_with_non_default_port() -> None:
    target = parse_base_url("http://api.example:8080")
    request = status_request(target, Credentials(KEY, "blocking"), "job_1")
    assert wire(request) == (
        b"GET /v1/jobs/job_1 HTTP/1.1\r\n"
        b"Host: api.example:8080\r\n"
        b"X-API-KEY: sk-test-123\r\n"
        b"User-Agent: " + UA.encode() + b" (blocking)\r\n"
        b"Accept-Encoding: identity\r\n"
        b"Accept: application/json\r\n"
        b"\r\n"
    )


def test_result_request_bytes_with_default_port_prefix_and_integration() -> None:
    target = parse_base_url("https://gw.example:443/decart/")
    creds = Credentials(KEY, "trio", "my-app/2.0")
    assert wire(result_request(target, creds, "abc")) == (
        b"GET /decart/v1/jobs/abc/content HTTP/1.1\r\n"
        b"Host: gw.example\r\n"
        b"X-API-KEY: sk-test-123\r\n"
        b"User-Agent: " + UA.encode() + b" (trio) my-app/2.0\r\n"
        b"Accept-Encoding: identity\r\n"
        b"\r\n"
    )


def test_ipv6_host_is_bracketed() -> None:
    target = parse_base_url("http://[::1]:9000/")
    assert target.origin == Origin("http", "::1", 9000)
    assert wire(status_request(target, Credentials(KEY), "j")).splitlines()[1] == (
        b"Host: [::1]:9000"
    )
    assert Origin("https", "::1", 443).host_header == "[::1]"


def test_submit_request_with_content_length() -> None:
    target = parse_base_url("https://api.decart.ai")
    body = BodyPlan((b"x",), "multipart/form-data; boundary=b0", 1234)
    request = submit_request(target, Credentials(KEY, "asyncio"), "/v1/jobs/lucy-2.1", body)
    assert wire(request) == (
        b"POST /v1/jobs/lucy-2.1 HTTP/1.1\r\n"
        b"Host: api.decart.ai\r\n"
        b"X-API-KEY: sk-test-123\r\n"
        b"User-Agent: " + UA.encode() + b" (asyncio)\r\n"
        b"Accept-Encoding: identity\r\n"
        b"Content-Type: multipart/form-data; boundary=b0\r\n"
        b"Content-Length: 1234\r\n"
        b"\r\n"
    )


def test_submit_request_of_unknown_length_is_chunked() -> None:
    target = parse_base_url("http://localhost:1/p")
    body = BodyPlan((b"x",), "multipart/form-data; boundary=b0", None)
    request = submit_request(target, Credentials(KEY), "/v1/jobs/m", body)
    assert wire(request) == (
        b"POST /p/v1/jobs/m HTTP/1.1\r\n"
        b"Host: localhost:1\r\n"
        b"X-API-KEY: sk-test-123\r\n"
        b"User-Agent: " + UA.encode() + b" (sans-io)\r\n"
        b"Accept-Encoding: identity\r\n"
        b"Content-Type: multipart/form-data; boundary=b0\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"\r\n"
    )


# -- job ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job_id", "path"),
    [
        ("job_1-2.3~4", b"/v1/jobs/job_1-2.3~4"),
        ("a b", b"/v1/jobs/a%20b"),
        ("a?b#c", b"/v1/jobs/a%3Fb%23c"),
        ("100%", b"/v1/jobs/100%25"),
        ("%2e%2e", b"/v1/jobs/%252e%252e"),
        ("...", b"/v1/jobs/..."),
        ("é", b"/v1/jobs/%C3%A9"),
        ("a;b=c&d+e", b"/v1/jobs/a%3Bb%3Dc%26d%2Be"),
        ("\r\n", b"/v1/jobs/%0D%0A"),
    ],
)
def test_job_ids_are_percent_encoded(job_id: str, path: bytes) -> None:
    target = Target(Origin("http", "h", 80), "")
    creds = Credentials(KEY)
    assert wire(status_request(target, creds, job_id)).split(b" ")[1] == path
    assert wire(result_request(target, creds, job_id)).split(b" ")[1] == path + b"/content"


@pytest.mark.parametrize(
    ("job_id", "fragment"),
    [
        ("", "is empty or not a string"),
        (None, "is empty or not a string"),
        (42, "is empty or not a string"),
        (b"abc", "is empty or not a string"),
        (".", "contains '.'"),
        ("..", "contains '..'"),
        ("../secrets", "contains '/'"),
        ("a/b", "contains '/'"),
        ("a\\b", "contains '\\\\'"),
        ("..\\x", "contains '\\\\'"),
        ("j" * 257, "is 257 characters long; a job id has at most 256"),
        ("j" * 1_000_000, "is 1000000 characters long; a job id has at most 256"),
    ],
)
def test_bad_job_ids_are_refused_clearly(job_id: object, fragment: str) -> None:
    target = parse_base_url("http://h")
    for build in (status_request, result_request):
        # The caller's input: one of the SDK's errors, as the official clients' input errors.
        with pytest.raises(InvalidInputError) as info:
            build(target, Credentials(KEY), job_id)  # type: ignore[arg-type]
        assert fragment in info.value.message
        assert "job ids come from submit()" in info.value.message
        assert len(info.value.message) < 300  # a long id is not quoted whole


def test_a_job_id_of_the_longest_length_is_accepted() -> None:
    request = status_request(parse_base_url("http://h"), Credentials(KEY), "j" * 256)
    assert wire(request).split(b" ")[1] == b"/v1/jobs/" + b"j" * 256


# -- base URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("https://api.decart.ai", Target(Origin("https", "api.decart.ai", 443), "")),
        ("https://API.Decart.AI/", Target(Origin("https", "api.decart.ai", 443), "")),
        ("http://127.0.0.1:8000", Target(Origin("http", "127.0.0.1", 8000), "")),
        ("http://h:80/a/b/", Target(Origin("http", "h", 80), "/a/b")),
        ("https://h:8443/api;v=1", Target(Origin("https", "h", 8443), "/api;v=1")),
        ("http://[2001:db8::1]/x", Target(Origin("http", "2001:db8::1", 80), "/x")),
        ("http://bücher.example", Target(Origin("http", "xn--bcher-kva.example", 80), "")),
    ],
)
def test_base_urls(url: str, target: Target) -> None:
    assert parse_base_url(url) == target


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("api.decart.ai", "must start with http:// or https://"),
        ("ftp://api.decart.ai", "must start with http:// or https://"),
        ("ws://api.decart.ai", "must start with http:// or https://"),
        ("", "must start with http:// or https://"),
        (None, "must start with http:// or https://"),
        ("http://", "names no host"),
        ("http://:80/", "names no host"),
        ("http://user:pw@h/", "credentials belong in api_key"),
        ("http://user@h/", "credentials belong in api_key"),
        ("http://h/?x=1", "query or fragment"),
        ("http://h/#f", "query or fragment"),
        ("http://h:99999/", "Port out of range"),
        ("http://h:abc/", "Port could not be cast"),
        ("http://h:0/", "port 0"),
        ("http://h/a b", "need encoding"),
        ("http://h/é", "need encoding"),
        ("http://a b/", "not a valid host name"),
        ("http://a\x00b/", "not a valid host name"),
        ("http://[fe80::1%25eth0]/", "not a valid host name"),
        ("http://" + "a" * 64 + ".é/", "not a valid host name"),
    ],
)
def test_bad_base_urls(url: object, fragment: str) -> None:
    with pytest.raises(InvalidBaseURLError) as info:
        parse_base_url(url)  # type: ignore[arg-type]
    assert fragment in info.value.message
    assert info.value.message.startswith("Invalid base URL")


def test_invalid_base_url_error_without_url() -> None:
    assert InvalidBaseURLError().message == "Invalid base URL"


# -- credentials -------------------------------------------------------------------------------


def test_credentials_never_show_the_key() -> None:
    creds = Credentials(KEY, "blocking", "x")
    assert KEY not in repr(creds)
    assert creds.user_agent == f"{UA} (blocking) x"


@pytest.mark.parametrize("key", ["", " lead", "trail ", "a\nb", "é", "a\x00"])
def test_bad_api_keys_are_refused_without_echo(key: str) -> None:
    with pytest.raises(InvalidAPIKeyError) as info:
        Credentials(key)
    assert info.value.message.startswith("Invalid API key: it must be visible ASCII")
    if key.strip():
        assert key not in info.value.message


@pytest.mark.parametrize("integration", ["", "a\r\nX-Evil: 1", "é"])
def test_bad_integrations_are_refused(integration: str) -> None:
    with pytest.raises(InvalidInputError):
        Credentials(KEY, integration=integration)


@pytest.mark.parametrize("transport", ["", "a\r\nb", "é"])
def test_bad_transport_names_are_a_transports_bug(transport: str) -> None:
    with pytest.raises(LocalProtocolError) as info:
        Credentials(KEY, transport)
    assert not isinstance(info.value, DecartSDKError)


# -- credentials are a value ------------------------------------------------------------------


def test_credentials_hold_nothing_but_what_they_were_given() -> None:
    target = parse_base_url("http://h:1")
    creds = Credentials(KEY)
    status_request(target, creds, "j")
    other = status_request(parse_base_url("http://h:2"), creds, "j")
    assert wire(other).splitlines()[1] == b"Host: h:2"
    assert creds == Credentials(KEY) and hash(creds) == hash(Credentials(KEY))
    assert vars(creds) == {
        "api_key": KEY,
        "transport": "sans-io",
        "integration": None,
        "headers": (),
    }
