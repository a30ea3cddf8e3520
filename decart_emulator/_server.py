"""``Emulator``: the Queue API served by uvicorn in a background thread.

The listening socket is bound here, in the caller's thread, before the server thread starts:
the port (0 picks a free one) is known at once and a bind error is raised to the caller rather
than lost in a thread. The thread runs its own event loop; ``stop`` asks uvicorn to exit and
waits for it, so an emulator can be started and stopped many times in one process.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import uvicorn

from ._app import EmulatorApp
from ._core import Core, RequestRecord, Settings
from ._faults import Fault
from ._protocol import protocol_with_read_timeout
from ._tls import TlsFiles, issue_loopback_certificate
from ._video import has_pyav

__all__ = ["DEFAULT_MAX_UPLOAD_BYTES", "DEFAULT_READ_TIMEOUT_SECONDS", "Emulator"]

DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024**3
DEFAULT_READ_TIMEOUT_SECONDS = 30.0
START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


class Emulator:
    """A local Decart Queue API server; use as a context manager, or ``start()``/``stop()``.

    - ``api_keys``: the accepted ``X-API-KEY`` values; a job is visible to its creator's key only.
    - ``pending_seconds``, ``processing_seconds``: how long a job spends in each status. The
      defaults (1.0 s, 1.5 s) make a client polling after 0.5 s and then every 1.5 s (the
      official clients) see ``pending``, ``processing`` and ``completed``.
    - ``job_limit_seconds``: a job not finished by then fails (600 s, as the service).
    - ``max_upload_bytes``: larger submit bodies are answered 413.
    - ``read_timeout_seconds``: a request that stops arriving for this long (no byte received)
      is abandoned and its connection closed: a body with a 408 first and its partial upload
      removed; a head, or a body the emulator answered without reading, without a word.
      Without it a client that sends less than it announces would hold a connection forever.
    - ``tls``: serve HTTPS with a certificate from a throwaway trustme CA (see
      ``client_ssl_context`` and ``ca_pem_path``); or give ``tls_certfile``/``tls_keyfile``.
    - ``state_dir``: keep jobs (SQLite) and files there, so they survive a restart.
    - ``control_endpoint``: also serve ``/_emulator/...`` (faults and stats over HTTP).
    - ``reencode``: render results with PyAV (default: when PyAV is installed); otherwise the
      result is the input itself.
    """

    def __init__(
        self,
        *,
        api_keys: tuple[str, ...] | list[str] = ("test-key",),
        pending_seconds: float = 1.0,
        processing_seconds: float = 1.5,
        job_limit_seconds: float = 600.0,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        tls: bool = False,
        state_dir: str | Path | None = None,
        control_endpoint: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_certfile: str | Path | None = None,
        tls_keyfile: str | Path | None = None,
        reencode: bool | None = None,
        read_timeout_seconds: float = DEFAULT_READ_TIMEOUT_SECONDS,
    ) -> None:
        self._settings = Settings(
            api_keys=tuple(api_keys),
            pending_seconds=pending_seconds,
            processing_seconds=processing_seconds,
            job_limit_seconds=job_limit_seconds,
            max_upload_bytes=max_upload_bytes,
            control_endpoint=control_endpoint,
            reencode=has_pyav() if reencode is None else reencode,
            read_timeout_seconds=read_timeout_seconds,
        )
        if tls and tls_certfile is not None:
            raise ValueError("give either tls=True (a throwaway CA) or tls_certfile, not both")
        if (tls_certfile is None) != (tls_keyfile is None):
            raise ValueError("tls_certfile and tls_keyfile go together")
        self._tls = tls
        self._tls_given = (
            None
            if tls_certfile is None or tls_keyfile is None
            else TlsFiles(Path(tls_certfile), Path(tls_keyfile))
        )
        self._state_dir = None if state_dir is None else Path(state_dir)
        self._host = host
        self._port = port
        self._core: Core | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._private_dir: str | None = None
        self._tls_files: TlsFiles | None = None
        self._base_url: str | None = None
        self._failure: BaseException | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind, start serving in a background thread, and return once requests are accepted."""
        if self._thread is not None:
            raise RuntimeError("this Emulator is already started")
        self._private_dir = tempfile.mkdtemp(prefix="decart-emulator-")
        self._tls_files = self._tls_given
        if self._tls:
            self._tls_files = issue_loopback_certificate(Path(self._private_dir))
        sock = _bind(self._host, self._port)
        host, port = sock.getsockname()[:2]
        scheme = "https" if self._tls_files is not None else "http"
        shown_host = f"[{host}]" if ":" in host else host
        self._base_url = f"{scheme}://{shown_host}:{port}"
        self._core = Core(self._settings, self._state_dir)
        config = uvicorn.Config(
            EmulatorApp(self._core),
            http=protocol_with_read_timeout(self._settings.read_timeout_seconds),
            ws="none",
            lifespan="off",
            loop="asyncio",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
            ssl_certfile=None if self._tls_files is None else str(self._tls_files.certfile),
            ssl_keyfile=None if self._tls_files is None else str(self._tls_files.keyfile),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._serve, args=(sock,), name=f"decart-emulator-{port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator did not start") from self._failure
            time.sleep(0.005)
        return self

    def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None
        try:
            self._server.run(sockets=[sock])
        except BaseException as exc:  # reported by start(), which is waiting for this thread
            self._failure = exc
        finally:
            sock.close()

    def stop(self) -> None:
        """Stop serving and release everything; safe to call twice."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(STOP_TIMEOUT_SECONDS)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(STOP_TIMEOUT_SECONDS)
        if self._core is not None:
            self._core.close()
        if self._private_dir is not None:
            shutil.rmtree(self._private_dir, ignore_errors=True)
        self._server = self._thread = self._core = None
        self._private_dir = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what a client needs ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with TLS)."""
        if self._base_url is None:
            raise RuntimeError("the emulator is not started")
        return self._base_url

    @property
    def api_key(self) -> str:
        """The first accepted API key."""
        return self._settings.api_keys[0]

    @property
    def ca_pem_path(self) -> Path | None:
        """The CA certificate (PEM) to trust, with ``tls=True``; None otherwise."""
        return None if self._tls_files is None else self._tls_files.ca_pem

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts the emulator's throwaway CA (``tls=True`` only)."""
        ca = self.ca_pem_path
        if ca is None:
            raise RuntimeError("client_ssl_context() needs an Emulator started with tls=True")
        return ssl.create_default_context(cafile=str(ca))

    # -- test hooks ---------------------------------------------------------------------------

    def _running(self) -> Core:
        if self._core is None:
            raise RuntimeError("the emulator is not started")
        return self._core

    def add_fault(self, fault: Fault) -> None:
        """Queue ``fault`` for the next matching request(s)."""
        self._running().faults.add(fault)

    def clear_faults(self) -> None:
        self._running().faults.clear()

    @property
    def submit_count(self) -> int:
        """How many submit requests created a job."""
        return self._running().submit_count

    @property
    def requests(self) -> list[RequestRecord]:
        """Every handled request as ``(method, path, status)``, in order; status None when the
        connection was dropped without an answer. Control requests are not included."""
        return self._running().requests

    @property
    def jobs(self) -> Mapping[str, str]:
        """A read-only snapshot: job id -> status, as of now."""
        return self._running().job_statuses()

    def fail_job(self, job_id: str, error: str = "Job failed (failed by the test)") -> None:
        """Make a pending or processing job fail now (KeyError for an unknown job)."""
        self._running().fail_job(job_id, error)
