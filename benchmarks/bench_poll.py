"""Status requests per second on one keep-alive connection, each client beside the others in the
same run: our three transports, aiohttp, a bare h11 loop and the raw-socket limit.

The server (``_common.py poll``) runs in its own process and answers every ``GET /v1/jobs/x`` with
a canned keep-alive 200 JSON, so the client is what is measured. Rounds are interleaved and the
medians reported, because the machine is shared and noisy.

    python benchmarks/bench_poll.py                     # 5 rounds of 1 s per client
    python benchmarks/bench_poll.py --rounds 9 --seconds 2
    python benchmarks/bench_poll.py --profile blocking  # cProfile of one client, top functions
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import h11
import trio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import (
    API_KEY,
    JOB_ID,
    POLL_RESPONSE,
    ServerProcess,
    median,
    print_profile,
    print_table,
)

WARMUP = 0.2
HEADERS = {
    "X-API-KEY": API_KEY,
    "User-Agent": "bench/1",
    "Accept": "application/json",
}
GOALS = {"blocking": 1.5, "asyncio": 1.0, "trio": 1.1}

# A runner takes (port, seconds) and returns (requests done, seconds taken) for the timed part,
# after its own warm-up on the same connection.
Runner = Callable[[int, float], tuple[int, float]]


def _timed(step: Callable[[], Any], seconds: float) -> tuple[int, float]:
    end = time.perf_counter() + WARMUP
    while time.perf_counter() < end:
        step()
    count = 0
    start = time.perf_counter()
    end = start + seconds
    while True:
        step()
        count += 1
        now = time.perf_counter()
        if now >= end:
            return count, now - start


async def _timed_async(step: Callable[[], Any], seconds: float) -> tuple[int, float]:
    end = time.perf_counter() + WARMUP
    while time.perf_counter() < end:
        await step()
    count = 0
    start = time.perf_counter()
    end = start + seconds
    while True:
        await step()
        count += 1
        now = time.perf_counter()
        if now >= end:
            return count, now - start


def run_blocking(port: int, seconds: float) -> tuple[int, float]:
    from decart_proto.transports.blocking import DecartClient  # noqa: PLC0415 - may not exist yet

    with DecartClient(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}") as client:
        status = client.queue.status

        def step() -> None:
            assert status(JOB_ID).status == "completed"

        return _timed(step, seconds)


async def _poll_async(client_class: Any, port: int, seconds: float) -> tuple[int, float]:
    """The async clients' loop: the same code on either event loop."""
    async with client_class(api_key=API_KEY, base_url=f"http://127.0.0.1:{port}") as client:
        status = client.queue.status

        async def step() -> None:
            assert (await status(JOB_ID)).status == "completed"

        return await _timed_async(step, seconds)


def run_asyncio(port: int, seconds: float) -> tuple[int, float]:
    from decart_proto.transports.asyncio import DecartClient  # noqa: PLC0415 - may not exist yet

    return asyncio.run(_poll_async(DecartClient, port, seconds))


def run_trio(port: int, seconds: float) -> tuple[int, float]:
    from decart_proto.transports.trio import DecartClient  # noqa: PLC0415 - may not exist yet

    return trio.run(_poll_async, DecartClient, port, seconds)


def run_aiohttp(port: int, seconds: float) -> tuple[int, float]:
    url = f"http://127.0.0.1:{port}/v1/jobs/{JOB_ID}"

    async def main() -> tuple[int, float]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:

            async def step() -> None:
                async with session.get(url, headers=HEADERS) as response:
                    response.raise_for_status()
                    assert (await response.json())["status"] == "completed"

            return await _timed_async(step, seconds)

    return asyncio.run(main())


def run_h11(port: int, seconds: float) -> tuple[int, float]:
    """The floor a transport on h11 starts from: one h11 connection, a blocking socket, and the
    JSON read, with nothing else."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = h11.Connection(h11.CLIENT)
    request = h11.Request(
        method="GET",
        target=f"/v1/jobs/{JOB_ID}",
        headers=[("Host", f"127.0.0.1:{port}"), *HEADERS.items()],
    )
    end_of_message = h11.EndOfMessage()

    def step() -> None:
        sock.sendall(conn.send(request) + conn.send(end_of_message))  # type: ignore[operator]
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(65536))
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.Response):
                assert event.status_code == 200
        assert json.loads(body)["status"] == "completed"
        conn.start_next_cycle()

    with sock:
        return _timed(step, seconds)


def run_raw(port: int, seconds: float) -> tuple[int, float]:
    """The limit of this machine and server: canned request bytes, no parsing."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    head = [f"GET /v1/jobs/{JOB_ID} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    head += [f"{k}: {v}" for k, v in HEADERS.items()]
    request = ("\r\n".join(head) + "\r\n\r\n").encode()
    want = len(POLL_RESPONSE)

    def step() -> None:
        sock.sendall(request)
        got = 0
        while got < want:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("server closed")
            got += len(data)

    with sock:
        return _timed(step, seconds)


RUNNERS: dict[str, Runner] = {
    "blocking": run_blocking,
    "asyncio": run_asyncio,
    "trio": run_trio,
    "aiohttp": run_aiohttp,
    "h11": run_h11,
    "raw": run_raw,
}
NEEDS = {
    "blocking": "decart_proto.transports.blocking",
    "asyncio": "decart_proto.transports.asyncio",
    "trio": "decart_proto.transports.trio",
}


def available(names: list[str]) -> list[str]:
    ready = []
    for name in names:
        module = NEEDS.get(name)
        if module is not None:
            try:
                __import__(module)
            except ImportError as exc:
                print(f"skipping {name}: {module} is not importable ({exc})")
                continue
        ready.append(name)
    return ready


def profile(name: str, port: int, seconds: float, top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    count, took = RUNNERS[name](port, seconds)
    profiler.disable()
    print(f"{name}: {count / took:,.0f} req/s under cProfile (slower than unprofiled)")
    print_profile(profiler, top, per=count, unit="req")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="timed part of each sample")
    parser.add_argument(
        "--clients", default=",".join(RUNNERS), help="comma-separated, from: " + ",".join(RUNNERS)
    )
    parser.add_argument("--profile", choices=list(RUNNERS), help="profile this client only")
    parser.add_argument("--top", type=int, default=25)
    options = parser.parse_args()

    with ServerProcess("poll") as server:
        if options.profile:
            profile(options.profile, server.port, max(options.seconds, 3.0), options.top)
            return
        names = available(options.clients.split(","))
        samples: dict[str, list[float]] = {name: [] for name in names}
        for round_no in range(options.rounds):
            # Rotate the order so that no client always runs right after the same neighbour.
            order = names[round_no % len(names) :] + names[: round_no % len(names)]
            for name in order:
                count, took = RUNNERS[name](server.port, options.seconds)
                samples[name].append(count / took)
            print(
                f"round {round_no + 1}/{options.rounds}: "
                + ", ".join(f"{n} {samples[n][-1]:,.0f}" for n in names),
                flush=True,
            )

    base = median(samples["aiohttp"]) if "aiohttp" in samples else float("nan")
    rows = []
    for name in names:
        mid = median(samples[name])
        goal = GOALS.get(name)
        ratio = mid / base
        verdict = "" if goal is None else f">= {goal}x: {'met' if ratio >= goal else 'NOT met'}"
        rows.append(
            [
                name,
                f"{mid:,.0f}",
                f"{min(samples[name]):,.0f}",
                f"{max(samples[name]):,.0f}",
                f"{ratio:.2f}x",
                verdict,
            ]
        )
    print_table(
        f"status requests/s, one keep-alive connection, median of {options.rounds} rounds "
        f"x {options.seconds:g} s (Python {sys.version.split()[0]})",
        ["client", "median req/s", "min", "max", "vs aiohttp", "goal"],
        rows,
    )


if __name__ == "__main__":
    main()
