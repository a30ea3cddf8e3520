"""One call of a client: its driver generator run to the end, each op answered through the
transport's :class:`SyncIO` and the client's pool.

Generated from ``_async_run.py`` by ``scripts/unasync.py``: do not edit;
edit that file and run the script.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from typing import IO, Generic, TypeVar

from decart_proto import (
    Acquire,
    Connect,
    Connection,
    DriverGen,
    FileRegion,
    NetworkError,
    Notify,
    Op,
    OutputError,
    OutputReset,
    OutputWrite,
    ProbeFile,
    Progress,
    ReadFile,
    Receive,
    Release,
    Reply,
    Report,
    SendBytes,
    SendFile,
    Sleep,
    StartTLS,
)

from . import _style
from ._sync_pool import SyncIO, SyncPool
from ._common import (
    Address,
    Output,
    file_descriptor,
    finish_output,
    network_error,
    numeric_addresses,
    opened_region,
    probe_file,
    read_chunk,
    read_into,
    resolve,
    short_file,
)
from ._logging import EventHook, log
from ._style import ProgressCallback, StatusCallback

__all__ = ["SyncRun"]

S = TypeVar("S")
T = TypeVar("T")

# A file that cannot go by sendfile (TLS, no descriptor) is read into one buffer of this size,
# reused for the whole upload, and sent a piece at a time.
CHUNK = 1 << 20


class SyncRun(Generic[S]):
    """One call: its driver generator run to the end, each op answered through the I/O.

    What a failure is: an ``OSError`` or :class:`NetworkError` of the I/O, and the
    :class:`OutputError` of an output, are thrown into the driver, which decides (retry, give
    up, add the job id). What the caller's own things raise (a callback, an input file that
    cannot be read) reaches the caller as it is. And whatever ends the call early (an error, a
    cancellation) closes the connections it holds: a half-used one never returns to the pool.
    """

    def __init__(
        self,
        io: SyncIO[S],
        pool: SyncPool[S],
        tls: Callable[[], ssl.SSLContext],
        on_status_change: StatusCallback | None = None,
        output: Output | None = None,
        on_progress: ProgressCallback | None = None,
        event_hook: EventHook | None = None,
    ) -> None:
        self.io = io
        self.pool = pool
        self.tls = tls
        self.on_status_change = on_status_change
        self.output = output
        self.on_progress = on_progress
        self.event_hook = event_hook
        self.held: set[Connection[S]] = set()
        self.reserved = 0  # room the pool reserved at Acquire for this call's next Connect

    def run(self, gen: DriverGen[S, T]) -> T:
        reply: Reply[S] = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    op = gen.throw(error) if error is not None else gen.send(reply)
                except StopIteration as stop:
                    value: T = stop.value
                    # The driver has returned: a failed commit gets its job id there.
                    finish_output(self.output, value)
                    return value
                reply, error = None, None
                if isinstance(op, (Notify, Progress, Report)):
                    self._call_back(op)  # the caller's code: what it raises is its own
                    continue
                try:
                    reply = self._answer(op)
                except (NetworkError, OutputError) as exc:
                    error = exc
                except OSError as exc:
                    error = network_error(exc)
        except BaseException:
            for conn in self.held:
                self.pool.discard(conn)
            self.held.clear()
            if self.output is not None:
                self.output.discard()
            raise
        finally:
            for _ in range(self.reserved):
                self.pool.unreserve()
            self.reserved = 0
            gen.close()

    def _answer(self, op: Op[S]) -> Reply[S]:
        # The ops of every request first: this runs several times per request.
        if isinstance(op, Receive):
            return self.io.receive(op.connection.stream, op.max_bytes, op.deadline)
        if isinstance(op, SendBytes):
            self.io.send(op.connection.stream, op.data, op.deadline)
            return None
        if isinstance(op, Acquire):
            conn = self.pool.acquire(op.origin, op.proxy, op.deadline)
            if conn is None:
                self.reserved += 1
                return None
            self.held.add(conn)
            return conn
        if isinstance(op, Release):
            self.held.discard(op.connection)
            self.pool.give_back(op.connection, op.reuse)
            return None
        if isinstance(op, Sleep):
            self.io.sleep_until(op.until)
            return None
        if isinstance(op, Connect):
            # On the room reserved at Acquire, or else room waited for now (a request that
            # must go on a new connection asks for none at Acquire).
            if self.reserved:
                self.reserved -= 1
            else:
                self.pool.reserve(op.deadline)
            try:
                stream = self._connect(op)
            except BaseException:
                self.pool.unreserve()
                raise
            conn = Connection(op.origin, stream)
            self.held.add(conn)
            return conn
        if isinstance(op, StartTLS):
            conn = op.connection
            conn.stream = self.io.start_tls(
                conn.stream, self.tls(), op.server_hostname, op.deadline
            )
            return None
        if isinstance(op, SendFile):
            self._send_file(op)
            return None
        if isinstance(op, OutputWrite):
            assert self.output is not None
            self.output.write(op.data)
            return None
        if isinstance(op, OutputReset):
            assert self.output is not None
            self.output.reset()
            return None
        if isinstance(op, ProbeFile):
            return probe_file(op.file)
        assert isinstance(op, ReadFile), op
        # A pipe may keep a read waiting for its writer: never on the loop's own thread.
        file, size = op.file, op.max_bytes
        return self.io.run_in_thread(op.deadline, lambda: read_chunk(file, size))

    def _call_back(self, op: Notify | Progress | Report) -> None:
        if isinstance(op, Report):
            log(op.event)
            if self.event_hook is not None:
                _style.call_sync(self.event_hook, op.event, "event_hook")
        elif isinstance(op, Notify):
            if self.on_status_change is not None:
                _style.call_sync(self.on_status_change, op.status, "on_status_change")
        elif self.on_progress is not None:
            _style.call_sync(self.on_progress, op, "on_progress")

    def _connect(self, op: Connect) -> S:
        """A stream to the first address of ``op.host`` that accepts, tried in the resolver's
        order (as ``socket.create_connection`` does); the last failure when none does. The
        name is looked up on a thread, so that a resolver that hangs ends at the deadline."""
        host, port = op.host, op.port
        addresses: Sequence[Address] | None = numeric_addresses(host, port)
        if addresses is None:
            addresses = self.io.run_in_thread(op.deadline, lambda: resolve(host, port))
        failure = OSError(f"{host!r} has no address")
        for address in addresses:
            try:
                return self.io.connect(address, op.deadline)
            except OSError as exc:
                failure = exc
        raise failure

    def _send_file(self, op: SendFile[S]) -> None:
        region = op.region
        assert region.length is not None
        with opened_region(region) as f:
            sent = None
            if file_descriptor(f) is not None:
                sent = self.io.sendfile(
                    op.connection.stream, f, region.offset, region.length, op.deadline
                )
            if sent is None:
                sent = self._send_chunks(op.connection.stream, region, f, op.deadline)
        if sent != region.length:
            raise short_file(region, sent)

    def _send_chunks(
        self, stream: S, region: FileRegion, f: IO[bytes], deadline: float
    ) -> int:
        assert region.length is not None
        sent = 0
        view = memoryview(bytearray(min(CHUNK, region.length)))
        while sent < region.length:
            got = read_into(region.file, f, view[: region.length - sent])
            if not got:
                break
            self.io.send(stream, view[:got], deadline)
            sent += got
        return sent
