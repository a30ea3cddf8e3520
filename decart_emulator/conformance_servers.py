"""Small servers on 127.0.0.1 for what the emulator cannot do: read an upload slowly, reset a
connection, never answer, or present a certificate the client must refuse. Each counts the
connections it accepted and those it saw the client close, and stops on exit:
``with SlowReader(None) as server:`` serves on ``server.port``."""

from __future__ import annotations

import socket
import ssl
import struct
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Misbehaving", "SlowReader", "read_request_head"]


def read_request_head(conn: socket.socket) -> bool:
    """Read from *conn* until a request's head is in (its body, if any, left unread); False if
    the client closed first."""
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        head += chunk
    return True


class _Server:
    """Accepts on 127.0.0.1 in a thread, and runs :meth:`serve` for each connection in another
    (over TLS with *tls*, a server context)."""

    def __init__(self, tls: ssl.SSLContext | None, receive_buffer: int | None = None) -> None:
        self.tls = tls
        self.listener = socket.socket()
        if receive_buffer is not None:
            # Set before listen(), so accepted sockets inherit it: the kernel must not swallow
            # an upload on the server's behalf.
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.listener.settimeout(0.1)
        self.port: int = self.listener.getsockname()[1]
        self.accepted = 0  # connections accepted
        self.closed_by_client = 0  # connections the client closed (seen as an end of stream)
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def url(self, scheme: str) -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> Any:
        self._start(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)
        self.listener.close()

    def _start(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            self._start(self._serve_one, conn)

    def _serve_one(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(1.0)
            try:
                if self.tls is not None:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                self.serve(conn)
            except OSError:  # the client gave up and closed, or refused the certificate
                return

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _client_closed(self, conn: socket.socket) -> bool:
        """Whether the client has closed *conn* (waits up to its timeout)."""
        try:
            closed = conn.recv(65536) == b""
        except (TimeoutError, ssl.SSLWantReadError):
            return False
        if closed:
            self.closed_by_client += 1
        return closed


class SlowReader(_Server):
    """Reads *piece* bytes every *pace* seconds from each connection and never answers: an
    upload to it moves, slowly, so only a deadline that counts the whole call (not each wait
    on the socket) ends it."""

    def __init__(self, tls: ssl.SSLContext | None, piece: int = 256 * 1024, pace: float = 0.1):
        super().__init__(tls, receive_buffer=piece)
        self.piece = piece
        self.pace = pace

    def serve(self, conn: socket.socket) -> None:
        while not self.stopping.wait(self.pace):
            got = 0
            while got < self.piece:  # a TLS recv() gives at most one record
                try:
                    data = conn.recv(self.piece - got)
                except (TimeoutError, ssl.SSLWantReadError):
                    break
                if not data:
                    self.closed_by_client += 1
                    return
                got += len(data)


class Misbehaving(_Server):
    """A server that does one thing wrong with every connection (*how*):

    - ``"reset"``: reads the request's head, then resets the connection (RST, not FIN);
    - ``"silent"``: accepts, then never answers (a request, or a TLS handshake, stalls);
    - ``"handshake"``: (with *tls*) presents its certificate and closes once the client
      refuses it."""

    def __init__(self, how: str, tls: ssl.SSLContext | None = None) -> None:
        if how not in ("reset", "silent", "handshake"):
            raise ValueError(f"unknown misbehaviour {how!r}")
        if (how == "handshake") != (tls is not None):
            raise ValueError("a TLS context goes with 'handshake', and only with it")
        super().__init__(tls)
        self.how = how

    def serve(self, conn: socket.socket) -> None:
        if self.how == "reset":
            if read_request_head(conn):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        while not self.stopping.is_set() and not self._client_closed(conn):
            pass  # "silent", or the handshake done and the client still there
