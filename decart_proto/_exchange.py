"""One HTTP/1.1 request and its response over a :class:`Connection`, on h11.

Written as a generator of primitive ops so that it runs on any transport. It owns the parts a
transport would otherwise get subtly wrong: keep-alive reuse only when both sides finished
cleanly, bounded heads and bodies, a response that arrives while the upload is still going
(a 401 or 413 sent before the server read the body), and a peer that closes mid-message.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any, TypeVar

import h11

from ._coding import coding_of
from ._errors import LocalProtocolError, NetworkError, RemoteProtocolError
from ._multipart import BodyPlan, FileRegion
from ._ops import (
    MAX_HEAD,
    Acquire,
    Connect,
    Connection,
    Op,
    OutputWrite,
    Progress,
    ReadFile,
    Receive,
    Release,
    Reply,
    SendBytes,
    SendFile,
    StartTLS,
)
from ._plain_head import PlainHead, read_fields, read_plain_head
from ._requests import Origin
from ._responses import MAX_SMALL_BODY

__all__ = ["ExchangeFailed", "Response", "exchange"]

S = TypeVar("S")

# 64 KiB stays under glibc's mmap threshold: 256 KiB reads were mapped and unmapped per chunk
# and cut download throughput by 3x (benchmarks/bench_download.py, docs/benchmarks.md).
RECEIVE_SIZE = 64 * 1024
READ_FILE_SIZE = 256 * 1024
# h11 never alters an event it is given: one end-of-message serves every request.
_END = h11.EndOfMessage()
# After a send fails, how long to look for a response the server sent before closing.
EARLY_RESPONSE_WINDOW = 5.0


Headers = tuple[tuple[bytes, bytes], ...]


class Response:
    """A response: ``headers`` as h11 gives them (names lower-cased); ``body`` empty when the
    body went to the sink; ``truncated`` for an error body longer than ``MAX_SMALL_BODY``, of
    which only the start is here.

    A plain answer's headers are read from its header lines only when asked for: a status
    poll's 2xx answer never needs them, and a server behind a CDN sends a dozen."""

    __slots__ = ("_fields", "_headers", "body", "status", "truncated")

    def __init__(
        self,
        status: int,
        headers: Headers | None,
        body: bytes,
        truncated: bool = False,
        *,
        fields: bytes = b"",
    ) -> None:
        self.status = status
        self._headers = headers
        self._fields = fields  # read when headers is None
        self.body = body
        self.truncated = truncated

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = read_fields(self._fields)
        return self._headers

    @property
    def coding(self) -> str:
        """The body's content coding ("" for none): ``body`` is as the server sent it. A plain
        answer has none (``_plain_head`` leaves those with one to h11), so its headers need
        not be read to say so."""
        return "" if self._headers is None else coding_of(self._headers)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        mine = (self.status, self.headers, self.body, self.truncated)
        return mine == (other.status, other.headers, other.body, other.truncated)

    __hash__ = None  # type: ignore[assignment]  # compared by value, and not immutable

    def __repr__(self) -> str:
        return (
            f"Response(status={self.status!r}, headers={self.headers!r}, body={self.body!r}, "
            f"truncated={self.truncated!r})"
        )


class ExchangeFailed(Exception):
    """No response: ``error`` says why, ``sent`` whether any request byte may have left.
    ``stale``: a status poll on a kept-alive connection that the server had closed (it ended
    or was reset with no answer), which is worth one more try at once on a new connection."""

    def __init__(self, error: NetworkError, sent: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.sent = sent
        self.stale = False


NO_RESPONSE = "the server closed the connection without a response"


# What the exchange's hooks may yield: ops a transport answers with None.
HookOps = Generator[OutputWrite | Progress, object, None]
# Given each piece of a 2xx body that goes to a sink (a download).
Sink = Callable[[bytes], HookOps]
# Told how many payload bytes of the body just went out (for upload progress).
Sent = Callable[[int], HookOps]
# Told the head of a 2xx response whose body goes to the sink (for download progress).
Head = Callable[[h11.Response], None]
# With a Sent hook, file regions go out in pieces of at most this size, so that progress is
# reported while a large file is sent; without one, a region is one sendfile.
PROGRESS_PIECE = 8 * 1024 * 1024
Clock = Callable[[], float]


def exchange(
    origin: Origin,
    request: h11.Request,
    body: BodyPlan | None,
    *,
    clock: Clock,
    step: float,
    deadline: float,
    fresh: bool = False,
    sink: Sink | None = None,
    sent: Sent | None = None,
    on_head: Head | None = None,
    wire: bytes | None = None,
) -> Generator[Op[S], Reply[S], Response]:
    """Send *request* with *body*, return the response. A 2xx body goes to *sink* when one is
    given (its head to *on_head* first); every other body is read into memory, bounded. *sent*
    hears how much of the body has gone out. Each step may take *step* seconds, and nothing
    may go past *deadline*.

    *wire* is the bodiless GET *request* as h11 writes it (``h11.Connection.send`` on a fresh
    client connection): given it, the request is sent as those bytes and a plain answer is
    read without h11 (``_plain_head.py``), its body streamed to the sink when it goes there;
    h11 is told the request only when something else comes back. Status polls and result
    downloads go this way."""

    def soon() -> float:
        return min(deadline, clock() + step)

    try:
        conn: Connection[S] = yield from _open(origin, soon(), fresh)
    except NetworkError as exc:
        raise ExchangeFailed(exc, sent=False) from None
    plain = wire is not None and body is None
    # Whether a plain answer leaves the connection reusable; None when h11 read the answer
    # (and its states say).
    plain_reuse: bool | None = None
    try:
        try:
            if plain:
                assert wire is not None
                yield SendBytes(conn, wire, soon())
            else:
                head = _send(conn, request)
                if body is None:
                    # A bodiless request ends with its head; h11 must be told, or the
                    # connection never counts as finished and is never reused. (This sends
                    # no bytes.)
                    _send(conn, _END)
                yield SendBytes(conn, head, soon())
                if body is not None:
                    yield from _send_body(conn, body, soon, deadline, sent)
        except NetworkError as exc:
            if plain:
                _tell_h11(conn, request)
            window = min(deadline, clock() + EARLY_RESPONSE_WINDOW)
            response = yield from _early_response(conn, exc, window)
        else:
            try:
                if plain:
                    response, plain_reuse = yield from _plain_receive(
                        conn, request, soon, sink, on_head
                    )
                else:
                    response = yield from _receive(conn, soon, sink, on_head)
            except NetworkError as exc:
                raise ExchangeFailed(exc, sent=True) from None
    except GeneratorExit:
        # Closed by a cancelled transport: it closes the connections it still holds.
        raise
    except ExchangeFailed as failed:
        # A server may close an idle connection at any moment, also just after the pool's
        # check: then the poll finds it closed or reset, with no answer (not a timeout, not a
        # malformed or cut-short answer).
        error = failed.error
        failed.stale = (
            plain
            and sink is None  # a download may have passed bytes on already
            and conn.exchanges > 0
            and (type(error) is NetworkError or error.message == NO_RESPONSE)
        )
        yield Release(conn, reuse=False)
        raise
    except BaseException:
        yield Release(conn, reuse=False)
        raise
    if plain_reuse is not None:
        # h11 never saw this exchange, and stays ready for the connection's next one.
        if plain_reuse:
            conn.exchanges += 1
        yield Release(conn, plain_reuse)
        return response
    # Bytes after the response were never asked for (we do not pipeline): a connection
    # carrying them is out of step, and its next "response" would answer the wrong request.
    http = conn.http
    reuse = (
        http.our_state is h11.DONE
        and http.their_state is h11.DONE
        and http.trailing_data == (b"", False)
    )
    if reuse:
        http.start_next_cycle()
        conn.exchanges += 1
    yield Release(conn, reuse)
    return response


def _open(
    origin: Origin, deadline: float, fresh: bool
) -> Generator[Op[S], Reply[S], Connection[S]]:
    """A connection to *origin*: an idle one from the pool unless *fresh* is asked for, else
    a new one, with TLS when the origin is https. Connecting and the handshake share one
    step's *deadline*."""
    if not fresh:
        pooled = yield Acquire(origin, deadline)
        if pooled is not None:
            assert isinstance(pooled, Connection), pooled
            return pooled
    conn = yield Connect(origin, origin.host, origin.port, deadline)
    assert isinstance(conn, Connection), conn
    if origin.tls:
        try:
            yield StartTLS(conn, origin.host, deadline)
        except NetworkError:
            yield Release(conn, reuse=False)
            raise
    return conn


def _plain_receive(
    conn: Connection[S],
    request: h11.Request,
    soon: Callable[[], float],
    sink: Sink | None,
    on_head: Head | None,
) -> Generator[Op[S], Reply[S], tuple[Response, bool | None]]:
    """The answer to a request sent as its wire bytes, and whether the connection may be
    reused. A plain answer is read here: whole when it is small, streamed to the sink when it
    is a 2xx going there. Anything else is h11's to read from the bytes received so far (the
    reuse is then None: h11's states say)."""
    data = yield Receive(conn, RECEIVE_SIZE, soon())
    assert isinstance(data, bytes), data
    got = [data]
    found = read_plain_head(data) if data else None
    if found is not None and found.body_start <= MAX_HEAD:
        if sink is not None and 200 <= found.status < 300:
            return (yield from _stream_plain(conn, found, data, soon, sink, on_head))
        want = found.body_start + found.body_length
        size = len(data)
        while size < want and found.body_length <= MAX_SMALL_BODY:
            data = yield Receive(conn, RECEIVE_SIZE, soon())
            assert isinstance(data, bytes), data
            got.append(data)
            if not data:
                break
            size += len(data)
        if size == want:  # whole, with nothing after it
            data = got[0] if len(got) == 1 else b"".join(got)
            body = bytes(data[found.body_start :])
            return Response(found.status, None, body, fields=found.fields), True
    # Not plain, not whole, or followed by more: h11 reads what came.
    _tell_h11(conn, request)
    return (yield from _receive(conn, soon, sink, on_head, got)), None


def _stream_plain(
    conn: Connection[S],
    found: PlainHead,
    data: bytes,
    soon: Callable[[], float],
    sink: Sink,
    on_head: Head | None,
) -> Generator[Op[S], Reply[S], tuple[Response, bool]]:
    """A plain 2xx body of known length, passed to the sink as it arrives: each chunk as the
    transport gave it (h11 would copy it twice)."""
    if on_head is not None:
        headers = list(read_fields(found.fields))
        on_head(h11.Response(status_code=found.status, headers=headers, reason=b""))
    length = found.body_length
    start = found.body_start
    piece = data[start : start + length]
    left = length - len(piece)
    extra = len(data) - start > length  # bytes after the body: never asked for
    if piece:
        yield from sink(piece)
    while left:
        more = yield Receive(conn, RECEIVE_SIZE, soon())
        assert isinstance(more, bytes), more
        data = more
        if not data:
            raise RemoteProtocolError(
                "the server broke HTTP/1.1: peer closed connection without sending complete "
                f"message body (received {length - left} bytes, expected {length})"
            )
        if len(data) > left:
            extra = True
            data = data[:left]
        left -= len(data)
        yield from sink(data)
    return Response(found.status, None, b"", fields=found.fields), not extra


def _tell_h11(conn: Connection[S], request: h11.Request) -> None:
    # The bytes h11 writes are the ones already sent as the request's wire form.
    _send(conn, request)
    _send(conn, _END)


def _early_response(
    conn: Connection[S], failure: NetworkError, window: float
) -> Generator[Op[S], Reply[S], Response]:
    """The server may have answered before reading the whole body, then closed: that answer
    (a 401, a 413) is worth more than the broken pipe it caused. Without one, the send's
    failure is the exchange's."""
    try:
        return (yield from _receive(conn, lambda: window, None))
    except NetworkError:
        raise ExchangeFailed(failure, sent=True) from None


def _send(conn: Connection[S], event: h11.Event) -> bytes:
    try:
        data = conn.http.send(event)
    except h11.LocalProtocolError as exc:
        raise _misused(exc) from None
    assert data is not None  # None only for ConnectionClosed, which is never sent
    return data


def _send_region(conn: Connection[S], region: FileRegion) -> list[Any]:
    # h11 frames the region and hands it back untouched, so the transport can sendfile.
    try:
        parts = conn.http.send_with_data_passthrough(h11.Data(data=region))  # type: ignore[arg-type]
    except h11.LocalProtocolError as exc:
        raise _misused(exc) from None
    assert parts is not None
    return parts


def _misused(exc: h11.LocalProtocolError) -> LocalProtocolError:
    # Our own heads are valid; h11 refuses only what a caller got wrong.
    return LocalProtocolError(
        f"h11 refused to send: {exc}. A body plan's segments must add up to its "
        "content_length, and a connection must come back from an exchange before the next."
    )


def _pieces(region: FileRegion, sent: Sent | None) -> list[FileRegion]:
    assert region.length is not None
    if sent is None or region.length <= PROGRESS_PIECE:
        return [region]
    return [
        FileRegion(region.file, region.offset + at, min(PROGRESS_PIECE, region.length - at))
        for at in range(0, region.length, PROGRESS_PIECE)
    ]


def _send_body(
    conn: Connection[S],
    body: BodyPlan,
    soon: Callable[[], float],
    deadline: float,
    sent: Sent | None,
) -> Generator[Op[S], Reply[S], None]:
    for segment in body.segments:
        if isinstance(segment, bytes):
            yield SendBytes(conn, _send(conn, h11.Data(data=segment)), soon())
            if sent is not None:
                yield from sent(len(segment))
        elif segment.length is not None:
            for piece in _pieces(segment, sent):
                for part in _send_region(conn, piece):
                    if isinstance(part, FileRegion):
                        yield SendFile(conn, part, deadline)
                    else:
                        yield SendBytes(conn, bytes(part), soon())
                if sent is not None:
                    yield from sent(len(piece))
        else:
            while True:
                # The writer of a pipe sets its pace: only the call's deadline bounds it.
                chunk = yield ReadFile(segment.file, READ_FILE_SIZE, deadline)
                assert isinstance(chunk, bytes), chunk
                if not chunk:
                    break
                yield SendBytes(conn, _send(conn, h11.Data(data=chunk)), soon())
                if sent is not None:
                    yield from sent(len(chunk))
    end = _send(conn, _END)
    if end:  # the last chunk of a chunked body; nothing with Content-Length
        yield SendBytes(conn, end, soon())


def _receive(
    conn: Connection[S],
    soon: Callable[[], float],
    sink: Sink | None,
    on_head: Head | None = None,
    received_already: list[bytes] | None = None,
) -> Generator[Op[S], Reply[S], Response]:
    # Starts by receiving: a connection's buffer is empty when an exchange begins (a fresh
    # one; a kept-alive one is pooled only without trailing bytes), so asking h11 first would
    # only hear NEED_DATA. Events are told apart by exact type, which is much cheaper than
    # isinstance() on h11's ABC-based events, and h11 never subclasses them.
    http = conn.http
    head: h11.Response | None = None
    streaming = False
    kept: list[bytes] = []
    size = 0
    received = 0
    backlog = received_already or []
    while True:
        if backlog:
            data = backlog.pop(0)
        else:
            reply = yield Receive(conn, RECEIVE_SIZE, soon())
            assert isinstance(reply, bytes), reply
            data = reply
        if not data and head is None:
            # Said here because h11's words for it name its own states, not the problem.
            raise RemoteProtocolError(NO_RESPONSE)
        received += len(data)
        http.receive_data(data)
        while True:
            try:
                # Any: exact-type tests below do what isinstance() would, but mypy cannot see it.
                event: Any = http.next_event()
            except h11.ProtocolError as exc:
                raise RemoteProtocolError(f"the server broke HTTP/1.1: {exc}") from None
            kind = type(event)
            if kind is h11.Data:
                # h11 hands each chunk over as a new bytearray that nothing else holds: passed
                # on as it is, not copied again (64 KiB per chunk of a download).
                if streaming:
                    assert sink is not None
                    yield from sink(event.data)
                    continue
                kept.append(event.data)
                size += len(event.data)
                if size > MAX_SMALL_BODY:
                    assert head is not None
                    # Stop reading: the connection is then not reused, so no need to drain it.
                    return Response(head.status_code, tuple(head.headers), b"".join(kept), True)
            elif event is h11.NEED_DATA:
                break
            elif kind is h11.Response:
                # h11 bounds a head that arrives in pieces; one that came whole in fewer bytes
                # than the bound is within it; only a bigger read needs the head measured
                # (name, value, ": " and CRLF per line).
                if received > MAX_HEAD and _head_size(event) > MAX_HEAD:
                    raise RemoteProtocolError(f"the response head is larger than {MAX_HEAD} bytes")
                head = event
                streaming = sink is not None and 200 <= event.status_code < 300
                if streaming and on_head is not None:
                    on_head(event)
            elif kind is h11.EndOfMessage:
                assert head is not None
                return Response(head.status_code, tuple(head.headers), b"".join(kept))
            else:
                # 100 Continue and the like: the real response follows. (ConnectionClosed
                # cannot come: an EOF before the head is refused above, and one after it
                # either ends a read-until-close body, returned above, or is a truncation h11
                # raises on.)
                assert kind is h11.InformationalResponse, event


def _head_size(head: h11.Response) -> int:
    return sum(len(k) + len(v) + 4 for k, v in head.headers) + len(head.reason)
