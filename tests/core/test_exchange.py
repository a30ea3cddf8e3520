"""One request/response on h11, driven by hand: every canned response read whole, byte by byte
and with trailing data; keep-alive reuse; early responses; EOF and truncation; limits."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Generator
from typing import Any

import h11
import pytest
from core_helpers import NOW, ORIGIN, SPLITS, FakeExecutor, Run, parse_request
from hypothesis import given
from hypothesis import strategies as st

from decart_proto import (
    Acquire,
    BodyPlan,
    Connect,
    Connection,
    Credentials,
    DecartSDKError,
    FileInfo,
    FileRegion,
    IOTimeout,
    LocalProtocolError,
    NetworkError,
    Op,
    Origin,
    OutputWrite,
    ReadFile,
    Receive,
    Release,
    RemoteProtocolError,
    Response,
    SendBytes,
    SendFile,
    StartTLS,
    SubmitForm,
    Target,
    TLSVerificationError,
    exchange,
    models,
    plan_body,
    result_request,
    status_request,
    submit_request,
)
from decart_proto._exchange import (
    EARLY_RESPONSE_WINDOW,
    MAX_SMALL_BODY,
    READ_FILE_SIZE,
    ExchangeFailed,
)
from decart_proto._inputs import FileInput
from decart_proto._ops import MAX_HEAD

TARGET = Target(ORIGIN, "")
HOST_PORT = (ORIGIN.host, ORIGIN.port)
CREDS = Credentials("sk-key", "test")
STEP = 10.0
DEADLINE = NOW + 300.0


def clock() -> float:
    return NOW


def response(
    status: int, body: bytes, *headers: tuple[str, str], reason: str = "X", chunked: bool = False
) -> bytes:
    head = f"HTTP/1.1 {status} {reason}\r\n".encode()
    for name, value in headers:
        head += f"{name}: {value}\r\n".encode()
    if chunked:
        head += b"Transfer-Encoding: chunked\r\n\r\n"
        half = len(body) // 2
        chunks = [c for c in (body[:half], body[half:]) if c]
        return head + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


JOB = json.dumps({"job_id": "j1", "status": "processing"}).encode()
GONE = b'{"detail":"Job not found"}'
OOPS = b"<html>oops</html>"
SECOND = response(200, b'{"job_id": "j1", "status": "completed"}')

# name -> (bytes, status, body, reusable)
CANNED: dict[str, tuple[bytes, int, bytes, bool]] = {
    "json": (response(200, JOB, ("Content-Type", "application/json")), 200, JOB, True),
    "chunked": (response(200, JOB, chunked=True), 200, JOB, True),
    "empty-chunked": (response(200, b"", chunked=True), 200, b"", True),
    "not-found": (response(404, GONE), 404, GONE, True),
    "error-chunked": (response(503, b"try later", chunked=True), 503, b"try later", True),
    "close": (response(500, OOPS, ("Connection", "close")), 500, OOPS, False),
    "continue": (b"HTTP/1.1 100 Continue\r\n\r\n" + response(200, JOB), 200, JOB, True),
    "no-content": (b"HTTP/1.1 204 No Content\r\n\r\n", 204, b"", True),
    "http/1.0": (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}", 200, b"{}", False),
}  # fmt: skip


def status_exchange(**kwargs: Any) -> Generator[Op[Any], Any, Response]:
    request = status_request(TARGET, CREDS, "j1")
    return exchange(ORIGIN, request, None, clock=clock, step=STEP, deadline=DEADLINE, **kwargs)


def check_request_sent(run: Run, target: bytes = b"/v1/jobs/j1") -> None:
    head, body = parse_request(bytes(run.sent))
    assert head.target == target
    assert body == b""


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("name", CANNED)
def test_canned_responses(name: str, split: str) -> None:
    raw, status, body, reusable = CANNED[name]
    executor = FakeExecutor(SPLITS[split](raw))
    run = executor.run(status_exchange())
    assert run.error is None
    assert (run.value.status, run.value.body, run.value.truncated) == (status, body, False)
    check_request_sent(run)
    assert executor.conn is not None
    assert run.ops[:2] == [Acquire(ORIGIN, NOW + STEP), Connect(ORIGIN, *HOST_PORT, NOW + STEP)]
    assert run.releases == [Release(executor.conn, reusable)]
    assert run.ops[-1] == run.releases[0]
    assert executor.conn.exchanges == (1 if reusable else 0)
    if reusable:  # ready for the next request
        assert executor.conn.http.states == {h11.CLIENT: h11.IDLE, h11.SERVER: h11.IDLE}


@pytest.mark.parametrize("trailer", [SECOND, b"junk", b"\r\n"])
@pytest.mark.parametrize("name", [n for n in CANNED if CANNED[n][3]])
def test_trailing_data_is_not_a_response_but_spoils_reuse(name: str, trailer: bytes) -> None:
    raw, status, body, _ = CANNED[name]
    run = FakeExecutor([raw + trailer]).run(status_exchange())
    assert (run.value.status, run.value.body) == (status, body)
    # We never pipeline: bytes after the response would answer the next request wrongly.
    assert [r.reuse for r in run.releases] == [False]


@given(name=st.sampled_from(sorted(CANNED)), cuts=st.lists(st.integers(0, 400), max_size=8))
def test_canned_responses_split_anywhere(name: str, cuts: list[int]) -> None:
    raw, status, body, reusable = CANNED[name]
    points = sorted({0, len(raw), *(c for c in cuts if c < len(raw))})
    chunks = [raw[a:b] for a, b in itertools.pairwise(points)]
    run = FakeExecutor(chunks).run(status_exchange())
    assert (run.value.status, run.value.body) == (status, body)
    assert [r.reuse for r in run.releases] == [reusable]


def test_headers_are_returned_lowercased() -> None:
    raw = response(429, b"", ("Retry-After", "3"), ("X-Request-ID", "r1"))
    run = FakeExecutor([raw]).run(status_exchange())
    assert run.value.headers == (
        (b"retry-after", b"3"),
        (b"x-request-id", b"r1"),
        (b"content-length", b"0"),
    )


def test_keep_alive_reuse_for_a_second_exchange() -> None:
    executor = FakeExecutor([CANNED["json"][0], SECOND])
    first = executor.run(status_exchange())
    conn = first.releases[0].connection
    assert first.releases[0].reuse
    # The pool hands the same connection back for the next exchange.
    second = executor.run(status_exchange(), Run())
    assert second.ops[0] == Acquire(ORIGIN, NOW + STEP)
    assert not any(isinstance(op, Connect) for op in second.ops)
    assert second.releases == [Release(conn, True)]
    assert second.value.body == b'{"job_id": "j1", "status": "completed"}'
    check_request_sent(second)
    assert conn.exchanges == 2


def test_a_dead_kept_alive_connection_fails_clearly() -> None:
    executor = FakeExecutor([CANNED["json"][0]])
    executor.run(status_exchange())
    run = executor.run(status_exchange(), Run())  # the server closed the idle connection
    assert isinstance(run.error, ExchangeFailed)
    assert run.error.sent
    assert isinstance(run.error.error, RemoteProtocolError)
    assert run.error.error.message == "the server closed the connection without a response"
    assert run.releases[-1].reuse is False
    # Closed before a byte of an answer: the failure says so, for the driver to decide on.
    assert run.error.stale


def kept_alive_then(*second: bytes | NetworkError, sink: bool = False) -> Run:
    """A second exchange on a connection kept alive by a first: the peer's next chunks are
    *second* (bytes, then end of stream; or an error thrown at the receive)."""
    executor = FakeExecutor([CANNED["json"][0]])
    executor.run(status_exchange())
    chunks = [c for c in second if isinstance(c, bytes)]
    errors = [c for c in second if isinstance(c, NetworkError)]
    executor.incoming = chunks
    executor.receive_error = errors[0] if errors and not chunks else None
    seen = bytearray()
    return executor.run(status_exchange(sink=collecting_sink(seen) if sink else None), Run())


@pytest.mark.parametrize("sink", [False, True], ids=["status", "download"])
@pytest.mark.parametrize(
    "ending",
    [b"", NetworkError("ConnectionResetError: Connection reset by peer")],
    ids=["closed", "reset"],
)
def test_a_kept_alive_connection_ended_before_any_answer_is_stale(
    ending: bytes | NetworkError, sink: bool
) -> None:
    run = kept_alive_then(*([ending] if isinstance(ending, NetworkError) else []), sink=sink)
    assert isinstance(run.error, ExchangeFailed)
    assert run.error.stale
    assert run.written == b""


@pytest.mark.parametrize(
    "second",
    [
        (IOTimeout("timed out"),),  # slow, not closed
        (b"HTTP/1.1 20",),  # part of a head, then the end
        (response(200, JOB)[:-3],),  # a body cut short
        (b"junk\r\n\r\n",),  # not HTTP
    ],
    ids=["timeout", "cut-head", "cut-body", "junk"],
)
def test_other_failures_of_a_kept_alive_connection_are_not_stale(
    second: tuple[bytes | NetworkError, ...],
) -> None:
    run = kept_alive_then(*second)
    assert isinstance(run.error, ExchangeFailed)
    assert not run.error.stale


def test_a_new_connection_that_ends_before_any_answer_is_not_stale() -> None:
    run = FakeExecutor([]).run(status_exchange())
    assert isinstance(run.error, ExchangeFailed)
    assert run.error.error.message == "the server closed the connection without a response"
    assert not run.error.stale


def test_a_send_that_fails_on_a_closed_kept_alive_connection_is_stale() -> None:
    executor = FakeExecutor([CANNED["json"][0]])
    executor.run(status_exchange())
    executor.fail_send_after = 0
    run = executor.run(status_exchange(), Run())
    assert isinstance(run.error, ExchangeFailed)
    assert run.error.stale and run.error.error is executor.send_error


def test_fresh_skips_the_pool_and_deadlines_are_bounded() -> None:
    near = NOW + 3.0
    request = status_request(TARGET, CREDS, "j1")
    pooled = Connection(ORIGIN, stream="pooled")
    run = FakeExecutor([CANNED["json"][0]], conn=pooled).run(
        exchange(ORIGIN, request, None, clock=clock, step=STEP, deadline=near, fresh=True)
    )
    assert run.ops[0] == Connect(ORIGIN, *HOST_PORT, near)
    assert not any(isinstance(op, Acquire) for op in run.ops)
    assert run.releases[0].connection is not pooled
    assert all(op.deadline == near for op in run.ops if isinstance(op, (SendBytes, Receive)))


HTTPS = Origin("https", "api.example", 8443)


def test_an_https_origin_starts_tls_on_the_new_connection() -> None:
    request = status_request(Target(HTTPS, ""), CREDS, "j1")
    executor = FakeExecutor([CANNED["json"][0]])
    run = executor.run(exchange(HTTPS, request, None, clock=clock, step=STEP, deadline=DEADLINE))
    assert run.error is None
    conn = executor.conn
    assert conn is not None
    assert run.ops[:3] == [
        Acquire(HTTPS, NOW + STEP),
        Connect(HTTPS, "api.example", 8443, NOW + STEP),
        StartTLS(conn, "api.example", NOW + STEP),
    ]
    assert conn.stream == ("tls", None)  # the transport swapped in its TLS stream
    assert run.releases == [Release(conn, True)]
    # A pooled connection already speaks TLS: no second handshake.
    again = executor.run(
        exchange(HTTPS, request, None, clock=clock, step=STEP, deadline=DEADLINE), Run()
    )
    assert not any(isinstance(op, (Connect, StartTLS)) for op in again.ops)


def test_a_failed_handshake_closes_the_connection_and_sent_nothing() -> None:
    untrusted = TLSVerificationError("certificate verify failed")
    request = status_request(Target(HTTPS, ""), CREDS, "j1")
    executor = FakeExecutor([CANNED["json"][0]], tls_error=untrusted)
    run = executor.run(exchange(HTTPS, request, None, clock=clock, step=STEP, deadline=DEADLINE))
    assert isinstance(run.error, ExchangeFailed)
    assert (run.error.error, run.error.sent) == (untrusted, False)
    assert run.releases == [Release(executor.conn, False)]
    assert run.sent == b""


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"HTTP/1.1 20",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n",
    ],
    ids=["eof", "partial-head", "short-body", "short-chunk", "no-last-chunk"],
)
@pytest.mark.parametrize("split", SPLITS)
def test_eof_and_truncation_are_remote_protocol_errors(raw: bytes, split: str) -> None:
    run = FakeExecutor(SPLITS[split](raw)).run(status_exchange())
    assert isinstance(run.error, ExchangeFailed)
    assert isinstance(run.error.error, RemoteProtocolError)
    assert run.error.sent is True
    assert str(run.error) == run.error.error.message
    assert [r.reuse for r in run.releases] == [False]


@pytest.mark.parametrize(
    "raw",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
    ],
)
def test_malformed_responses(raw: bytes) -> None:
    run = FakeExecutor([raw]).run(status_exchange())
    assert isinstance(run.error, ExchangeFailed)
    assert run.error.error.message.startswith("the server broke HTTP/1.1: ")
    # h11's own error is the cause, chained; and the failure is the error's.
    assert isinstance(run.error.error.__cause__, h11.RemoteProtocolError)
    assert run.error.__cause__ is run.error.error


def test_oversized_head_is_refused() -> None:
    raw = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * MAX_HEAD + b"\r\n\r\n{}"
    run = FakeExecutor([raw]).run(status_exchange())
    assert isinstance(run.error, ExchangeFailed)
    assert isinstance(run.error.error, RemoteProtocolError)
    assert [r.reuse for r in run.releases] == [False]


def test_head_just_under_the_limit_is_read() -> None:
    raw = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (MAX_HEAD - 200) + b"\r\nContent-Length: 0\r\n\r\n"
    run = FakeExecutor([raw]).run(status_exchange())
    assert run.value.status == 200


@pytest.mark.parametrize("status", [200, 500])
def test_oversized_small_body_is_cut_and_the_connection_dropped(status: int) -> None:
    body = b"e" * (MAX_SMALL_BODY + 300_000)
    run = FakeExecutor([response(status, body)]).run(status_exchange())
    assert run.value.truncated
    assert run.value.status == status
    assert MAX_SMALL_BODY < len(run.value.body) < len(body)
    assert body.startswith(run.value.body)
    assert [r.reuse for r in run.releases] == [False]


def test_body_exactly_at_the_limit_is_whole() -> None:
    body = b"e" * MAX_SMALL_BODY
    run = FakeExecutor([response(200, body)]).run(status_exchange())
    assert (run.value.truncated, run.value.body == body) == (False, True)


def collecting_sink(into: bytearray) -> Any:
    def sink(data: bytes) -> Generator[Op, Any, None]:
        into.extend(data)
        yield OutputWrite(data)

    return sink


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("split", SPLITS)
def test_sink_streams_a_2xx_body_of_any_size(chunked: bool, split: str) -> None:
    video = bytes(range(256)) * 5000  # past MAX_SMALL_BODY: a sink is not bounded
    raw = response(200, video, chunked=chunked)
    seen = bytearray()
    request = result_request(TARGET, CREDS, "j1")
    chunks = (
        SPLITS[split](raw)
        if split == "whole"
        else [raw[:100], *SPLITS[split](raw[100:300]), raw[300:]]
    )
    run = FakeExecutor(chunks).run(
        exchange(
            ORIGIN,
            request,
            None,
            clock=clock,
            step=STEP,
            deadline=DEADLINE,
            sink=collecting_sink(seen),
        )
    )
    assert run.value == Response(200, run.value.headers, b"")
    assert bytes(seen) == video == bytes(run.written)
    assert [r.reuse for r in run.releases] == [True]
    check_request_sent(run, b"/v1/jobs/j1/content")


def test_sink_is_not_used_for_error_bodies() -> None:
    seen = bytearray()
    run = FakeExecutor([response(404, b"gone")]).run(status_exchange(sink=collecting_sink(seen)))
    assert (run.value.status, run.value.body, bytes(seen)) == (404, b"gone", b"")


# -- bodies ------------------------------------------------------------------------------------


def submit_parts(
    files: tuple[FileInput, ...], infos: dict[str, FileInfo]
) -> tuple[h11.Request, BodyPlan]:
    form = SubmitForm(models.custom("m"), (("prompt", "hi"),), files)
    body = plan_body(form, infos, "B")
    return submit_request(TARGET, CREDS, "/v1/jobs/m", body), body


def submit_exchange(request: h11.Request, body: BodyPlan) -> Generator[Op, Any, Response]:
    return exchange(ORIGIN, request, body, clock=clock, step=STEP, deadline=DEADLINE, fresh=True)


def expected_body() -> bytes:
    return (
        b'--B\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhi\r\n'
        b'--B\r\nContent-Disposition: form-data; name="data"; filename="v.mp4"\r\n'
        b"Content-Type: video/mp4\r\n\r\nVIDEO\r\n--B--\r\n"
    )


@pytest.mark.parametrize("kind", ["memory", "region"])
def test_submit_with_content_length(kind: str) -> None:
    source: Any = b"VIDEO" if kind == "memory" else io.BytesIO(b"VIDEO")
    infos = {} if kind == "memory" else {"data": FileInfo(5)}
    request, body = submit_parts((FileInput("data", source, "v.mp4", "video/mp4"),), infos)
    run = FakeExecutor([CANNED["json"][0]]).run(submit_exchange(request, body))
    head, sent = parse_request(bytes(run.sent))
    assert sent == expected_body()
    assert (b"content-length", str(len(sent)).encode()) in head.headers
    sends = [op for op in run.ops if isinstance(op, (SendBytes, SendFile))]
    if kind == "region":
        (region_op,) = [op for op in sends if isinstance(op, SendFile)]
        # The region passes through h11 untouched, for sendfile, with the whole job's deadline.
        assert isinstance(region_op.region, FileRegion)
        assert region_op.deadline == DEADLINE
    assert all(op.data for op in sends if isinstance(op, SendBytes))
    assert run.releases == [Release(run.releases[0].connection, True)]


def test_submit_of_unknown_length_is_chunked_from_reads() -> None:
    video = b"V" * (READ_FILE_SIZE + 10)
    file = FileInput("data", io.BytesIO(video), "v.mp4", "video/mp4")
    request, body = submit_parts((file,), {"data": FileInfo(None)})
    run = FakeExecutor([CANNED["json"][0]]).run(submit_exchange(request, body))
    head, sent = parse_request(bytes(run.sent))
    assert (b"transfer-encoding", b"chunked") in head.headers
    assert sent == expected_body().replace(b"VIDEO", video)
    reads = [op for op in run.ops if isinstance(op, ReadFile)]
    assert [op.max_bytes for op in reads] == [READ_FILE_SIZE] * 3
    assert run.value.status == 200


def test_chunked_body_with_a_known_region_and_an_empty_one() -> None:
    files = (
        FileInput("data", io.BytesIO(b"VIDEO"), "v.mp4", "video/mp4"),
        FileInput("start", io.BytesIO(b""), "s.png", "image/png"),
        FileInput("end", io.BytesIO(b"END"), "e.png", "image/png"),
    )
    infos = {"data": FileInfo(5), "start": FileInfo(0), "end": FileInfo(None)}
    request, body = submit_parts(files, infos)
    run = FakeExecutor([CANNED["json"][0]]).run(submit_exchange(request, body))
    _, sent = parse_request(bytes(run.sent))
    assert b"VIDEO\r\n" in sent
    assert sent.endswith(b"END\r\n--B--\r\n")


def big_submit() -> tuple[h11.Request, BodyPlan]:
    return submit_parts((FileInput("data", b"V" * 100_000, "v.mp4", "video/mp4"),), {})


EARLY_413 = response(413, b'{"detail":"Request Entity Too Large"}', ("Connection", "close"))


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("error", [NetworkError("broken pipe"), IOTimeout("send stalled")])
def test_early_response_wins_over_the_broken_upload(split: str, error: NetworkError) -> None:
    request, body = big_submit()
    executor = FakeExecutor(SPLITS[split](EARLY_413), fail_send_after=50_000, send_error=error)
    run = executor.run(submit_exchange(request, body))
    assert run.error is None
    assert (run.value.status, run.value.body) == (413, b'{"detail":"Request Entity Too Large"}')
    assert [r.reuse for r in run.releases] == [False]
    receives = [op for op in run.ops if isinstance(op, Receive)]
    assert all(op.deadline == NOW + EARLY_RESPONSE_WINDOW for op in receives)


def test_early_response_to_a_region_upload() -> None:
    file = FileInput("data", io.BytesIO(b"V" * 100_000), "v.mp4", "video/mp4")
    request, body = submit_parts((file,), {"data": FileInfo(100_000)})
    run = FakeExecutor([EARLY_413], fail_send_after=1000).run(submit_exchange(request, body))
    assert run.value.status == 413


def test_failed_upload_without_a_response_reports_the_send_error() -> None:
    request, body = big_submit()
    error = NetworkError("connection reset by peer")
    run = FakeExecutor([], fail_send_after=10, send_error=error).run(submit_exchange(request, body))
    assert isinstance(run.error, ExchangeFailed)
    assert run.error.error is error
    assert run.error.sent is True
    assert [r.reuse for r in run.releases] == [False]


def test_failed_upload_with_a_garbled_answer_reports_the_send_error() -> None:
    request, body = big_submit()
    error = NetworkError("reset")
    executor = FakeExecutor([b"HTTP/1.1 41"], fail_send_after=10, send_error=error)
    run = executor.run(submit_exchange(request, body))
    assert isinstance(run.error, ExchangeFailed)
    assert run.error.error is error is run.error.__cause__


def test_connect_failure_sent_nothing() -> None:
    refused = NetworkError("connection refused")
    run = FakeExecutor(connect_error=refused).run(status_exchange())
    assert isinstance(run.error, ExchangeFailed)
    assert (run.error.error, run.error.sent) == (refused, False)
    assert run.error.__cause__ is refused
    assert run.releases == []


def test_receive_timeout() -> None:
    timeout = IOTimeout("no answer")
    run = FakeExecutor(receive_error=timeout).run(status_exchange())
    assert isinstance(run.error, ExchangeFailed)
    assert (run.error.error, run.error.sent) == (timeout, True)
    assert [r.reuse for r in run.releases] == [False]


def test_other_exceptions_release_the_connection_and_propagate() -> None:
    class Boom(Exception):
        pass

    def sink(data: bytes) -> Generator[Op, Any, None]:
        raise Boom
        yield  # pragma: no cover

    run = FakeExecutor([response(200, b"data")]).run(status_exchange(sink=sink))
    assert isinstance(run.error, Boom)
    assert [r.reuse for r in run.releases] == [False]


# -- closing the generator (a cancelled transport) ---------------------------------------------


@pytest.mark.parametrize("stop_at", [Acquire, Connect, SendBytes, Receive, Release])
def test_generator_exit_leaves_cleanly(stop_at: type) -> None:
    gen = status_exchange()
    executor = FakeExecutor([CANNED["json"][0]])
    run = Run()
    op = gen.send(None)
    while not isinstance(op, stop_at):
        reply, _ = executor.answer(op, run)
        op = gen.send(reply)
    gen.close()  # must not yield (RuntimeError) nor raise
    with pytest.raises(StopIteration):
        gen.send(None)


def test_generator_exit_while_releasing_after_an_error() -> None:
    gen = status_exchange()
    conn = Connection(ORIGIN, stream=None)
    assert isinstance(gen.send(None), Acquire)
    assert isinstance(gen.send(None), Connect)
    assert isinstance(gen.send(conn), SendBytes)
    assert isinstance(gen.send(None), Receive)
    release = gen.throw(IOTimeout("slow"))
    assert release == Release(conn, False)
    gen.close()


# -- misuse by a caller ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "segments",
    [(b"x" * 20,), (FileRegion(FileInput("d", io.BytesIO(b"y" * 20), "d", "a/b"), 0, 20),)],
    ids=["bytes", "region"],
)
def test_a_plan_longer_than_its_length_is_a_local_error(segments: tuple[Any, ...]) -> None:
    body = BodyPlan(segments, "multipart/form-data; boundary=B", 10)
    request = submit_request(TARGET, CREDS, "/v1/jobs/m", body)
    run = FakeExecutor([]).run(submit_exchange(request, body))
    assert isinstance(run.error, LocalProtocolError)
    assert not isinstance(run.error, DecartSDKError)  # a bug, not a service error
    assert "content_length" in run.error.message
    assert isinstance(run.error.__cause__, h11.LocalProtocolError)  # what h11 refused
    assert [r.reuse for r in run.releases] == [False]


def test_a_connection_still_in_use_is_a_local_error() -> None:
    conn = Connection(ORIGIN, stream=None)
    conn.http.send(status_request(TARGET, CREDS, "other"))  # an exchange never finished
    run = FakeExecutor([], conn=conn).run(status_exchange())
    assert isinstance(run.error, LocalProtocolError)
    assert run.releases == [Release(conn, False)]
