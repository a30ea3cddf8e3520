"""uvicorn's httptools protocol, with the connection's transport visible to the app, and a
limit on how long a client may keep the connection silent.

The emulator must be able to close a connection without sending a byte, or in the middle of a
body; plain ASGI has no way to say that. ASGI's ``extensions`` scope key is the sanctioned place
for server-specific capabilities, so this protocol adds the transport there for every request.
Everything else is uvicorn's own HTTP/1.1 handling (httptools, i.e. llhttp).

uvicorn bounds only the idle time between requests (its keep-alive timeout). A connection that
never sends a head, stops in the middle of one, or stops sending a body the app answered
without reading, it keeps forever. Here, when ``read_timeout`` passes without a byte from the
client while the connection is the client's to move, it is closed. While an app is handling a
request the connection is left to it: the app's own body reads time out (``_wire.py``).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ._wire import TRANSPORT_EXTENSION

__all__ = ["TransportExposingProtocol", "protocol_with_read_timeout"]


class TransportExposingProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that adds ``scope["extensions"][TRANSPORT_EXTENSION]`` and closes a
    connection left silent for ``read_timeout`` seconds (see the module docstring)."""

    read_timeout: float = 30.0
    _last_received = 0.0
    _silence_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._last_received = self.loop.time()
        self._watch(self._last_received)

    def data_received(self, data: bytes) -> None:
        # Only the time is noted when a timer is running: when it fires, it waits again.
        self._last_received = self.loop.time()
        if self._silence_timer is None:
            self._watch(self._last_received)
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._silence_timer is not None:
            self._silence_timer.cancel()
            self._silence_timer = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {TRANSPORT_EXTENSION: self.transport}  # type: ignore[dict-item,unused-ignore]

    def _watch(self, since: float) -> None:
        self._silence_timer = self.loop.call_at(since + self.read_timeout, self._on_silence)

    def _on_silence(self) -> None:
        self._silence_timer = None
        if self.transport.is_closing():
            return
        if self.loop.time() < self._last_received + self.read_timeout:
            self._watch(self._last_received)
            return
        app_has_it = self.cycle is not None and not self.cycle.response_complete
        idle_between_requests = self.timeout_keep_alive_task is not None
        if not (app_has_it or idle_between_requests):
            self.transport.close()
        # Otherwise no timer runs until the client sends again: the app times out its own body
        # reads, and uvicorn's keep-alive timer closes an idle connection.


def protocol_with_read_timeout(seconds: float) -> type[TransportExposingProtocol]:
    """The protocol class for one emulator: uvicorn makes it with its own arguments only."""
    return type(
        "TransportExposingProtocol", (TransportExposingProtocol,), {"read_timeout": seconds}
    )
