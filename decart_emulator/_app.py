"""The ASGI application: the Queue API of WIRE.md, with faults applied per request.

Routes (matched on the raw path, split on ``/`` before percent-decoding each segment, so that an
encoded ``/`` in a job id can never reach another route):

- ``POST /v1/jobs/{model}``: submit; ``GET /v1/jobs/{job_id}``: status;
  ``GET /v1/jobs/{job_id}/content``: the result;
- ``/_emulator/...``: the control endpoint, when enabled (``_control.py``).

Checks happen in the order a FastAPI service would make them: route, API key, model, size,
form, rules. Answers that do not need the body are sent without reading it; uvicorn then
discards the rest of the body itself and keeps the connection usable. A body that stops
arriving (``BodyTimeout``) is answered 408 and its connection closed: it is mid-body, so it
cannot carry another request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ._control import serve_control
from ._core import Core
from ._form import FormError, ParsedForm, discard_form, multipart_boundary, read_form
from ._jobs import COMPLETED, FAILED, failure_reason
from ._models import MODELS, validate_form
from ._wire import BodyTimeout, ClientGone, ConnectionDropped, Exchange, Receive, Scope, Send

__all__ = ["EmulatorApp"]

CONTROL_PREFIX = "/_emulator/"


def _segments(scope: Scope) -> list[str]:
    raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    return [unquote(segment) for segment in raw.decode("latin-1").split("/")]


def _route(segments: list[str]) -> tuple[str, str] | None:
    """(route name, path argument), or None for a path the API does not have."""
    if segments[:3] != ["", "v1", "jobs"] or len(segments) not in (4, 5) or not segments[3]:
        return None
    if len(segments) == 4:
        return ("job", segments[3])
    return ("content", segments[3]) if segments[4] == "content" else None


class EmulatorApp:
    """An ASGI 3 application over a ``Core``."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method: str = scope["method"]
        path: str = scope["path"]
        read_timeout = self.core.settings.read_timeout_seconds
        serving: Awaitable[None]
        if self.core.settings.control_endpoint and path.startswith(CONTROL_PREFIX):
            exchange = Exchange(scope, receive, send, None, read_timeout=read_timeout)
            serving = serve_control(exchange, self.core)
        else:
            route = _route(_segments(scope))
            is_submit = route is not None and route[0] == "job" and method == "POST"
            fault = self.core.faults.take(method, path, is_submit)
            exchange = Exchange(
                scope, receive, send, fault, self.core.record, read_timeout=read_timeout
            )
            serving = self._serve(exchange, route)
        try:
            await serving
        except BodyTimeout:
            with contextlib.suppress(ConnectionDropped):
                await exchange.respond_body_timeout()
        except (ConnectionDropped, ClientGone):
            pass
        finally:
            exchange.finish()

    async def _serve(self, exchange: Exchange, route: tuple[str, str] | None) -> None:
        fault = exchange.fault
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.close_before_response:
                await exchange.drop()
            if fault.status is not None:
                await exchange.respond_scripted(fault)
                return
        if route is None:
            await exchange.respond_json(404, {"detail": "Not Found"})
            return
        name, argument = route
        allowed = ("POST", "GET") if name == "job" else ("GET",)
        if exchange.method not in allowed:
            await exchange.respond_json(
                405, {"detail": "Method Not Allowed"}, [("allow", ", ".join(allowed))]
            )
            return
        api_key = await self._authenticate(exchange)
        if api_key is None:
            return
        if exchange.method == "POST":
            await self._submit(exchange, argument, api_key)
        elif name == "job":
            await self._status(exchange, argument, api_key)
        else:
            await self._content(exchange, argument, api_key)

    async def _authenticate(self, exchange: Exchange) -> str | None:
        api_key = exchange.header("x-api-key")
        if not api_key:
            detail = "Missing API key: send it in the X-API-KEY header"
        elif api_key not in self.core.settings.api_keys:
            detail = "Invalid API key"
        else:
            return api_key
        await exchange.respond_json(401, {"detail": detail})
        return None

    async def _submit(self, exchange: Exchange, model: str, api_key: str) -> None:
        spec = MODELS.get(model)
        if spec is None:
            await exchange.respond_json(404, {"detail": f"Model not found: {model}"})
            return
        try:
            form = await self._read_form(exchange)
        except FormError as error:
            await exchange.respond_json(error.status, {"detail": error.detail})
            return
        errors = validate_form(spec, form.as_input())
        if errors:
            discard_form(form)
            await exchange.respond_json(422, {"detail": errors})
            return
        job = self.core.create_job(spec, api_key, form, exchange.fault)
        headers = []
        if spec.replaced_by is not None:
            warning = f'299 - "model {spec.name} is deprecated; use {spec.replaced_by}"'
            headers.append(("warning", warning))
        await exchange.respond_json(200, {"job_id": job.job_id, "status": "pending"}, headers)

    async def _read_form(self, exchange: Exchange) -> ParsedForm:
        limit = self.core.settings.max_upload_bytes
        length = exchange.header("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise FormError(413, f"Request body larger than the limit of {limit} bytes")
        boundary = multipart_boundary(exchange.header("content-type"))
        if boundary is None:
            # Not a multipart form: FastAPI sees no fields, and reports the required ones.
            return ParsedForm()
        return await read_form(
            exchange.body_chunks(), boundary, self.core.spool_dir, limit, self.core.in_memory_bytes
        )

    async def _status(self, exchange: Exchange, job_id: str, api_key: str) -> None:
        job = self.core.job_for(job_id, api_key)
        if job is None:
            await exchange.respond_json(404, {"detail": "Job not found"})
            return
        await exchange.respond_json(200, {"job_id": job.job_id, "status": self.core.status(job)})

    async def _content(self, exchange: Exchange, job_id: str, api_key: str) -> None:
        job = self.core.job_for(job_id, api_key)
        if job is None:
            await exchange.respond_json(404, {"detail": "Job not found"})
            return
        status = self.core.status(job)
        if status != COMPLETED or job.result_path is None:
            detail: dict[str, Any] = {"detail": f"Job is not completed (status: {status})"}
            if status == FAILED:
                detail = {"detail": f"Job failed: {failure_reason(job)}"}
            await exchange.respond_json(409, detail)
            return
        data = self.core.result_in_memory(job)
        if data is not None:
            await exchange.respond(200, data, "video/mp4")
            return
        await exchange.respond_file(200, Path(job.result_path), "video/mp4")
