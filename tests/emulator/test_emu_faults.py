"""Scripted faults, observed from the client's side of the socket."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest
from emulator_helpers import encode_form, raw_exchange, raw_get, request, submit, wait_for

from decart_emulator import Emulator, Fault, sample_video_path


def split_response(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def completed_job(emu: Emulator) -> str:
    job_id: str = submit(emu).json()["job_id"]
    wait_for(lambda: emu.jobs[job_id] == "completed")
    return job_id


def test_scripted_status_with_headers_then_normal_service(emu: Emulator) -> None:
    emu.add_fault(Fault(method="GET", path="/v1/jobs/[^/]+", status=429, times=2,
                        headers={"Retry-After": "3"}))  # fmt: skip
    job_id = submit(emu).json()["job_id"]  # a POST: not matched
    for _ in range(2):
        reply = request(emu, "GET", f"/v1/jobs/{job_id}")
        assert reply.status == 429
        assert reply.headers["retry-after"] == "3"
        assert reply.json() == {"detail": "Too Many Requests"}
        assert reply.headers["x-request-id"]
    assert request(emu, "GET", f"/v1/jobs/{job_id}").status == 200
    statuses = [record.status for record in emu.requests]
    assert statuses == [200, 429, 429, 200]


def test_gateway_html_500_and_503_on_submit_create_no_job(emu: Emulator) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    emu.add_fault(Fault(method="POST", status=500, body=html,
                        headers={"Content-Type": "text/html"}))  # fmt: skip
    emu.add_fault(Fault(method="POST", status=503))
    first = submit(emu)
    assert (first.status, first.body.decode()) == (500, html)
    assert first.headers["content-type"] == "text/html"
    second = submit(emu)
    assert second.status == 503
    assert second.json() == {"detail": "Service Unavailable"}
    assert emu.submit_count == 0 and emu.jobs == {}
    assert submit(emu).status == 200


def test_faults_are_taken_in_order_and_match_whole_paths(emu: Emulator) -> None:
    emu.add_fault(Fault(path="/v1/jobs/x", status=502))  # fullmatch: not /v1/jobs/xy
    emu.add_fault(Fault(path="/v1/jobs/x.*", status=504))
    assert request(emu, "GET", "/v1/jobs/xy").status == 504
    assert request(emu, "GET", "/v1/jobs/x").status == 502
    assert request(emu, "GET", "/v1/jobs/x").status == 404


def test_delay_then_normal_answer(emu: Emulator) -> None:
    emu.add_fault(Fault(method="GET", delay=0.3))
    emu.add_fault(Fault(method="GET", status=418))  # reached only once the delay is used up
    started = time.monotonic()
    reply = request(emu, "GET", "/v1/jobs/nothing")
    assert time.monotonic() - started >= 0.3
    assert reply.status == 404
    assert request(emu, "GET", "/v1/jobs/nothing").status == 418


def test_close_before_response_sends_zero_bytes(emu: Emulator) -> None:
    emu.add_fault(Fault(method="GET", close_before_response=True))
    assert raw_exchange(emu, raw_get(emu, "/v1/jobs/x", close=False)) == b""
    assert emu.requests[-1].status is None
    # The next request is served normally.
    status, _, _ = split_response(raw_exchange(emu, raw_get(emu, "/v1/jobs/x")))
    assert status == 404


def test_close_before_response_on_an_upload_is_a_clean_eof_and_no_job(emu: Emulator) -> None:
    emu.add_fault(Fault(method="POST", close_before_response=True))
    body, content_type = encode_form({"prompt": "x"}, {"data": b"\7" * 500_000})
    head = (
        f"POST /v1/jobs/lucy-2.1 HTTP/1.1\r\nHost: x\r\nX-API-KEY: {emu.api_key}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    assert raw_exchange(emu, head + body) == b""  # EOF, not a reset
    assert emu.submit_count == 0


def test_close_after_handling_creates_the_job_and_loses_the_answer(emu: Emulator) -> None:
    emu.add_fault(Fault(method="POST", close_after_handling=True))
    body, content_type = encode_form({"prompt": "x"}, {"data": sample_video_path().read_bytes()})
    head = (
        f"POST /v1/jobs/lucy-2.1 HTTP/1.1\r\nHost: x\r\nX-API-KEY: {emu.api_key}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    assert raw_exchange(emu, head + body) == b""
    assert emu.submit_count == 1
    assert len(emu.jobs) == 1
    assert emu.requests[-1].status is None


def test_close_after_body_bytes_cuts_the_result(emu: Emulator) -> None:
    job_id = completed_job(emu)
    emu.add_fault(Fault(path=".*/content", close_after_body_bytes=100))
    status, headers, body = split_response(
        raw_exchange(emu, raw_get(emu, f"/v1/jobs/{job_id}/content", close=False))
    )
    assert status == 200
    assert int(headers["content-length"]) > 1000
    assert len(body) == 100
    whole = request(emu, "GET", f"/v1/jobs/{job_id}/content").body
    assert body == whole[:100]


def test_close_after_zero_body_bytes_sends_only_the_head(emu: Emulator) -> None:
    emu.add_fault(Fault(close_after_body_bytes=0))
    status, headers, body = split_response(raw_exchange(emu, raw_get(emu, "/v1/jobs/a", False)))
    assert (status, body) == (404, b"")
    assert int(headers["content-length"]) > 0


def test_a_cut_beyond_the_body_delivers_it_whole(emu: Emulator) -> None:
    emu.add_fault(Fault(close_after_body_bytes=10_000))
    reply = request(emu, "GET", "/v1/jobs/a")
    assert reply.json() == {"detail": "Job not found"}


def test_stall_pauses_the_body_then_finishes_it(emu: Emulator) -> None:
    """The first recv calls can only see the 200 bytes before the pause, however late they
    run; the pause shows in the whole exchange lasting at least its length."""
    job_id = completed_job(emu)
    emu.add_fault(Fault(path=".*/content", stall_body_seconds=0.6, stall_after_bytes=200))
    url = urlsplit(emu.base_url)
    started = time.monotonic()
    with socket.create_connection((url.hostname, url.port or 80), timeout=5) as sock:
        sock.sendall(raw_get(emu, f"/v1/jobs/{job_id}/content"))
        received = bytearray()
        while b"\r\n\r\n" not in received or len(received.partition(b"\r\n\r\n")[2]) < 200:
            received += sock.recv(65536)
        stalled_at = len(received.partition(b"\r\n\r\n")[2])
        while chunk := sock.recv(65536):
            received += chunk
    assert time.monotonic() - started >= 0.6
    status, headers, body = split_response(bytes(received))
    assert status == 200
    assert len(body) == int(headers["content-length"]) > 200
    assert stalled_at == 200


def test_stall_and_cut_together_are_a_stalled_then_dropped_body(emu: Emulator) -> None:
    job_id = completed_job(emu)
    emu.add_fault(Fault(path=".*/content", stall_body_seconds=0.2, stall_after_bytes=10,
                        close_after_body_bytes=50))  # fmt: skip
    started = time.monotonic()
    data = raw_exchange(emu, raw_get(emu, f"/v1/jobs/{job_id}/content"))
    assert time.monotonic() - started >= 0.2
    assert len(split_response(data)[2]) == 50


def test_job_level_faults_apply_to_the_next_submit_only(emu: Emulator) -> None:
    emu.add_fault(Fault(job_processing_seconds=30))
    emu.add_fault(Fault(job_fails=True, job_error="the GPU caught fire"))
    request(emu, "GET", "/v1/jobs/x")  # not a submit: the faults stay queued
    slow = submit(emu).json()["job_id"]
    failing = submit(emu).json()["job_id"]
    normal = submit(emu).json()["job_id"]
    wait_for(lambda: emu.jobs[normal] == "completed" and emu.jobs[failing] == "failed")
    assert emu.jobs[slow] == "processing"
    reply = request(emu, "GET", f"/v1/jobs/{failing}/content")
    assert reply.json() == {"detail": "Job failed: the GPU caught fire"}


def test_a_job_fault_with_a_delay_and_pending_time(emu: Emulator) -> None:
    emu.add_fault(Fault(method="POST", delay=0.1, job_pending_seconds=30))
    started = time.monotonic()
    job_id = submit(emu).json()["job_id"]
    assert time.monotonic() - started >= 0.1
    later = submit(emu).json()["job_id"]  # the emulator's own timings
    wait_for(lambda: emu.jobs[later] == "completed")
    assert emu.jobs[job_id] == "pending"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"method": "GET"},
        {"status": 429, "times": 0},
        {"status": 99},
        {"delay": -1},
        {"path": "("},
        {"headers": {"Retry-After": "1"}},
        {"body": "x"},
        {"close_before_response": True, "close_after_handling": True},
        {"close_before_response": True, "close_after_body_bytes": 3},
        {"close_before_response": True, "status": 503},
        {"close_after_handling": True, "stall_body_seconds": 1},
        {"close_after_body_bytes": -1},
        {"job_fails": True, "status": 500},
        {"job_fails": True, "close_before_response": True},
        {"job_processing_seconds": -2},
    ],
)
def test_inconsistent_faults_cannot_be_made(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="Fault"):
        Fault(**kwargs)  # type: ignore[arg-type]


def test_faults_are_values() -> None:
    fault = Fault(method="get", status=429, headers={"Retry-After": "2"}, body="slow down")
    assert fault.method == "GET"
    assert fault.headers == (("Retry-After", "2"),)
    assert fault.body == b"slow down"
    assert fault == Fault(method="GET", status=429, headers=(("Retry-After", "2"),),
                          body=b"slow down")  # fmt: skip
    with pytest.raises(AttributeError):
        fault.status = 500  # type: ignore[misc]
