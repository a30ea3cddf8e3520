"""One HTTP/1.1 request and its response over a :class:`Connection`, on h11.

Written as a generator of primitive ops so that it runs on any transport. It owns the parts a
transport would otherwise get subtly wrong: keep-alive reuse only when both sides finished
cleanly, bounded heads and bodies, a response that arrives while the upload is still going
(a 401 or 413 sent before the server read the body), and a peer that closes mid-message.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import h11

from ._coding import coding_of
from ._errors import IOTimeout, LocalProtocolError, NetworkError, RemoteProtocolError
from ._multipart import BodyPlan, FileRegion
from ._ops import (
    MAX_HEAD,
    Acquire,
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
)
from ._proxy import Proxy, open_connection
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


@dataclass(frozen=True, slots=True)
class Response:
    """A response as h11 read it: ``headers`` with names lower-cased; ``body`` empty when the
    body went to the sink; ``truncated`` for an error body longer than ``MAX_SMALL_BODY``, of
    which only the start is here."""

    status: int
    headers: Headers
    body: bytes
    truncated: bool = False

    @property
    def coding(self) -> str:
        """The body's content coding ("" for none): ``body`` is as the server sent it."""
        return coding_of(self.headers)


class ExchangeFailed(Exception):
    """No response: ``error`` says why, ``sent`` whether any request byte may have left.
    ``stale`` says that the connection was a kept-alive one, and that the server closed or
    reset it before a single byte of an answer came: a server may close an idle connection at
    any moment, also just after the pool looked at it. Whether that is worth another try at
    once is not the exchange's to say."""

    def __init__(self, error: NetworkError, sent: bool, stale: bool = False) -> None:
        super().__init__(error.message)
        self.error = error
        self.sent = sent
        self.stale = stale


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
    proxy: Proxy | None = None,
) -> Generator[Op[S], Reply[S], Response]:
    """Send *request* with *body*, return the response. A 2xx body goes to *sink* when one is
    given (its head to *on_head* first); every other body is read into memory, bounded. *sent*
    hears how much of the body has gone out. Each step may take *step* seconds, and nothing
    may go past *deadline*. *fresh*: on a new connection, never a pooled one. *proxy*: the
    one the connection goes through (``_proxy.py``), None for none."""

    def soon() -> float:
        return min(deadline, clock() + step)

    try:
        conn: Connection[S] = yield from _open(origin, soon(), fresh, proxy)
    except NetworkError as exc:
        raise ExchangeFailed(exc, sent=False) from exc
    try:
        try:
            head = _send(conn, request)
            if body is None:
                # A bodiless request ends with its head; h11 must be told, or the connection
                # never counts as finished and is never reused. (This sends no bytes.)
                _send(conn, _END)
            yield SendBytes(conn, head, soon())
            if body is not None:
                yield from _send_body(conn, body, soon, deadline, sent)
        except NetworkError as exc:
            window = min(deadline, clock() + EARLY_RESPONSE_WINDOW)
            response = yield from _early_response(conn, exc, window)
        else:
            try:
                response = yield from _receive(conn, soon, sink, on_head)
            except NetworkError as exc:
                raise ExchangeFailed(exc, sent=True) from exc
    except GeneratorExit:
        # Closed by a cancelled transport: it closes the connections it still holds.
        raise
    except ExchangeFailed as failed:
        failed.stale = _closed_unanswered(conn, failed.error)
        yield Release(conn, reuse=False)
        raise
    except BaseException:
        yield Release(conn, reuse=False)
        raise
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


def _closed_unanswered(conn: Connection[S], error: NetworkError) -> bool:
    """Whether *conn* had served an exchange before and ended (or was reset) with nothing of
    an answer in it: h11 still waits for the response's first byte (a timeout is no end)."""
    http = conn.http
    return (
        conn.exchanges > 0
        and http.their_state is h11.SEND_RESPONSE
        and not http.trailing_data[0]
        and not isinstance(error, IOTimeout)
    )


def _open(
    origin: Origin, deadline: float, fresh: bool, proxy: Proxy | None
) -> Generator[Op[S], Reply[S], Connection[S]]:
    """A connection to *origin* (through *proxy*): an idle one from the pool unless *fresh*
    is asked for, else a new one, with TLS when the origin is https. Connecting, a proxy's
    tunnel and the handshake share one step's *deadline*."""
    if not fresh:
        pooled = yield Acquire(origin, deadline, proxy)
        if pooled is not None:
            assert isinstance(pooled, Connection), pooled
            return pooled
    return (yield from open_connection(origin, proxy, deadline))


def _early_response(
    conn: Connection[S], failure: NetworkError, window: float
) -> Generator[Op[S], Reply[S], Response]:
    """The server may have answered before reading the whole body, then closed: that answer
    (a 401, a 413) is worth more than the broken pipe it caused. Without one, the send's
    failure is the exchange's."""
    try:
        return (yield from _receive(conn, lambda: window, None))
    except NetworkError:
        raise ExchangeFailed(failure, sent=True) from failure


def _send(conn: Connection[S], event: h11.Event) -> bytes:
    try:
        data = conn.http.send(event)
    except h11.LocalProtocolError as exc:
        raise _misused(exc) from exc
    assert data is not None  # None only for ConnectionClosed, which is never sent
    return data


def _send_region(conn: Connection[S], region: FileRegion) -> list[Any]:
    # h11 frames the region and hands it back untouched, so the transport can sendfile.
    try:
        parts = conn.http.send_with_data_passthrough(h11.Data(data=region))  # type: ignore[arg-type]
    except h11.LocalProtocolError as exc:
        raise _misused(exc) from exc
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
    while True:
        data = yield Receive(conn, RECEIVE_SIZE, soon())
        assert isinstance(data, bytes), data
        http.receive_data(data)
        if not data and head is None:
            # Said here because h11's words for it name its own states, not the problem. (h11
            # keeps what came of a head, which tells a connection that ended with nothing in
            # it from one cut short.)
            raise RemoteProtocolError(NO_RESPONSE)
        received += len(data)
        while True:
            try:
                # Any: exact-type tests below do what isinstance() would, but mypy cannot see it.
                event: Any = http.next_event()
            except h11.ProtocolError as exc:
                raise RemoteProtocolError(f"the server broke HTTP/1.1: {exc}") from exc
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
