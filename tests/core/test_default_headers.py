"""``default_headers``: on every request of a driver, never in place of the headers that are the
client's own, refused at once with the header's name, and their values shown nowhere."""

from __future__ import annotations

import random
from typing import Any

import pytest

from decart_proto import (
    Acquire,
    BodyPlan,
    Connect,
    Connection,
    Credentials,
    Driver,
    InvalidInputError,
    SendBytes,
    parse_base_url,
    result_request,
    status_request,
    submit_request,
)
from decart_proto._default_headers import RESERVED

KEY = "default-headers-key-7Tq2"
TOKEN = "gateway-token-Xr8Pw3Lm"


def driver(headers: Any) -> Driver[None]:
    return Driver(
        api_key=KEY,
        base_url="http://api.example",
        clock=lambda: 0.0,
        rand=random.Random(0),
        default_headers=headers,
    )


@pytest.mark.parametrize("name", [*sorted(RESERVED), "X-Api-Key", "HOST", "Content-Type"])
def test_a_header_of_the_clients_own_is_refused_by_name(name: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        driver({name: TOKEN})
    message = str(info.value)
    assert message.startswith(f"default_headers: {name} cannot be set, ")
    assert RESERVED[name.lower()] in message
    assert TOKEN not in message


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"Bad Name": "v"}, "'Bad Name' is not a header name"),
        ({"": "v"}, "'' is not a header name"),
        ({3: "v"}, "3 is not a header name"),
        ({"X-Trace": f"{TOKEN}\r\nX-Api-Key: stolen"}, "the value of X-Trace must be"),
        ({"X-Trace": f" {TOKEN}"}, "the value of X-Trace must be"),
        ({"X-Trace": 7}, "the value of X-Trace must be"),
        ({"X-Trace": "é"}, "the value of X-Trace must be"),
        ({"X-Trace": TOKEN, "x-trace": TOKEN}, "x-trace is given twice"),
        ([("X-Trace", TOKEN)], "default_headers must be a mapping of header names to values"),
    ],
)
def test_a_header_that_cannot_be_sent_is_refused_without_its_value(
    headers: Any, problem: str
) -> None:
    with pytest.raises(InvalidInputError) as info:
        driver(headers)
    assert problem in str(info.value)
    assert TOKEN not in str(info.value)


def sent_headers(request: Any) -> list[tuple[bytes, bytes]]:
    return list(request.headers)


def test_default_headers_go_with_every_request_and_replace_only_chosen_ones() -> None:
    client = driver({"X-Trace": TOKEN, "user-agent": "mine/1", "Accept": "*/*", "X-Empty": ""})
    # The three requests, built from what the driver was given.
    target, creds = client.target, client.credentials
    plan = BodyPlan((b"x",), "multipart/form-data; boundary=b", 1)
    for request in (
        status_request(target, creds, "j1"),
        result_request(target, creds, "j1"),
        submit_request(target, creds, "/v1/jobs/lucy-2.1", plan),
    ):
        headers = sent_headers(request)
        names = [name for name, _ in headers]
        assert (b"x-trace", TOKEN.encode()) in headers
        assert (b"user-agent", b"mine/1") in headers and names.count(b"user-agent") == 1
        assert (b"x-empty", b"") in headers
        assert (b"x-api-key", KEY.encode()) in headers and (b"host", b"api.example") in headers
        if request.method == b"GET" and b"/content" not in request.target:
            assert (b"accept", b"*/*") in headers and names.count(b"accept") == 1
    assert TOKEN not in repr(client) and TOKEN not in repr(creds)


def test_default_headers_reach_the_wire_of_a_call() -> None:
    client = driver({"X-Trace": TOKEN})
    gen = client.status("j1")
    op = next(gen)
    assert isinstance(op, Acquire)
    op = gen.send(None)
    assert isinstance(op, Connect)
    op = gen.send(Connection(op.origin, None))
    assert isinstance(op, SendBytes)
    assert f"\r\nX-Trace: {TOKEN}\r\n".encode() in op.data
    gen.close()


def test_no_default_headers_change_nothing() -> None:
    target = parse_base_url("http://api.example")
    plain = status_request(target, Credentials(KEY), "j1")
    assert driver(None).credentials.headers == () and driver({}).credentials.headers == ()
    assert sent_headers(status_request(target, driver({}).credentials, "j1")) == sent_headers(plain)
