"""The plain-head reader against h11: whatever it accepts, h11 reads the same way (status,
headers, body framing, keep-alive); what it declines goes to h11, so the exchange behaves the
same on both paths for any bytes a server sends."""

from __future__ import annotations

import itertools
from collections.abc import Generator
from typing import Any

import h11
import pytest
from core_helpers import NOW, ORIGIN, FakeExecutor
from hypothesis import given
from hypothesis import strategies as st

from decart_proto import Credentials, NetworkError, Op, OutputWrite, Response, Target, exchange
from decart_proto._exchange import ExchangeFailed
from decart_proto._plain_head import PlainHead, read_fields, read_plain_head
from decart_proto._requests import built_get

TARGET = Target(ORIGIN, "")
CREDS = Credentials("sk-key", "test")
BODY = b'{"job_id":"j1","status":"processing"}'


def h11_read(data: bytes) -> tuple[h11.Response, bytes, h11.Connection] | None:
    """How h11 reads *data* as the answer to a GET: the head, the body, and the connection
    after it; None when h11 needs more bytes or refuses them."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    head = None
    body = b""
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                return None
            if isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                return head, body, conn
    except h11.RemoteProtocolError:
        return None


def agrees_with_h11(data: bytes) -> PlainHead | None:
    """read_plain_head(data), checked against h11 when it accepts."""
    head = read_plain_head(data)
    if head is None:
        return None
    end = head.body_start + head.body_length
    # A body not all there yet is completed (the head is what is being judged here).
    whole = data[:end].ljust(end, b"\0")
    read = h11_read(whole)
    assert read is not None, data
    response, body, conn = read
    assert response.http_version == b"1.1"
    assert response.status_code == head.status
    assert tuple(response.headers) == read_fields(head.fields)
    assert body == whole[head.body_start :]
    # Kept alive, exactly as h11 would: both sides done, nothing left over.
    assert conn.states == {h11.CLIENT: h11.DONE, h11.SERVER: h11.DONE}
    assert conn.trailing_data == (b"", False)
    return head


def head_of(status_line: bytes, *fields: bytes, body: bytes = BODY) -> bytes:
    return status_line + b"\r\n" + b"".join(f + b"\r\n" for f in fields) + b"\r\n" + body


LENGTH = b"Content-Length: %d" % len(BODY)
PLAIN = {
    "uvicorn": head_of(
        b"HTTP/1.1 200 OK",
        b"date: Sun, 29 Nov 2026 04:46:10 GMT",
        b"server: uvicorn",
        b"content-type: application/json",
        b"content-length: %d" % len(BODY),
        b"x-request-id: 207baf5c5ebf0361",
    ),
    "keep-alive": head_of(b"HTTP/1.1 200 OK", b"Connection: Keep-Alive", LENGTH),
    "spaces-and-tabs": head_of(b"HTTP/1.1 404 Not  Found", b"X-A: \t a \t b\t ", LENGTH),
    "empty-value-and-reason": head_of(b"HTTP/1.1 503 ", b"X-Empty:", LENGTH),
    "empty-body": head_of(b"HTTP/1.1 429 Too", b"Retry-After: 3", b"content-length: 0", body=b""),
    "leading-zeros": head_of(b"HTTP/1.1 200 OK", b"Content-Length: 000%d" % len(BODY)),
}  # fmt: skip
DECLINED = {
    "http/1.0": head_of(b"HTTP/1.0 200 OK", LENGTH),
    "no-reason": head_of(b"HTTP/1.1 200", LENGTH),
    "continue": b"HTTP/1.1 100 Continue\r\n\r\n" + head_of(b"HTTP/1.1 200 OK", LENGTH),
    "no-content": head_of(b"HTTP/1.1 204 No Content", b"Content-Length: 0", body=b""),
    "not-modified": head_of(b"HTTP/1.1 304 Not Modified", b"Content-Length: 0", body=b""),
    "no-headers": b"HTTP/1.1 200 OK\r\n\r\n",
    "no-length": head_of(b"HTTP/1.1 200 OK", b"Server: x"),
    "chunked": head_of(b"HTTP/1.1 200 OK", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
    "gzip": head_of(b"HTTP/1.1 200 OK", b"Content-Encoding: gzip", LENGTH),
    "coding-identity": head_of(b"HTTP/1.1 200 OK", b"content-encoding:identity", LENGTH),
    "close": head_of(b"HTTP/1.1 200 OK", b"Connection: close", LENGTH),
    "two-lengths": head_of(b"HTTP/1.1 200 OK", LENGTH, LENGTH),
    "length-list": head_of(b"HTTP/1.1 200 OK", b"Content-Length: 3, 3", body=b"abc"),
    "bad-length": head_of(b"HTTP/1.1 200 OK", b"Content-Length: 1e3"),
    "obs-text": head_of(b"HTTP/1.1 200 OK", b"X-A: caf\xc3\xa9", LENGTH),
    "obs-fold": head_of(b"HTTP/1.1 200 OK", b"X-A: a", b" b", LENGTH),
    "bare-lf": b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    "space-before-colon": head_of(b"HTTP/1.1 200 OK", b"X-A : a", LENGTH),
    "incomplete": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
    "junk": b"SSH-2.0-OpenSSH\r\n\r\n",
}  # fmt: skip


@pytest.mark.parametrize("name", PLAIN)
def test_plain_heads_are_read_as_h11_reads_them(name: str) -> None:
    head = agrees_with_h11(PLAIN[name])
    assert head is not None
    assert PLAIN[name][head.body_start :] == (b"" if name == "empty-body" else BODY)


@pytest.mark.parametrize("name", DECLINED)
def test_other_heads_are_left_to_h11(name: str) -> None:
    assert read_plain_head(DECLINED[name]) is None


def test_names_are_lowercased_and_values_stripped_as_h11_does() -> None:
    head = agrees_with_h11(PLAIN["spaces-and-tabs"])
    assert head is not None
    assert read_fields(head.fields)[0] == (b"x-a", b"a \t b")


# -- generated responses ------------------------------------------------------------------------

TOKEN = st.text("abcXYZ-!#$%&'*+.^_`|~019", min_size=1, max_size=8).map(str.encode)
NAMES = st.one_of(
    st.sampled_from(
        [b"Content-Length", b"content-length", b"CONTENT-LENGTH", b"X-Content-Length",
         b"Content-Lengths", b"Transfer-Encoding", b"transfer-encoding", b"Connection",
         b"CONNECTION", b"Date", b"X-Request-ID", b"Content-Type", b"Retry-After",
         b"Content-Encoding", b"content-encoding", b"", b"X A",
         b"X\x00", b"X:Y"]
    ),
    TOKEN,
)  # fmt: skip
ODD = ' \t\r\n:,\x00\x7f\x80\xff;="0123456789abcXYZ'
VALUES = st.one_of(
    st.sampled_from(
        [
            b"keep-alive",
            b"Keep-Alive",
            b"keep-alive, close",
            b"close",
            b"chunked",
            b"0",
            b"5",
            b"12",
            b" 7 ",
            b"\t7",
            b"1, 1",
            b"+1",
            b"\xd9\xa3",
            b"gzip",
            b"identity",
        ]
    ),
    st.text(ODD, max_size=12).map(lambda t: t.encode("latin-1")),
)
STATUS_LINES = st.one_of(
    st.builds(
        lambda v, code, reason: b"HTTP/%s %d%s" % (v, code, reason),
        st.sampled_from([b"1.1", b"1.1", b"1.0", b"2.0", b"1.x"]),
        st.integers(99, 600),
        st.sampled_from([b" OK", b" ", b"", b" Not\tFound", b" caf\xc3\xa9", b"  two  spaces"]),
    ),
    st.text(ODD, max_size=20).map(lambda t: t.encode("latin-1")),
)


@st.composite
def responses(draw: st.DrawFn) -> bytes:
    body = draw(st.binary(max_size=40))
    fields = [draw(NAMES) + b":" + draw(VALUES) for _ in range(draw(st.integers(0, 5)))]
    framing = draw(st.sampled_from(["right", "right", "short", "long", "none", "extra-field"]))
    length = {"right": len(body), "short": max(0, len(body) - 1), "long": len(body) + 3}
    if framing in length:
        fields.insert(draw(st.integers(0, len(fields))), b"Content-Length: %d" % length[framing])
    elif framing == "extra-field":
        fields.append(b"Content-Length: %d" % len(body))
        fields.append(draw(NAMES) + b": " + draw(VALUES))
    line_end = draw(st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n"]))
    raw = draw(STATUS_LINES) + line_end
    raw += b"".join(f + line_end for f in fields) + line_end + body
    return raw + draw(st.sampled_from([b"", b"", b"x", b"HTTP/1.1 200 OK\r\n"]))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A plain response with a few bytes changed, inserted or removed."""
    raw = bytearray(draw(st.sampled_from(list(PLAIN.values()))))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(raw) - 1))
        kind = draw(st.sampled_from(["set", "insert", "delete"]))
        byte = draw(st.sampled_from(list(ODD.encode("latin-1"))))
        if kind == "set":
            raw[at] = byte
        elif kind == "insert":
            raw.insert(at, byte)
        else:
            del raw[at]
    return bytes(raw)


@given(st.one_of(responses(), mutated()))
def test_whatever_is_read_plainly_h11_reads_the_same(raw: bytes) -> None:
    agrees_with_h11(raw)


# -- the exchange: the same on both paths -------------------------------------------------------


def clock() -> float:
    return NOW


def outcome(raw: bytes, cuts: list[int], wire: bool, sink: bool = False) -> tuple[Any, ...]:
    """What an exchange made of *raw* (received in pieces cut at *cuts*): the response or the
    error, whether the connection was kept, and what a sink was given (with *sink*, as a
    download: the head, once, and the body)."""
    points = sorted({0, len(raw), *(c for c in cuts if c < len(raw))})
    chunks = [raw[a:b] for a, b in itertools.pairwise(points)]
    request, wire_bytes = built_get(TARGET, CREDS, "j1", "/content" if sink else "")
    heads: list[tuple[int, list[tuple[bytes, bytes]]]] = []

    def to_sink(data: bytes) -> Generator[Op, Any, None]:
        yield OutputWrite(data)

    gen: Generator[Op, Any, Response] = exchange(
        ORIGIN,
        request,
        None,
        clock=clock,
        step=10.0,
        deadline=NOW + 60,
        wire=wire_bytes if wire else None,
        sink=to_sink if sink else None,
        on_head=(lambda head: heads.append((head.status_code, list(head.headers))))
        if sink
        else None,
    )
    executor = FakeExecutor(chunks)
    run = executor.run(gen)
    kept = [r.reuse for r in run.releases]
    ready = executor.conn is not None and executor.conn.http.states == {
        h11.CLIENT: h11.IDLE,
        h11.SERVER: h11.IDLE,
    }
    written = bytes(run.written)
    if run.error is not None:
        assert isinstance(run.error, ExchangeFailed)
        error = run.error.error
        return type(error), error.message, run.error.sent, kept, bytes(run.sent), written, heads
    return run.value, kept, ready and kept == [True], bytes(run.sent), written, heads


@given(
    raw=st.one_of(responses(), mutated(), st.sampled_from(list(DECLINED.values()))),
    cuts=st.lists(st.integers(0, 200), max_size=4),
)
def test_the_exchange_is_the_same_with_and_without_h11_reading(raw: bytes, cuts: list[int]) -> None:
    assert outcome(raw, cuts, wire=True) == outcome(raw, cuts, wire=False)


@given(
    raw=st.one_of(responses(), mutated(), st.sampled_from(list(DECLINED.values()))),
    cuts=st.lists(st.integers(0, 200), max_size=4),
)
def test_a_download_is_the_same_with_and_without_h11_reading(raw: bytes, cuts: list[int]) -> None:
    assert outcome(raw, cuts, wire=True, sink=True) == outcome(raw, cuts, wire=False, sink=True)


# Plain heads whose answer is cut short, or followed by bytes never asked for.
ODD_ENDS = {
    "cut-body": PLAIN["uvicorn"][:-5],
    "cut-after-head": PLAIN["uvicorn"][: PLAIN["uvicorn"].index(b"\r\n\r\n") + 4],
    "trailing-bytes": PLAIN["uvicorn"] + b"HTTP/1.1 200 OK\r\n",
}
NAMED = {**PLAIN, **DECLINED, **ODD_ENDS}


@pytest.mark.parametrize("sink", [False, True], ids=["memory", "sink"])
@pytest.mark.parametrize("name", NAMED)
def test_the_exchange_is_the_same_for_each_named_response(name: str, sink: bool) -> None:
    raw = NAMED[name]
    in_body = raw.find(b"\r\n\r\n") + 6  # a cut inside the body, after a whole head
    for cuts in ([], [1], [30], [in_body], [len(raw) - 1]):
        assert outcome(raw, cuts, True, sink) == outcome(raw, cuts, False, sink)


def test_a_plain_answer_never_reaches_h11() -> None:
    request, wire = built_get(TARGET, CREDS, "j1")
    executor = FakeExecutor([PLAIN["uvicorn"]])
    run = executor.run(
        exchange(ORIGIN, request, None, clock=clock, step=10.0, deadline=NOW + 60, wire=wire)
    )
    assert run.value.status == 200
    assert executor.conn is not None
    # h11 saw neither the request nor the response, and is ready for the next exchange.
    assert executor.conn.http.their_http_version is None
    assert executor.conn.http.states == {h11.CLIENT: h11.IDLE, h11.SERVER: h11.IDLE}
    assert executor.conn.exchanges == 1
    assert bytes(run.sent) == wire


def test_the_wire_bytes_are_h11s_own() -> None:
    request, wire = built_get(TARGET, CREDS, "j1")
    assert h11.Connection(h11.CLIENT).send(request) == wire


def test_an_early_answer_after_a_failed_send_is_read_on_the_wire_path() -> None:
    request, wire = built_get(TARGET, CREDS, "j1")
    refused = head_of(b"HTTP/1.1 401 Unauthorized", b"Content-Length: 2", body=b"no")
    executor = FakeExecutor([refused], fail_send_after=10, send_error=NetworkError("broken pipe"))
    run = executor.run(
        exchange(ORIGIN, request, None, clock=clock, step=10.0, deadline=NOW + 60, wire=wire)
    )
    assert (run.value.status, run.value.body) == (401, b"no")


def test_a_plain_responses_headers_are_read_when_asked_for() -> None:
    request, wire = built_get(TARGET, CREDS, "j1")
    raw = PLAIN["uvicorn"]
    plain = FakeExecutor([raw]).run(
        exchange(ORIGIN, request, None, clock=clock, step=10.0, deadline=NOW + 60, wire=wire)
    )
    through_h11 = FakeExecutor([raw]).run(
        exchange(ORIGIN, request, None, clock=clock, step=10.0, deadline=NOW + 60)
    )
    assert plain.value == through_h11.value
    assert plain.value.headers[-1] == (b"x-request-id", b"207baf5c5ebf0361")
    assert repr(plain.value) == repr(through_h11.value)
    assert repr(plain.value).startswith("Response(status=200, headers=((b'date', ")
    assert plain.value != (200, plain.value.headers, BODY, False)
