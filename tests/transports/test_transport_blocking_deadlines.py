"""The blocking client's deadline holds where the kernel or the resolver would stretch it: an
upload to a server that reads slowly but steadily (each wait on the socket is short, so only a
deadline that counts the whole call ends it), and a name lookup that takes far longer than the
call may."""

from __future__ import annotations

import io
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from decart_proto.transports.blocking import DecartClient
from transport_helpers import SlowReader

from decart_proto import DeadlineExceededError, models

MODEL = models.video("lucy-2.1")
DEADLINE = 2.0
# How long past its deadline a call may end: the goal is well under a second; the rest is slack
# for a loaded machine. Without the deadline the uploads below take 15 s or more.
SLACK = 2.0
# The server reads 256 KiB every 100 ms: slow, but fast enough that the client's socket turns
# writable (a third of its buffer free) well within each wait, as it may not when a server
# reads slower still, and a client that gives each wait the whole timeout goes on. The upload
# is more than the socket buffers on both sides hold (a few MiB on loopback) plus what the
# server reads in DEADLINE + SLACK seconds.
PIECE = 256 * 1024
PACE = 0.1
UPLOAD = 32 * 1024 * 1024


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(params=["http", "https"])
def slow_server(request: pytest.FixtureRequest, ca: trustme.CA) -> Iterator[tuple[str, Any]]:
    """The server's base URL and the client's TLS context (None for plain HTTP)."""
    if request.param == "http":
        with SlowReader(None, PIECE, PACE) as server:
            yield f"http://127.0.0.1:{server.port}", None
        return
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with SlowReader(server_context, PIECE, PACE) as server:
        yield f"https://127.0.0.1:{server.port}", client_context


@pytest.mark.parametrize("source", ["path", "file object"])
def test_a_slowly_read_upload_ends_at_the_deadline(
    slow_server: tuple[str, Any], tmp_path: Path, source: str
) -> None:
    """A path goes by os.sendfile over plain TCP and in chunks over TLS; a file object without
    a descriptor goes in chunks on both."""
    base_url, context = slow_server
    data: Any
    if source == "path":
        data = tmp_path / "input.mp4"
        data.write_bytes(bytes(UPLOAD))
    else:
        data = io.BufferedReader(io.BytesIO(bytes(UPLOAD)))
    with DecartClient(api_key="k", base_url=base_url, ssl_context=context) as client:
        start = time.monotonic()
        with pytest.raises(DeadlineExceededError):
            client.queue.submit({"model": MODEL, "data": data, "prompt": "x"}, timeout=DEADLINE)
        took = time.monotonic() - start
    assert took < DEADLINE + SLACK, f"the {DEADLINE} s call took {took:.1f} s"


# A resolver that takes 30 s for one name, as a dead DNS server does before it gives up.
_SLOW_RESOLVER = textwrap.dedent(
    """
    import socket, sys, time
    real = socket.getaddrinfo
    def slow(host, *args, **kwargs):
        if host == "slow.invalid":
            time.sleep(30)
        return real(host, *args, **kwargs)
    socket.getaddrinfo = slow

    from decart_proto.transports.blocking import DecartClient, DeadlineExceededError
    with DecartClient(api_key="k", base_url="http://slow.invalid:9") as client:
        start = time.monotonic()
        try:
            client.queue.status("job", timeout=float(sys.argv[1]))
        except DeadlineExceededError:
            print(f"deadline after {time.monotonic() - start:.2f}")
    """
)


def test_a_slow_name_lookup_ends_at_the_deadline() -> None:
    """In a process of its own: the lookup given up on must not hold up its exit either."""
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _SLOW_RESOLVER, str(DEADLINE)],
        capture_output=True,
        text=True,
        timeout=25,  # below the resolver's 30 s: a call that waits for it fails here
        check=False,
    )
    took = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("deadline after "), (done.stdout, done.stderr)
    call = float(done.stdout.split()[-1])
    assert call < DEADLINE + SLACK, f"the {DEADLINE} s call took {call:.1f} s"
    # Python's start-up and exit on a loaded machine, not the resolver's 30 s.
    assert took < DEADLINE + 10, f"the process took {took:.1f} s"


def test_each_address_of_a_name_is_tried_in_turn(
    emulators: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name whose first address refuses (nothing listens on ::1, or there is no IPv6) is
    reached at its second, as socket.create_connection would."""
    emu = emulators["http"]
    port = int(emu.base_url.rsplit(":", 1)[1])
    real = socket.getaddrinfo

    def two_addresses(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != "two.invalid":
            return real(host, *args, **kwargs)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
    with DecartClient(api_key=emu.api_key, base_url=f"http://two.invalid:{port}") as client:
        job = client.queue.submit({"model": MODEL, "data": b"video", "prompt": "x"}, timeout=10)
        assert client.queue.status(job.job_id, timeout=10).job_id == job.job_id
