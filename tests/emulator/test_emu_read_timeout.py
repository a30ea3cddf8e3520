"""The read timeout: a request whose bytes stop arriving is abandoned, never held forever."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from emulator_helpers import FAST, encode_form, raw_exchange

from decart_emulator import Emulator, Fault, sample_video_path
from decart_emulator._wire import DROP_WAIT_SECONDS

READ_TIMEOUT = 0.3


@pytest.fixture
def emu() -> Iterator[Emulator]:
    settings = {**FAST, "read_timeout_seconds": READ_TIMEOUT}
    with Emulator(**settings, control_endpoint=True) as emulator:  # type: ignore[arg-type]
        yield emulator


def post_head(emu: Emulator, path: str, length: int, content_type: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nX-API-KEY: {emu.api_key}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def a_form_cut_inside_its_video() -> tuple[bytes, str, int]:
    """The start of a submit form, up to 10 bytes into its video part; its content type; and
    the length of the whole form, which the head announces."""
    body, content_type = encode_form({"prompt": "x"}, {"data": b"\7" * 800})
    return body[: body.index(b"\7") + 10], content_type, len(body)


def split(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {n.strip().lower(): v.strip() for n, _, v in (ln.partition(":") for ln in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def assert_answered_408_and_closed(data: bytes) -> None:
    status, headers, body = split(data)  # raw_exchange returned: the server closed
    assert status == 408
    assert headers["connection"] == "close"
    assert body == b'{"detail":"Request body not received in time: no bytes for 0.3 seconds"}'


def test_a_submit_body_shorter_than_its_content_length_is_abandoned(emu: Emulator) -> None:
    body, content_type = encode_form({"prompt": "x"}, {"data": b"x" * 800})
    head = post_head(emu, "/v1/jobs/lucy-2.1", 1000, content_type)
    assert_answered_408_and_closed(raw_exchange(emu, head + body[:10]))
    assert emu.requests == [("POST", "/v1/jobs/lucy-2.1", 408)]
    assert emu.submit_count == 0
    assert emu.jobs == {}


def test_a_half_spooled_upload_is_removed(emu: Emulator) -> None:
    sent, content_type, length = a_form_cut_inside_its_video()
    head = post_head(emu, "/v1/jobs/lucy-2.1", length, content_type)
    assert_answered_408_and_closed(raw_exchange(emu, head + sent))
    assert emu.submit_count == 0
    assert emu.jobs == {}
    assert list(emu._running().spool_dir.iterdir()) == []


def test_a_scripted_answer_waits_for_the_body_no_longer(emu: Emulator) -> None:
    emu.add_fault(Fault(method="POST", status=503))
    head = post_head(emu, "/v1/jobs/lucy-2.1", 1000, "application/octet-stream")
    assert_answered_408_and_closed(raw_exchange(emu, head + b"0123456789"))
    assert emu.requests == [("POST", "/v1/jobs/lucy-2.1", 408)]


def test_a_control_request_body_times_out_too(emu: Emulator) -> None:
    head = post_head(emu, "/_emulator/faults", 1000, "application/json")
    assert_answered_408_and_closed(raw_exchange(emu, head + b'[{"status"'))
    assert emu._running().faults.pending() == []


def test_a_connection_to_drop_is_dropped_once_its_body_stops(emu: Emulator) -> None:
    """Dropping reads the rest of the body first; a body that stops ends that wait, and the
    drop still sends nothing."""
    emu.add_fault(Fault(method="POST", close_before_response=True))
    sent, content_type, length = a_form_cut_inside_its_video()
    started = time.monotonic()
    data = raw_exchange(emu, post_head(emu, "/v1/jobs/lucy-2.1", length, content_type) + sent)
    assert data == b""
    assert time.monotonic() - started < DROP_WAIT_SECONDS  # the read timeout, not the drop's
    assert emu.submit_count == 0
    assert list(emu._running().spool_dir.iterdir()) == []


def test_a_slow_upload_that_keeps_moving_is_not_cut() -> None:
    """Pieces 0.1 s apart, with a 1 s timeout: the whole upload takes longer than the timeout,
    and is still taken, because the timeout is between received bytes."""
    body, content_type = encode_form({"prompt": "x"}, {"data": sample_video_path().read_bytes()})
    pieces = 13
    step = -(-len(body) // pieces)
    with Emulator(**FAST, read_timeout_seconds=1.0) as emu:  # type: ignore[arg-type]
        url = urlsplit(emu.base_url)
        started = time.monotonic()
        with socket.create_connection((url.hostname, url.port or 80), timeout=10) as sock:
            sock.sendall(post_head(emu, "/v1/jobs/lucy-2.1", len(body), content_type))
            for start in range(0, len(body), step):
                time.sleep(0.1)
                sock.sendall(body[start : start + step])
            reply = sock.recv(65536)
        assert time.monotonic() - started > 1.0
        assert split(reply)[0] == 200
        assert emu.submit_count == 1


@pytest.mark.parametrize("seconds", [0, -1])
def test_the_read_timeout_must_be_positive(seconds: float) -> None:
    with pytest.raises(ValueError, match="read_timeout_seconds"):
        Emulator(read_timeout_seconds=seconds)
