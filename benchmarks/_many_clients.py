"""The client side of ``bench_many_jobs.py``: one client in this process tracks N jobs at once,
each polling its own job id back to back, and prints one JSON line of what that cost.

    python _many_clients.py --client asyncio --port 40000 --jobs 1000 --polls 20

Clients: ours (``blocking`` with a pool of ``--threads`` threads, ``asyncio``, ``uvloop`` — our
asyncio client on uvloop's loop — and ``trio``), Decart's official ``decart`` client
(``client.queue.status``, on asyncio's default loop) and a bare ``aiohttp`` session doing the
same GETs. The async clients run one task per job; the blocking client's threads take the jobs'
polls in turn (job 0, 1, …, N-1, then each again), so every job stays tracked for the whole run
whatever the number of threads. Every answer is checked: status 200, ``completed``, and the id
that was asked for (the server echoes it; our clients return the id they were asked about).

A failed poll is counted by kind (``EMFILE`` when the process ran out of file descriptors) and
the job goes on, so that a client under a low ``--fd-limit`` reports its failures instead of
crashing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import json
import os
import pstats
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _measure import Meter, accepted_options, error_kind, set_fd_limit, transport

API_KEY = "bench-key"
HEADERS = {"X-API-KEY": API_KEY, "User-Agent": "bench-many/1"}
CLIENTS = ("blocking", "asyncio", "uvloop", "trio", "official", "aiohttp")
OURS = ("blocking", "asyncio", "uvloop", "trio")


def job_ids(count: int) -> list[str]:
    return [f"job-{i:06d}" for i in range(count)]


class Tally:
    """Polls that came back right, and failures by kind, with the first message of each kind (a
    kind is only the exception's type when the message does not show the cause)."""

    def __init__(self) -> None:
        self.ok = 0
        self.errors: Counter[str] = Counter()
        self.examples: dict[str, str] = {}

    def answer(self, asked: str, job_id: str, status: str) -> None:
        if job_id == asked and status == "completed":
            self.ok += 1
        else:
            self.errors["wrong answer"] += 1

    def failed(self, exc: BaseException) -> None:
        kind = error_kind(exc)
        self.errors[kind] += 1
        self.examples.setdefault(kind, str(exc)[:300])

    def merge(self, other: Tally) -> None:
        self.ok += other.ok
        self.errors.update(other.errors)
        for kind, message in other.examples.items():
            self.examples.setdefault(kind, message)


class Profiles:
    """cProfile in every thread that runs polls (a profiler sees only its own thread)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.profilers: list[cProfile.Profile] = []
        self.lock = threading.Lock()

    def start(self) -> cProfile.Profile | None:
        if not self.enabled:
            return None
        profiler = cProfile.Profile(time.thread_time)  # CPU: not the waits, not for the GIL
        with self.lock:
            self.profilers.append(profiler)
        profiler.enable()
        return profiler


class Setup:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.base_url = f"http://127.0.0.1:{options.port}"
        self.ids = job_ids(options.jobs)
        self.tally = Tally()
        self.meter = Meter()
        self.profiles = Profiles(options.profile)
        self.passed: dict[str, Any] = {}

    def our_client(self, client_class: Any) -> Any:
        """Our client with the connection limit when it has one; the idle pool as large as the
        limit (or as the jobs, with no limit), so that no answered poll closes its connection."""
        wanted: dict[str, Any] = {"max_connections": self.options.max_connections}
        limit = accepted_options(client_class, **wanted).get("max_connections", self.options.jobs)
        wanted["max_idle_connections"] = self.options.jobs if limit is None else limit
        self.passed = accepted_options(client_class, **wanted)
        return client_class(api_key=API_KEY, base_url=self.base_url, **self.passed)


# -- blocking --------------------------------------------------------------------------------


def run_blocking(setup: Setup) -> None:
    client = setup.our_client(transport("blocking").DecartClient)
    polls = setup.options.polls
    # A C iterator: next() on it is atomic, so the threads share it without a lock.
    turns = itertools.islice(itertools.cycle(setup.ids), len(setup.ids) * polls)
    tallies: list[Tally] = []

    def worker() -> None:
        tally = Tally()
        tallies.append(tally)
        profiler = setup.profiles.start()
        status = client.queue.status
        for job_id in turns:
            try:
                answer = status(job_id)
            except Exception as exc:
                tally.failed(exc)
            else:
                tally.answer(job_id, answer.job_id, answer.status)
        if profiler is not None:
            profiler.disable()

    with client:
        setup.meter.start()
        threads = [threading.Thread(target=worker) for _ in range(setup.options.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        setup.meter.stop()
    for tally in tallies:
        setup.tally.merge(tally)


# -- async: ours, the official client, bare aiohttp -----------------------------------------

Status = Callable[[str], Awaitable[tuple[str, str]]]


async def poll_job(status: Status, job_id: str, polls: int, tally: Tally) -> None:
    for _ in range(polls):
        try:
            answered, state = await status(job_id)
        except Exception as exc:
            tally.failed(exc)
        else:
            tally.answer(job_id, answered, state)


async def run_jobs_asyncio(setup: Setup, status: Status) -> None:
    profiler = setup.profiles.start()
    setup.meter.start()
    polls, tally = setup.options.polls, setup.tally
    await asyncio.gather(*(poll_job(status, job_id, polls, tally) for job_id in setup.ids))
    setup.meter.stop()
    if profiler is not None:
        profiler.disable()


async def ours_asyncio(setup: Setup) -> None:
    async with setup.our_client(transport("asyncio").DecartClient) as client:

        async def status(job_id: str) -> tuple[str, str]:
            answer = await client.queue.status(job_id)
            return answer.job_id, answer.status

        await run_jobs_asyncio(setup, status)


async def official(setup: Setup) -> None:
    import decart  # noqa: PLC0415 - only this client needs it

    async with decart.DecartClient(api_key=API_KEY, base_url=setup.base_url) as client:

        async def status(job_id: str) -> tuple[str, str]:
            answer = await client.queue.status(job_id)
            return answer.job_id, answer.status

        await run_jobs_asyncio(setup, status)


async def bare_aiohttp(setup: Setup) -> None:
    import aiohttp  # noqa: PLC0415 - only this client needs it

    async with aiohttp.ClientSession() as session:

        async def status(job_id: str) -> tuple[str, str]:
            url = f"{setup.base_url}/v1/jobs/{job_id}"
            async with session.get(url, headers=HEADERS) as response:
                if response.status != 200:
                    raise RuntimeError(f"status {response.status}")
                body = await response.json()
            return body["job_id"], body["status"]

        await run_jobs_asyncio(setup, status)


async def ours_trio(setup: Setup) -> None:
    import trio  # noqa: PLC0415 - only this client needs it

    async with setup.our_client(transport("trio").DecartClient) as client:

        async def status(job_id: str) -> tuple[str, str]:
            answer = await client.queue.status(job_id)
            return answer.job_id, answer.status

        profiler = setup.profiles.start()
        setup.meter.start()
        polls, tally = setup.options.polls, setup.tally
        async with trio.open_nursery() as nursery:
            for job_id in setup.ids:
                nursery.start_soon(poll_job, status, job_id, polls, tally)
        setup.meter.stop()
        if profiler is not None:
            profiler.disable()


def run(setup: Setup) -> None:
    name = setup.options.client
    if name == "blocking":
        run_blocking(setup)
    elif name == "asyncio":
        asyncio.run(ours_asyncio(setup))
    elif name == "uvloop":
        import uvloop  # noqa: PLC0415 - only this client needs it

        uvloop.run(ours_asyncio(setup))
    elif name == "trio":
        import trio  # noqa: PLC0415 - only this client needs it

        trio.run(ours_trio, setup)
    elif name == "official":
        asyncio.run(official(setup))
    else:
        asyncio.run(bare_aiohttp(setup))


def _limit(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--client", choices=CLIENTS, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--polls", type=int, required=True)
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--max-connections", type=_limit, default=100)
    parser.add_argument("--fd-limit", type=_limit, default=None)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=25)
    options = parser.parse_args()
    fd_limit = set_fd_limit(options.fd_limit)
    setup = Setup(options)
    run(setup)
    if options.profile:
        from _common import print_profile  # noqa: PLC0415 - only a profile needs it

        merged = MergedProfile(setup.profiles.profilers)
        print_profile(merged, options.top, max(1, setup.tally.ok), "poll")  # type: ignore[arg-type]
    report = dict(setup.meter.report)
    report.update(
        client=options.client,
        jobs=options.jobs,
        polls=options.jobs * options.polls,
        ok=setup.tally.ok,
        errors=dict(setup.tally.errors),
        error_examples=setup.tally.examples,
        fd_limit=fd_limit,
        options=setup.passed,
        threads=options.threads if options.client == "blocking" else None,
    )
    print(json.dumps(report), flush=True)


class MergedProfile:
    """The threads' profiles as one, in the shape ``pstats.Stats`` reads (``create_stats``, then
    ``stats``), so that ``_common.print_profile`` shows them together."""

    def __init__(self, profilers: list[cProfile.Profile]) -> None:
        merged = pstats.Stats(profilers[0])
        for profiler in profilers[1:]:
            merged.add(profiler)
        self.stats = merged.stats  # type: ignore[attr-defined]

    def create_stats(self) -> None:
        pass


if __name__ == "__main__":
    main()
