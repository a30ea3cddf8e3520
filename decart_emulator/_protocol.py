"""uvicorn's httptools protocol, with the connection's transport visible to the app.

The emulator must be able to close a connection without sending a byte, or in the middle of a
body; plain ASGI has no way to say that. ASGI's ``extensions`` scope key is the sanctioned place
for server-specific capabilities, so this protocol adds the transport there for every request.
Everything else is uvicorn's own HTTP/1.1 handling (httptools, i.e. llhttp).
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ._wire import TRANSPORT_EXTENSION

__all__ = ["TransportExposingProtocol"]


class TransportExposingProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that adds ``scope["extensions"][TRANSPORT_EXTENSION]``."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {TRANSPORT_EXTENSION: self.transport}  # type: ignore[dict-item]
