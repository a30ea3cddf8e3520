"""Typed results and typed errors from a response's status, headers and (bounded) body.

The messages follow Decart's clients (``"Failed to submit job: 422 - ..."``) so that logs and
code matching on them keep working; what we add is a readable 422, the server's request id, a
bound on the body quoted, and a compressed body decoded. (They quote what the server sent, which
may echo the API key: the driver masks it in every error it raises, in one place, _redact.py.)
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ._coding import CodingError, coding_of, decode_all
from ._errors import (
    DecartSDKError,
    QueueResultError,
    QueueStatusError,
    QueueSubmitError,
    RemoteProtocolError,
)
from ._requests import job_id_problem, shown_job_id

__all__ = [
    "JOB_STATUSES",
    "MAX_SMALL_BODY",
    "JobStatusResponse",
    "JobSubmitResponse",
    "Operation",
    "error_for",
    "header",
    "http_date",
    "read_job_json",
    "retry_after",
]

JobStatus = Literal["pending", "processing", "completed", "failed"]
JOB_STATUSES: tuple[str, ...] = ("pending", "processing", "completed", "failed")
MAX_ERROR_TEXT = 2000
# JSON answers and error bodies are small; a body past this is not kept (errors are truncated,
# a JSON answer is a protocol error), nor decoded past it when it came compressed.
MAX_SMALL_BODY = 1024 * 1024
REDACTED = "[redacted]"


@dataclass(frozen=True)
class JobSubmitResponse:
    job_id: str
    status: JobStatus


@dataclass(frozen=True)
class JobStatusResponse:
    job_id: str
    status: JobStatus


class Operation(enum.Enum):
    """Each exchange with its error class and the official message's verb phrase."""

    SUBMIT = ("submit job", QueueSubmitError)
    STATUS = ("get job status", QueueStatusError)
    RESULT = ("get job content", QueueResultError)

    def __init__(self, phrase: str, error: type[DecartSDKError]) -> None:
        self.phrase = phrase
        self.error = error


def header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The first value of header *name* (lower-case, as h11 gives them), decoded leniently."""
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


_DECODER = json.JSONDecoder()


def _parse_json(data: str | bytes) -> Any:
    """The parsed JSON, or None. A body nested deeper than the parser's recursion limit is as
    unusable as a malformed one, and must not crash the caller."""
    # The API's bodies are compact UTF-8 JSON: the decoder alone reads them in a quarter of
    # json.loads()'s time (no encoding detection, no whitespace scans). Anything it does not
    # take whole is read by json.loads(), with its full rules (surrounding whitespace, BOM,
    # UTF-16/32).
    try:
        text = data if isinstance(data, str) else data.decode()
        value, end = _DECODER.raw_decode(text)
        if end == len(text):
            return value
    except (ValueError, RecursionError):
        pass
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def _detail_text(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    parsed = _parse_json(text)
    detail = parsed.get("detail") if isinstance(parsed, dict) else None
    if not isinstance(detail, list) or not detail:
        return text
    # FastAPI's validation errors: [{"loc": ["body", "prompt"], "msg": "...", "type": "..."}]
    lines = []
    for item in detail:
        if isinstance(item, dict):
            loc = item.get("loc")
            where = ".".join(str(p) for p in loc if p != "body") if isinstance(loc, list) else ""
            msg = str(item.get("msg", item))
            lines.append(f"{where}: {msg}" if where else msg)
        else:
            lines.append(str(item))
    return "; ".join(lines)


def error_for(
    op: Operation,
    status: int,
    headers: Sequence[tuple[bytes, bytes]],
    body: bytes,
    *,
    truncated: bool = False,
    cause: BaseException | None = None,
) -> DecartSDKError:
    """The error a non-2xx response becomes."""
    coding = coding_of(headers)
    if coding:
        try:
            body = decode_all(coding, body, MAX_SMALL_BODY)
        except CodingError as exc:
            body = f"(a body encoded as {coding!r}, and {exc})".encode()
    text = _detail_text(body) if status == 422 else body.decode("utf-8", "replace")
    if truncated or len(text) > MAX_ERROR_TEXT:
        text = text[:MAX_ERROR_TEXT] + "… (truncated)"
    message = f"Failed to {op.phrase}: {status} - {text}"
    data: dict[str, Any] = {"status": status}
    request_id = header(headers, b"x-request-id")
    if request_id:
        request_id = request_id[:200]
        data["request_id"] = request_id
        message += f" (request id {request_id})"
    return op.error(message, data=data, cause=cause)


def read_job_json(
    op: Operation, status_code: int, body: bytes, *, coding: str = ""
) -> tuple[str, JobStatus]:
    """``(job_id, status)`` from a 2xx submit or status body (in content coding *coding*, ""
    for none); anything else the API's contract does not allow becomes the operation's error
    with a :class:`RemoteProtocolError` cause."""
    if coding:
        try:
            body = decode_all(coding, body, MAX_SMALL_BODY)
        except CodingError as exc:
            cause = RemoteProtocolError(
                f"the server sent an answer encoded as {coding!r}, and {exc}"
            )
            cause.__cause__ = exc
            raise op.error(
                f"Failed to {op.phrase}: {cause.message}", data={"status": status_code}, cause=cause
            ) from cause
    parsed = _parse_json(body)
    job_id = parsed.get("job_id") if isinstance(parsed, dict) else None
    status = parsed.get("status") if isinstance(parsed, dict) else None
    refused = job_id_problem(job_id)
    if refused is None:
        assert isinstance(job_id, str)
        if status in JOB_STATUSES:
            return job_id, status
        problem = f"unknown job status {_shown(status)}"
    elif isinstance(job_id, str) and job_id:
        problem = f"job id {shown_job_id(job_id)}, which cannot be used: it {refused}"
    else:
        problem = "a body that is not a JSON object with job_id and status"
    preview = body.decode("utf-8", "replace")[:200]
    cause = RemoteProtocolError(f"the server sent {problem}: {preview!r}")
    raise op.error(
        f"Failed to {op.phrase}: {cause.message}", data={"status": status_code}, cause=cause
    )


def _shown(value: object) -> str:
    """*value*'s repr for a message, at most about 100 characters of it."""
    text = repr(value)
    return text if len(text) <= 100 else f"{text[:100]}… ({len(text)} characters)"


_SECONDS = re.compile(r"-?[0-9]+")


def retry_after(headers: Sequence[tuple[bytes, bytes]]) -> float | None:
    """Seconds to wait from ``Retry-After`` (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date
    measured against the response's own ``Date`` so that the two clocks never mix. ``None``
    when absent or unusable; a time already past (or a negative number) is 0."""
    value = header(headers, b"retry-after")
    if value is None:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        # float(), not int(): no digit-count limit, and a huge value becomes inf for the
        # policy's cap to bound.
        return max(0.0, float(value))
    date = header(headers, b"date")
    wanted = http_date(value)
    sent = None if date is None else http_date(date.strip())
    if wanted is None or sent is None:
        return None
    return float(max(0, wanted - sent))


# RFC 9110 §5.6.7: a recipient accepts all three forms; only IMF-fixdate is sent today.
# (email.utils would parse them too, but importing it imports socket, which the core must not.)
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH = f"({'|'.join(_MONTHS)})"
_TIME = r"([0-9]{2}):([0-9]{2}):([0-9]{2})"
_IMF_FIXDATE = re.compile(rf"{_WEEKDAY}, ([0-9]{{2}}) {_MONTH} ([0-9]{{4}}) {_TIME} GMT")
_RFC850 = re.compile(
    rf"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), "
    rf"([0-9]{{2}})-{_MONTH}-([0-9]{{2}}) {_TIME} GMT"
)
_ASCTIME = re.compile(rf"{_WEEKDAY} {_MONTH} ([ 0-9][0-9]) {_TIME} ([0-9]{{4}})")


def http_date(text: str) -> int | None:
    """Seconds since 1970-01-01T00:00:00Z for an HTTP-date, or None if *text* is not one."""
    if match := _IMF_FIXDATE.fullmatch(text):
        day, month, year, hh, mm, ss = match.groups()
    elif match := _RFC850.fullmatch(text):
        day, month, yy, hh, mm, ss = match.groups()
        # §5.6.7 asks for "the most recent year that had the same last two digits" within 50
        # years; with no clock in the core, pivot at 1970 as the Unix tools do.
        year = str((2000 if int(yy) < 70 else 1900) + int(yy))
    elif match := _ASCTIME.fullmatch(text):
        month, day, hh, mm, ss, year = match.groups()
    else:
        return None
    return _epoch_seconds(int(year), _MONTHS.index(month) + 1, int(day), int(hh), int(mm), int(ss))


def _epoch_seconds(year: int, month: int, day: int, hh: int, mm: int, ss: int) -> int | None:
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    month_days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    if not 1 <= day <= month_days or hh > 23 or mm > 59 or ss > 60:  # 60: a leap second
        return None
    # Days from the civil date (H. Hinnant's algorithm): a proleptic Gregorian calendar without
    # datetime, whose import would bring the clock module into the core.
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return days * 86400 + hh * 3600 + mm * 60 + ss
