"""Upload throughput and peak memory: a large video submitted through each of our transports,
beside Decart's official client and a raw socket, plain and with TLS, in one run.

Each sample is a fresh child process, so its peak resident set (``ru_maxrss`` from ``wait4``) is
its own. The server (``_common.py media``, its own process) reads the multipart body, drops it
and answers the job JSON. The input is a sparse temporary file, removed at the end.

    python benchmarks/bench_upload.py                  # 1 GiB, 3 rounds, plain and TLS
    python benchmarks/bench_upload.py --size 256MiB --rounds 5
    python benchmarks/bench_upload.py --clients raw,blocking --modes plain
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (
    API_KEY,
    CHUNK,
    JOB_ID,
    ChildArgs,
    ChildClient,
    Stopwatch,
    client_context,
    media_main,
)

MODEL_PATH = "/v1/jobs/lucy-2.1"
PROMPT = "benchmark"


def _context(args: ChildArgs) -> ssl.SSLContext | None:
    return client_context(args.ca) if args.url.startswith("https:") else None


def _options(args: ChildArgs) -> dict[str, object]:
    from decart_proto import models  # noqa: PLC0415 - only in the children that use it

    return {"model": models.video("lucy-2.1"), "data": args.file, "prompt": PROMPT}


def upload_blocking(args: ChildArgs, watch: Stopwatch) -> int:
    from decart_proto.transports.blocking import DecartClient  # noqa: PLC0415

    options = _options(args)
    with DecartClient(api_key=API_KEY, base_url=args.url, ssl_context=_context(args)) as client:
        watch.start()
        job = client.queue.submit(options)
    assert job.job_id == JOB_ID, job
    return args.size


async def _upload_async(client_class: Any, args: ChildArgs, watch: Stopwatch) -> None:
    """The async clients' upload: the same code on either loop."""
    options = _options(args)
    async with client_class(
        api_key=API_KEY, base_url=args.url, ssl_context=_context(args)
    ) as client:
        watch.start()
        job = await client.queue.submit(options)
    assert job.job_id == JOB_ID, job


def upload_asyncio(args: ChildArgs, watch: Stopwatch) -> int:
    from decart_proto.transports.asyncio import DecartClient  # noqa: PLC0415

    asyncio.run(_upload_async(DecartClient, args, watch))
    return args.size


def upload_trio(args: ChildArgs, watch: Stopwatch) -> int:
    import trio  # noqa: PLC0415
    from decart_proto.transports.trio import DecartClient  # noqa: PLC0415

    trio.run(_upload_async, DecartClient, args, watch)
    return args.size


def upload_official(args: ChildArgs, watch: Stopwatch) -> int:
    """Decart's own client, as documented: a ``Path`` in ``data`` (it reads the whole file).
    For https it trusts the test CA through ``SSL_CERT_FILE``, set by the parent."""
    from decart import DecartClient, models  # noqa: PLC0415

    async def main() -> None:
        client = DecartClient(api_key=API_KEY, base_url=args.url)
        try:
            watch.start()
            job = await client.queue.submit(
                {"model": models.video("lucy-2.1"), "data": Path(args.file), "prompt": PROMPT}
            )
        finally:
            await client.close()
        assert job.job_id == JOB_ID, job

    asyncio.run(main())
    return args.size


def upload_raw(args: ChildArgs, watch: Stopwatch) -> int:
    """The limit: a hand-built multipart request; ``os.sendfile`` for plain TCP, 1 MiB reads
    and ``sendall`` under TLS; the response read to its end."""
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    boundary = "raw-benchmark-boundary"
    before = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n{PROMPT}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="data"; '
        f'filename="input.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
    ).encode()
    after = f"\r\n--{boundary}--\r\n".encode()
    head = (
        f"POST {MODEL_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nX-API-KEY: {API_KEY}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(before) + args.size + len(after)}\r\n\r\n"
    ).encode()
    ctx = _context(args)
    watch.start()
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if ctx is not None:
        sock = ctx.wrap_socket(sock, server_hostname=host)
    with sock, open(args.file, "rb") as f:
        sock.sendall(head + before)
        if ctx is None:
            sent = sock.sendfile(f)
        else:
            sent = 0
            buf = bytearray(CHUNK)
            view = memoryview(buf)
            while got := f.readinto(buf):
                sock.sendall(view[:got])
                sent += got
        sock.sendall(after)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 200") and JOB_ID.encode() in answer, answer
    return sent


CLIENTS: dict[str, ChildClient] = {
    "raw": upload_raw,
    "blocking": upload_blocking,
    "asyncio": upload_asyncio,
    "trio": upload_trio,
    "official": upload_official,
}

if __name__ == "__main__":
    media_main(os.path.abspath(__file__), "upload", CLIENTS)
