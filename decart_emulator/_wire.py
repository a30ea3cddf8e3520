"""One HTTP exchange over ASGI: reading the request body, and sending the response the way the
request's fault (if any) says.

Plain ASGI cannot close a connection without answering: uvicorn answers 500 when an app returns
or raises before starting a response. The emulator's uvicorn protocol (``_protocol.py``) puts
the connection's transport in the scope under ``TRANSPORT_EXTENSION``; ``Exchange.drop``
closes it and then waits until uvicorn has seen the connection go, so that uvicorn neither
writes nor logs anything for it. Before dropping, the rest of the request body is read, because
closing a socket with unread received data makes the kernel send a reset instead of a clean
end of stream.

uvicorn waits for a request body as long as the client keeps the connection open, however
little it sends. Every read of the body here waits at most the read timeout for the next bytes;
past it, ``BodyTimeout`` ends the exchange, which the app answers with a 408 and a close.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, MutableMapping
from http import HTTPStatus
from pathlib import Path
from typing import Any

from ._faults import Fault

__all__ = [
    "TRANSPORT_EXTENSION",
    "BodyTimeout",
    "ClientGone",
    "ConnectionDropped",
    "Exchange",
]

TRANSPORT_EXTENSION = "decart_emulator.transport"
FILE_CHUNK_BYTES = 256 * 1024
DROP_WAIT_SECONDS = 5.0

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Recorder = Callable[[str, str, "int | None"], None]


class ConnectionDropped(Exception):
    """The emulator closed the connection on purpose; the exchange is over."""


class ClientGone(Exception):
    """The client closed the connection before its request was read whole."""


class BodyTimeout(Exception):
    """No byte of the request body arrived within the read timeout."""


class Exchange:
    """A request and its response; ``status`` is what was answered (None: nothing was).

    ``recorder`` is told ``(method, path, status)`` once: as the response starts (before the
    client can see it, so a test never observes a response that is not yet recorded), or with
    None when the exchange ends without one (``finish``).
    """

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        fault: Fault | None,
        recorder: Recorder | None = None,
        *,
        read_timeout: float,
    ) -> None:
        self.scope = scope
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.headers: dict[bytes, bytes] = {name.lower(): value for name, value in scope["headers"]}
        self.request_id = secrets.token_hex(8)
        self.fault = fault
        self.status: int | None = None
        self._receive = receive
        self._read_timeout = read_timeout
        self._send = send
        self._body_done = False
        self._sent = 0
        self._stalled = False
        self._recorder = recorder
        self._recorded = False

    def header(self, name: str) -> str | None:
        value = self.headers.get(name.encode("latin-1"))
        return None if value is None else value.decode("latin-1")

    # -- the request body --------------------------------------------------------------------

    async def body_chunks(self) -> AsyncIterator[bytes]:
        """The request body as it arrives; ClientGone if the client leaves first, BodyTimeout
        if it stops sending."""
        while not self._body_done:
            try:
                message = await asyncio.wait_for(self._receive(), self._read_timeout)
            except asyncio.TimeoutError:
                raise BodyTimeout from None
            if message["type"] == "http.disconnect":
                raise ClientGone
            self._body_done = not message.get("more_body", False)
            if message.get("body"):
                yield message["body"]

    async def read_body(self, limit: int) -> bytes:
        """The whole (small) body; ValueError past ``limit`` bytes."""
        body = bytearray()
        async for chunk in self.body_chunks():
            body += chunk
            if len(body) > limit:
                raise ValueError(f"body larger than {limit} bytes")
        return bytes(body)

    async def drain(self) -> None:
        async for _ in self.body_chunks():
            pass

    # -- the response ------------------------------------------------------------------------

    async def respond(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        await self._start(status, [("content-type", content_type), *headers], len(body))
        await self._body(body, more=False)

    async def respond_json(
        self, status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        await self.respond(status, body, "application/json", headers)

    async def respond_file(self, status: int, path: Path, content_type: str) -> None:
        """Stream a file from disk in chunks, with its size as Content-Length."""
        with path.open("rb") as file:
            size = path.stat().st_size
            await self._start(status, [("content-type", content_type)], size)
            remaining = size
            while True:
                chunk = file.read(min(FILE_CHUNK_BYTES, remaining))
                remaining -= len(chunk)
                last = remaining <= 0 or not chunk
                await self._body(chunk, more=not last)
                if last:
                    return

    async def respond_body_timeout(self) -> None:
        """408 and close: the connection is mid-body, it cannot carry another request."""
        detail = f"Request body not received in time: no bytes for {self._read_timeout:g} seconds"
        await self.respond_json(408, {"detail": detail}, [("connection", "close")])

    async def respond_scripted(self, fault: Fault) -> None:
        """The fault's own response; its body defaults to FastAPI's ``{"detail": ...}``."""
        assert fault.status is not None
        headers = fault.header_pairs()
        names = {name.lower() for name, _ in headers}
        body = fault.body
        if not isinstance(body, bytes):
            body = json.dumps({"detail": HTTPStatus(fault.status).phrase}).encode("utf-8")
            if "content-type" not in names:
                headers.append(("content-type", "application/json"))
        elif "content-type" not in names:
            headers.append(("content-type", "text/plain; charset=utf-8"))
        await self.drain()
        await self._start(fault.status, headers, len(body))
        await self._body(body, more=False)

    async def _start(self, status: int, headers: list[tuple[str, str]], length: int) -> None:
        if self.fault is not None and self.fault.close_after_handling:
            await self.drop()
        self.status = status
        self._record(status)
        raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        raw.append((b"content-length", str(length).encode("ascii")))
        raw.append((b"x-request-id", self.request_id.encode("ascii")))
        await self._send({"type": "http.response.start", "status": status, "headers": raw})

    async def _body(self, chunk: bytes, *, more: bool) -> None:
        """Send body bytes, stalling or cutting where the fault says."""
        fault = self.fault
        if fault is not None and fault.stall_body_seconds and not self._stalled:
            at = fault.stall_after_bytes
            if self._sent + len(chunk) >= at:
                head, chunk = chunk[: at - self._sent], chunk[at - self._sent :]
                await self._emit(head, more=True)
                self._stalled = True
                await asyncio.sleep(fault.stall_body_seconds)
        await self._emit(chunk, more=more)

    async def _emit(self, chunk: bytes, *, more: bool) -> None:
        cut = None if self.fault is None else self.fault.close_after_body_bytes
        if cut is not None and self._sent + len(chunk) > cut:
            head = chunk[: cut - self._sent]
            await self._send({"type": "http.response.body", "body": head, "more_body": True})
            self._sent += len(head)
            await self.drop()
        await self._send({"type": "http.response.body", "body": chunk, "more_body": more})
        self._sent += len(chunk)

    def _record(self, status: int | None) -> None:
        if self._recorder is not None and not self._recorded:
            self._recorded = True
            self._recorder(self.method, self.path, status)

    def finish(self) -> None:
        """Record an exchange that ended without a response (dropped, or the client left)."""
        self._record(None)

    async def drop(self) -> None:
        """Close the connection after what was already sent; raises ConnectionDropped."""
        transport = self.scope.get("extensions", {}).get(TRANSPORT_EXTENSION)
        if transport is None:
            raise RuntimeError("dropping a connection needs the emulator's uvicorn protocol")
        with contextlib.suppress(ClientGone, BodyTimeout, asyncio.TimeoutError):
            await asyncio.wait_for(self.drain(), DROP_WAIT_SECONDS)
        self.finish()
        transport.close()  # flushes the bytes already written, then ends the stream
        try:
            await asyncio.wait_for(self._until_disconnected(), DROP_WAIT_SECONDS)
        except asyncio.TimeoutError:
            transport.abort()
        raise ConnectionDropped

    async def _until_disconnected(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
