"""The Queue API's answers: shapes, headers, keys, and every error status."""

from __future__ import annotations

import http.client
import re
from urllib.parse import urlsplit

import pytest
from emulator_helpers import encode_form, request, submit, wait_for

from decart_emulator import Emulator

WIRE_MODELS = [
    "lucy-2.1", "lucy-2.1-vton", "lucy-2.5", "lucy-vton-2", "lucy-vton-3", "lucy-restyle-2",
    "lucy-clip", "lucy-latest", "lucy-vton-latest", "lucy-restyle-latest", "lucy-clip-latest",
    "lucy-2.1-vton-2", "lucy-pro-v2v", "lucy-restyle-v2v",
]  # fmt: skip
RESTYLE = {"lucy-restyle-2", "lucy-restyle-latest", "lucy-restyle-v2v"}
CLIP = {"lucy-clip", "lucy-clip-latest", "lucy-pro-v2v"}
DEPRECATED = {"lucy-2.1-vton-2": "lucy-vton-2", "lucy-pro-v2v": "lucy-clip",
              "lucy-restyle-v2v": "lucy-restyle-2"}  # fmt: skip


@pytest.mark.parametrize("model", WIRE_MODELS)
def test_every_wire_model_accepts_a_valid_form(emu: Emulator, model: str) -> None:
    reply = submit(emu, model, fields={"prompt": "a watercolour"})
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["status"] == "pending"
    assert body["job_id"] in emu.jobs
    warning = reply.headers.get("warning")
    if model in DEPRECATED:
        assert warning is not None and DEPRECATED[model] in warning
    else:
        assert warning is None


def test_submit_answer_headers_and_job_id(emu: Emulator) -> None:
    replies = [submit(emu) for _ in range(3)]
    ids = [reply.json()["job_id"] for reply in replies]
    assert len(set(ids)) == 3
    for reply, job_id in zip(replies, ids, strict=True):
        assert re.fullmatch(r"[A-Za-z0-9_-]{20,}", job_id)
        assert reply.headers["content-type"] == "application/json"
        assert reply.headers["date"].endswith("GMT")
        assert re.fullmatch(r"[0-9a-f]{16}", reply.headers["x-request-id"])
    assert len({reply.headers["x-request-id"] for reply in replies}) == 3
    assert emu.submit_count == 3


def test_status_and_content(emu: Emulator) -> None:
    job_id = submit(emu).json()["job_id"]
    status = request(emu, "GET", f"/v1/jobs/{job_id}")
    assert status.status == 200
    assert status.json() == {"job_id": job_id, "status": "pending"}
    wait_for(lambda: emu.jobs[job_id] == "completed")
    content = request(emu, "GET", f"/v1/jobs/{job_id}/content")
    assert content.status == 200
    assert content.headers["content-type"] == "video/mp4"
    assert int(content.headers["content-length"]) == len(content.body)
    assert content.body[4:8] == b"ftyp"


def test_content_before_completion_is_409(emu: Emulator) -> None:
    with Emulator(pending_seconds=30) as slow:
        job_id = submit(slow).json()["job_id"]
        reply = request(slow, "GET", f"/v1/jobs/{job_id}/content")
        assert reply.status == 409
        assert reply.json() == {"detail": "Job is not completed (status: pending)"}
        slow.fail_job(job_id, "scripted")
        reply = request(slow, "GET", f"/v1/jobs/{job_id}/content")
        assert reply.status == 409
        assert reply.json() == {"detail": "Job failed: scripted"}


@pytest.mark.parametrize(
    ("api_key", "detail"),
    [(None, "Missing API key: send it in the X-API-KEY header"), ("nope", "Invalid API key")],
)
def test_missing_or_wrong_key_is_401(emu: Emulator, api_key: str | None, detail: str) -> None:
    job_id = submit(emu).json()["job_id"]
    for method, path in [
        ("POST", "/v1/jobs/lucy-2.1"),
        ("GET", f"/v1/jobs/{job_id}"),
        ("GET", f"/v1/jobs/{job_id}/content"),
    ]:
        reply = request(emu, method, path, api_key=api_key)
        assert reply.status == 401
        assert reply.json() == {"detail": detail}
    assert emu.submit_count == 1


def test_jobs_are_visible_only_to_their_key() -> None:
    with Emulator(api_keys=("alice", "bob"), pending_seconds=0, processing_seconds=0) as emu:
        job_id = submit(emu, api_key="alice").json()["job_id"]
        wait_for(lambda: emu.jobs[job_id] == "completed")
        for path in (f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/content"):
            assert request(emu, "GET", path, api_key="alice").status == 200
            mine = request(emu, "GET", path, api_key="bob")
            assert mine.status == 404
            assert mine.json() == {"detail": "Job not found"}
        assert emu.api_key == "alice"


def test_not_found_shapes(emu: Emulator) -> None:
    unknown_model = submit(emu, "lucy-9000")
    assert unknown_model.status == 404
    assert unknown_model.json() == {"detail": "Model not found: lucy-9000"}
    assert request(emu, "GET", "/v1/jobs/unknown").json() == {"detail": "Job not found"}
    paths = ("/", "/v1/jobs", "/v1/jobs/", "/v2/jobs/x", "/v1/jobs/a/b", "/v1/jobs/a/content/x")
    for path in paths:
        reply = request(emu, "GET", path)
        assert (reply.status, reply.json()) == (404, {"detail": "Not Found"}), path
    assert emu.submit_count == 0


def test_an_encoded_slash_cannot_escape_the_job_route(emu: Emulator) -> None:
    job_id = submit(emu).json()["job_id"]
    reply = request(emu, "GET", f"/v1/jobs/..%2F{job_id}")
    assert reply.status == 404
    reply = request(emu, "GET", f"/v1/jobs/x%2F..%2F{job_id}%2Fcontent")
    assert (reply.status, reply.json()) == (404, {"detail": "Job not found"})


def test_wrong_methods_are_405(emu: Emulator) -> None:
    reply = request(emu, "DELETE", "/v1/jobs/lucy-2.1")
    assert reply.status == 405
    assert reply.headers["allow"] == "POST, GET"
    assert request(emu, "POST", "/v1/jobs/x/content", b"").status == 405


def test_upload_above_the_limit_is_413_and_keeps_nothing() -> None:
    with Emulator(max_upload_bytes=50_000) as emu:
        reply = submit(emu, files={"data": b"\0" * 60_000})
        assert reply.status == 413
        assert "limit of 50000 bytes" in reply.json()["detail"]
        assert submit(emu, files={"data": b"\0" * 40_000}).status == 200
        assert emu.submit_count == 1


def test_chunked_upload_above_the_limit_is_413() -> None:
    """No Content-Length: the limit is enforced while the body streams."""
    with Emulator(max_upload_bytes=50_000) as emu:
        body, content_type = encode_form({"prompt": "x"}, {"data": b"\0" * 80_000})
        chunks = (body[i : i + 10_000] for i in range(0, len(body), 10_000))
        reply = request(
            emu,
            "POST",
            "/v1/jobs/lucy-2.1",
            chunks,  # type: ignore[arg-type]
            {"Content-Type": content_type},  # an iterable body: http.client sends it chunked
        )
        assert reply.status == 413
        assert emu.submit_count == 0


def test_malformed_multipart_is_400(emu: Emulator) -> None:
    body, content_type = encode_form({"prompt": "x"}, {"data": b"abc"})
    for broken, ctype in [
        (body[:-10], content_type),  # no closing boundary
        (body, "multipart/form-data"),  # no boundary parameter
        (  # a part without Content-Disposition
            b"--xyz\r\nContent-Type: text/plain\r\n\r\nx\r\n--xyz--\r\n",
            "multipart/form-data; boundary=xyz",
        ),
    ]:
        reply = request(emu, "POST", "/v1/jobs/lucy-2.1", broken, {"Content-Type": ctype})
        assert reply.status == 400, broken
        assert "detail" in reply.json()
    assert emu.submit_count == 0
    assert list(emu._running().spool_dir.iterdir()) == []


def test_a_body_that_is_not_multipart_reports_the_missing_fields(emu: Emulator) -> None:
    reply = request(
        emu, "POST", "/v1/jobs/lucy-2.1", b"prompt=x", {"Content-Type": "application/json"}
    )
    assert reply.status == 422
    missing = {tuple(e["loc"]) for e in reply.json()["detail"] if e["type"] == "missing"}
    assert missing == {("body", "data"), ("body", "prompt")}


def test_the_connection_stays_usable_after_an_early_answer(emu: Emulator) -> None:
    """A 401 is sent without reading the upload; the next request on the connection works."""
    url = urlsplit(emu.base_url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
    body, content_type = encode_form({"prompt": "x"}, {"data": b"\1" * 300_000})
    conn.request("POST", "/v1/jobs/lucy-2.1", body, {"Content-Type": content_type})
    first = conn.getresponse()
    assert first.status == 401
    first.read()
    conn.request("GET", "/v1/jobs/none", headers={"X-API-KEY": emu.api_key})
    second = conn.getresponse()
    assert second.status == 404
    assert second.read() == b'{"detail":"Job not found"}'
    conn.close()
