"""The core's own cost of a download: MiB/s of a 2xx body through ``exchange()`` to a sink that
drops it, received in 64 KiB pieces from memory (no socket, no transport, no output).

What it shows is what h11 and the exchange cost per MiB, the ceiling a transport's download
cannot pass. Runs of the same code can differ several-fold: h11 frees its receive buffer
whenever it empties, and when its per-chunk buffers sit at the top of glibc's heap, every chunk
costs a brk() that shrinks the heap and one that grows it again, with fresh pages (``strace -c
-e trace=brk`` shows a few dozen calls for a fast run, two per chunk for a slow one). Compare
several runs.

    python benchmarks/bench_core_download.py [--size-mib 64] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Generator

from decart_proto import (
    Connect,
    Connection,
    Credentials,
    Op,
    OutputWrite,
    Progress,
    Receive,
    Reply,
    Response,
    exchange,
    parse_base_url,
    result_request,
)

TARGET = parse_base_url("http://127.0.0.1:8000")
CREDS = Credentials("sk-bench-key", "bench")
PIECE = 64 * 1024


def download(size: int) -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: %d\r\n\r\n" % size
    piece = bytes(PIECE)
    got = 0

    def sink(data: bytes) -> Generator[OutputWrite | Progress, object, None]:
        nonlocal got
        got += len(data)
        yield from ()

    gen: Generator[Op[None], Reply[None], Response] = exchange(
        TARGET.origin,
        result_request(TARGET, CREDS, "j1"),
        None,
        clock=lambda: 0.0,
        step=30.0,
        deadline=600.0,
        sink=sink,
    )
    left = size
    reply: Reply[None] = None
    answered_head = False
    try:
        while True:
            op = gen.send(reply)
            if isinstance(op, Connect):
                reply = Connection(op.origin, None)
            elif isinstance(op, Receive):
                if not answered_head:
                    answered_head, reply = True, head
                else:
                    n = min(PIECE, left)
                    left -= n
                    reply = piece if n == PIECE else piece[:n]
            else:
                reply = None  # Acquire (no pool), SendBytes, Release
    except StopIteration:
        pass
    assert got == size, got


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    download(size)  # warm
    rates = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        download(size)
        rates.append(args.size_mib / (time.perf_counter() - started))
    print(
        f"{args.size_mib} MiB through exchange() in {PIECE // 1024} KiB receives, "
        f"{args.rounds} rounds: median {statistics.median(rates):,.0f} MiB/s, "
        f"best {max(rates):,.0f} MiB/s"
    )


if __name__ == "__main__":
    main()
