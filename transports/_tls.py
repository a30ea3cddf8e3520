"""TLS over an async transport's plain stream, through ``ssl.MemoryBIO``: the trio and asyncio
transports (uvloop included) both run it.

Why not ``trio.SSLStream``: its ``receive_some`` returns at most one TLS record (16 KiB), so a
download costs the driver sixteen steps per 256 KiB. Here one receive decrypts everything that
one socket read brought in. Why not asyncio's SSL transport: when a write fails (the server
answered early, a 401 before the upload's end, and closed) it closes the connection without
reading what had arrived, so that answer was lost; here the plain stream below keeps every byte
received, and the decryption of what the server sent goes on after our side's writes failed.

Everything else is the minimum an HTTPS client needs: a handshake, writes, reads, and an end of
stream that, as for HTTPS (RFC 9110 §9.8 leaves framing to HTTP), need not be announced by
``close_notify``.
"""

from __future__ import annotations

import ssl
from typing import Generic, Protocol, TypeVar

__all__ = ["TlsStream"]

_RECEIVE = 256 * 1024


class Transport(Protocol):
    """The plain stream underneath (``trio._Tcp``, ``asyncio._Stream``): bytes in and out by a
    deadline. ``receive`` gives every byte that arrived before it reports a broken connection."""

    async def send(self, data: bytes | memoryview, deadline: float) -> None: ...

    async def receive(self, max_bytes: int, deadline: float) -> bytes: ...

    def close(self) -> None: ...


T = TypeVar("T", bound=Transport)


class TlsStream(Generic[T]):
    """TLS over the plain stream *tcp* (kept as ``tcp``, of its own type, for its transport)."""

    def __init__(self, tcp: T, context: ssl.SSLContext, host: str) -> None:
        self.tcp = tcp
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._in, self._out, server_hostname=host)
        self._eof = False

    def close(self) -> None:
        self.tcp.close()

    def buffered(self) -> bool:
        """Whether bytes were received and not read: on an idle stream, bytes nobody asked for."""
        return self._tls.pending() > 0 or self._in.pending > 0

    async def _flush(self, deadline: float) -> None:
        data = self._out.read()
        if data:
            await self.tcp.send(data, deadline)

    async def _fill(self, deadline: float) -> None:
        data = await self.tcp.receive(_RECEIVE, deadline)
        if data:
            self._in.write(data)
        else:
            self._in.write_eof()

    async def handshake(self, deadline: float) -> None:
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._flush(deadline)
                await self._fill(deadline)
        await self._flush(deadline)

    async def send(self, data: bytes | memoryview, deadline: float) -> None:
        view = memoryview(data)
        while view:
            try:
                # A slice at a time: what is encrypted goes out before the next is, so a large
                # send neither holds its whole ciphertext nor encrypts past a broken connection.
                written = self._tls.write(view[:_RECEIVE])
            except ssl.SSLWantReadError:  # pragma: no cover - renegotiation (TLS <= 1.2)
                await self._flush(deadline)
                await self._fill(deadline)
                continue
            view = view[written:]
            if self._out.pending >= _RECEIVE:
                await self._flush(deadline)
        await self._flush(deadline)

    async def receive(self, max_bytes: int, deadline: float) -> bytes:
        """Up to *max_bytes* of plaintext: every record already received, or the next ones to
        arrive; ``b""`` at the end of the stream."""
        if self._eof:
            return b""
        while True:
            parts: list[bytes] = []
            size = 0
            try:
                while size < max_bytes:
                    part = self._tls.read(max_bytes - size)
                    if not part:
                        self._eof = True
                        break
                    parts.append(part)
                    size += len(part)
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                # close_notify, or the peer closed the socket without it: for HTTPS both are
                # the end of the stream (the HTTP framing says whether anything is missing).
                self._eof = True
            if parts or self._eof:
                return b"".join(parts)
            await self._flush(deadline)  # TLS 1.3 may have something to answer (a key update)
            await self._fill(deadline)
