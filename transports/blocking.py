"""The blocking client: ``with DecartClient() as client: client.queue...``, for threads and
scripts. Thread-safe: one client serves many threads, which share its kept-alive connections.

This module is the blocking I/O (:class:`BlockingIO`): plain sockets waited on with ``poll()``
until each op's deadline, ``sendfile`` for uploads over plain TCP, the standard ``ssl``
module for TLS. The client around it is ``_sync_client``, generated from the async one.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import math
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import IO, TypeVar

from decart_proto import IOTimeout

from . import _exports
from ._common import Address, readable_now
from ._exports import *  # noqa: F403 - the names of the Queue API docs' imports
from ._sync_client import SyncDecartClient, SyncIO
from ._sync_client import SyncQueueClient as QueueClient
from ._sync_pool import SyncEvent
from ._threads import in_daemon_thread

__all__ = ["DecartClient", "QueueClient"]
__all__ += _exports.__all__

T = TypeVar("T")

# Plain sockets wait with poll() and move bytes with MSG_DONTWAIT on a socket left in blocking
# mode. A socket with a timeout would cost more system calls per op: CPython polls before
# every send and recv of a timed socket, and settimeout() itself is an ioctl. TLS sockets keep
# the timeout (an SSL read may need more bytes than one poll() announced).
_DONTWAIT: int = getattr(socket, "MSG_DONTWAIT", 0)
_DIRECT = bool(_DONTWAIT) and hasattr(select, "poll")
_SENDFILE: Callable[[int, int, int, int], int] | None = getattr(os, "sendfile", None)
# os.sendfile's answers for "this file or socket cannot be sent this way".
_NO_SENDFILE = frozenset(
    getattr(errno, name)
    for name in ("EINVAL", "ENOSYS", "EOPNOTSUPP", "ENOTSUP", "ENOTSOCK")
    if hasattr(errno, name)
)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise IOTimeout("deadline passed")
    return left


def _wait(poller: select.poll, deadline: float) -> None:
    left = deadline - time.monotonic()
    # poll() counts whole milliseconds: round up, never wake before the deadline.
    if left <= 0 or not poller.poll(math.ceil(left * 1000)):
        raise IOTimeout("deadline passed")


class _Stream:
    """A connected socket, plain or TLS, and how to wait on it until a deadline."""

    __slots__ = ("direct", "more", "readable", "sock", "writable")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.direct = _DIRECT and not isinstance(sock, ssl.SSLSocket)
        # The last read filled its buffer, so more is probably waiting: read before polling.
        self.more = False
        if self.direct:
            sock.settimeout(None)
            self.readable = select.poll()
            self.readable.register(sock, select.POLLIN)
            self.writable = select.poll()
            self.writable.register(sock, select.POLLOUT)

    def recv(self, max_bytes: int, deadline: float) -> bytes:
        sock = self.sock
        if not self.direct:
            sock.settimeout(_remaining(deadline))
            return sock.recv(max_bytes)
        while True:
            if self.more:
                try:
                    data = sock.recv(max_bytes, _DONTWAIT)
                except BlockingIOError:
                    pass
                else:
                    self.more = len(data) == max_bytes
                    return data
            _wait(self.readable, deadline)
            self.more = True

    def send(self, data: bytes | memoryview, deadline: float) -> None:
        sock = self.sock
        if not self.direct:
            sock.settimeout(_remaining(deadline))
            sock.sendall(data)
            return
        if deadline <= time.monotonic():
            raise IOTimeout("deadline passed")
        try:
            sent = sock.send(data, _DONTWAIT)
        except BlockingIOError:
            sent = 0
        if sent == len(data):
            return
        view = memoryview(data)
        while sent < len(view):
            _wait(self.writable, deadline)
            with contextlib.suppress(BlockingIOError):
                sent += sock.send(view[sent:], _DONTWAIT)

    def sendfile(self, fd: int, offset: int, count: int, deadline: float) -> int | None:
        """os.sendfile (the kernel copies from the page cache) on the socket made non-blocking
        for the while, with poll() waits until the deadline between pieces: however slowly
        the server reads, the call ends on time (socket.sendfile would give each wait the whole
        timeout). None: not possible here."""
        if not self.direct or _SENDFILE is None:
            return None
        sock = self.sock
        out = sock.fileno()
        sent = 0
        sock.setblocking(False)
        try:
            while sent < count:
                if time.monotonic() >= deadline:
                    raise IOTimeout("deadline passed")
                try:
                    n = _SENDFILE(out, fd, offset + sent, count - sent)
                except BlockingIOError:
                    _wait(self.writable, deadline)
                    continue
                except OSError as exc:
                    if sent or exc.errno not in _NO_SENDFILE:
                        raise
                    return None  # not for this file (or system)
                if not n:
                    break  # the file ended early
                sent += n
        finally:
            sock.setblocking(True)
        return sent

    def stale(self) -> bool:
        if self.direct:
            try:
                return bool(self.readable.poll(0))
            except OSError:
                return True
        return readable_now(self.sock.fileno())


class _Event(SyncEvent):
    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = threading.Event()

    def set(self) -> None:
        self.event.set()

    def wait(self, deadline: float) -> bool:
        return self.event.wait(max(0.0, deadline - time.monotonic()))


class BlockingIO(SyncIO[_Stream]):
    name = "blocking"

    def clock(self) -> float:
        return time.monotonic()

    def connect(self, address: Address, deadline: float) -> _Stream:
        family, kind, proto, _, sockaddr = address
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(_remaining(deadline))
            sock.connect(sockaddr)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except BaseException:
            sock.close()
            raise
        return _Stream(sock)

    def start_tls(
        self, stream: _Stream, context: ssl.SSLContext, server_hostname: str, deadline: float
    ) -> _Stream:
        stream.sock.settimeout(_remaining(deadline))
        return _Stream(context.wrap_socket(stream.sock, server_hostname=server_hostname))

    def send(self, stream: _Stream, data: bytes | memoryview, deadline: float) -> None:
        stream.send(data, deadline)

    def sendfile(
        self, stream: _Stream, file: IO[bytes], offset: int, count: int, deadline: float
    ) -> int | None:
        return stream.sendfile(file.fileno(), offset, count, deadline)

    def receive(self, stream: _Stream, max_bytes: int, deadline: float) -> bytes:
        return stream.recv(max_bytes, deadline)

    def sleep_until(self, until: float) -> None:
        time.sleep(max(0.0, until - time.monotonic()))

    def run_in_thread(self, deadline: float, call: Callable[[], T]) -> T:
        try:
            return in_daemon_thread(call).result(timeout=_remaining(deadline))
        except concurrent.futures.TimeoutError:
            raise IOTimeout("no answer from the thread before the deadline") from None

    def is_stale(self, stream: _Stream) -> bool:
        return stream.stale()

    def close(self, stream: _Stream) -> None:
        with contextlib.suppress(OSError):
            stream.sock.close()

    def event(self) -> SyncEvent:
        return _Event()


class DecartClient(SyncDecartClient[_Stream]):
    """A Decart Queue API client for threads and scripts. ``with DecartClient() as client:``
    closes its connections on exit."""

    def _make_io(self) -> SyncIO[_Stream]:
        return BlockingIO()
