"""The primitive I/O a driver asks of its transport, and the connection it hands around.

A transport answers each op by sending its result into the driver generator (``None`` where
there is none), or by throwing :class:`NetworkError` / :class:`IOTimeout` into it (and, at
``OutputWrite`` / ``OutputReset``, :class:`OutputError` when the caller's output cannot be
written: never retried). Each op that can block carries an absolute ``deadline`` on the
driver's clock. This is the whole contract: a
transport for another event loop implements these twelve ops and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import h11

from ._inputs import FileInput
from ._multipart import FileRegion
from ._requests import Origin
from ._responses import JobStatusResponse

__all__ = [
    "Acquire",
    "Connection",
    "Notify",
    "Op",
    "OutputReset",
    "OutputWrite",
    "ProbeFile",
    "Progress",
    "ReadFile",
    "Receive",
    "Release",
    "SendBytes",
    "SendFile",
    "Sleep",
]

# A response head larger than this is refused (h11's own default is 16 KiB; the API's heads are
# a few hundred bytes).
MAX_HEAD = 64 * 1024


@dataclass(eq=False)
class Connection:
    """One transport stream and the HTTP/1.1 state that goes with it."""

    origin: Origin
    stream: object  # the transport's socket or stream; the core never touches it
    http: h11.Connection = field(
        default_factory=lambda: h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD),
        repr=False,
    )
    # How many exchanges completed on it: 0 means it is fresh.
    exchanges: int = 0


@dataclass(slots=True)
class Acquire:
    """Answer with a :class:`Connection` to ``origin``: an idle one from the pool, or (always
    when ``fresh``) a new one, TLS when ``origin.tls``."""

    origin: Origin
    deadline: float
    fresh: bool = False


@dataclass(slots=True)
class Release:
    """Put ``connection`` back in the pool when ``reuse``; close it otherwise."""

    connection: Connection
    reuse: bool


@dataclass(slots=True)
class SendBytes:
    connection: Connection
    data: bytes
    deadline: float

    def __repr__(self) -> str:
        # A request head carries the API key: an op logged by a transport must not show it.
        return (
            f"SendBytes(connection={self.connection!r}, data=<{len(self.data)} bytes>, "
            f"deadline={self.deadline!r})"
        )


@dataclass(slots=True)
class SendFile:
    """Send exactly ``region.length`` bytes of the file from ``region.offset`` (``sendfile``
    where possible); a file that turns out shorter is an :class:`InvalidInputError`."""

    connection: Connection
    region: FileRegion
    deadline: float


@dataclass(slots=True)
class ProbeFile:
    """Answer with a :class:`FileInfo`: where the file's bytes start and how many there are
    (``size=None`` when that cannot be known without reading it, as for a pipe)."""

    file: FileInput


@dataclass(slots=True)
class ReadFile:
    """Answer with up to ``max_bytes`` of the file, ``b""`` at its end (files of unknown size).
    A pipe can keep a read waiting for as long as its writer likes: give up at ``deadline``
    (the call's own) with :class:`IOTimeout`."""

    file: FileInput
    max_bytes: int
    deadline: float


@dataclass(slots=True)
class Receive:
    """Answer with up to ``max_bytes`` received, ``b""`` for end of stream."""

    connection: Connection
    max_bytes: int
    deadline: float


@dataclass(slots=True)
class Sleep:
    until: float


@dataclass(slots=True)
class Notify:
    """Call the caller's ``on_status_change`` with ``status`` (awaiting it if it is async)."""

    status: JobStatusResponse


@dataclass(slots=True)
class OutputWrite:
    """Write ``data`` to the caller's output. It may be a ``bytearray`` (as h11 gives a body's
    chunks; not copied into ``bytes``), which no one else holds or changes. A write that fails
    is answered with :class:`OutputError`, naming the output."""

    data: bytes

    def __repr__(self) -> str:
        return f"OutputWrite(data=<{len(self.data)} bytes>)"  # a video is no log line


@dataclass(slots=True)
class Progress:
    """Bytes moved so far: ``phase`` is "upload" (of the submit's body; ``total`` is its length,
    None when sent chunked) or "download" (of the result; ``total`` from Content-Length, or
    None). Asked for only when the caller wants progress. A retried transfer starts again at
    0."""

    phase: Literal["upload", "download"]
    done: int
    total: int | None


@dataclass(slots=True)
class OutputReset:
    """A download restarts: drop what was written to the output so far (or answer with
    :class:`OutputError`)."""


Op = (
    Acquire
    | Release
    | SendBytes
    | SendFile
    | ProbeFile
    | ReadFile
    | Receive
    | Sleep
    | Notify
    | OutputWrite
    | OutputReset
    | Progress
)
