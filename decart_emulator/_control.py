"""The control endpoint: the Python API's test hooks over HTTP, for an emulator in another process.

Enabled by ``control_endpoint=True`` (``--control``). It needs no API key: it is test tooling
for a server on loopback. Its requests are neither recorded in ``requests`` nor subject to
faults, so that observing the emulator does not change what it observed.

- ``GET /_emulator/stats``: ``{"submit_count", "jobs": {id: status}, "requests": [[m, p, s]],
  "faults": [queued faults, with "remaining" uses]}``
- ``POST /_emulator/faults``: a JSON object (or a list of them) with ``Fault``'s fields; 400
  with the reason when a fault is invalid, and then none of the list is queued
- ``DELETE /_emulator/faults``: forget every queued fault
- ``POST /_emulator/jobs/{job_id}/fail``: ``{"error": "..."}`` (optional); fail the job now
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ._core import Core
from ._faults import Fault
from ._jobs import JobEnded
from ._wire import ClientGone, Exchange

__all__ = ["serve_control"]

MAX_CONTROL_BODY = 64 * 1024
_FAULT_FIELDS = frozenset(f.name for f in dataclasses.fields(Fault) if f.init)


def _fault_from_json(item: Any) -> Fault:
    if not isinstance(item, dict):
        raise ValueError("a fault is a JSON object")
    unknown = set(item) - _FAULT_FIELDS
    if unknown:
        raise ValueError(f"unknown Fault fields: {sorted(unknown)}")
    try:
        return Fault(**item)
    except TypeError as exc:
        raise ValueError(str(exc)) from exc


def _stats(core: Core) -> dict[str, Any]:
    return {
        "submit_count": core.submit_count,
        "jobs": dict(core.job_statuses()),
        "requests": [list(record) for record in core.requests],
        "faults": [{**fault.to_json(), "remaining": left} for fault, left in core.faults.pending()],
    }


async def _read_json(exchange: Exchange) -> Any:
    body = await exchange.read_body(MAX_CONTROL_BODY)
    return json.loads(body) if body.strip() else None


async def serve_control(exchange: Exchange, core: Core) -> None:
    """Answer one control request."""
    parts = exchange.path.split("/")[2:]  # after "/_emulator/"
    method = exchange.method
    try:
        if parts == ["stats"] and method == "GET":
            await exchange.respond_json(200, _stats(core))
        elif parts == ["faults"] and method == "POST":
            payload = await _read_json(exchange)
            items = payload if isinstance(payload, list) else [payload]
            faults = [_fault_from_json(item) for item in items]
            for fault in faults:
                core.faults.add(fault)
            await exchange.respond_json(200, {"queued": len(faults)})
        elif parts == ["faults"] and method == "DELETE":
            cleared = len(core.faults.pending())
            core.faults.clear()
            await exchange.respond_json(200, {"cleared": cleared})
        elif len(parts) == 3 and parts[0] == "jobs" and parts[2] == "fail" and method == "POST":
            payload = await _read_json(exchange) or {}
            if not isinstance(payload, dict):
                raise ValueError('expected a JSON object like {"error": "..."}')
            error = str(payload.get("error", "Job failed (failed through the control endpoint)"))
            try:
                core.fail_job(parts[1], error)
            except KeyError:
                await exchange.respond_json(404, {"detail": "Job not found"})
                return
            except JobEnded as exc:
                await exchange.respond_json(409, {"detail": str(exc)})
                return
            await exchange.respond_json(200, {"job_id": parts[1], "status": "failed"})
        else:
            await exchange.respond_json(404, {"detail": "Not Found"})
    except ClientGone:
        return
    except ValueError as exc:  # bad JSON (JSONDecodeError is a ValueError) or an invalid fault
        await exchange.respond_json(400, {"detail": str(exc)})
