"""Name resolution on the async clients: bounded by the call's deadline, never holding up the
program's end, and every address the resolver gives tried in its order."""

from __future__ import annotations

import importlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from transport_helpers import run_on

from decart_emulator import Emulator
from decart_proto import RetryPolicy

# The program a user writes, in a process of its own, with a resolver that takes 20 s for
# slow.test (socket.getaddrinfo replaced before anything runs; a numeric-only lookup stays
# instant, as the C library's is): a status call with timeout=1 must end at its deadline, and
# so must the loop's run and the process.
_SLOW_RESOLVER_PROGRAM = """
import socket, sys, time
real = socket.getaddrinfo
def slow(host, *args, **kwargs):
    flags = kwargs.get("flags", args[4] if len(args) > 4 else 0)
    if host in ("slow.test", b"slow.test") and not flags & socket.AI_NUMERICHOST:
        time.sleep(20)
        host = "127.0.0.1"
    return real(host, *args, **kwargs)
socket.getaddrinfo = slow

from importlib import import_module
sys.path.insert(0, sys.argv[2])
from transport_helpers import module_of, run_on
loop = sys.argv[1]
module = import_module("decart_proto.transports." + module_of(loop))
started = time.monotonic()

async def main():
    async with module.DecartClient(api_key="k", base_url="http://slow.test:9") as client:
        try:
            await client.queue.status("job-1", timeout=1)
        except module.DeadlineExceededError:
            print(time.monotonic() - started, flush=True)

run_on(loop, main)
print(time.monotonic() - started, flush=True)
"""


@pytest.mark.parametrize("loop", ["asyncio", "uvloop", "trio"])
def test_a_slow_resolver_holds_neither_the_call_nor_the_program(loop: str) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _SLOW_RESOLVER_PROGRAM, loop, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    # The call ends at its deadline (1 s) and the run right after it, far before the resolver
    # would (20 s); the slack is for a loaded machine.
    call_ended, run_ended = map(float, done.stdout.split())
    assert 1.0 <= call_ended < 4.0, done.stdout
    assert run_ended - call_ended < 2.0, done.stdout
    assert elapsed < 10.0, elapsed


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[tuple[str, int]]]]:
    """Names the test resolves to the addresses it chooses, in its order."""
    names: dict[str, list[tuple[str, int]]] = {}
    real = socket.getaddrinfo

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host  # trio passes IDNA bytes
        if name not in names:
            return real(host, port, *args, **kwargs)
        flags = kwargs.get("flags", args[3] if len(args) > 3 else 0)
        if flags & socket.AI_NUMERICHOST:
            raise socket.gaierror(socket.EAI_NONAME, "not numeric")
        return [
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", address)
            for address in names[name]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    yield names


def _refusing_address() -> tuple[str, int]:
    """A loopback address nothing listens on (a port just freed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()  # type: ignore[no-any-return]


@pytest.mark.parametrize("loop", ["asyncio", "uvloop", "trio"])
def test_each_address_of_a_name_is_tried_in_order(
    loop: str, resolver: dict[str, list[tuple[str, int]]], emulators: dict[str, Emulator]
) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    emu = emulators["http"]
    port = int(emu.base_url.rsplit(":", 1)[1])
    resolver["two.test"] = [_refusing_address(), ("127.0.0.1", port)]
    resolver["none.test"] = [_refusing_address(), _refusing_address()]
    resolver["empty.test"] = []
    module = importlib.import_module(
        "decart_proto.transports." + ("trio" if loop == "trio" else "asyncio")
    )

    async def main() -> str:
        async with module.DecartClient(
            api_key=emu.api_key, base_url=f"http://two.test:{port}"
        ) as client:
            job = await client.queue.submit(
                {"model": module.models.video("lucy-2.1"), "data": b"v", "prompt": "x"}
            )
        for name in ("none.test", "empty.test"):  # every address refused; no address
            async with module.DecartClient(
                api_key=emu.api_key,
                base_url=f"http://{name}:{port}",
                retry=RetryPolicy(max_retries=0),
            ) as client:
                with pytest.raises(module.QueueStatusError):
                    await client.queue.status(job.job_id, timeout=5)
        return str(job.job_id)

    assert run_on(loop, main) in emu.jobs
