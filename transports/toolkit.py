"""What a transport for another event loop needs besides its loop, as public names: the answers
to the file ops, the error mapping, the caller's outputs, and a look into a client's pool.

A transport that implements :class:`~decart_proto.transports.AsyncIO` (or ``SyncIO``) needs
none of this: the run loop uses it. A transport that drives the driver's generators itself (a
readiness loop, a callback framework: docs/transport-recipe.md, "Callback and readiness loops")
answers each op with these, and imports nothing private. ``docs/examples/selectors_transport.py``
is one, written from the recipe.

Every helper here that touches a file blocks while it does: a stat, a seek, one read. For a
regular file that is brief; a pipe can keep :func:`read_chunk` waiting for its writer for as
long as it likes, so call it off your loop's thread (with the op's deadline).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from decart_proto import Connection, FileInfo, FileInput, FileRegion, NetworkError

from . import _common
from ._common import (
    Address,
    Output,
    OutputTarget,
    file_descriptor,
    finish_output,
    network_error,
    opened_region,
    read_into,
    readable_now,
    resolve,
    short_file,
)

__all__ = [
    "CHUNK",
    "Address",
    "Output",
    "OutputTarget",
    "file_descriptor",
    "finish_output",
    "idle_connections",
    "map_error",
    "open_output",
    "opened_region",
    "probe_file",
    "read_chunk",
    "read_region",
    "readable_now",
    "resolve",
]

# The piece a region is read in when it cannot go by sendfile: one buffer of this size, reused.
CHUNK = 1 << 20


def map_error(exc: BaseException) -> NetworkError:
    """The error to throw into the driver for *exc*, raised by your I/O on a connection.

    - a certificate the context does not trust (``ssl.SSLCertVerificationError``):
      :class:`~decart_proto.TLSVerificationError`, which the driver never retries;
    - a timeout (``TimeoutError``, :class:`~decart_proto.IOTimeout`): ``IOTimeout``;
    - any other TLS failure, and every other ``OSError``: :class:`~decart_proto.NetworkError`,
      with the OS's text (which never holds the API key).

    A :class:`~decart_proto.NetworkError` you raised yourself passes as it is. What reading a
    local input raises (an :class:`~decart_proto.InvalidInputError` from :func:`probe_file`,
    :func:`read_chunk`, :func:`read_region`) is not a network failure: let it reach the caller
    unchanged, never through this."""
    if isinstance(exc, NetworkError):
        return exc
    return network_error(exc)


def probe_file(file: FileInput) -> FileInfo:
    """The answer to :class:`~decart_proto.ProbeFile`: for a path (``op.file.path``), its size;
    for a file object, where it stands and how much is left, or ``FileInfo(None)`` when it
    cannot seek (a pipe: the body then goes chunked, read with :func:`read_chunk`). A path that
    is missing or no regular file, and a file object that fails, are the caller's
    :class:`~decart_proto.InvalidInputError`. Bytes never reach this op: they come as
    :class:`~decart_proto.SendBytes`."""
    return _common.probe_file(file)


def read_chunk(file: FileInput, max_bytes: int) -> bytes:
    """The answer to :class:`~decart_proto.ReadFile`: up to *max_bytes* of a file object of
    unknown size, ``b""`` at its end. It may wait for a pipe's writer: call it off your loop's
    thread, and give up at the op's deadline with :class:`~decart_proto.IOTimeout`."""
    return _common.read_chunk(file, max_bytes)


def open_output(target: OutputTarget) -> Output | None:
    """The :class:`Output` for a call's ``output=`` (a path, written atomically; a device or
    FIFO path, in place; a binary file object), or None for none: drive the result call with
    ``to_output=True`` when it is not None, answer ``OutputWrite`` / ``OutputReset`` with its
    ``write`` / ``reset``, pass the call's value to :func:`finish_output`, and ``discard()`` it
    when the call fails or is cancelled. A directory that does not exist, or a target that is
    no output, is an :class:`~decart_proto.InvalidInputError` at once."""
    return _common.open_output(target)


def read_region(region: FileRegion, chunk: int = CHUNK) -> Iterator[memoryview]:
    """The bytes of a :class:`~decart_proto.SendFile` op's region, in pieces of at most *chunk*
    bytes, for a transport that sends them itself (TLS, or no ``sendfile``). A path is opened
    here and closed at the end; a file object is the caller's, read from ``region.offset`` and
    left open.

    Each piece is a view of one buffer reused for the next: send it (or copy it) before asking
    for the next. A file that cannot be read, or that ends before ``region.length`` bytes, is the
    caller's :class:`~decart_proto.InvalidInputError`, raised from here."""
    length = len(region)  # exact for a SendFile region
    buffer = memoryview(bytearray(max(1, min(chunk, length))))
    sent = 0
    with opened_region(region) as f:
        while sent < length:
            got = read_into(region.file, f, buffer[: length - sent])
            if not got:
                raise short_file(region, sent)
            sent += got
            yield buffer[:got]


def idle_connections(client: Any) -> list[Connection[Any]]:
    """The idle connections a client of ``decart_proto.transports`` holds in its keep-alive
    pool, for tests: a connection in the middle of an exchange must never be among them (the
    conformance kit checks this after each scenario). A client of another design answers this
    from its own pool."""
    pooled = client._pool._pooled
    return [conn for idle in pooled._idle.values() for conn in idle]
