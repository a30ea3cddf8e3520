"""A status server fast enough that thousands of polling clients measure themselves, not it.

Run as a script it *is* the server process (uvloop, one ``asyncio.Protocol`` per connection): it
prints ``PORT <n>`` and answers every request head ``GET /v1/jobs/{id}`` at once with a keep-alive
``200`` and ``{"job_id": id, "status": "completed"}``, echoing the id so that a client that mixed
up two jobs' answers would be caught. Requests have no body, so the blank line ending a head is
all the parsing it needs; pipelined heads are answered in order.

It counts what a client cannot hide: connections open now, the most open at once, connections
accepted, requests answered, and its own CPU time. The parent reads and resets those counts over
the server's stdin (``reset`` / ``stats``, one JSON line back each), so the same server serves
every client of a run and each client's figures are its own. ``StatusServer`` is the parent's
handle; stopping it ends the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import resource
import subprocess
import sys
import time
from types import TracebackType
from typing import Any

__all__ = ["StatusServer"]


class StatusServer:
    """The server in a child process, with its counters read over a pipe."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self._line()
        match = re.fullmatch(r"PORT (\d+)\n", line)
        if match is None:
            self.stop()
            raise RuntimeError(f"the status server did not start: {line!r}")
        self.port = int(match.group(1))

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline()

    def _ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self._line()
        if not line:
            raise RuntimeError(f"the status server exited (code {self.proc.poll()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def reset(self, settle: float = 30.0) -> dict[str, Any]:
        """Start a client's counts afresh, once the previous client's connections are gone."""
        deadline = time.monotonic() + settle
        while (answer := self._ask("stats"))["open"] and time.monotonic() < deadline:
            time.sleep(0.05)
        self._ask("reset")
        return answer

    def stats(self) -> dict[str, Any]:
        """Counts since the last reset: open, peak_open, accepted, requests, cpu_s, wall_s."""
        return self._ask("stats")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> StatusServer:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# -- the server's side ---------------------------------------------------------------------


class _Counts:
    def __init__(self) -> None:
        self.open = 0
        self.reset()

    def reset(self) -> None:
        self.peak_open = self.open
        self.accepted = 0
        self.requests = 0
        self.since = time.perf_counter()
        self.cpu = _cpu_seconds()

    def report(self) -> dict[str, Any]:
        return {
            "open": self.open,
            "peak_open": self.peak_open,
            "accepted": self.accepted,
            "requests": self.requests,
            "cpu_s": _cpu_seconds() - self.cpu,
            "wall_s": time.perf_counter() - self.since,
        }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


_HEAD_END = b"\r\n\r\n"
_PREFIX = b"GET /v1/jobs/"


def _response(status: bytes, body: bytes) -> bytes:
    return b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        status,
        len(body),
        body,
    )


def _answer(head: bytes) -> bytes:
    line_end = head.find(b"\r\n")
    first = head[:line_end] if line_end >= 0 else head
    if not first.startswith(_PREFIX):
        return _response(b"404 Not Found", b'{"detail": "Not Found"}')
    job_id = first[len(_PREFIX) : first.rfind(b" ")]
    return _response(b"200 OK", b'{"job_id": "%s", "status": "completed"}' % job_id)


class _StatusProtocol(asyncio.Protocol):
    def __init__(self, counts: _Counts) -> None:
        self.counts = counts
        self.pending = b""
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport subclasses

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        counts = self.counts
        counts.open += 1
        counts.accepted += 1
        counts.peak_open = max(counts.peak_open, counts.open)

    def connection_lost(self, exc: Exception | None) -> None:
        self.counts.open -= 1

    def data_received(self, data: bytes) -> None:
        pending = self.pending + data if self.pending else data
        answers = []
        start = 0
        while (end := pending.find(_HEAD_END, start)) >= 0:
            answers.append(_answer(pending[start:end]))
            start = end + 4
        self.pending = pending[start:]
        if answers:
            self.counts.requests += len(answers)
            self.transport.write(b"".join(answers))


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    counts = _Counts()
    server = await loop.create_server(
        lambda: _StatusProtocol(counts), "127.0.0.1", 0, backlog=4096, reuse_address=True
    )
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    stopped = loop.create_future()

    def on_command() -> None:
        line = sys.stdin.readline()
        if not line:  # the parent is gone
            loop.remove_reader(sys.stdin.fileno())
            if not stopped.done():
                stopped.set_result(None)
            return
        command = line.strip()
        if command == "reset":
            counts.reset()
        print(json.dumps(counts.report()), flush=True)

    loop.add_reader(sys.stdin.fileno(), on_command)
    async with server:
        await stopped


def main() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):  # room for every client's sockets
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop  # noqa: PLC0415 - the fastest loop when installed, asyncio's otherwise

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(_serve())


if __name__ == "__main__":
    main()
