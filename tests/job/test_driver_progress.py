"""Progress ops: asked for, they report every piece of an upload and a download at most once per
MiB and at its end; a retried transfer starts again from 0; not asked for, there are none."""

from __future__ import annotations

import io
import itertools
import random
from collections.abc import Generator
from typing import Any

import pytest

from decart_proto import (
    Acquire,
    Connect,
    Connection,
    Driver,
    OutputWrite,
    Progress,
    Receive,
    Release,
    SendBytes,
    Timeouts,
    models,
)

from .sim import API_KEY, Job, Server, World

MIB = 1024 * 1024


def _world(result: bytes, faults: list[str] | None = None) -> tuple[World, Server, Driver]:
    world = World(random.Random(3), split="whole", oversleep=(0.0,), latency=(0.0,))
    script = list(faults or [])

    def choose(kind: str) -> str:
        return script.pop(0) if script and kind != "connect" else "ok"

    server = Server(
        world, choose, lambda job_id, now: Job(job_id, now, 0.0, 0.0, False, result), None
    )
    world.server = server
    driver = Driver(
        api_key=API_KEY,
        base_url="http://sim.invalid",
        clock=world.clock,
        rand=random.Random(1),
        timeouts=Timeouts(request=10.0),
    )
    return world, server, driver


def _phase(world: World, phase: str) -> list[Progress]:
    return [p for p in world.progress if p.phase == phase]


def test_an_upload_reports_each_piece_and_ends_at_its_total() -> None:
    data = bytes(range(256)) * (17 * MIB // 256)  # three 8 MiB pieces: 8 + 8 + 1
    world, _, driver = _world(b"R" * (3 * MIB + 5))
    options = {"model": models.video("lucy-2.1"), "data": io.BytesIO(data), "prompt": "p"}
    result = world.run(driver.submit_and_poll(options, to_output=True, progress=True))
    assert result.status == "completed"
    assert bytes(world.output) == b"R" * (3 * MIB + 5)
    up = _phase(world, "upload")
    assert len({p.total for p in up}) == 1
    total = up[0].total
    assert total is not None and total > len(data)
    assert [p.done for p in up] == sorted({p.done for p in up})  # strictly growing
    assert up[-1].done == total
    # The file went in pieces of at most 8 MiB, each reported.
    assert sum(1 for a, b in itertools.pairwise(up) if b.done - a.done >= 8 * MIB) >= 2
    down = _phase(world, "download")
    assert down[-1].done == 3 * MIB + 5
    assert all(b.done - a.done >= MIB for a, b in itertools.pairwise(down[:-1]))
    assert len(down) <= 4


def test_no_progress_ops_unless_asked() -> None:
    world, _, driver = _world(b"R" * (2 * MIB))
    options = {"model": models.video("lucy-2.1"), "data": io.BytesIO(b"v" * MIB), "prompt": "p"}
    assert world.run(driver.submit_and_poll(options)).data == b"R" * (2 * MIB)
    assert world.progress == []
    assert "Progress" not in world.ops


def test_a_chunked_upload_has_no_total() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.left = 600_000

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            n = min(len(b), self.left)
            b[:n] = b"x" * n
            self.left -= n
            return n

    world, _, driver = _world(b"R")
    options = {"model": models.video("lucy-2.1"), "data": Pipe(), "prompt": "p"}
    job = world.run(driver.submit(options, progress=True))
    assert job.job_id
    up = _phase(world, "upload")
    assert {p.total for p in up} == {None}
    assert up[-1].done > 600_000
    assert [p.done for p in up] == sorted(p.done for p in up)


def test_a_retried_download_starts_its_progress_again() -> None:
    world, server, driver = _world(b"D" * (3 * MIB), ["truncate"])
    server.jobs["job-1"] = Job("job-1", 0.0, 0.0, 0.0, False, b"D" * (3 * MIB))
    result = world.run(driver.result("job-1", to_output=True, progress=True))
    assert result.status == "completed"
    assert bytes(world.output) == b"D" * (3 * MIB)
    down = _phase(world, "download")
    assert down[-1].done == 3 * MIB
    assert world.output_resets == 1


def _canned(gen: Generator[Any, Any, Any], response: bytes) -> tuple[Any, list[Any]]:
    """Run *gen* against one canned response, answering every op a result() asks for."""
    seen: list[Any] = []
    left = bytearray(response)
    reply: Any = None
    while True:
        try:
            op = gen.send(reply)
        except StopIteration as stop:
            return stop.value, seen
        reply = None
        if isinstance(op, Connect):
            reply = Connection(op.origin, stream=None)
        elif isinstance(op, Receive):
            reply = bytes(left[:1000])
            del left[:1000]
        elif isinstance(op, (Progress, OutputWrite)):
            seen.append(op)
        else:
            assert isinstance(op, (Acquire, SendBytes, Release)), op


@pytest.mark.parametrize(
    ("framing", "total"),
    [
        (b"Content-Length: 2500\r\n", 2500),
        (b"Content-Length: 2500, 2500\r\n", 2500),  # h11 folds repeated equal lengths
        (b"Transfer-Encoding: chunked\r\n", None),
    ],
)
def test_a_small_download_reports_once_at_its_end(framing: bytes, total: int | None) -> None:
    body = b"M" * 2500
    payload = body if total is not None else b"9c4\r\n" + body + b"\r\n0\r\n\r\n"
    response = b"HTTP/1.1 200 OK\r\n" + framing + b"\r\n" + payload
    driver = Driver(api_key="k", base_url="http://h", clock=lambda: 0.0, rand=random.Random(1))
    result, seen = _canned(driver.result("j", to_output=True, progress=True), response)
    assert result.status == "completed"
    assert [p for p in seen if isinstance(p, Progress)] == [Progress("download", 2500, total)]
    assert b"".join(bytes(w.data) for w in seen if isinstance(w, OutputWrite)) == body
