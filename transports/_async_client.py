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
from typing import Any, Generic, TypeVar

from decart_proto import (
    Driver,
    JobStatusResponse,
    JobSubmitResponse,
    PollPolicy,
    QueueJobResult,
    RetryPolicy,
    Timeouts,
)

from ._async_pool import AsyncIO, AsyncPool
from ._async_run import AsyncRun
from ._common import ClientConfig, Output, OutputTarget, open_output
from ._style import ProgressCallback, StatusCallback, status_callback_in

__all__ = ["AsyncDecartClient", "AsyncIO", "AsyncQueueClient"]

S = TypeVar("S")


class AsyncDecartClient(abc.ABC, Generic[S]):
    """A Decart Queue API client; each transport names a subclass ``DecartClient`` that
    chooses its :class:`AsyncIO`. One client serves any number of concurrent calls, which
    share its connections; ``async with`` closes them on exit."""

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
    ) -> None:
        self._config = ClientConfig.make(
            api_key, base_url, integration, ssl_context, poll, retry, timeouts,
            max_idle_connections,
        )  # fmt: skip
        self._io = self._make_io()
        self._driver: Driver[S] = self._config.driver(self._io.clock, self._io.name)
        self._pool = AsyncPool(self._io, max_idle_connections)
        self._tls: ssl.SSLContext | None = None
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
        """Close the idle connections, and those that calls still running give back later."""
        self._pool.close()

    def _run(
        self,
        on_status_change: StatusCallback | None = None,
        output: Output | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> AsyncRun[S]:
        return AsyncRun(
            self._io, self._pool, self._tls_context, on_status_change, output, on_progress
        )

    def _tls_context(self) -> ssl.SSLContext:
        # Made at the first https connection (loading the trust store takes a while).
        if self._tls is None:
            self._tls = self._config.tls_context()
        return self._tls


C = TypeVar("C", bound=AsyncDecartClient[Any])


class AsyncQueueClient(Generic[S]):
    """``client.queue``: the four methods of the Queue API docs, plus :meth:`wait` to resume a
    job by id. ``timeout`` is the whole call's deadline in seconds; ``output`` (a path or a
    binary file) receives the video instead of memory, atomically for a path; ``on_progress``
    is called with a :class:`decart_proto.Progress` as the upload and the download move.
    An async client awaits the callbacks that are async; a blocking one refuses them."""

    def __init__(self, client: AsyncDecartClient[S]) -> None:
        self._client = client
        self._driver = client._driver

    async def submit(
        self,
        options: Mapping[str, Any],
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> JobSubmitResponse:
        gen = self._driver.submit(options, timeout=timeout, progress=on_progress is not None)
        return await self._client._run(on_progress=on_progress).run(gen)

    async def status(self, job_id: str, *, timeout: float | None = None) -> JobStatusResponse:
        return await self._client._run().run(self._driver.status(job_id, timeout=timeout))

    async def result(
        self,
        job_id: str,
        *,
        output: OutputTarget = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> QueueJobResult:
        out = open_output(output)
        gen = self._driver.result(
            job_id, to_output=out is not None, timeout=timeout, progress=on_progress is not None
        )
        return await self._client._run(None, out, on_progress).run(gen)

    async def submit_and_poll(
        self,
        options: Mapping[str, Any],
        *,
        on_status_change: StatusCallback | None = None,
        output: OutputTarget = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> QueueJobResult:
        # The callback may come in the options, as in the Queue API docs.
        callback = on_status_change or status_callback_in(options)
        out = open_output(output)
        gen = self._driver.submit_and_poll(
            options, to_output=out is not None, timeout=timeout, progress=on_progress is not None
        )
        return await self._client._run(callback, out, on_progress).run(gen)

    async def wait(
        self,
        job_id: str,
        *,
        on_status_change: StatusCallback | None = None,
        output: OutputTarget = None,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> QueueJobResult:
        out = open_output(output)
        gen = self._driver.wait(
            job_id, to_output=out is not None, timeout=timeout, progress=on_progress is not None
        )
        return await self._client._run(on_status_change, out, on_progress).run(gen)
