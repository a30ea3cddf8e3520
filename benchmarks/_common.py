"""Shared pieces of the benchmarks: fast local servers (each in its own process, so that it never
competes with the client for the GIL), TLS material, child-process runs with their peak memory,
and median tables.

Run as a script, this module *is* the server process: ``python _common.py poll`` or
``python _common.py media --file PATH [--cert CHAIN --key KEY]``; it prints ``PORT <n>`` and serves
until it is terminated through its handle.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime
import json
import os
import pstats
import re
import resource
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from _measure import code_version, machine  # benchmarks/ is on the path: they run as scripts

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
    import trustme  # noqa: PLC0415 - a dev dependency, only the media benchmarks need it

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


def warm_page_cache(path: str) -> None:
    """Read the file once, so that no client pays for first populating the page cache."""
    buf = bytearray(CHUNK)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass


@dataclass(frozen=True)
class ChildResult:
    ok: bool
    report: dict[str, Any]
    peak_mib: float  # the child's own VmHWM at exit
    error: str


def run_child(
    argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 900
) -> ChildResult:
    """Run a client in its own process; it prints one JSON line as its last line of stdout."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + timeout
        while True:
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status = os.waitpid(proc.pid, 0)
                break
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        lines = out.read().strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = err.read().strip().splitlines()[-3:]
            return ChildResult(False, {}, 0.0, " | ".join(tail) or f"exit {proc.returncode}")
        report = json.loads(lines[-1])
        return ChildResult(True, report, report["peak_mib"], "")


def _proc_status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def vm_rss_mib() -> float:
    """This process's current resident set, for the baseline after imports."""
    return _proc_status_mib("VmRSS")


def vm_hwm_mib() -> float:
    """This process's peak resident set. Unlike a child's ``ru_maxrss`` it starts afresh at
    ``exec``, so it does not include the parent's size at fork time."""
    return _proc_status_mib("VmHWM")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(
            "  ".join(
                str(c).rjust(w) if i else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def print_profile(profiler: cProfile.Profile, top: int, per: int, unit: str) -> None:
    """The functions and files where the time goes, as shares of all profiled time."""
    stats: Any = pstats.Stats(profiler)
    table = stats.stats  # {(file, line, function): (calls, primitive calls, own, cumulative, _)}
    total = sum(row[2] for row in table.values()) or 1.0
    rows = sorted(table.items(), key=lambda kv: kv[1][2], reverse=True)
    print(f"\ntop {top} functions by own time (% of all profiled time; cum = with callees)")
    for (path, line, func), (_, calls, own, cumulative, _) in rows[:top]:
        short = "/".join(path.split("/")[-2:])
        print(
            f"{100 * own / total:5.1f}%  cum {100 * cumulative / total:5.1f}%  "
            f"{calls / per:7.1f}/{unit}  {short}:{line}:{func}"
        )
    by_file: dict[str, float] = {}
    for (path, _, _), (_, _, own, _, _) in table.items():
        key = path if path.startswith("~") else "/".join(path.split("/")[-2:])
        by_file[key] = by_file.get(key, 0.0) + own
    print("\nown time by file ('~' = C functions: syscalls, builtins)")
    for path, own in sorted(by_file.items(), key=lambda kv: kv[1], reverse=True)[:top]:
        print(f"{100 * own / total:5.1f}%  {path}")


# -- the media benchmarks (upload, download) -------------------------------------------------


class Stopwatch:
    """Kept by a child: the resident set once the client is set up, and the transfer's time."""

    def __init__(self) -> None:
        self.baseline_mib = float("nan")
        self.started = float("nan")
        self.faults = 0

    def start(self) -> None:
        self.baseline_mib = vm_rss_mib()
        self.faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        self.started = time.perf_counter()

    def report(self, moved: int) -> dict[str, float]:
        return {
            "seconds": time.perf_counter() - self.started,
            "bytes": moved,
            "baseline_mib": self.baseline_mib,
            "peak_mib": vm_hwm_mib(),
            # Page faults during the transfer: a sign of buffers allocated and freed per chunk.
            "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - self.faults,
        }


@dataclass(frozen=True)
class ChildArgs:
    url: str
    file: str
    size: int
    ca: str | None  # the CA to trust, for https


# A child client: moves the file (up or down) and returns the number of bytes moved, calling
# ``watch.start()`` once its client is ready.
ChildClient = Callable[[ChildArgs, Stopwatch], int]


def child_main(clients: dict[str, ChildClient], argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", required=True, choices=list(clients))
    parser.add_argument("--url", required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--ca")
    options = parser.parse_args(argv)
    watch = Stopwatch()
    args = ChildArgs(options.url, options.file, options.size, options.ca)
    moved = clients[options.child](args, watch)
    if moved != options.size:
        raise SystemExit(f"{options.child} moved {moved} bytes, expected {options.size}")
    print(json.dumps(watch.report(moved)), flush=True)


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+)\s*([KMG]i?B?)?", text.strip(), re.IGNORECASE)
    if match is None:
        raise argparse.ArgumentTypeError(f"size {text!r}: use e.g. 1GiB, 256MiB or bytes")
    unit = (match.group(2) or "").upper()[:1]
    return int(match.group(1)) * {"": 1, "K": 1024, "M": MiB, "G": 1024 * MiB}[unit]


GOAL_PEAK_MIB = 64
GOAL_RATIO = 0.5
OURS = ("blocking", "asyncio", "trio")


def media_main(script: str, direction: str, clients: dict[str, ChildClient]) -> None:
    """The parent of an upload or download benchmark: one sparse file, a plain and a TLS server
    (each its own process), every client in its own child process per sample, interleaved
    rounds, medians."""
    if "--child" in sys.argv:
        child_main(clients, sys.argv[1:])
        return
    parser = argparse.ArgumentParser(description=f"{direction} throughput and peak memory")
    parser.add_argument("--size", type=parse_size, default=1024 * MiB, help="default 1GiB")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", default=",".join(clients))
    parser.add_argument("--modes", default="plain,tls")
    parser.add_argument(
        "--official-tls",
        choices=["cert-file", "skip"],
        default="cert-file",
        help="the official client trusts the test CA through SSL_CERT_FILE",
    )
    parser.add_argument(
        "--profile",
        choices=list(clients),
        help="run this client once in-process under cProfile (first mode only)",
    )
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--json", help="also write the figures here, for benchmarks/plot.py")
    options = parser.parse_args()
    if options.profile:
        _profile_media(options, clients[options.profile], options.modes.split(",")[0])
        return
    names = [n for n in options.clients.split(",") if n]
    names = [n for n in names if _importable(n)]
    modes = [m for m in options.modes.split(",") if m]

    with tempfile.TemporaryDirectory(prefix="decart-bench-") as tmp:
        path = sparse_file(tmp, options.size)
        warm_page_cache(path)
        tls = make_tls_files(tmp)
        servers = {}
        try:
            for mode in modes:
                extra = ["--cert", tls.chain_pem, "--key", tls.key_pem] if mode == "tls" else []
                servers[mode] = ServerProcess("media", "--file", path, *extra)
            speed: dict[tuple[str, str], list[float]] = {}
            peak: dict[tuple[str, str], list[float]] = {}
            base: dict[tuple[str, str], list[float]] = {}
            errors: dict[tuple[str, str], str] = {}
            for round_no in range(options.rounds):
                shift = round_no % len(names)
                for mode in modes:
                    for name in names[shift:] + names[:shift]:
                        key = (name, mode)
                        if key in errors:
                            continue
                        if name == "official" and mode == "tls" and options.official_tls == "skip":
                            errors[key] = "skipped (--official-tls skip)"
                            continue
                        scheme = "https" if mode == "tls" else "http"
                        argv = [
                            sys.executable,
                            script,
                            "--child",
                            name,
                            "--url",
                            f"{scheme}://127.0.0.1:{servers[mode].port}",
                            "--file",
                            path,
                            "--size",
                            str(options.size),
                        ]
                        env = dict(os.environ)
                        if mode == "tls":
                            argv += ["--ca", tls.ca_pem]
                            env["SSL_CERT_FILE"] = tls.ca_pem  # for the official client
                        result = run_child(argv, env)
                        if not result.ok:
                            errors[key] = result.error
                            print(f"  {name}/{mode} failed: {result.error}", flush=True)
                            continue
                        mib_s = result.report["bytes"] / MiB / result.report["seconds"]
                        speed.setdefault(key, []).append(mib_s)
                        peak.setdefault(key, []).append(result.peak_mib)
                        base.setdefault(key, []).append(result.report["baseline_mib"])
                        faults = result.report["faults"] / (options.size / MiB)
                        print(
                            f"round {round_no + 1}/{options.rounds} {mode:5} {name:9} "
                            f"{mib_s:8.0f} MiB/s  peak {result.peak_mib:7.1f} MiB  "
                            f"{faults:6.1f} page faults/MiB",
                            flush=True,
                        )
        finally:
            for server in servers.values():
                server.stop()

    if options.json:
        medians = {
            mode: {
                name: {
                    "mib_s": median(speed[name, mode]),
                    "peak_mib": median(peak[name, mode]),
                    "baseline_mib": median(base[name, mode]),
                }
                for name in names
                if (name, mode) in speed
            }
            for mode in modes
        }
        record = {
            "benchmark": f"bench_{direction}",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "machine": machine(),
            "code": code_version(),
            "command": " ".join(["python", *sys.argv]),
            "options": vars(options),
            "medians": medians,
            "errors": {f"{name}/{mode}": error for (name, mode), error in errors.items()},
            "samples": {f"{name}/{mode}": mib_s for (name, mode), mib_s in speed.items()},
        }
        with open(options.json, "w") as f:
            json.dump(record, f, indent=1)
    for mode in modes:
        raw = median(speed.get(("raw", mode), []))
        rows = []
        for name in names:
            key = (name, mode)
            if key not in speed:
                rows.append([name, errors.get(key, "no sample"), "", "", "", ""])
                continue
            mid = median(speed[key])
            top = median(peak[key])
            ratio = mid / raw
            verdict = ""
            if name in OURS:
                ok = top < GOAL_PEAK_MIB and ratio >= GOAL_RATIO
                verdict = "met" if ok else "NOT met"
            elif name == "official":
                verdict = f"peak = {top / (options.size / MiB):.2f}x the file"
            rows.append(
                [
                    name,
                    f"{mid:,.0f}",
                    f"{ratio:.2f}x",
                    f"{top:,.1f}",
                    f"{median(base[key]):,.1f}",
                    verdict,
                ]
            )
        print_table(
            f"{direction} of {options.size / MiB:,.0f} MiB, {mode}: median of "
            f"{options.rounds} rounds (Python {sys.version.split()[0]})",
            [
                "client",
                "MiB/s",
                "vs raw",
                "peak RSS MiB",
                "RSS before MiB",
                f"goal (< {GOAL_PEAK_MIB} MiB, >= {GOAL_RATIO}x raw)",
            ],
            rows,
        )


def _profile_media(options: argparse.Namespace, client: ChildClient, mode: str) -> None:
    with tempfile.TemporaryDirectory(prefix="decart-bench-") as tmp:
        path = sparse_file(tmp, options.size)
        warm_page_cache(path)
        tls = make_tls_files(tmp)
        extra = ["--cert", tls.chain_pem, "--key", tls.key_pem] if mode == "tls" else []
        with ServerProcess("media", "--file", path, *extra) as server:
            scheme = "https" if mode == "tls" else "http"
            args = ChildArgs(
                f"{scheme}://127.0.0.1:{server.port}",
                path,
                options.size,
                tls.ca_pem if mode == "tls" else None,
            )
            os.environ["SSL_CERT_FILE"] = tls.ca_pem
            watch = Stopwatch()
            profiler = cProfile.Profile()
            profiler.enable()
            moved = client(args, watch)
            profiler.disable()
            report = watch.report(moved)
    print(
        f"{options.profile} ({mode}): {moved / MiB / report['seconds']:,.0f} MiB/s under "
        "cProfile (slower than unprofiled)"
    )
    print_profile(profiler, options.top, per=max(1, moved // MiB), unit="MiB")


def _importable(name: str) -> bool:
    module = {
        "blocking": "decart_proto.transports.blocking",
        "asyncio": "decart_proto.transports.asyncio",
        "trio": "decart_proto.transports.trio",
        "official": "decart",
    }.get(name)
    if module is None:
        return True
    try:
        __import__(module)
    except ImportError as exc:
        print(f"skipping {name}: {module} is not importable ({exc})")
        return False
    return True


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
    with contextlib.suppress(KeyboardInterrupt):
        _serve(options.kind, options)


if __name__ == "__main__":
    main()
