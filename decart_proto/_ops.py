"""The primitive I/O a driver asks of its transport, and the connection it hands around.

A transport answers each op by sending its reply into the driver generator (the reply each op
wants is in its docstring; :data:`Reply` is their union), or by throwing :class:`NetworkError`,
:class:`IOTimeout` or :class:`TLSVerificationError` into it for an I/O failure on a
connection, and, at ``OutputWrite`` / ``OutputReset``, :class:`OutputError` when the caller's
output cannot be written. A local input file that cannot be read raises its own error, which
the transport lets through unchanged: it is the caller's. Each op that can block carries an
absolute ``deadline`` on the driver's clock. This is the whole contract: a transport for
another event loop answers these ops and nothing else.

The ops are generic in ``S``, the transport's stream type: a transport runs a ``Driver[S]``
and finds its own stream type in ``op.connection.stream``, with no cast.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

import h11

from ._events import Event
from ._inputs import FileInfo, FileInput
from ._multipart import FileRegion
from ._requests import Origin
from ._responses import JobStatusResponse

if TYPE_CHECKING:
    from ._proxy import Proxy

__all__ = [
    "Acquire",
    "Connect",
    "Connection",
    "DriverGen",
    "Notify",
    "Op",
    "OutputReset",
    "OutputWrite",
    "ProbeFile",
    "Progress",
    "ReadFile",
    "Receive",
    "Release",
    "Reply",
    "Report",
    "SendBytes",
    "SendFile",
    "Sleep",
    "StartTLS",
]

S = TypeVar("S")
T = TypeVar("T")

# A response head larger than this is refused (h11's own default is 16 KiB; the API's heads are
# a few hundred bytes).
MAX_HEAD = 64 * 1024


def _new_http() -> h11.Connection:
    return h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)


@dataclass(eq=False)
class Connection(Generic[S]):
    """One transport stream and the HTTP/1.1 state that goes with it. Mutable, and compared by
    identity: the transport swaps ``stream`` for its TLS stream at :class:`StartTLS`, and the
    exchange counts ``exchanges`` (0: fresh, never used)."""

    origin: Origin  # the pool's key, with proxy: where its requests go
    stream: S  # the transport's socket or stream; the core never touches it
    http: h11.Connection = field(default_factory=_new_http, repr=False)
    exchanges: int = 0
    proxy: Proxy | None = None  # the proxy it goes through (the core sets it after Connect)


@dataclass(frozen=True, slots=True)
class Acquire:
    """Answer with an idle :class:`Connection` to ``origin`` from the pool (one the server has
    not closed, as far as can be seen without waiting), or ``None`` when there is none: the
    driver then asks for a :class:`Connect`. Through ``proxy`` only (None: a direct one)."""

    origin: Origin
    deadline: float
    proxy: Proxy | None = None


@dataclass(frozen=True, slots=True)
class Connect:
    """Open a new plain TCP connection to ``host:port`` (the origin's, or later a proxy's) and
    answer with ``Connection(origin, stream)``. The connection is the transport's to close
    should the call end before it is released."""

    origin: Origin
    host: str
    port: int
    deadline: float


@dataclass(frozen=True, slots=True)
class StartTLS(Generic[S]):
    """Run a TLS handshake over ``connection``'s plain stream, verifying the certificate for
    ``server_hostname``; set ``connection.stream`` to the TLS stream and answer ``None``. An
    untrusted certificate is a :class:`TLSVerificationError`."""

    connection: Connection[S]
    server_hostname: str
    deadline: float


@dataclass(frozen=True, slots=True)
class Release(Generic[S]):
    """Put ``connection`` back in the pool when ``reuse``; close it otherwise. Answer ``None``."""

    connection: Connection[S]
    reuse: bool


@dataclass(frozen=True, slots=True)
class SendBytes(Generic[S]):
    """Send all of ``data``; answer ``None``."""

    connection: Connection[S]
    data: bytes
    deadline: float

    def __repr__(self) -> str:
        # A request head carries the API key: an op logged by a transport must not show it.
        return (
            f"SendBytes(connection={self.connection!r}, data=<{len(self.data)} bytes>, "
            f"deadline={self.deadline!r})"
        )


@dataclass(frozen=True, slots=True)
class SendFile(Generic[S]):
    """Send exactly ``region.length`` bytes of the file from ``region.offset`` (``sendfile``
    where possible) and answer ``None``; a file that turns out shorter is an
    :class:`InvalidInputError`."""

    connection: Connection[S]
    region: FileRegion
    deadline: float


@dataclass(frozen=True, slots=True)
class Receive(Generic[S]):
    """Answer with up to ``max_bytes`` received (``bytes``), ``b""`` for end of stream."""

    connection: Connection[S]
    max_bytes: int
    deadline: float


@dataclass(frozen=True, slots=True)
class ProbeFile:
    """Answer with a :class:`FileInfo`: where the file's bytes start and how many there are
    (``size=None`` when that cannot be known without reading it, as for a pipe)."""

    file: FileInput


@dataclass(frozen=True, slots=True)
class ReadFile:
    """Answer with up to ``max_bytes`` of the file, ``b""`` at its end (files of unknown size).
    A pipe can keep a read waiting for as long as its writer likes: give up at ``deadline``
    (the call's own) with :class:`IOTimeout`."""

    file: FileInput
    max_bytes: int
    deadline: float


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait until the driver's clock reads ``until``; answer ``None``."""

    until: float


@dataclass(frozen=True, slots=True)
class Notify:
    """Call the caller's ``on_status_change`` with ``status`` (awaiting it if it is async);
    answer ``None``. What the callback raises is the caller's: let it through."""

    status: JobStatusResponse


@dataclass(frozen=True, slots=True)
class Report:
    """Log ``event`` on ``logging.getLogger("decart_proto")`` at ``event.level`` (its
    ``message()``) and pass it to the caller's event hook, awaiting an async one; answer
    ``None``. Yielded only at the levels the call's ``events=`` asks for (none by default).
    What the hook raises is the caller's: let it through."""

    event: Event


@dataclass(frozen=True, slots=True)
class OutputWrite:
    """Write ``data`` to the caller's output; answer ``None``. It may be a ``bytearray`` (as
    h11 gives a body's chunks; not copied into ``bytes``), which no one else holds or changes.
    A write that fails is answered with :class:`OutputError`, naming the output."""

    data: bytes

    def __repr__(self) -> str:
        return f"OutputWrite(data=<{len(self.data)} bytes>)"  # a video is no log line


@dataclass(frozen=True, slots=True)
class OutputReset:
    """A download restarts: drop what was written to the output so far and answer ``None``
    (or :class:`OutputError`)."""


@dataclass(frozen=True, slots=True)
class Progress:
    """Bytes moved so far: ``phase`` is "upload" (of the submit's body; ``total`` is its length,
    None when sent chunked) or "download" (of the result; ``total`` from Content-Length, or
    None). Asked for only when the caller wants progress; answer ``None``. A retried transfer
    starts again at 0."""

    phase: Literal["upload", "download"]
    done: int
    total: int | None


Op = (
    Acquire
    | Connect
    | StartTLS[S]
    | Release[S]
    | SendBytes[S]
    | SendFile[S]
    | Receive[S]
    | ProbeFile
    | ReadFile
    | Sleep
    | Notify
    | Report
    | OutputWrite
    | OutputReset
    | Progress
)
"""Every op a driver yields, for a transport whose streams are ``S``."""

Reply = Connection[S] | FileInfo | bytes | None
"""Every reply a transport sends back (which op wants which: the ops' docstrings)."""

DriverGen = Generator[Op[S], Reply[S], T]
"""A driver call: yields ops for streams ``S``, takes their replies, returns ``T``."""
