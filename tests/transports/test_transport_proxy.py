"""Every transport through a real proxy server: proxy.py (from PyPI), started by this module on
127.0.0.1 in its own process, with basic authentication on, and stopped through its handle.

An https API is reached through a CONNECT tunnel (TLS inside it, verified against the
emulator's trustme certificate), a plain-http one in absolute form; the proxy's own access log
shows each. Also: the proxy's refusal of the credentials, a dead proxy named without them,
NO_PROXY, the environment on by default and off with trust_env=False, DECART_BASE_URL, and
default_headers on the wire.
"""

from __future__ import annotations

import contextlib
import importlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from transport_helpers import FAST_POLL, FAST_RETRY

from decart_emulator import Emulator
from decart_proto import models

pytestmark = pytest.mark.anyio

MODEL = models.video("lucy-2.1")
USER = "h3user"
PASSWORD = "p@ss:w0rd/x-Zq7"  # percent-encoded in the URLs: %40 %3A %2F
QUOTED = "p%40ss%3Aw0rd%2Fx-Zq7"
ENVIRONMENT = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD")


class ProxyServer:
    """proxy.py in a process of its own, its access log in a file the tests read."""

    def __init__(self, directory: Path) -> None:
        self.log = directory / "proxy.log"
        port_file = directory / "port"
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "proxy",
                "--hostname", "127.0.0.1", "--port", "0", "--port-file", str(port_file),
                "--num-acceptors", "1", "--num-workers", "1",
                "--basic-auth", f"{USER}:{PASSWORD}",
                "--log-file", str(self.log), "--log-level", "INFO",
                "--data-dir", str(directory / "data"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("proxy.py did not start")
            time.sleep(0.05)
        self.port = int(port_file.read_text().split()[0])
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{USER}:{QUOTED}@{self.address}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def lines(self) -> list[str]:
        """The access log's lines so far (one per connection, written when it ends)."""
        text = self.log.read_text() if self.log.exists() else ""
        return [line for line in text.splitlines() if "access_log" in line]

    async def wait_for(self, since: int, found: Callable[[list[str]], bool]) -> list[str]:
        """The access log's lines after the first *since*, once *found* accepts them (the proxy
        writes a line when it sees the connection end, a moment after the client closed it:
        an async client's close completes on its loop, which must keep running meanwhile)."""
        deadline = time.monotonic() + 20
        while True:
            lines = self.lines()[since:]
            if found(lines) or time.monotonic() > deadline:
                return lines
            await anyio.sleep(0.05)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyServer]:
    server = ProxyServer(tmp_path_factory.mktemp("proxy"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy setting of the machine's leaks into a test; each sets its own."""
    for name in (*ENVIRONMENT, *(n.lower() for n in ENVIRONMENT), "DECART_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def dead_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def emulator_address(emu: Emulator) -> str:
    return emu.base_url.split("://", 1)[1].rstrip("/")


def texts(error: BaseException) -> list[str]:
    """Everything an error shows of itself, down its chain of causes."""
    shown: list[str] = []
    seen: BaseException | None = error
    while seen is not None:
        shown += [str(seen), repr(seen), repr(getattr(seen, "data", None))]
        seen = seen.__cause__ or seen.__context__
    return shown


async def test_calls_go_through_the_proxy_and_its_log_shows_them(
    connect: Any, emu: Emulator, proxy: ProxyServer, scheme: str, clean_environment: Any
) -> None:
    before = len(proxy.lines())
    async with connect(proxy=proxy.url) as api:
        result = await api.queue.submit_and_poll(
            {"model": MODEL, "data": b"video through a proxy", "prompt": "x"}
        )
        assert result.status == "completed" and result.data == b"video through a proxy"
        status = await api.queue.status(result.job_id)
        assert status.status == "completed"
    address = emulator_address(emu)
    if scheme == "https":
        # One tunnel, to the emulator, kept alive across every request of both calls.
        expected = f"CONNECT {address} - "
        lines = await proxy.wait_for(before, lambda lines: any(expected in line for line in lines))
        tunnels = [line for line in lines if " CONNECT " in line]
        assert len(tunnels) == 1 and expected in tunnels[0], lines
    else:
        # Plain http: the proxy read the requests itself, in absolute form, all on one
        # kept-alive connection (proxy.py logs a connection's first request when it ends).
        expected = f"POST {address}/v1/jobs/lucy-2.1 - 200 OK"
        lines = await proxy.wait_for(before, lambda lines: any(expected in line for line in lines))
        assert len(lines) == 1 and expected in lines[0], lines


async def test_the_environment_chooses_the_proxy_by_default(
    connect: Any, emu: Emulator, proxy: ProxyServer, scheme: str, clean_environment: Any
) -> None:
    clean_environment.setenv(f"{scheme.upper()}_PROXY", proxy.url)
    before = len(proxy.lines())
    async with connect() as api:
        job = await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
    method = "CONNECT" if scheme == "https" else "POST"
    expected = f"{method} {emulator_address(emu)}"
    lines = await proxy.wait_for(before, lambda lines: any(expected in line for line in lines))
    assert any(expected in line for line in lines), (job, lines)


async def test_wrong_credentials_are_the_proxys_refusal_and_are_not_retried(
    connect: Any, emu: Emulator, proxy: ProxyServer, clean_environment: Any
) -> None:
    wrong = f"http://{USER}:not-{QUOTED}@{proxy.address}"
    before = len(proxy.lines())
    async with connect(proxy=wrong) as api:
        with pytest.raises(api.module.QueueStatusError) as caught:
            await api.queue.status("some-job", timeout=30)
    error = caught.value
    if emu.base_url.startswith("https"):
        assert isinstance(error.cause, api.module.ProxyError) and error.cause.status == 407
        assert (
            f"the proxy http://{proxy.address} (from proxy=) refused the credentials in its URL "
            "(407 " in str(error)
        )
        # Refused once, not retried: the proxy's record holds one refused tunnel.
        await proxy.wait_for(before, lambda lines: len(lines) >= 1)
        await anyio.sleep(0.5)  # a retry's line, were there one, would be written by now
        lines = proxy.lines()[before:]
        assert len(lines) == 1 and "CONNECT" in lines[0], lines
    else:
        # Plain http: the proxy's 407 is the answer to the request itself.
        assert error.data["status"] == 407
    for text in texts(error):
        assert PASSWORD not in text and QUOTED not in text and "not-" not in text


async def test_a_dead_proxy_is_named_without_its_credentials(
    connect: Any, clean_environment: Any
) -> None:
    address = f"127.0.0.1:{dead_port()}"
    async with connect(proxy=f"http://{USER}:{QUOTED}@{address}") as api:
        started = time.monotonic()
        with pytest.raises(api.module.QueueStatusError) as caught:
            await api.queue.status("some-job", timeout=30)
    assert time.monotonic() - started < 25  # the retries' budget, not the deadline
    error = caught.value
    assert f"cannot reach the proxy http://{address} (from proxy=): " in str(error)
    assert isinstance(error.cause, api.module.NetworkError)
    for text in texts(error):
        assert PASSWORD not in text and QUOTED not in text and USER not in text


async def test_no_proxy_and_trust_env_false_go_straight_to_the_api(
    connect: Any, scheme: str, clean_environment: Any
) -> None:
    # The environment's proxy is dead: a call that succeeds did not go through it.
    dead = f"http://127.0.0.1:{dead_port()}"
    clean_environment.setenv(f"{scheme.lower()}_proxy", dead)
    async with connect() as api:
        with pytest.raises(api.module.QueueSubmitError) as caught:
            await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"}, timeout=30)
    assert f"cannot reach the proxy {dead} (from {scheme}_proxy)" in str(caught.value)
    async with connect(trust_env=False) as api:
        await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
    clean_environment.setenv("NO_PROXY", "example.com, 127.0.0.0/8")
    async with connect() as api:
        await api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})


async def test_decart_base_url_is_read_unless_trust_env_is_false(
    transport: str, emu: Emulator, clean_environment: Any
) -> None:
    module = importlib.import_module(f"decart_proto.transports.{transport}")
    tls = {"ssl_context": emu.client_ssl_context()} if emu.ca_pem_path else {}
    clean_environment.setenv("DECART_BASE_URL", emu.base_url)
    client = module.DecartClient(api_key=emu.api_key, poll=FAST_POLL, retry=FAST_RETRY, **tls)
    try:
        assert client.base_url == emu.base_url
        call = client.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
        job = call if transport == "blocking" else await call
        assert job.job_id in emu.jobs
    finally:
        closing = client.close()
        if transport != "blocking":
            await closing
    ignored = module.DecartClient(api_key=emu.api_key, trust_env=False)
    assert ignored.base_url == "https://api.decart.ai"
    clean_environment.setenv("DECART_BASE_URL", "api.example")
    with pytest.raises(module.InvalidBaseURLError, match="read from the DECART_BASE_URL"):
        module.DecartClient(api_key=emu.api_key)


def test_bad_settings_are_refused_when_the_client_is_made(
    transport: str, clean_environment: Any
) -> None:
    module = importlib.import_module(f"decart_proto.transports.{transport}")
    with pytest.raises(module.InvalidInputError, match=r"^proxy=: 'https://h:1' is not"):
        module.DecartClient(api_key="k", proxy=f"https://{USER}:{QUOTED}@h:1")
    clean_environment.setenv("HTTPS_PROXY", "socks5://h:1")
    with pytest.raises(module.InvalidInputError, match=r"^HTTPS_PROXY: 'socks5://h:1'"):
        module.DecartClient(api_key="k")
    module.DecartClient(api_key="k", trust_env=False)  # the environment unread
    with pytest.raises(module.InvalidInputError, match="X-API-KEY cannot be set"):
        module.DecartClient(api_key="k", trust_env=False, default_headers={"X-API-KEY": "x"})


@contextlib.contextmanager
def one_answer_server(heads: list[bytes]) -> Iterator[str]:
    """A server of the test's own that answers each request with a job status, keeping each
    request's head in *heads*; its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    body = b'{"job_id": "j1", "status": "processing"}'
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                heads.append(head)
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        thread.join(10)


async def test_default_headers_reach_the_server(transport: str, clean_environment: Any) -> None:
    module = importlib.import_module(f"decart_proto.transports.{transport}")
    heads: list[bytes] = []
    with one_answer_server(heads) as base_url:
        client = module.DecartClient(
            api_key="k", base_url=base_url, default_headers={"X-Trace": "trace-1"}
        )
        call = client.queue.status("j1")
        status = call if transport == "blocking" else await call
        closing = client.close()
        if transport != "blocking":
            await closing
    assert status.status == "processing"
    assert b"\r\nX-Trace: trace-1\r\n" in heads[0]
