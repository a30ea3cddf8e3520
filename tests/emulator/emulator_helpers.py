"""Shared test helpers: a multipart encoder and small HTTP clients (fixtures: conftest.py).

The helpers here are deliberately independent of ``decart_proto``: the emulator is checked with
the standard library's ``http.client``, raw sockets and Decart's official client.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from decart_emulator import Emulator, sample_video_path

FAST = {"pending_seconds": 0.05, "processing_seconds": 0.05}


class Server(Protocol):
    """What the helpers need of a server: an ``Emulator``, or a ``RemoteServer``."""

    @property
    def base_url(self) -> str: ...

    @property
    def api_key(self) -> str: ...


@dataclass(frozen=True)
class RemoteServer:
    """An emulator running in another process."""

    base_url: str
    api_key: str


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def encode_form(
    fields: dict[str, str] | None = None, files: dict[str, bytes] | None = None
) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type; files get their field name as filename,
    as Decart's official Python client sends them."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in (fields or {}).items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, content in (files or {}).items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def request(
    emulator: Server,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    api_key: str | None = "",
    timeout: float = 10.0,
) -> Reply:
    """One request over a new connection; ``api_key=""`` means the emulator's own key."""
    url = urlsplit(emulator.base_url)
    if url.scheme == "https":
        assert isinstance(emulator, Emulator), "https helpers need the emulator's CA"
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            url.hostname or "", url.port, timeout=timeout, context=emulator.client_ssl_context()
        )
    else:
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=timeout)
    all_headers = dict(headers or {})
    if api_key is not None:
        all_headers["X-API-KEY"] = api_key or emulator.api_key
    try:
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


def submit(
    emulator: Server,
    model: str = "lucy-2.1",
    fields: dict[str, str] | None = None,
    files: dict[str, bytes] | None = None,
    api_key: str | None = "",
) -> Reply:
    body, content_type = encode_form(
        {"prompt": "make it anime"} if fields is None else fields,
        {"data": sample_video_path().read_bytes()} if files is None else files,
    )
    return request(
        emulator, "POST", f"/v1/jobs/{model}", body, {"Content-Type": content_type}, api_key
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def raw_exchange(emulator: Server, data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes, then read until the server closes; returns everything received."""
    url = urlsplit(emulator.base_url)
    with socket.create_connection((url.hostname, url.port or 80), timeout=timeout) as sock:
        sock.sendall(data)
        received = bytearray()
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return bytes(received)
            received += chunk


def raw_get(emulator: Server, path: str, close: bool = True) -> bytes:
    connection = "Connection: close\r\n" if close else ""
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-KEY: {emulator.api_key}\r\n"
        f"{connection}\r\n"
    ).encode()


def stop_process(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str]:
    """Signal a server process, wait for it, and close its pipes: (exit status, stderr)."""
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=15)
    return process.returncode, stderr or ""
