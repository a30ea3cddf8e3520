"""Microseconds per status exchange through the core, beside a bare h11 client cycle.

Both sides do the same HTTP work on one kept-alive connection: build a GET request with the
same headers, serialise it, feed the same canned 200 JSON response, read events to the end of
the message and start the next cycle. The core adds what it is for: the request builder (job-id
encoding, credentials), the exchange generator and its ops, keep-alive bookkeeping, and reading
the JSON into a typed answer. Measured, not asserted; the goal is a ratio of at most 1.15.
h11 reads every answer, and each poll builds its request, as the driver does. "driver
status()" is the whole of a poll in the core, as a client makes it: the call's generator and
job machine around the same exchange (what a transport adds is measured by
bench_many_jobs.py).

    python benchmarks/bench_core.py [--rounds 9] [--cycles 5000]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import h11

from decart_proto import (
    Acquire,
    Connection,
    Credentials,
    Driver,
    Receive,
    Release,
    SendBytes,
    exchange,
    parse_base_url,
    status_request,
)
from decart_proto._responses import Operation, read_job_json

BODY = b'{"job_id":"job_2f9c1d","status":"processing"}'
CANNED = (
    b"HTTP/1.1 200 OK\r\n"
    b"date: Sun, 29 Nov 2026 02:36:11 GMT\r\n"
    b"server: uvicorn\r\n"
    b"content-type: application/json\r\n"
    b"content-length: " + str(len(BODY)).encode() + b"\r\n"
    b"\r\n" + BODY
)
TARGET = parse_base_url("http://127.0.0.1:8000")
CREDS = Credentials("sk-bench-key", "bench")
JOB_ID = "job_2f9c1d"


def clock() -> float:
    return 0.0


def core_cycle(conn: Connection[None]) -> None:
    """One exchange as the driver polls, on a connection the pool hands back each time."""
    request = status_request(TARGET, CREDS, JOB_ID)
    gen = exchange(TARGET.origin, request, None, clock=clock, step=30.0, deadline=600.0)
    response = _run_canned(gen, conn)
    _, status = read_job_json(Operation.STATUS, response.status, response.body)
    assert status == "processing"


def driver_cycle(driver: Driver[None], conn: Connection[None]) -> None:
    """One ``status()`` call as a client makes it per poll: the driver's generator, its job
    machine, the exchange and the answer read into a typed status, on a kept-alive
    connection; no event is built (nobody listens)."""
    assert _run_canned(driver.status(JOB_ID), conn).status == "processing"


def _run_canned(gen: Any, conn: Connection[None]) -> Any:
    """*gen*'s value, its ops answered as a kept-alive connection would: *conn* from the
    pool, the canned answer for each receive."""
    reply: Any = None
    try:
        while True:
            op = gen.send(reply)
            if isinstance(op, Receive):
                reply = CANNED
            elif isinstance(op, Acquire):
                reply = conn
            else:
                assert isinstance(op, (SendBytes, Release))
                reply = None
    except StopIteration as stop:
        return stop.value


def bare_cycle(http: h11.Connection) -> None:
    request = h11.Request(
        method="GET",
        target="/v1/jobs/" + JOB_ID,
        headers=[
            ("Host", "127.0.0.1:8000"),
            ("X-API-KEY", CREDS.api_key),
            ("User-Agent", CREDS.user_agent),
            ("Accept-Encoding", "identity"),
            ("Accept", "application/json"),
        ],
    )
    http.send(request)
    http.send(h11.EndOfMessage())
    http.receive_data(CANNED)
    while True:
        event = http.next_event()
        if type(event) is h11.EndOfMessage:
            break
        assert event is not h11.NEED_DATA
    http.start_next_cycle()


def per_cycle_us(run: Callable[[], None], cycles: int) -> float:
    gc.collect()
    started = time.perf_counter()
    for _ in range(cycles):
        run()
    return (time.perf_counter() - started) / cycles * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--cycles", type=int, default=5000)
    args = parser.parse_args()

    conn = Connection(TARGET.origin, stream=None)
    polls = Connection(TARGET.origin, stream=None)
    driver: Driver[None] = Driver(
        api_key=CREDS.api_key,
        base_url="http://127.0.0.1:8000",
        clock=clock,
        rand=random.Random(1),
        environ={},
    )
    http = h11.Connection(h11.CLIENT)
    sides: dict[str, Callable[[], None]] = {
        "core": lambda: core_cycle(conn),
        "driver status()": lambda: driver_cycle(driver, polls),
        "bare h11": lambda: bare_cycle(http),
    }
    for warm in sides.values():
        per_cycle_us(warm, 500)
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.rounds):
        # Interleaved, so that a slow moment of the machine hits every side alike.
        for name, run in sides.items():
            times[name].append(per_cycle_us(run, args.cycles))
    # Every exchange kept the connection alive for the next.
    assert conn.exchanges >= args.rounds * args.cycles
    assert polls.exchanges >= args.rounds * args.cycles
    bare = times["bare h11"]
    print(f"{args.rounds} rounds x {args.cycles} cycles; microseconds per status exchange")
    print(f"{'':28} {'median':>8} {'min':>8} {'ratio':>7}")
    for name, us in times.items():
        ratio = statistics.median(c / b for c, b in zip(us, bare, strict=True))
        print(f"{name:28} {statistics.median(us):8.2f} {min(us):8.2f} {ratio:7.3f}")
    print("ratio: median over rounds of core/bare in the same round; goal <= 1.15")


if __name__ == "__main__":
    main()
