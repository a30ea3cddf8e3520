"""The ``DecartClient`` / ``client.queue`` facade every transport offers, for async code: a
transport supplies only its :class:`AsyncIO` (``_async_pool.py``); the calls run through
:class:`AsyncRun` (``_async_run.py``).

``_sync_client.py``, the blocking twin of this file, is generated from it by
``scripts/unasync.py`` (``async def`` becomes ``def``, ``await`` goes, ``AsyncIO`` becomes
``SyncIO``, ...), as are the pool's and the run loop's: edit the ``_async_*`` files, run the
script, and commit both; a test fails while they differ.
"""

from __future__ import annotations

import abc
import ssl
from collections.abc import Mapping
from typing import Any, Generic, TypeVar, overload

from decart_proto import (
    CompletedResult,
    Driver,
    FailedResult,
    JobStatusResponse,
    JobSubmitResponse,
    PollPolicy,
    QueueJobResult,
    RetryPolicy,
    SavedResult,
    SubmitOptions,
    Timeouts,
)

from ._async_pool import AsyncIO, AsyncPool
from ._async_run import AsyncRun
from ._common import ClientConfig, Output, OutputPlace, OutputTarget, open_output
from ._logging import EventHook, listening
from ._style import ProgressCallback, StatusCallback, status_callback_in

__all__ = ["AsyncDecartClient", "AsyncIO", "AsyncQueueClient"]

S = TypeVar("S")


class AsyncDecartClient(abc.ABC, Generic[S]):
    """A Decart Queue API client; each transport names a subclass ``DecartClient`` that
    chooses its :class:`AsyncIO`. One client serves any number of concurrent calls, which
    share its connections; ``async with`` closes them on exit.

    ``max_connections`` bounds the connections open at once (None: no bound), as in httpx and
    aiohttp, so that thousands of calls in flight need neither thousands of sockets nor more
    file descriptors than the process may have: beyond it a call waits its turn, within its
    own timeout. ``max_idle_connections`` is how many of them stay open between requests.

    Each call logs what happens on ``logging.getLogger("decart_proto")`` (requests at DEBUG,
    status changes at INFO, retries and a deadline given up at WARNING: docs/logging.md) and
    passes the same events to ``event_hook`` (awaited when async, by the async clients); what
    the hook raises reaches the caller as it is.

    ``proxy`` (``http://user:password@host:port``) is the proxy every request goes through;
    with ``trust_env`` (the default, as in httpx and requests) ``HTTPS_PROXY``, ``HTTP_PROXY``,
    ``ALL_PROXY`` and ``NO_PROXY`` choose one when ``proxy`` is not given, and
    ``DECART_BASE_URL`` is the base URL when ``base_url`` is not. ``default_headers`` go with
    every request; none may be one the client writes itself (the key, ``Host``, the framing):
    docs/clients.md."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        integration: str | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        poll: PollPolicy | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        max_idle_connections: int = 8,
        max_connections: int | None = 100,
        proxy: str | None = None,
        trust_env: bool = True,
        default_headers: Mapping[str, str] | None = None,
        event_hook: EventHook | None = None,
    ) -> None:
        self._config = ClientConfig.make(
            api_key, base_url, integration, ssl_context, poll, retry, timeouts,
            max_idle_connections, proxy, trust_env, default_headers, max_connections,
            event_hook,
        )  # fmt: skip
        self._io = self._make_io()
        self._driver: Driver[S] = self._config.driver(self._io.clock, self._io.name)
        self._pool = AsyncPool(self._io, max_idle_connections, self._config.max_connections)
        self._tls: ssl.SSLContext | None = None
        self._closed = False
        self.base_url = self._config.base_url
        self.integration = integration
        self.queue = AsyncQueueClient(self)

    @abc.abstractmethod
    def _make_io(self) -> AsyncIO[S]: ...

    def __repr__(self) -> str:
        return f"DecartClient(base_url={self.base_url!r})"

    async def __aenter__(self: C) -> C:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the idle connections, and those that calls still running give back later.
        A call started after this raises ``RuntimeError``; calls already running finish."""
        self._closed = True
        self._pool.close()

    def _run(
        self,
        on_status_change: StatusCallback | None = None,
        output: Output | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> AsyncRun[S]:
        if self._closed:
            # As httpx does: a closed client's connections are gone, and a call on it is a
            # mistake worth naming rather than a pool quietly refilled.
            raise RuntimeError(
                "this DecartClient is closed (by close() or the end of its 'with' block): "
                "make a new client for more calls"
            )
        return AsyncRun(
            self._io,
            self._pool,
            self._tls_context,
            on_status_change,
            output,
            on_progress,
            self._config.event_hook,
        )

    def _events(self) -> int | None:
        # Asked at each call, so that logging configured later is heard by the next call.
        return listening(self._config.event_hook)

    def _tls_context(self) -> ssl.SSLContext:
        # Made at the first https connection (loading the trust store takes a while).
        if self._tls is None:
            self._tls = self._config.tls_context()
        return self._tls


C = TypeVar("C", bound=AsyncDecartClient[Any])


class AsyncQueueClient(Generic[S]):
    """``client.queue``: the four methods of the Queue API docs, plus :meth:`wait` to resume a
    job by id.

    Arguments they share: ``timeout``, the whole call's deadline in seconds (None: the
    policies' default, see docs/defaults.md); ``output``, a path or a binary file that receives
    the video instead of memory (atomically for a path: a temporary file renamed at the end);
    ``on_progress``, called with a :class:`decart_proto.Progress` as the upload and the
    download move; ``on_status_change``, called with each new :class:`JobStatusResponse`. An
    async client awaits the callbacks that are async; a blocking one refuses them. What a
    callback raises reaches the caller as it is.

    Errors are :class:`decart_proto.DecartSDKError` subclasses (docs/errors.md); once a job
    exists, an error that ends the call names its id (``.data["job_id"]``), to resume with
    :meth:`wait`."""

    def __init__(self, client: AsyncDecartClient[S]) -> None:
        self._client = client
        self._driver = client._driver

    async def submit(
        self,
        options: SubmitOptions,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> JobSubmitResponse:
        """Upload the inputs and create a job, without waiting for it.

        ``options``: ``model`` (``models.video(name)``), ``data`` (the video: a path, bytes or a
        binary file) and the model's fields (``prompt``, ``reference_image``, ``seed``...),
        checked against the model's rules before anything is sent.

        Returns the job's id and first status. Raises :class:`InvalidInputError` for options
        the model refuses, :class:`QueueSubmitError` for a refusal by the server, and
        :class:`DeadlineExceededError` or :class:`NetworkError` when the submit cannot be
        known to have landed — a submit is never repeated once its body may have reached the
        server, so that no job is created twice."""
        gen = self._driver.submit(
            options,
            timeout=timeout,
            progress=on_progress is not None,
            events=self._client._events(),
        )
        return await self._client._run(on_progress=on_progress).run(gen)

    async def status(self, job_id: str, *, timeout: float | None = None) -> JobStatusResponse:
        """The job's status now: ``pending``, ``processing``, ``completed`` or ``failed``.

        Retried within ``timeout`` on network failures and 429/5xx answers. Raises
        :class:`QueueStatusError` (404: no such job), :class:`DeadlineExceededError`."""
        gen = self._driver.status(job_id, timeout=timeout, events=self._client._events())
        return await self._client._run().run(gen)

    @overload
    async def result(
        self,
        job_id: str,
        *,
        output: None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> CompletedResult | FailedResult: ...

    @overload
    async def result(
        self,
        job_id: str,
        *,
        output: OutputPlace,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> SavedResult | FailedResult: ...

    async def result(
        self,
        job_id: str,
        *,
        output: OutputTarget = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> QueueJobResult:
        """The finished job's video: a :class:`CompletedResult` (``data``, the video's bytes)
        or, with ``output``, a :class:`SavedResult`; a :class:`FailedResult` for a job that
        failed. A job still running is an error (:class:`QueueResultError`, status 409): use
        :meth:`wait` to wait for it."""
        out = open_output(output)
        gen = self._driver.result(
            job_id,
            to_output=out is not None,
            timeout=timeout,
            progress=on_progress is not None,
            events=self._client._events(),
        )
        return await self._client._run(None, out, on_progress).run(gen)

    @overload
    async def submit_and_poll(
        self,
        options: SubmitOptions,
        *,
        on_status_change: StatusCallback | None = None,
        output: None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> CompletedResult | FailedResult: ...

    @overload
    async def submit_and_poll(
        self,
        options: SubmitOptions,
        *,
        on_status_change: StatusCallback | None = None,
        output: OutputPlace,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> SavedResult | FailedResult: ...

    async def submit_and_poll(
        self,
        options: SubmitOptions,
        *,
        on_status_change: StatusCallback | None = None,
        output: OutputTarget = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> QueueJobResult:
        """Submit (as :meth:`submit`), poll until the job ends, and fetch its result (as
        :meth:`result`). ``on_status_change`` may also come in ``options``, as in the Queue
        API docs. An error after the submit names the job's id: :meth:`wait` resumes."""
        # The callback may come in the options, as in the Queue API docs.
        callback = on_status_change or status_callback_in(options)
        out = open_output(output)
        gen = self._driver.submit_and_poll(
            options,
            to_output=out is not None,
            timeout=timeout,
            progress=on_progress is not None,
            events=self._client._events(),
        )
        return await self._client._run(callback, out, on_progress).run(gen)

    @overload
    async def wait(
        self,
        job_id: str,
        *,
        on_status_change: StatusCallback | None = None,
        output: None = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> CompletedResult | FailedResult: ...

    @overload
    async def wait(
        self,
        job_id: str,
        *,
        on_status_change: StatusCallback | None = None,
        output: OutputPlace,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> SavedResult | FailedResult: ...

    async def wait(
        self,
        job_id: str,
        *,
        on_status_change: StatusCallback | None = None,
        output: OutputTarget = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> QueueJobResult:
        """Resume a job by its id: poll until it ends and fetch its result, as
        :meth:`submit_and_poll` does after its submit (for an interrupted wait, a CLI run, a
        job submitted by another process)."""
        out = open_output(output)
        gen = self._driver.wait(
            job_id,
            to_output=out is not None,
            timeout=timeout,
            progress=on_progress is not None,
            events=self._client._events(),
        )
        return await self._client._run(on_status_change, out, on_progress).run(gen)
