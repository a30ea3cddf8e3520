"""Peak memory of an in-memory result: ``client.queue.result(job_id)`` without ``output=``.

A video kept in memory costs its own size at least; the question is what it costs beyond that
(a second copy at the end, buffer growth). A server in its own process (this script run with
``--serve``) answers ``GET /v1/jobs/{id}/content`` with ``--size`` zero bytes, sent with
``Content-Length`` for job ``length`` and chunked (no length announced) for job ``chunked``.
Each sample is the blocking client in a fresh child process, reporting its peak resident set
(``VmHWM``) and its resident set before the call. Linux only.

    python benchmarks/bench_result_memory.py [--size 300MiB] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (
    API_KEY,
    CHUNK,
    MiB,
    median,
    parse_size,
    print_table,
    run_child,
    vm_hwm_mib,
    vm_rss_mib,
)

JOBS = ("length", "chunked")


# -- the server (its own process) ------------------------------------------------------------


def _serve_connection(conn: socket.socket, size: int) -> None:
    block = bytes(CHUNK)
    with conn:
        data = b""
        while b"\r\n\r\n" not in data:
            got = conn.recv(65536)
            if not got:
                return
            data += got
        chunked = b"/chunked/" in data.split(b"\r\n", 1)[0]
        framing = b"transfer-encoding: chunked" if chunked else b"content-length: %d" % size
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\n" + framing + b"\r\n\r\n")
        left = size
        while left:
            piece = block[: min(CHUNK, left)]
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            left -= len(piece)
        if chunked:
            conn.sendall(b"0\r\n\r\n")


def serve(size: int) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_serve_connection, args=(conn, size), daemon=True).start()


# -- a client sample (its own process) -------------------------------------------------------


def child(url: str, job: str) -> None:
    from decart_proto.transports.blocking import DecartClient  # noqa: PLC0415 - only in the child

    with DecartClient(api_key=API_KEY, base_url=url) as client:
        baseline = vm_rss_mib()
        result = client.queue.result(job)
        size = len(result.data or b"")
        kind = type(result.data).__name__
    report = {"bytes": size, "type": kind, "baseline_mib": baseline, "peak_mib": vm_hwm_mib()}
    print(json.dumps(report), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=300 * MiB, help="default 300MiB")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=2, metavar=("URL", "JOB"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        serve(options.size)
        return
    if options.child:
        child(*options.child)
        return

    import subprocess  # noqa: PLC0415

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--size", str(options.size)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        url = f"http://127.0.0.1:{port}"
        peaks: dict[str, list[float]] = {job: [] for job in JOBS}
        bases: dict[str, list[float]] = {job: [] for job in JOBS}
        kinds: dict[str, str] = {}
        for round_no in range(options.rounds):
            for job in JOBS:
                got = run_child([sys.executable, __file__, "--child", url, job])
                if not got.ok:
                    print(f"  {job} failed: {got.error}", flush=True)
                    continue
                assert got.report["bytes"] == options.size, got.report
                peaks[job].append(got.peak_mib)
                bases[job].append(got.report["baseline_mib"])
                kinds[job] = got.report["type"]
                print(
                    f"round {round_no + 1}/{options.rounds} {job:8} peak {got.peak_mib:7.1f} MiB"
                    f" (before the call {got.report['baseline_mib']:.1f} MiB)",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
    rows = []
    for job in JOBS:
        peak, base = median(peaks[job]), median(bases[job])
        extra = (peak - base) / (options.size / MiB)
        rows.append([job, f"{peak:,.1f}", f"{base:,.1f}", f"{extra:.2f}x", kinds.get(job, "-")])
    print_table(
        f"in-memory result of {options.size / MiB:,.0f} MiB, blocking client: median of "
        f"{options.rounds} rounds (Python {sys.version.split()[0]})",
        ["framing", "peak RSS MiB", "RSS before MiB", "(peak - before) / video", "data type"],
        rows,
    )


if __name__ == "__main__":
    main()
