"""What every transport does the same way outside the event loop: configuration, the caller's
files and outputs, and the run loop's bookkeeping.

File reads here block. For video-sized uploads that is what we want on the blocking transport;
the async transports call these helpers only for small steps (a stat, one chunk) or hand a whole
region to the loop's own sendfile.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import ipaddress
import os
import resource
import secrets
import select
import socket
import ssl
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, BinaryIO, TypeVar, Union

from decart_proto import (
    PROXY_ENVIRONMENT,
    Driver,
    Event,
    FileInfo,
    FileInput,
    FileRegion,
    InvalidAPIKeyError,
    InvalidBaseURLError,
    InvalidInputError,
    IOTimeout,
    NetworkError,
    OutputError,
    PollPolicy,
    QueueJobResult,
    RetryPolicy,
    Timeouts,
    TLSVerificationError,
    TooManyOpenFilesError,
)

__all__ = [
    "AtomicFileOutput",
    "ClientConfig",
    "DeviceOutput",
    "Output",
    "OutputPlace",
    "OutputTarget",
    "StreamOutput",
    "finish_output",
    "input_error",
    "network_error",
    "open_output",
    "output_error",
    "probe_file",
    "read_chunk",
    "read_into",
    "readable_now",
    "resolve",
]

S = TypeVar("S")
# Where a video may go: a path (written atomically) or a binary file; None keeps it in memory.
OutputPlace = Union[str, "os.PathLike[str]", BinaryIO]
OutputTarget = OutputPlace | None
DEFAULT_BASE_URL = "https://api.decart.ai"


@dataclass(frozen=True)
class ClientConfig:
    """A client's settings, checked once. The key comes from ``DECART_API_KEY`` when not given,
    as in Decart's clients. With ``trust_env`` (as in httpx and requests), so do the base URL
    (``DECART_BASE_URL``) and, without ``proxy``, the proxy (``HTTPS_PROXY`` and the rest,
    kept in ``environ`` as they were when the client was made; ``_proxy.py`` reads them)."""

    api_key: str
    base_url: str
    integration: str | None
    ssl_context: ssl.SSLContext | None
    poll: PollPolicy
    retry: RetryPolicy
    timeouts: Timeouts
    max_idle_connections: int
    proxy: str | None = None
    environ: Mapping[str, str] | None = None
    default_headers: Mapping[str, str] | None = None
    max_connections: int | None = 100
    # Called with each of the driver's events (``_logging.py``); not checked here beyond
    # being callable: sync or async is the style's to judge, at the call.
    event_hook: Callable[[Event], object] | None = None

    def __repr__(self) -> str:
        return f"ClientConfig(base_url={self.base_url!r}, api_key=<hidden>)"

    @classmethod
    def make(
        cls,
        api_key: str | None,
        base_url: str | None,
        integration: str | None,
        ssl_context: ssl.SSLContext | None,
        poll: PollPolicy | None,
        retry: RetryPolicy | None,
        timeouts: Timeouts | None,
        max_idle_connections: int,
        proxy: str | None = None,
        trust_env: bool = True,
        default_headers: Mapping[str, str] | None = None,
        max_connections: int | None = 100,
        event_hook: Callable[[Event], object] | None = None,
    ) -> ClientConfig:
        _check_connections(max_idle_connections, max_connections)
        if event_hook is not None and not callable(event_hook):
            raise InvalidInputError(
                f"event_hook must be a callable taking one event, got {event_hook!r}"
            )
        key = api_key if api_key is not None else os.environ.get("DECART_API_KEY", "")
        if not key or not key.strip():
            raise InvalidAPIKeyError()
        from_env = not base_url and trust_env and bool(os.environ.get("DECART_BASE_URL"))
        config = cls(
            key.strip(),
            (os.environ["DECART_BASE_URL"] if from_env else base_url) or DEFAULT_BASE_URL,
            integration,
            ssl_context,
            poll or PollPolicy(),
            retry or RetryPolicy(),
            timeouts or Timeouts(),
            max_idle_connections,
            proxy,
            {n: os.environ[n] for n in PROXY_ENVIRONMENT if n in os.environ} if trust_env else None,
            default_headers,
            max_connections,
            event_hook,
        )
        try:
            # Checks the base URL, the key's characters, the proxy and the default headers.
            config.driver(lambda: 0.0, "check")
        except InvalidBaseURLError as exc:
            if from_env:
                exc.message += " (read from the DECART_BASE_URL environment variable)"
                exc.args = (exc.message,)
            raise
        return config

    def driver(self, clock: Callable[[], float], transport: str) -> Driver[S]:
        """A driver for a transport whose streams are ``S``."""
        return Driver(
            api_key=self.api_key,
            base_url=self.base_url,
            clock=clock,
            rand=secrets.SystemRandom(),
            transport=transport,
            integration=self.integration,
            poll=self.poll,
            retry=self.retry,
            timeouts=self.timeouts,
            proxy=self.proxy,
            environ=self.environ,
            default_headers=self.default_headers,
        )

    def tls_context(self) -> ssl.SSLContext:
        # Verification on by default, with the platform's trust store.
        return self.ssl_context or ssl.create_default_context()


def _check_connections(max_idle: int, limit: int | None) -> None:
    """The connection settings are the caller's: refused at once, in their terms."""
    if isinstance(max_idle, bool) or not isinstance(max_idle, int) or max_idle < 0:
        raise InvalidInputError(
            f"max_idle_connections must be a whole number, 0 or more, got {max_idle!r}"
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidInputError(
            f"max_connections must be a whole number, 1 or more, or None for no limit, got "
            f"{limit!r}"
        )


def network_error(exc: BaseException) -> NetworkError:
    """A transport exception in the core's terms. The text is the OS's, which never holds the
    key."""
    if isinstance(exc, (TimeoutError, IOTimeout)):
        return IOTimeout("timed out")
    if isinstance(exc, ssl.SSLCertVerificationError):
        # Not transient: retrying cannot make a certificate trusted, and the caller needs to
        # hear about it now, not as a deadline later.
        return TLSVerificationError(f"TLS certificate rejected: {exc.verify_message or exc}")
    if isinstance(exc, ssl.SSLError):
        return NetworkError(f"TLS failure: {exc.reason or exc}")
    if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
        return too_many_open_files(exc.errno)
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return NetworkError(f"{type(exc).__name__}: {text or 'connection failed'}")


def too_many_open_files(code: int) -> TooManyOpenFilesError:
    """No descriptor left for a new connection: the process's limit (EMFILE) or the system's
    (ENFILE). Not a network failure that passes with a retry: it lasts as long as the process
    holds what it holds, so the caller hears it at once, with what to change."""
    if code == errno.EMFILE:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        whose = f"this process may have {soft} open at once"
    else:
        whose = "the system's table of open files is full"
    return TooManyOpenFilesError(
        f"no file descriptor left for a new connection ({os.strerror(code)}: {whose}); raise "
        "the limit (ulimit -n, or RLIMIT_NOFILE), or lower the client's max_connections "
        "(and what else the process keeps open) so that its connections fit"
    )


# -- the caller's input files ---------------------------------------------------------------


def input_error(file: FileInput, exc: OSError) -> InvalidInputError:
    """An input that cannot be read (deleted, unreadable, a failing disk): the caller's to fix,
    never a network failure to retry."""
    name = repr(file.path) if file.path is not None else "the file object"
    reason = exc.strerror or str(exc) or type(exc).__name__
    return InvalidInputError(
        f"{file.field}: reading {name} failed: {reason}; the upload was stopped (an input must "
        "stay readable until it is sent)",
        cause=exc,
    )


def probe_file(file: FileInput) -> FileInfo:
    path = file.path
    if path is not None:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise InvalidInputError(f"{file.field}: cannot read {path!r}: {exc.strerror}") from None
        if not os.path.isfile(path):
            raise InvalidInputError(f"{file.field}: {path!r} is not a regular file")
        return FileInfo(st.st_size)
    stream = _reader(file)
    try:
        seekable = bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        seekable = False
    if not seekable:
        return FileInfo(None)
    try:
        start = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(start)
    except OSError as exc:
        raise input_error(file, exc) from exc
    return FileInfo(end - start, start)


def read_chunk(file: FileInput, size: int) -> bytes:
    try:
        data = _reader(file).read(size)
    except OSError as exc:
        raise input_error(file, exc) from exc
    if not isinstance(data, (bytes, bytearray)):
        raise InvalidInputError(f"{file.field}: file object must return bytes from read()")
    return bytes(data)


def _reader(file: FileInput) -> BinaryIO:
    source = file.source
    if isinstance(source, (bytes, bytearray, memoryview, str, os.PathLike)):
        raise AssertionError(f"{file.field}: {type(source).__name__} is not read in pieces")
    return source


def read_into(file: FileInput, f: IO[bytes], view: memoryview) -> int:
    """Fills the front of *view* from *f*, the opened *file*; how many bytes came (0 at its
    end). One buffer reused for a whole upload: constant memory for any size."""
    try:
        readinto = getattr(f, "readinto", None)
        if readinto is not None:
            return int(readinto(view) or 0)
        chunk = f.read(len(view))
    except OSError as exc:
        raise input_error(file, exc) from exc
    view[: len(chunk)] = chunk
    return len(chunk)


@contextlib.contextmanager
def opened_region(region: FileRegion) -> Iterator[IO[bytes]]:
    """The region's file, positioned at its offset: opened here for a path, the caller's own
    object otherwise (left open, as the caller owns it)."""
    path = region.file.path
    try:
        f = open(path, "rb") if path is not None else _reader(region.file)  # noqa: SIM115
        f.seek(region.offset)
    except OSError as exc:
        raise input_error(region.file, exc) from exc
    try:
        yield f
    finally:
        if path is not None:
            f.close()


def file_descriptor(f: object) -> int | None:
    """The descriptor of an opened file, None for a file object without one (``BytesIO``)."""
    fileno = getattr(f, "fileno", None)
    if fileno is None:
        return None
    try:
        return int(fileno())
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None


def short_file(region: FileRegion, sent: int) -> InvalidInputError:
    return InvalidInputError(
        f"{region.file.field}: the file ended after {sent} of {region.length} bytes; "
        "it changed while being sent"
    )


# -- finding the server -----------------------------------------------------------------------

# One answer of socket.getaddrinfo: family, type, protocol, canonical name, socket address.
SocketAddress = tuple[str, int] | tuple[str, int, int, int] | tuple[int, bytes]
Address = tuple[int, int, int, str, SocketAddress]


def numeric_addresses(host: str, port: int) -> list[Address] | None:
    """The address of an IP literal, found without a lookup; None for a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return resolve(host, port, socket.AI_NUMERICHOST)


def resolve(host: str, port: int, flags: int = 0) -> list[Address]:
    """The addresses of *host* for a TCP connection, in the resolver's order. A name's lookup
    may take long: the run loop calls this on a thread, until the call's deadline."""
    return list(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=flags))


def readable_now(fd: int) -> bool:
    """Whether *fd* has something to read (or an end of stream) at this moment: for telling a
    pooled connection the server closed. ``poll``, not ``select``: ``select`` refuses a
    descriptor above 1023, which a process tracking thousands of jobs has."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    try:
        return bool(poller.poll(0))
    except OSError:
        return True


# -- where a result goes ----------------------------------------------------------------------


def output_error(name: str, exc: OSError) -> OutputError:
    """A failed write to the caller's output: the caller's to fix (space, permissions, a
    closed pipe), so never retried as a network failure would be."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return OutputError(
        f"writing the output {name} failed: {reason}; check the free space and the "
        "permissions where it goes, or choose another output",
        data={"errno": exc.errno},
        cause=exc,
    )


class Output(abc.ABC):
    """A result's destination: written as it arrives, reset when a download restarts, then
    committed or discarded. Every OS failure comes out as an :class:`OutputError`."""

    @abc.abstractmethod
    def write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    def reset(self) -> None: ...

    @abc.abstractmethod
    def commit(self) -> None:
        """The download is whole."""

    @abc.abstractmethod
    def discard(self) -> None:
        """The call failed or was cancelled: leave nothing half-written behind. Never raises
        an OSError: it runs while another error is on its way to the caller."""


class AtomicFileOutput(Output):
    """A path: bytes go to a temporary file beside it, renamed over it only once complete, so a
    reader never sees half a video and a crash never leaves one."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise InvalidInputError(f"output: directory {directory!r} does not exist")
        self._temp = os.path.join(
            directory, f".{os.path.basename(self.path)}.{secrets.token_hex(4)}.part"
        )
        self._file: IO[bytes] | None = None

    def write(self, data: bytes) -> None:
        try:
            if self._file is None:
                self._file = open(self._temp, "wb")  # noqa: SIM115 - closed in commit/discard
            self._file.write(data)
        except OSError as exc:
            raise output_error(repr(self.path), exc) from exc

    def reset(self) -> None:
        if self._file is not None:
            try:
                self._file.seek(0)
                self._file.truncate()
            except OSError as exc:
                raise output_error(repr(self.path), exc) from exc

    def commit(self) -> None:
        try:
            if self._file is None:
                self._file = open(self._temp, "wb")  # noqa: SIM115 - an empty result
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._temp, self.path)
        except OSError as exc:
            raise output_error(repr(self.path), exc) from exc  # discard() removes the rest
        self._file = None

    def discard(self) -> None:
        file, self._file = self._file, None
        # close() flushes what is buffered, so on a full disk it fails again: the partial file
        # goes all the same.
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()
        with contextlib.suppress(OSError):
            os.unlink(self._temp)


class StreamOutput(Output):
    """A binary file object: written in place; a restart rewinds it when it can."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        name = getattr(stream, "name", None)
        self.name = repr(name) if isinstance(name, str) else "file object"
        try:
            self._start: int | None = stream.tell() if stream.seekable() else None
        except (AttributeError, OSError, ValueError):  # a sink with write() alone
            self._start = None
        try:
            # A device (/dev/null) rewinds but cannot be truncated, and needs not be.
            self._truncate = stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
        except (AttributeError, OSError, ValueError):
            self._truncate = True  # in memory (BytesIO)

    def write(self, data: bytes) -> None:
        try:
            self.stream.write(data)
        except OSError as exc:
            raise output_error(self.name, exc) from exc

    def reset(self) -> None:
        # Asked for only once something was written (the driver knows).
        if self._start is None:
            raise OutputError(
                f"the download was interrupted and the output {self.name} cannot be rewound; "
                "pass a path or a seekable file to allow a retried download"
            )
        try:
            self.stream.seek(self._start)
            if self._truncate:
                self.stream.truncate()
        except OSError as exc:
            raise output_error(self.name, exc) from exc

    def commit(self) -> None:
        flush = getattr(self.stream, "flush", None)
        try:
            if flush is not None:
                flush()
        except OSError as exc:
            raise output_error(self.name, exc) from exc

    def discard(self) -> None:
        """The caller's own file object is left as it is: what was written to a pipe or a
        socket cannot be taken back, and a file is the caller's to judge."""


class DeviceOutput(Output):
    """A path that is not a regular file (``/dev/null``, a FIFO, a terminal): written in place,
    since renaming a file over it would replace the device with a regular file. Opened at the
    first byte, so that a FIFO without a reader does not hold up the call before it starts."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._out: StreamOutput | None = None

    def _opened(self) -> StreamOutput:
        if self._out is None:
            try:
                self._out = StreamOutput(open(self.path, "wb"))  # noqa: SIM115 - closed below
            except OSError as exc:
                raise output_error(repr(self.path), exc) from exc
        return self._out

    def write(self, data: bytes) -> None:
        self._opened().write(data)

    def reset(self) -> None:
        if self._out is not None:
            self._out.reset()

    def commit(self) -> None:
        out = self._opened()
        out.commit()
        try:
            out.stream.close()
        except OSError as exc:
            raise output_error(repr(self.path), exc) from exc

    def discard(self) -> None:
        if self._out is not None:
            with contextlib.suppress(OSError):
                self._out.stream.close()


def finish_output(output: Output | None, value: object) -> None:
    """A call returned: keep the output only if it holds a completed video. A failed job has
    no video, and an empty file where one was asked for would look like one."""
    if output is None:
        return
    if isinstance(value, QueueJobResult) and value.status == "completed":
        try:
            output.commit()
        except OutputError as exc:
            # The driver has returned, so it cannot add the job id as it does for a write.
            if value.job_id:
                exc.message += (
                    f"; the video is still on the server: fetch it with the job id {value.job_id!r}"
                )
                exc.data["job_id"] = value.job_id
            raise
    else:
        output.discard()


def open_output(target: OutputTarget) -> Output | None:
    if target is None:
        return None
    if isinstance(target, (str, os.PathLike)):
        path = os.fspath(target)
        try:
            mode = os.stat(path).st_mode
        except OSError:
            mode = stat.S_IFREG  # not there yet: made by the rename
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            return DeviceOutput(path)
        return AtomicFileOutput(path)
    if hasattr(target, "write"):
        return StreamOutput(target)
    raise InvalidInputError(f"output must be a path or a binary file object, got {target!r}")
