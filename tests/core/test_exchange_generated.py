"""Generated and mutated answers, cut anywhere: the exchange makes of them what a bare h11
client makes of the same bytes (status, headers, body, keep-alive), as an in-memory answer and
as a download to a sink, and fails with a protocol error, never another exception, where h11
refuses them or they end too soon."""

from __future__ import annotations

import itertools
from collections.abc import Generator

import h11
import pytest
from core_helpers import NOW, ORIGIN, FakeExecutor
from hypothesis import given
from hypothesis import strategies as st

from decart_proto import (
    Credentials,
    OutputWrite,
    RemoteProtocolError,
    Response,
    Target,
    exchange,
    result_request,
)
from decart_proto._exchange import ExchangeFailed

TARGET = Target(ORIGIN, "")
CREDS = Credentials("sk-key", "test")
BODY = b'{"job_id":"j1","status":"processing"}'


class H11Read:
    """How a bare h11 client reads the answer to a GET that arrives as *chunks*, each taken
    only when it needs more, then the end of the stream: the head, the body and whether the
    connection could be kept; or ``refused`` when h11 will not have it."""

    def __init__(self, *chunks: bytes) -> None:
        self.head: h11.Response | None = None
        self.body = b""
        self.refused = False
        self.reusable = False
        conn = h11.Connection(h11.CLIENT)
        conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        more = list(chunks)
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(more.pop(0) if more else b"")  # b"": the stream ends
                elif isinstance(event, h11.Response):
                    self.head = event
                elif isinstance(event, h11.Data):
                    self.body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    assert isinstance(event, h11.InformationalResponse), event
        except h11.RemoteProtocolError:
            self.refused = True
            return
        self.reusable = conn.states == {h11.CLIENT: h11.DONE, h11.SERVER: h11.DONE} and (
            conn.trailing_data == (b"", False)
        )


def clock() -> float:
    return NOW


def check_read_as_h11_reads(raw: bytes, cuts: list[int], sink: bool) -> None:
    points = sorted({0, len(raw), *(c for c in cuts if c < len(raw))})
    chunks = [raw[a:b] for a, b in itertools.pairwise(points)]
    heads: list[h11.Response] = []

    def to_sink(data: bytes) -> Generator[OutputWrite, object, None]:
        yield OutputWrite(data)

    gen = exchange(
        ORIGIN,
        result_request(TARGET, CREDS, "j1"),
        None,
        clock=clock,
        step=10.0,
        deadline=NOW + 60,
        sink=to_sink if sink else None,
        on_head=heads.append if sink else None,
    )
    run = FakeExecutor(chunks).run(gen)
    expected = H11Read(*chunks)
    kept = [release.reuse for release in run.releases]
    if expected.refused or expected.head is None:
        assert isinstance(run.error, ExchangeFailed), run.error
        assert isinstance(run.error.error, RemoteProtocolError)
        assert run.error.sent and not run.error.stale
        assert kept == [False]
        return
    head = expected.head
    streamed = sink and 200 <= head.status_code < 300
    assert run.error is None, run.error
    assert run.value == Response(
        head.status_code, tuple(head.headers), b"" if streamed else expected.body
    )
    assert bytes(run.written) == (expected.body if streamed else b"")
    assert heads == ([head] if streamed else [])
    assert kept == [expected.reusable]


# -- named answers -------------------------------------------------------------------------------


def head_of(status_line: bytes, *fields: bytes, body: bytes = BODY) -> bytes:
    return status_line + b"\r\n" + b"".join(f + b"\r\n" for f in fields) + b"\r\n" + body


LENGTH = b"Content-Length: %d" % len(BODY)
UVICORN = head_of(
    b"HTTP/1.1 200 OK",
    b"date: Sun, 29 Nov 2026 04:46:10 GMT",
    b"server: uvicorn",
    b"content-type: application/json",
    b"content-length: %d" % len(BODY),
    b"x-request-id: 207baf5c5ebf0361",
)
NAMED = {
    "uvicorn": UVICORN,
    "keep-alive": head_of(b"HTTP/1.1 200 OK", b"Connection: Keep-Alive", LENGTH),
    "spaces-and-tabs": head_of(b"HTTP/1.1 404 Not  Found", b"X-A: \t a \t b\t ", LENGTH),
    "empty-value-and-reason": head_of(b"HTTP/1.1 503 ", b"X-Empty:", LENGTH),
    "empty-body": head_of(b"HTTP/1.1 429 Too", b"Retry-After: 3", b"content-length: 0", body=b""),
    "leading-zeros": head_of(b"HTTP/1.1 200 OK", b"Content-Length: 000%d" % len(BODY)),
    "http/1.0": head_of(b"HTTP/1.0 200 OK", LENGTH),
    "no-reason": head_of(b"HTTP/1.1 200", LENGTH),
    "continue": b"HTTP/1.1 100 Continue\r\n\r\n" + head_of(b"HTTP/1.1 200 OK", LENGTH),
    "no-content": head_of(b"HTTP/1.1 204 No Content", b"Content-Length: 0", body=b""),
    "not-modified": head_of(b"HTTP/1.1 304 Not Modified", b"Content-Length: 0", body=b""),
    "no-headers": b"HTTP/1.1 200 OK\r\n\r\n",
    "no-length": head_of(b"HTTP/1.1 200 OK", b"Server: x"),
    "chunked": head_of(b"HTTP/1.1 200 OK", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
    "gzip": head_of(b"HTTP/1.1 200 OK", b"Content-Encoding: gzip", LENGTH),
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
    "cut-body": UVICORN[:-5],
    "cut-after-head": UVICORN[: UVICORN.index(b"\r\n\r\n") + 4],
    "trailing-bytes": UVICORN + b"HTTP/1.1 200 OK\r\n",
}  # fmt: skip


@pytest.mark.parametrize("sink", [False, True], ids=["memory", "sink"])
@pytest.mark.parametrize("name", NAMED)
def test_each_named_answer_is_read_as_h11_reads_it(name: str, sink: bool) -> None:
    raw = NAMED[name]
    in_body = raw.find(b"\r\n\r\n") + 6  # a cut inside the body, after a whole head
    for cuts in ([], [1], [30], [in_body], [len(raw) - 1], list(range(len(raw)))):
        check_read_as_h11_reads(raw, cuts, sink)


def test_the_oracle_tells_answers_apart() -> None:
    # The named answers cover each outcome the exchange can come to.
    reads = {name: H11Read(raw) for name, raw in NAMED.items()}
    assert reads["uvicorn"].reusable and reads["uvicorn"].body == BODY
    assert reads["continue"].head is not None and reads["continue"].head.status_code == 200
    assert not reads["close"].reusable and not reads["close"].refused
    assert not reads["trailing-bytes"].reusable
    assert reads["http/1.0"].body == BODY and not reads["http/1.0"].reusable
    assert reads["no-length"].body == BODY  # read until the end of the stream
    for name in ("space-before-colon", "junk", "cut-body", "incomplete", "bad-length"):
        assert reads[name].refused, name


# -- generated answers ---------------------------------------------------------------------------

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
        [b"keep-alive", b"Keep-Alive", b"keep-alive, close", b"close", b"chunked", b"0", b"5",
         b"12", b" 7 ", b"\t7", b"1, 1", b"+1", b"\xd9\xa3", b"gzip", b"identity"]
    ),
    st.text(ODD, max_size=12).map(lambda t: t.encode("latin-1")),
)  # fmt: skip
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
def answers(draw: st.DrawFn) -> bytes:
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
    """A named answer with a few bytes changed, inserted or removed."""
    raw = bytearray(draw(st.sampled_from(list(NAMED.values()))))
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


@given(
    raw=st.one_of(answers(), mutated()),
    cuts=st.lists(st.integers(0, 200), max_size=4),
    sink=st.booleans(),
)
def test_any_answer_is_read_as_h11_reads_it(raw: bytes, cuts: list[int], sink: bool) -> None:
    check_read_as_h11_reads(raw, cuts, sink)


def test_a_response_is_a_value() -> None:
    headers = ((b"content-length", b"2"),)
    assert Response(200, headers, b"{}") == Response(200, headers, b"{}", False)
    assert Response(200, headers, b"{}") != Response(200, headers, b"{}", True)
    assert repr(Response(204, (), b"")) == (
        "Response(status=204, headers=(), body=b'', truncated=False)"
    )
    with pytest.raises(AttributeError):
        Response(200, (), b"").status = 500  # type: ignore[misc]
