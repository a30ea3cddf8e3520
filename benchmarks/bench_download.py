"""Download throughput and peak memory: a large result video fetched through each of our
transports, beside Decart's official client and a raw socket, plain and with TLS, in one run.

Each sample is a fresh child process, so its peak resident set (``VmHWM``) is its own. The
server (``_common.py media``, its own process) answers ``GET /v1/jobs/{id}/content`` with the
file, by ``sendfile`` on plain TCP. Our clients stream the video to an ``output=`` file object
that counts and drops the bytes (so no disk write is timed); the official client can only return
it as one ``bytes`` object; the raw socket receives into one reused 1 MiB buffer.

    python benchmarks/bench_download.py                # 1 GiB, 3 rounds, plain and TLS
    python benchmarks/bench_download.py --size 256MiB --rounds 5
    python benchmarks/bench_download.py --clients raw,trio --modes tls
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import ssl
import sys
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


class CountingSink(io.RawIOBase):
    """A binary output that keeps nothing: what the client hands it is counted, then dropped."""

    def __init__(self) -> None:
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.count += len(data)
        return len(data)


def _context(args: ChildArgs) -> ssl.SSLContext | None:
    return client_context(args.ca) if args.url.startswith("https:") else None


def download_blocking(args: ChildArgs, watch: Stopwatch) -> int:
    from decart_proto.transports.blocking import DecartClient  # noqa: PLC0415 - only in its own child

    sink = CountingSink()
    with DecartClient(api_key=API_KEY, base_url=args.url, ssl_context=_context(args)) as client:
        watch.start()
        result = client.queue.result(JOB_ID, output=sink)
    assert result.status == "completed", result
    return sink.count


async def _download_async(
    client_class: Any, args: ChildArgs, watch: Stopwatch, sink: CountingSink
) -> None:
    """The async clients' download: the same code on either loop."""
    async with client_class(
        api_key=API_KEY, base_url=args.url, ssl_context=_context(args)
    ) as client:
        watch.start()
        result = await client.queue.result(JOB_ID, output=sink)
    assert result.status == "completed", result


def download_asyncio(args: ChildArgs, watch: Stopwatch) -> int:
    from decart_proto.transports.asyncio import DecartClient  # noqa: PLC0415 - only in its own child

    sink = CountingSink()
    asyncio.run(_download_async(DecartClient, args, watch, sink))
    return sink.count


def download_trio(args: ChildArgs, watch: Stopwatch) -> int:
    import trio  # noqa: PLC0415 - only in its own child
    from decart_proto.transports.trio import DecartClient  # noqa: PLC0415

    sink = CountingSink()
    trio.run(_download_async, DecartClient, args, watch, sink)
    return sink.count


def download_official(args: ChildArgs, watch: Stopwatch) -> int:
    """Decart's own client: ``queue.result`` returns the whole video as ``bytes``. For https it
    trusts the test CA through ``SSL_CERT_FILE``, set by the parent."""
    from decart import DecartClient  # noqa: PLC0415 - only in its own child

    async def main() -> int:
        client = DecartClient(api_key=API_KEY, base_url=args.url)
        try:
            watch.start()
            data = await client.queue.result(JOB_ID)
        finally:
            await client.close()
        return len(data)

    return asyncio.run(main())


def download_raw(args: ChildArgs, watch: Stopwatch) -> int:
    """The limit: one canned request, the head parsed by hand, the body received into one
    reused buffer and dropped."""
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    request = (
        f"GET /v1/jobs/{JOB_ID}/content HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"X-API-KEY: {API_KEY}\r\n\r\n"
    ).encode()
    ctx = _context(args)
    watch.start()
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if ctx is not None:
        sock = ctx.wrap_socket(sock, server_hostname=host)
    with sock:
        sock.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("no response head")
            head += data
        head, _, first = head.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        got = len(first)
        view = memoryview(bytearray(CHUNK))
        while got < length:
            n = sock.recv_into(view, min(CHUNK, length - got))
            if not n:
                raise ConnectionError("body cut short")
            got += n
    return got


CLIENTS: dict[str, ChildClient] = {
    "raw": download_raw,
    "blocking": download_blocking,
    "asyncio": download_asyncio,
    "trio": download_trio,
    "official": download_official,
}

if __name__ == "__main__":
    media_main(os.path.abspath(__file__), "download", CLIENTS)
