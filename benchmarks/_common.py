"""Shared pieces of the benchmarks: fast local servers (each in its own process, so that it never
competes with the client for the GIL), TLS material, child-process runs with their peak memory,
and median tables.

Run as a script, this module *is* the server process: ``python _common.py poll`` or
``python _common.py media --file PATH [--cert CHAIN --key KEY]``; it prints ``PORT <n>`` and serves
until it is terminated through its handle.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

__all__ = [
    "API_KEY",
    "JOB_ID",
    "ChildResult",
    "ServerProcess",
    "TlsFiles",
    "client_context",
    "make_tls_files",
    "median",
    "print_table",
    "run_child",
    "sparse_file",
]

API_KEY = "bench-key"
JOB_ID = "job-bench"
STATUS_BODY = json.dumps({"job_id": JOB_ID, "status": "completed"}).encode()
SUBMIT_BODY = json.dumps({"job_id": JOB_ID, "status": "pending"}).encode()
CHUNK = 1 << 20
MiB = 1024 * 1024


# -- the parent's side ---------------------------------------------------------------------


class ServerProcess:
    """A server in a child process, stopped through its own handle."""

    def __init__(self, kind: str, *args: str) -> None:
        here = os.path.abspath(__file__)
        self.proc = subprocess.Popen(
            [sys.executable, here, kind, *args], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.fullmatch(r"PORT (\d+)\n", line)
        if match is None:
            self.stop()
            raise RuntimeError(f"server {kind} did not start: {line!r}")
        self.port = int(match.group(1))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class TlsFiles:
    ca_pem: str
    chain_pem: str
    key_pem: str


def make_tls_files(directory: str) -> TlsFiles:
    """A throwaway CA and a certificate for 127.0.0.1 and localhost (trustme)."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(
        os.path.join(directory, "ca.pem"),
        os.path.join(directory, "chain.pem"),
        os.path.join(directory, "key.pem"),
    )
    ca.cert_pem.write_to_path(files.ca_pem)
    cert.private_key_pem.write_to_path(files.key_pem)
    with open(files.chain_pem, "wb") as f:
        for blob in cert.cert_chain_pems:
            f.write(blob.bytes())
    return files


def client_context(ca_pem: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_pem)


def sparse_file(directory: str, size: int, name: str = "input.mp4") -> str:
    """A file of *size* bytes that takes no disk space (reads as zeros from the page cache)."""
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.truncate(size)
    return path


@dataclass(frozen=True)
class ChildResult:
    ok: bool
    report: dict[str, Any]
    peak_mib: float  # the child's ru_maxrss, its own (wait4), not the sum over children
    error: str


def run_child(
    argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 900
) -> ChildResult:
    """Run a client in its own process; it prints one JSON line as its last line of stdout."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        lines = out.read().strip().splitlines()
        peak = usage.ru_maxrss / 1024  # KiB on Linux
        if proc.returncode != 0 or not lines:
            tail = err.read().strip().splitlines()[-3:]
            return ChildResult(False, {}, peak, " | ".join(tail) or f"exit {proc.returncode}")
        return ChildResult(True, json.loads(lines[-1]), peak, "")


def vm_rss_mib() -> float:
    """This process's current resident set, for the baseline after imports."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(
            "  ".join(
                str(c).rjust(w) if i else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(row, widths))
            )
        )


# -- the server's side ---------------------------------------------------------------------


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def _response_head(status: str, content_type: str, length: int) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {length}\r\n\r\n"
    ).encode()


POLL_RESPONSE = _response_head("200 OK", "application/json", len(STATUS_BODY)) + STATUS_BODY


def _serve_poll_connection(conn: socket.socket) -> None:
    """Answers every request head with the canned status response. Requests have no body, so
    counting the blank lines that end the heads is enough; pipelined heads are answered too."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pending = b""
    with conn:
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            pending += data
            heads = pending.count(b"\r\n\r\n")
            if heads:
                pending = pending[pending.rfind(b"\r\n\r\n") + 4 :]
                try:
                    conn.sendall(POLL_RESPONSE * heads)
                except OSError:
                    return


class _Reader:
    """Buffered reading from a blocking socket (plain or TLS) for the media server."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.scratch = bytearray(CHUNK)

    def _fill(self) -> bool:
        data = self.sock.recv(CHUNK)
        self.buf += data
        return bool(data)

    def line(self) -> bytes | None:
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                out = bytes(self.buf[:end])
                del self.buf[: end + 2]
                return out
            if not self._fill():
                return None

    def head(self) -> bytes | None:
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                out = bytes(self.buf[:end])
                del self.buf[: end + 4]
                return out
            if not self._fill():
                return None

    def discard(self, count: int) -> None:
        take = min(count, len(self.buf))
        del self.buf[:take]
        count -= take
        view = memoryview(self.scratch)
        while count:
            got = self.sock.recv_into(view, min(count, CHUNK))
            if not got:
                raise ConnectionError("body cut short")
            count -= got

    def discard_chunked(self) -> None:
        while True:
            size_line = self.line()
            if size_line is None:
                raise ConnectionError("chunked body cut short")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                while self.line():  # trailers, then the blank line
                    pass
                return
            self.discard(size + 2)


def _send_file(conn: socket.socket, path: str, tls: bool) -> None:
    with open(path, "rb") as f:
        if not tls:
            conn.sendfile(f)
            return
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while True:
            got = f.readinto(buf)
            if not got:
                return
            conn.sendall(view[:got])


def _serve_media_connection(conn: socket.socket, ctx: ssl.SSLContext | None, path: str) -> None:
    """A sink for uploads (body read and dropped) and a source for downloads (``sendfile`` of
    *path*); every job is already completed."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    size = os.path.getsize(path)
    try:
        if ctx is not None:
            conn = ctx.wrap_socket(conn, server_side=True)
        reader = _Reader(conn)
        while True:
            head = reader.head()
            if head is None:
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if method == "POST":
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    reader.discard_chunked()
                else:
                    reader.discard(int(headers.get("content-length", "0")))
                conn.sendall(
                    _response_head("200 OK", "application/json", len(SUBMIT_BODY)) + SUBMIT_BODY
                )
            elif target.endswith("/content"):
                conn.sendall(_response_head("200 OK", "video/mp4", size))
                _send_file(conn, path, ctx is not None)
            else:
                conn.sendall(
                    _response_head("200 OK", "application/json", len(STATUS_BODY)) + STATUS_BODY
                )
            if headers.get("connection", "").lower() == "close":
                return
    except (OSError, ValueError):
        return
    finally:
        conn.close()


def _serve(kind: str, options: argparse.Namespace) -> None:
    listener = _listen()
    ctx = None
    if options.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(options.cert, options.key)
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    while True:
        conn, _ = listener.accept()
        if kind == "poll":
            args: tuple[Any, ...] = (conn,)
            target: Any = _serve_poll_connection
        else:
            args = (conn, ctx, options.file)
            target = _serve_media_connection
        threading.Thread(target=target, args=args, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description="a benchmark server (started by the benchmarks)")
    parser.add_argument("kind", choices=["poll", "media"])
    parser.add_argument("--file", help="media: the file served as every job's result")
    parser.add_argument("--cert", help="media: certificate chain PEM, for TLS")
    parser.add_argument("--key", help="media: private key PEM, for TLS")
    options = parser.parse_args()
    try:
        _serve(options.kind, options)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
