"""The driver's events through each transport: logged on ``logging.getLogger("decart_proto")``
(DEBUG per request and answer, INFO per status change, WARNING per retry), handed to the
client's ``event_hook`` (awaited when async), never showing the API key, and not built at all
at levels nobody listens to."""

from __future__ import annotations

import importlib
import logging
from typing import Any

import anyio
import pytest
from transport_helpers import SECRET

from decart_emulator import Emulator, Fault
from decart_proto import (
    Event,
    InvalidInputError,
    RequestStarted,
    ResponseReceived,
    RetryScheduled,
    StatusChanged,
    models,
)
from decart_proto._events import DEBUG, INFO, WARNING

pytestmark = pytest.mark.anyio

MODEL = models.video("lucy-2.1")
STATUS_PATH = r"/v1/jobs/[^/]+"
LOGGER = "decart_proto"


def ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


async def test_a_retried_503_is_a_warning_with_its_reason_delay_and_request_id(
    connect: Any, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    emu.add_fault(
        Fault(
            method="GET",
            path=STATUS_PATH,
            status=503,
            body="busy now",
            headers={"Retry-After": "1", "X-Request-ID": "req-503-a"},
        )
    )
    async with connect() as api:
        job = await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
        status = await api.queue.status(job.job_id)
    assert status.job_id == job.job_id
    records = ours(caplog)
    assert [r.levelno for r in records] == [logging.WARNING]
    message = records[0].getMessage()
    assert message.startswith(f"job {job.job_id}: retrying in 1.0 s (attempt 2 of 5): 503")
    assert "busy now" in message and "request id req-503-a" in message
    event = records[0].decart_event
    assert isinstance(event, RetryScheduled)
    assert (event.job_id, event.attempt) == (job.job_id, 2)
    assert event.delay == pytest.approx(1.0)


async def test_status_changes_are_info_and_each_request_is_debug(
    connect: Any, emu: Emulator, caplog: pytest.LogCaptureFixture, each_status_polled: None
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    async with connect() as api:
        result = await api.queue.submit_and_poll({"model": MODEL, "data": b"v", "prompt": "x"})
    job_id = result.job_id
    records = ours(caplog)
    changes = [r.getMessage() for r in records if r.levelno == logging.INFO]
    assert changes == [
        f"job {job_id}: submitted -> pending",
        f"job {job_id}: pending -> processing",
        f"job {job_id}: processing -> completed",
    ]
    debug = [r for r in records if r.levelno == logging.DEBUG]
    started = [r.decart_event for r in debug if isinstance(r.decart_event, RequestStarted)]
    answered = [r.decart_event for r in debug if isinstance(r.decart_event, ResponseReceived)]
    # Each request is told, then its answer: the submit, the polls, the download.
    assert len(started) == len(answered) == len(debug) // 2 >= 4
    assert [(e.method, e.path) for e in started] == [(e.method, e.path) for e in answered]
    assert started[0].method == "POST" and started[0].job_id is None
    assert answered[0].job_id == job_id  # the submit's answer named the job
    assert started[-1].path == f"/v1/jobs/{job_id}/content"
    assert all(e.status_code == 200 and e.elapsed >= 0 for e in answered)
    # Every record after the submit's request names the job.
    assert all(job_id in r.getMessage() for r in records[1:])


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_the_hook_hears_what_the_log_records(
    connect: Any,
    emu: Emulator,
    transport: str,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    emu.add_fault(Fault(method="GET", path=STATUS_PATH, status=502))
    heard: list[Event] = []

    async def hear_async(event: Event) -> None:
        await anyio.sleep(0)
        heard.append(event)

    hook: Any = heard.append if kind == "sync" else hear_async
    if kind == "async" and transport == "blocking":
        async with connect(event_hook=hook) as api:
            with pytest.raises(TypeError, match="cannot await event_hook"):
                await api.queue.status("no-such-job")
        return
    async with connect(event_hook=hook) as api:
        job = await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
        result = await api.queue.wait(job.job_id)
    assert result.status == "completed"
    assert heard == [r.decart_event for r in ours(caplog)]
    kinds = {type(e) for e in heard}
    assert {RequestStarted, ResponseReceived, RetryScheduled, StatusChanged} <= kinds


async def test_a_hook_alone_hears_every_event_whatever_the_log_level(
    connect: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL, logger=LOGGER)
    heard: list[Event] = []
    async with connect(event_hook=heard.append) as api:
        job = await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
    assert [type(e) for e in heard] == [RequestStarted, ResponseReceived]
    assert heard[1].job_id == job.job_id
    assert ours(caplog) == []


async def test_what_the_hook_raises_reaches_the_caller_as_it_is(connect: Any) -> None:
    class Stop(Exception):
        pass

    def refuse(event: Event) -> None:
        raise Stop(event)

    async with connect(event_hook=refuse) as api:
        with pytest.raises(Stop) as caught:
            await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
    assert isinstance(caught.value.args[0], RequestStarted)


async def test_no_request_event_is_built_at_warning(
    connect: Any, emu: Emulator, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Polling thousands of jobs with logging at WARNING costs nothing per request: the
    # driver is told so, and builds none (an event class that cannot be built proves it).
    caplog.set_level(logging.WARNING, logger=LOGGER)

    def refuse(*args: object) -> None:
        raise AssertionError("a request's event was built at WARNING")

    for name in ("RequestStarted", "ResponseReceived", "RequestFailed", "StatusChanged"):
        monkeypatch.setattr(f"decart_proto._driver.{name}", refuse)
    emu.add_fault(Fault(method="GET", path=STATUS_PATH, status=500))
    async with connect() as api:
        result = await api.queue.submit_and_poll({"model": MODEL, "data": b"v", "prompt": "x"})
    assert result.status == "completed"
    assert [type(r.decart_event) for r in ours(caplog)] == [RetryScheduled]


async def test_the_key_echoed_by_the_server_is_in_no_record_and_no_event(
    connect: Any, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    emu.add_fault(
        Fault(
            method="GET",
            path=STATUS_PATH,
            status=503,
            body=f"no key {SECRET} accepted",
            headers={"X-Request-ID": SECRET, "x-echo": SECRET},
        )
    )
    heard: list[Event] = []
    async with connect(api_key=SECRET, event_hook=heard.append) as api:
        job = await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
        await api.queue.status(job.job_id)
    records = ours(caplog)
    retry = [e for e in heard if isinstance(e, RetryScheduled)]
    assert len(retry) == 1 and "no key [redacted] accepted" in retry[0].reason
    texts = [r.getMessage() for r in records] + [repr(e) for e in heard]
    texts += [repr(r.decart_event) for r in records]
    runs = {SECRET[i : i + 8] for i in range(len(SECRET) - 7)}
    assert not any(run in text for text in texts for run in runs), texts
    assert any("request id [redacted]" in text for text in texts)


async def test_an_event_hook_must_be_callable(transport: str, emu: Emulator) -> None:
    module = importlib.import_module(f"decart_proto.transports.{transport}")
    with pytest.raises(InvalidInputError, match="event_hook must be a callable"):
        module.DecartClient(api_key="k", base_url=emu.base_url, event_hook="print")


def test_the_core_levels_are_the_logging_modules() -> None:
    assert (DEBUG, INFO, WARNING) == (logging.DEBUG, logging.INFO, logging.WARNING)
