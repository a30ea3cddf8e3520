"""Response readers: typed answers, the official errors, Retry-After."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from decart_proto import (
    CompletedResult,
    FailedResult,
    QueueResultError,
    QueueStatusError,
    QueueSubmitError,
    RemoteProtocolError,
    SavedResult,
)
from decart_proto._coding import CodingError
from decart_proto._responses import (
    MAX_ERROR_TEXT,
    MAX_SMALL_BODY,
    Operation,
    error_for,
    header,
    http_date,
    read_job_json,
    retry_after,
)

# -- 2xx JSON ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["pending", "processing", "completed", "failed"])
@pytest.mark.parametrize("op", [Operation.SUBMIT, Operation.STATUS])
def test_job_json(op: Operation, status: str) -> None:
    body = json.dumps({"job_id": "j-1", "status": status, "new_field": [1, 2]}).encode()
    assert read_job_json(op, 200, body) == ("j-1", status)


@pytest.mark.parametrize(
    "body",
    [
        b'{"job_id":"j-1","status":"failed"}',  # compact, as the API sends it
        b' \r\n{"job_id": "j-1", "status": "failed"}\n',  # whitespace around
        b'\xef\xbb\xbf{"job_id": "j-1", "status": "failed"}',  # a UTF-8 BOM
        '{"job_id": "j-1", "status": "failed"}'.encode("utf-16"),  # UTF-16, with its BOM
        '{"job_id": "j-1", "status": "failed", "note": "caf\u00e9"}'.encode(),
    ],
)
def test_job_json_in_any_form_json_allows(body: bytes) -> None:
    assert read_job_json(Operation.STATUS, 200, body) == ("j-1", "failed")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"job_id": "j", "status": "queued"}', "unknown job status 'queued'"),
        (b'{"job_id": "j", "status": "pending"}x', "not a JSON object with job_id and status"),
        (b'{"job_id": "j", "status": "pending"}{}', "not a JSON object with job_id and status"),
        (b'{"job_id": "j"}', "unknown job status None"),
        (b'{"job_id": "j", "status": ["pending"]}', "unknown job status ['pending']"),
        (b'{"job_id": "../x", "status": "pending"}', "job id '../x', which cannot be used"),
        (b'{"job_id": "..", "status": "pending"}', "job id '..', which cannot be used"),
        (
            b'{"job_id": "%s", "status": "pending"}' % (b"j" * 257),
            "which cannot be used: it is 257 characters long; a job id has at most 256",
        ),
        (b'{"job_id": "", "status": "pending"}', "not a JSON object with job_id and status"),
        (b'{"job_id": 5, "status": "pending"}', "not a JSON object with job_id and status"),
        (b'["j", "pending"]', "not a JSON object with job_id and status"),
        (b"<html>bad gateway</html>", "not a JSON object with job_id and status"),
        (b"", "not a JSON object with job_id and status"),
        (b"\xff\xfe\x00", "not a JSON object with job_id and status"),
        (b"[" * 100_000, "not a JSON object with job_id and status"),
    ],
)
@pytest.mark.parametrize(
    ("op", "error"), [(Operation.SUBMIT, QueueSubmitError), (Operation.STATUS, QueueStatusError)]
)
def test_contract_breaches_are_protocol_errors(
    op: Operation, error: type, body: bytes, problem: str
) -> None:
    with pytest.raises(error) as info:
        read_job_json(op, 200, body)
    assert info.value.data == {"status": 200}
    assert isinstance(info.value.cause, RemoteProtocolError)
    assert problem in info.value.message
    assert info.value.message.startswith(f"Failed to {op.phrase}: the server sent ")


@pytest.mark.parametrize(
    ("field", "shown"),
    [
        ("job_id", "job id 'xxxx"),  # the id's characters
        ("status", "unknown job status 'xxxx"),  # the repr's: with its quotes
    ],
)
def test_a_huge_job_id_or_status_is_not_quoted_whole(field: str, shown: str) -> None:
    answer = {"job_id": "j-1", "status": "pending"}
    answer[field] = "x" * 1_000_000
    with pytest.raises(QueueSubmitError) as info:
        read_job_json(Operation.SUBMIT, 200, json.dumps(answer).encode())
    assert shown in info.value.message
    size = 1_000_000 if field == "job_id" else 1_000_002
    assert f"… ({size} characters)" in info.value.message
    assert len(info.value.message) < 700


# -- compressed answers ------------------------------------------------------------------------

JOB = b'{"job_id": "j-1", "status": "processing"}'


@pytest.mark.parametrize(
    ("coding", "body"),
    [("gzip", gzip.compress(JOB)), ("deflate", zlib.compress(JOB)), ("", JOB)],
)
@pytest.mark.parametrize("op", [Operation.SUBMIT, Operation.STATUS])
def test_a_compressed_job_json_is_read(op: Operation, coding: str, body: bytes) -> None:
    assert read_job_json(op, 200, body, coding=coding) == ("j-1", "processing")


@pytest.mark.parametrize(
    ("coding", "body", "problem"),
    [
        ("br", b"\x1b\x03", "encoded as 'br', and this client does not decode it"),
        ("gzip, gzip", gzip.compress(gzip.compress(JOB)), "this client does not decode it"),
        ("gzip", JOB, "encoded as 'gzip', and it is not valid gzip data"),
        ("gzip", gzip.compress(JOB)[:-3], "encoded as 'gzip', and its compressed data was cut"),
        (
            "gzip",
            gzip.compress(b" " * (MAX_SMALL_BODY + 1)),
            f"encoded as 'gzip', and it decodes to more than {MAX_SMALL_BODY} bytes",
        ),
    ],
    ids=["br", "stacked", "not-gzip", "cut", "bomb"],
)
def test_a_job_json_that_does_not_decode_is_refused_clearly(
    coding: str, body: bytes, problem: str
) -> None:
    with pytest.raises(QueueStatusError) as info:
        read_job_json(Operation.STATUS, 200, body, coding=coding)
    assert info.value.message.startswith("Failed to get job status: the server sent an answer")
    assert problem in info.value.message
    assert "not a JSON object" not in info.value.message
    assert info.value.data == {"status": 200}
    assert isinstance(info.value.cause, RemoteProtocolError)
    # Chained all the way down: the decoder's own complaint is the protocol error's cause.
    assert info.value.__cause__ is info.value.cause
    assert isinstance(info.value.cause.__cause__, CodingError)


@pytest.mark.parametrize(
    ("headers", "body", "text"),
    [
        ([(b"content-encoding", b"gzip")], gzip.compress(b"try later"), "try later"),
        ([(b"content-encoding", b"deflate")], zlib.compress(b"try later"), "try later"),
        (
            [(b"content-encoding", b"br")],
            b"\x8b\x03\x80",
            "(a body encoded as 'br', and this client does not decode it (it decodes gzip and "
            "deflate, and asks for no coding at all))",
        ),
        (
            [(b"content-encoding", b"gzip")],
            b"oops",
            "(a body encoded as 'gzip', and it is not valid gzip data: ",
        ),
    ],
)
def test_a_compressed_error_body_is_shown_decoded_or_described(
    headers: list[tuple[bytes, bytes]], body: bytes, text: str
) -> None:
    exc = error_for(Operation.STATUS, 503, headers, body)
    assert exc.message.startswith(f"Failed to get job status: 503 - {text}")
    assert exc.data == {"status": 503}


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "error", "phrase"),
    [
        (Operation.SUBMIT, QueueSubmitError, "submit job"),
        (Operation.STATUS, QueueStatusError, "get job status"),
        (Operation.RESULT, QueueResultError, "get job content"),
    ],
)
def test_official_message_format(op: Operation, error: type, phrase: str) -> None:
    cause = RuntimeError("x")
    exc = error_for(op, 404, [], b'{"detail":"Job not found"}', cause=cause)
    assert type(exc) is error
    assert exc.message == f'Failed to {phrase}: 404 - {{"detail":"Job not found"}}'
    assert str(exc) == exc.message
    assert exc.data == {"status": 404}
    assert exc.cause is cause
    assert repr(exc) == f"{error.__name__}({exc.message!r})"


def test_request_id_is_kept() -> None:
    headers = [(b"content-type", b"text/plain"), (b"x-request-id", b"req-7")]
    exc = error_for(Operation.STATUS, 500, headers, b"boom")
    assert exc.message == "Failed to get job status: 500 - boom (request id req-7)"
    assert exc.data == {"status": 500, "request_id": "req-7"}


def test_long_request_ids_are_cut() -> None:
    exc = error_for(Operation.STATUS, 500, [(b"x-request-id", b"r" * 500)], b"")
    assert exc.data["request_id"] == "r" * 200


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (
            {
                "detail": [
                    {"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"},
                    {"loc": ["body", "seed"], "msg": "Input should be a valid integer"},
                ]
            },
            "prompt: Field required; seed: Input should be a valid integer",
        ),
        ({"detail": [{"loc": ["body"], "msg": "Bad form"}]}, "Bad form"),
        ({"detail": [{"msg": "No location"}]}, "No location"),
        ({"detail": [{"loc": "body.x", "msg": "loc not a list"}]}, "loc not a list"),
        ({"detail": [{"loc": ["query", 0]}]}, "query.0: {'loc': ['query', 0]}"),
        ({"detail": ["plain", 3]}, "plain; 3"),
        ({"detail": "Not a list"}, '{"detail": "Not a list"}'),
        ({"detail": []}, '{"detail": []}'),
        (["detail"], '["detail"]'),
    ],
)
def test_422_details_are_readable(body: object, text: str) -> None:
    exc = error_for(Operation.SUBMIT, 422, [], json.dumps(body).encode())
    assert exc.message == f"Failed to submit job: 422 - {text}"


@pytest.mark.parametrize("body", [b"not json", b"[" * 100_000])
def test_422_without_json_is_quoted(body: bytes) -> None:
    exc = error_for(Operation.SUBMIT, 422, [], body)
    assert exc.message.startswith("Failed to submit job: 422 - " + body[:20].decode())


def test_long_bodies_are_bounded() -> None:
    body = b"e" * (MAX_ERROR_TEXT * 3)
    exc = error_for(Operation.RESULT, 502, [], body)
    assert exc.message == f"Failed to get job content: 502 - {'e' * MAX_ERROR_TEXT}… (truncated)"
    exact = error_for(Operation.RESULT, 502, [], b"e" * MAX_ERROR_TEXT)
    assert not exact.message.endswith("(truncated)")


def test_truncated_bodies_say_so_even_when_short() -> None:
    exc = error_for(Operation.RESULT, 500, [], b"<html>", truncated=True)
    assert exc.message == "Failed to get job content: 500 - <html>… (truncated)"


def test_non_utf8_bodies_are_replaced() -> None:
    exc = error_for(Operation.STATUS, 503, [], b"\xff bad")
    assert exc.message == "Failed to get job status: 503 - \ufffd bad"


def test_header() -> None:
    assert header([(b"a", b"1"), (b"b", b"\xe9"), (b"a", b"2")], b"a") == "1"
    assert header([(b"b", b"\xe9")], b"b") == "\xe9"
    assert header([], b"a") is None


@given(status=st.integers(100, 599), body=st.binary(max_size=3000), truncated=st.booleans())
def test_error_for_never_crashes(status: int, body: bytes, truncated: bool) -> None:
    exc = error_for(Operation.SUBMIT, status, [], body, truncated=truncated)
    assert exc.message.startswith(f"Failed to submit job: {status} - ")
    assert len(exc.message) < MAX_ERROR_TEXT + 100


def test_a_completed_result_repr_gives_the_size_of_the_video_not_its_bytes() -> None:
    result = CompletedResult(b"x" * 10, "j")
    assert repr(result) == "CompletedResult(status='completed', data=<10 bytes>, job_id='j')"
    assert "xxxx" not in repr(result)


def test_the_result_types_carry_the_docs_fields() -> None:
    # The docs' one shape: status, data, error on every result, whatever its kind.
    assert (CompletedResult(b"v", "j").status, CompletedResult(b"v", "j").error) == (
        "completed",
        None,
    )
    assert (SavedResult("j").status, SavedResult("j").data) == ("completed", None)
    failed = FailedResult("j")
    assert (failed.status, failed.error, failed.data) == ("failed", "Job failed", None)


# -- Retry-After -------------------------------------------------------------------------------

DATE = "Sun, 06 Nov 1994 08:49:37 GMT"


@pytest.mark.parametrize(
    ("retry", "date", "seconds"),
    [
        ("120", None, 120.0),
        (" 7 ", None, 7.0),
        ("0", None, 0.0),
        ("-5", None, 0.0),
        ("9" * 400, None, float("inf")),
        ("Sun, 06 Nov 1994 08:50:07 GMT", DATE, 30.0),
        ("Sun, 06 Nov 1994 08:49:07 GMT", DATE, 0.0),
        ("Mon, 07 Nov 1994 08:49:37 GMT", DATE, 86400.0),
        ("Sunday, 06-Nov-94 08:50:37 GMT", DATE, 60.0),
        ("Sun Nov  6 08:51:37 1994", DATE, 120.0),
        ("Sun, 06 Nov 1994 08:50:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", 60.0),
        ("Sat, 01 Jan 2000 00:00:00 GMT", "Fri, 31 Dec 1999 23:59:59 GMT", 1.0),
        ("Sun, 06 Nov 1994 08:50:07 GMT", None, None),
        ("Sun, 06 Nov 1994 08:50:07 GMT", "yesterday", None),
        ("soon", DATE, None),
        ("1.5", DATE, None),
        ("", DATE, None),
        ("\u00b2", None, None),  # a Latin-1 digit that str.isdigit() accepts
        ("Sun, 31 Nov 1994 08:50:07 GMT", DATE, None),
        ("Sun, 06 Nov 1994 24:00:00 GMT", DATE, None),
        ("Sun, 06 Nov 1994 08:60:00 GMT", DATE, None),
        ("Sun, 06 Nov 1994 08:59:61 GMT", DATE, None),
        ("Sun, 06 Nov 1994 08:50:07 +0000", DATE, None),
        ("Sun, 06 Nov 1994 08:50:07 GMT", "Sun, 06 Nov 1994 08:49:37 gmt", None),
    ],
)
def test_retry_after(retry: str, date: str | None, seconds: float | None) -> None:
    headers = [(b"retry-after", retry.encode("latin-1"))]
    if date is not None:
        headers.append((b"date", date.encode()))
    assert retry_after(headers) == seconds


def test_no_retry_after() -> None:
    assert retry_after([(b"date", DATE.encode())]) is None


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 784111777),
        ("Thu, 29 Feb 2024 12:00:00 GMT", 1709208000),
        ("Tue, 29 Feb 2000 00:00:00 GMT", 951782400),
        ("Wed, 31 Dec 1969 23:59:59 GMT", -1),
        ("Thursday, 01-Jan-70 00:00:00 GMT", 0),
        ("Tuesday, 01-Jan-69 00:00:00 GMT", 3124224000),
        ("Thu Jan  1 00:00:00 1970", 0),
        ("Thu Jan 01 00:00:00 1970", 0),
        ("Thu, 29 Feb 1900 00:00:00 GMT", None),
        ("Wed, 29 Feb 2023 00:00:00 GMT", None),
        ("Wed, 00 Feb 2023 00:00:00 GMT", None),
        ("Wed, 01 Foo 2023 00:00:00 GMT", None),
    ],
)
def test_http_dates(text: str, epoch: int | None) -> None:
    assert http_date(text) == epoch


@given(st.text(max_size=40), st.text(max_size=40))
def test_retry_after_never_crashes(retry: str, date: str) -> None:
    headers = [
        (b"retry-after", retry.encode("latin-1", "replace")),
        (b"date", date.encode("latin-1", "replace")),
    ]
    value = retry_after(headers)
    assert value is None or value >= 0
