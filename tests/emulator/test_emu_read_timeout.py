"""The read timeout: a request whose bytes stop arriving is abandoned, never held forever."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from emulator_helpers import FAST, encode_form, raw_exchange, raw_get

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


def read_answer(sock: socket.socket) -> bytes:
    """One JSON answer, read up to its closing brace; AssertionError on a close before it."""
    answer = b""
    while not answer.endswith(b"}"):
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed after {answer!r}"
        answer += chunk
    return answer


def in_pieces(data: bytes, pieces: int) -> list[bytes]:
    step = -(-len(data) // pieces)
    return [data[start : start + step] for start in range(0, len(data), step)]


def test_a_slow_request_that_keeps_moving_is_not_cut() -> None:
    """Its head, then its body, each in 12 pieces 0.1 s apart, with a 1 s timeout: each part
    takes longer than the timeout, and the request is still taken, because the timeout runs
    between received bytes. A pause may stretch to 0.9 s on a loaded machine before the test's
    own premise breaks, and then the test says so rather than blaming the emulator."""
    timeout = 1.0
    body, content_type = encode_form({"prompt": "x"}, {"data": sample_video_path().read_bytes()})
    with Emulator(**FAST, read_timeout_seconds=timeout) as emu:  # type: ignore[arg-type]
        head = post_head(emu, "/v1/jobs/lucy-2.1", len(body), content_type)
        url = urlsplit(emu.base_url)
        with socket.create_connection((url.hostname, url.port or 80), timeout=10) as sock:
            sent_at = [time.monotonic()]
            for piece in [*in_pieces(head, 12), *in_pieces(body, 12)]:
                time.sleep(0.1)
                sock.sendall(piece)
                sent_at.append(time.monotonic())
            reply = sock.recv(65536)
        pauses = [later - earlier for earlier, later in itertools.pairwise(sent_at)]
        assert max(pauses) < timeout, f"the machine paused the test itself for {max(pauses)} s"
        assert sent_at[12] - sent_at[0] > timeout and sent_at[-1] - sent_at[12] > timeout
        assert split(reply)[0] == 200
        assert emu.submit_count == 1


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # a connection that never says anything
        b"GET /v1/jo",  # a head that stops
        b"GET /v1/jobs/x HTTP/1.1\r\nHost: x\r\nX-API-K",
    ],
)
def test_a_request_head_that_stops_arriving_is_closed(emu: Emulator, sent: bytes) -> None:
    assert raw_exchange(emu, sent) == b""
    assert emu.requests == []


def test_an_unread_body_that_stops_after_an_early_answer_is_closed(emu: Emulator) -> None:
    """A 401 is sent without reading the body. uvicorn then reads the rest itself, closing the
    connection after its keep-alive time only while no byte comes: a client that sends a little
    more, then stops, held it forever."""
    head = post_head(emu, "/v1/jobs/lucy-2.1", 1000, "application/octet-stream")
    head = head.replace(f"X-API-KEY: {emu.api_key}\r\n".encode(), b"")
    url = urlsplit(emu.base_url)
    with socket.create_connection((url.hostname, url.port or 80), timeout=5) as sock:
        sock.sendall(head + b"0123456789")
        assert split(read_answer(sock))[0] == 401
        sock.sendall(b"0123456789")
        assert sock.recv(65536) == b""  # closed; TimeoutError (after 5 s) when held


def test_an_idle_kept_alive_connection_is_left_to_keep_alive(emu: Emulator) -> None:
    """Between requests the connection is uvicorn's: idle past the read timeout, it still takes
    the next request (uvicorn closes it after its keep-alive time, 5 s)."""
    url = urlsplit(emu.base_url)
    with socket.create_connection((url.hostname, url.port or 80), timeout=5) as sock:
        for _ in range(2):
            sock.sendall(raw_get(emu, "/v1/jobs/x", close=False))
            assert split(read_answer(sock))[0] == 404
            time.sleep(2 * READ_TIMEOUT)
    assert [record.status for record in emu.requests] == [404, 404]


def test_a_slow_answer_is_not_the_clients_silence(emu: Emulator) -> None:
    """While the emulator takes its time to answer, the client has nothing to send."""
    emu.add_fault(Fault(method="GET", delay=3 * READ_TIMEOUT))
    status, _, _ = split(raw_exchange(emu, raw_get(emu, "/v1/jobs/x")))
    assert status == 404


@pytest.mark.parametrize("seconds", [0, -1])
def test_the_read_timeout_must_be_positive(seconds: float) -> None:
    with pytest.raises(ValueError, match="read_timeout_seconds"):
        Emulator(read_timeout_seconds=seconds)
