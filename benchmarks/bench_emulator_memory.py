"""Peak memory of the emulator while it takes a 1 GiB upload and serves it back.

Starts ``python -m decart_emulator`` in a subprocess, uploads a sparse 1 GiB temporary file as
the ``data`` part of a submit (``socket.sendfile``: the client holds none of it in memory
either), waits for the job, downloads the 1 GiB result (with ``--no-reencode`` the result is the
input itself) while discarding it, and reports the emulator's peak resident memory (``VmHWM``
from ``/proc``). Linux only. The goal is under 150 MiB.

    python benchmarks/bench_emulator_memory.py [--size-mib 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
GOAL_MIB = 150
API_KEY = "bench-key"


def proc_status_kib(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    assert match, field
    return int(match.group(1))


def read_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = bytearray()
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before the response head")
        data += chunk
    head, _, rest = bytes(data).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, rest


def read_body(sock: socket.socket, headers: dict[str, str], rest: bytes, keep: bool) -> bytes:
    remaining = int(headers["content-length"]) - len(rest)
    kept = bytearray(rest) if keep else bytearray()
    while remaining > 0:
        chunk = sock.recv(min(1 << 20, remaining))
        if not chunk:
            raise ConnectionError("connection closed in the body")
        remaining -= len(chunk)
        if keep:
            kept += chunk
    return bytes(kept)


def upload(address: tuple[str, int], source: Path) -> str:
    boundary = "benchmark-boundary-7f3a"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nbench\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="data"; filename="data"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + source.stat().st_size + len(tail)
    request = (
        f"POST /v1/jobs/lucy-2.1 HTTP/1.1\r\nHost: {address[0]}\r\nX-API-KEY: {API_KEY}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(address) as sock, source.open("rb") as file:
        sock.sendall(request + head)
        sock.sendfile(file)
        sock.sendall(tail)
        status, headers, rest = read_head(sock)
        body = read_body(sock, headers, rest, keep=True)
    if status != 200:
        raise RuntimeError(f"submit answered {status}: {body[:200]!r}")
    return str(json.loads(body)["job_id"])


def get(address: tuple[str, int], path: str, keep: bool = True) -> tuple[int, bytes, int]:
    with socket.create_connection(address) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: x\r\nX-API-KEY: {API_KEY}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        status, headers, rest = read_head(sock)
        return status, read_body(sock, headers, rest, keep), int(headers["content-length"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as scratch:
        source = Path(scratch) / "upload.bin"
        with source.open("wb") as file:
            file.truncate(size)  # sparse: no disk blocks, reads as zeros
        process = subprocess.Popen(
            [sys.executable, "-m", "decart_emulator", "--api-key", API_KEY, "--no-reencode",
             "--pending-seconds", "0", "--processing-seconds", "0",
             "--max-upload-bytes", str(size * 2), "--state-dir", str(Path(scratch) / "state")],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        try:
            assert process.stdout is not None
            url = urlsplit(process.stdout.readline().split()[-1])
            address = (url.hostname or "127.0.0.1", url.port or 80)
            idle_kib = proc_status_kib(process.pid, "VmRSS")
            started = time.monotonic()
            job_id = upload(address, source)
            uploaded = time.monotonic()
            while json.loads(get(address, f"/v1/jobs/{job_id}")[1])["status"] != "completed":
                time.sleep(0.05)
            status, _, length = get(address, f"/v1/jobs/{job_id}/content", keep=False)
            downloaded = time.monotonic()
            assert status == 200 and length == size, (status, length)
            peak_kib = proc_status_kib(process.pid, "VmHWM")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    mib = 1024 * 1024
    print(f"uploaded {size / mib:.0f} MiB in {uploaded - started:.1f} s "
          f"({size / mib / (uploaded - started):.0f} MiB/s); "
          f"downloaded it in {downloaded - uploaded:.1f} s")  # fmt: skip
    print(f"emulator RSS at idle: {idle_kib / 1024:.1f} MiB")
    print(f"emulator peak RSS (VmHWM): {peak_kib / 1024:.1f} MiB (goal: < {GOAL_MIB} MiB)")
    return 0 if peak_kib / 1024 < GOAL_MIB else 1


if __name__ == "__main__":
    sys.exit(main())
