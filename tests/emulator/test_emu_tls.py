"""HTTPS with a throwaway trustme CA, in-process and from the command line."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trustme
from emulator_helpers import request, stop_process, submit, wait_for

from decart_emulator import Emulator, Fault

REPO = Path(__file__).resolve().parents[2]


def test_https_round_trip_with_the_emulators_ca() -> None:
    with Emulator(tls=True, pending_seconds=0, processing_seconds=0) as emu:
        assert emu.base_url.startswith("https://127.0.0.1:")
        assert emu.ca_pem_path is not None and emu.ca_pem_path.read_bytes().startswith(b"-----")
        job_id = submit(emu).json()["job_id"]
        wait_for(lambda: emu.jobs[job_id] == "completed")
        assert request(emu, "GET", f"/v1/jobs/{job_id}/content").body[4:8] == b"ftyp"
        ca_path = emu.ca_pem_path
    assert not ca_path.exists()  # removed on stop


def test_the_certificate_is_not_trusted_without_the_ca() -> None:
    with Emulator(tls=True) as emu:
        url = urlsplit(emu.base_url)
        conn = http.client.HTTPSConnection(url.hostname or "", url.port, timeout=5,
                                           context=ssl.create_default_context())  # fmt: skip
        with pytest.raises(ssl.SSLCertVerificationError):
            conn.request("GET", "/v1/jobs/x")
        conn.close()


def test_a_dropped_tls_connection_sends_no_http_bytes() -> None:
    with Emulator(tls=True) as emu:
        emu.add_fault(Fault(close_before_response=True))
        url = urlsplit(emu.base_url)
        context = emu.client_ssl_context()
        with (
            socket.create_connection((url.hostname, url.port or 443), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=url.hostname) as tls,
        ):
            tls.sendall(b"GET /v1/jobs/x HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                received = tls.recv(1024)
            except (ssl.SSLEOFError, ConnectionResetError):
                received = b""
        assert received == b""
        assert emu.requests[-1].status is None


def test_client_ssl_context_needs_tls(emu: Emulator) -> None:
    assert emu.ca_pem_path is None
    with pytest.raises(RuntimeError, match="tls=True"):
        emu.client_ssl_context()


def test_cli_serves_https_with_given_certificate(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    process = subprocess.Popen(
        [sys.executable, "-m", "decart_emulator", "--tls-cert", str(cert), "--tls-key", str(key)],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("decart-emulator listening on https://127.0.0.1:"), line
        url = urlsplit(line.split()[-1])
        context = ssl.create_default_context()
        ca.configure_trust(context)
        conn = http.client.HTTPSConnection(url.hostname or "", url.port, timeout=5, context=context)
        conn.request("GET", "/v1/jobs/x", headers={"X-API-KEY": "test-key"})
        assert conn.getresponse().status == 404
        conn.close()
    finally:
        assert stop_process(process, signal.SIGTERM)[0] == 0
