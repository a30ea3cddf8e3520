"""Thousands of whole jobs at once against the emulator with its default timings: does every job
complete once, how close is the wall time to the ideal, and what does the client pay?

Three scenarios, each against a fresh emulator (``decart-emulator --no-reencode --control``, in
its own process, default timings: pending 1.0 s, processing 1.5 s) and with the client in a
fresh process:

- ``asyncio``, ``trio``: ``--jobs`` calls of ``client.queue.submit_and_poll`` at once on one
  client (the sample video as input, the result in memory);
- ``batch``: the ``decart-proto batch`` command (its console entry point, called in the child's
  process) over ``--jobs`` copies of the sample video with ``--concurrency``.

Checked from the emulator's own record (its control endpoint): jobs created == ``--jobs`` (no
duplicate submit), every job ``completed``, and every result downloaded exactly once; and from
the client: every call answered ``completed`` with the input's bytes (the batch: every output
file saved, the journal's ``done`` lines). Measured: wall time against the ideal, each job's
time from its submit to its result, the client's CPU and peak memory (see ``_measure.py``), and
the emulator's CPU (whole run, and its busiest second) — near 100% of a core would make the
emulator, not the client, the limit.

    python benchmarks/bench_scale_e2e.py                          # 2,000 jobs, all three
    python benchmarks/bench_scale_e2e.py --jobs 200 --scenarios asyncio
    python benchmarks/bench_scale_e2e.py --json benchmarks/results/scale_e2e.json
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import median
from _measure import Meter, code_version, error_kind, run_child, set_fd_limit, transport

API_KEY = "test-key"  # the emulator's default key
PENDING_S, PROCESSING_S = 1.0, 1.5  # the emulator's defaults, which this benchmark keeps
POLL_FLOOR_S = 3.5  # first poll at 0.5 s, then every 1.5 s: completion (2.5 s) is seen at 3.5 s
PROMPT = "Transform into anime style"
SCENARIOS = ("asyncio", "trio", "batch")
TICK = os.sysconf("SC_CLK_TCK")


# -- the emulator, in its own process ----------------------------------------------------------


class EmulatorProcess:
    """``python -m decart_emulator`` (the ``decart-emulator`` command), stopped by its handle;
    a thread samples its CPU time every ``period`` seconds."""

    def __init__(self, extra: list[str], period: float = 0.5) -> None:
        argv = [sys.executable, "-m", "decart_emulator", "--no-reencode", "--control", *extra]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        prefix = "decart-emulator listening on "
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError(f"the emulator did not start: {line!r}")
        self.base_url = line[len(prefix) :].strip()
        self.period = period
        self.busiest = 0.0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime

    def _sample(self) -> None:
        last, then = self.cpu_seconds(), time.monotonic()
        while not self._stop.wait(self.period):
            cpu, now = self.cpu_seconds(), time.monotonic()
            self.busiest = max(self.busiest, (cpu - last) / (now - then))
            last, then = cpu, now

    def start_sampling(self) -> float:
        self._sampler.start()
        return self.cpu_seconds()

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base_url}/_emulator/stats", timeout=60) as answer:
            stats: dict[str, Any] = json.load(answer)
        return stats

    def stop(self) -> None:
        self._stop.set()
        if self._sampler.is_alive():
            self._sampler.join()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# -- the child: one client, all the jobs ---------------------------------------------------------


def _spread(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    if not ordered:
        return {}
    return {
        "min": ordered[0],
        "median": median(ordered),
        "p95": ordered[int(0.95 * (len(ordered) - 1))],
        "max": ordered[-1],
    }


class Jobs:
    """What the child's jobs came to: outcomes by kind, and for each job the time from the start
    of the run to its submit's answer (its first status, ``pending``) and to its result."""

    def __init__(self, expected_bytes: int) -> None:
        self.expected_bytes = expected_bytes
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.seconds: list[float] = []
        self.submitted: list[float] = []
        self.started = time.perf_counter()

    async def one(self, call: Callable[[Callable[[Any], None]], Awaitable[Any]]) -> None:
        answered = []

        def on_status_change(job: Any) -> None:
            if not answered:
                answered.append(time.perf_counter() - self.started)

        try:
            result = await call(on_status_change)
        except Exception as exc:
            self.outcomes[error_kind(exc)] += 1
            return
        self.seconds.append(time.perf_counter() - self.started)
        self.submitted.extend(answered)
        if result.status != "completed":
            self.outcomes[f"status {result.status}"] += 1
        elif len(result.data) != self.expected_bytes:
            self.outcomes["wrong bytes"] += 1
        else:
            self.outcomes["completed"] += 1


def _submit_and_poll(client: Any, models: Any, path: Path) -> Callable[..., Awaitable[Any]]:
    def call(on_status_change: Callable[[Any], None]) -> Awaitable[Any]:
        return client.queue.submit_and_poll(
            {"model": models.video("lucy-2.1"), "data": path, "prompt": PROMPT},
            on_status_change=on_status_change,
        )

    return call


async def _asyncio_jobs(options: argparse.Namespace, meter: Meter, jobs: Jobs) -> None:
    module = transport("asyncio")
    path = Path(options.input)
    async with module.DecartClient(api_key=API_KEY, base_url=options.url) as client:
        call = _submit_and_poll(client, module.models, path)
        meter.start()
        jobs.started = time.perf_counter()
        await asyncio.gather(*(jobs.one(call) for _ in range(options.jobs)))
        meter.stop()


async def _trio_jobs(options: argparse.Namespace, meter: Meter, jobs: Jobs) -> None:
    import trio  # noqa: PLC0415 - only this scenario needs it

    module = transport("trio")
    path = Path(options.input)
    async with module.DecartClient(api_key=API_KEY, base_url=options.url) as client:
        call = _submit_and_poll(client, module.models, path)
        meter.start()
        jobs.started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(options.jobs):
                nursery.start_soon(jobs.one, call)
        meter.stop()


def _cli_main() -> Callable[[list[str]], int]:
    """The ``decart-proto`` command's entry point, wherever the installed package puts it."""
    for entry in metadata.entry_points(group="console_scripts"):
        if entry.name == "decart-proto":
            try:
                main: Callable[[list[str]], int] = entry.load()
            except ImportError:
                break
            return main
    from decart_proto.cli import main as cli_main  # noqa: PLC0415 - the entry point's target

    return cli_main


def _batch(options: argparse.Namespace, meter: Meter) -> dict[str, Any]:
    main = _cli_main()
    inputs = sorted(str(p) for p in Path(options.inputs_dir).iterdir())
    argv = [
        "batch", *inputs, "--out-dir", options.out_dir, "--concurrency", str(options.concurrency),
        "--prompt", PROMPT, "--base-url", options.url, "--api-key", API_KEY, "--quiet",
    ]  # fmt: skip
    meter.start()
    code = main(argv)
    report = meter.stop()
    return {**report, "exit_code": code}


def child(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=SCENARIOS, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--inputs-dir")
    parser.add_argument("--out-dir")
    parser.add_argument("--concurrency", type=int, default=500)
    options = parser.parse_args(argv)
    set_fd_limit(None)
    meter = Meter()
    if options.child == "batch":
        print(json.dumps(_batch(options, meter)), flush=True)
        return
    jobs = Jobs(os.path.getsize(options.input))
    if options.child == "asyncio":
        asyncio.run(_asyncio_jobs(options, meter, jobs))
    else:
        import trio  # noqa: PLC0415 - only this scenario needs it

        trio.run(_trio_jobs, options, meter, jobs)
    report = {
        **meter.report,
        "outcomes": dict(jobs.outcomes),
        "submitted_s": _spread(jobs.submitted),
        "job_s": _spread(jobs.seconds),
    }
    print(json.dumps(report), flush=True)


# -- the parent: checks and figures ------------------------------------------------------------


def _emulator_checks(stats: dict[str, Any], jobs: int) -> dict[str, Any]:
    """From the emulator's own record: submits, statuses, and downloads per job."""
    statuses = collections.Counter(stats["jobs"].values())
    kinds: collections.Counter[str] = collections.Counter()
    downloads: collections.Counter[str] = collections.Counter()
    answers: collections.Counter[str] = collections.Counter()
    for method, path, status in stats["requests"]:
        answers[str(status)] += 1
        if method == "POST":
            kinds["submit"] += 1
        elif path.endswith("/content"):
            kinds["content"] += 1
            if status == 200:
                downloads[path.split("/")[3]] += 1
        else:
            kinds["status"] += 1
    once = sum(1 for count in downloads.values() if count == 1)
    return {
        "submit_count": stats["submit_count"],
        "statuses": dict(statuses),
        "requests": dict(kinds),
        "answers": dict(answers),
        "downloaded_once": once,
        "downloaded_more": sum(1 for count in downloads.values() if count > 1),
        "ok": (
            stats["submit_count"] == jobs
            and statuses.get("completed", 0) == jobs
            and once == jobs
            and len(downloads) == jobs
        ),
    }


def _batch_checks(out_dir: Path, jobs: int, expected_bytes: int) -> dict[str, Any]:
    saved = [p for p in out_dir.glob("*.mp4") if p.stat().st_size == expected_bytes]
    events: collections.Counter[str] = collections.Counter()
    journal = out_dir / "decart-batch.jsonl"
    if journal.exists():
        for line in journal.read_text().splitlines():
            events[json.loads(line).get("event", "?")] += 1
    return {
        "outcomes": {"saved": len(saved)},
        "journal": dict(events),
        "ok": len(saved) == jobs and events.get("done", 0) == jobs,
    }


def _scenario(options: argparse.Namespace, name: str, work: Path) -> dict[str, Any]:
    sample = Path(options.input)
    size = sample.stat().st_size
    argv = [sys.executable, os.path.abspath(__file__), "--child", name, "--jobs", str(options.jobs)]
    argv += ["--input", str(sample)]
    out_dir = work / f"out-{name}"
    if name == "batch":
        inputs = work / "inputs"
        if not inputs.exists():
            inputs.mkdir()
            for i in range(options.jobs):
                shutil.copyfile(sample, inputs / f"clip{i:05d}.mp4")
        argv += ["--inputs-dir", str(inputs), "--out-dir", str(out_dir)]
        argv += ["--concurrency", str(options.concurrency)]
    with EmulatorProcess(options.emulator_arg) as emulator:
        cpu_before = emulator.start_sampling()
        started = time.perf_counter()
        run = run_child([*argv, "--url", emulator.base_url], options.timeout)
        wall = time.perf_counter() - started
        emulator_cpu = emulator.cpu_seconds() - cpu_before
        checks = _emulator_checks(emulator.stats(), options.jobs)
        busiest = emulator.busiest
    # Jobs in flight at once: all of them, or the batch's --concurrency; each wave of jobs takes
    # the emulator's time at best, and the poll floor with the default poll rhythm.
    waves = -(-options.jobs // options.concurrency) if name == "batch" else 1
    result: dict[str, Any] = {
        "scenario": name,
        "jobs": options.jobs,
        "ideal_s": waves * (PENDING_S + PROCESSING_S),
        "poll_floor_s": waves * POLL_FLOOR_S,
        "ok": run.ok and checks["ok"],
        "error": run.error,
        "process_wall_s": wall,
        "process_cpu_s": run.cpu_s,
        "emulator": {**checks, "cpu_s": emulator_cpu, "busiest_cpu_pct": 100 * busiest},
        **run.report,
    }
    if name == "batch" and run.ok:
        batch = _batch_checks(out_dir, options.jobs, size)
        result.update(batch, ok=result["ok"] and batch["ok"] and run.report["exit_code"] == 0)
    elif run.ok:
        result["ok"] = result["ok"] and run.report["outcomes"] == {"completed": options.jobs}
    shutil.rmtree(out_dir, ignore_errors=True)
    return result


def _row(result: dict[str, Any]) -> str:
    if "seconds" not in result:
        return f"{result['scenario']:8} failed: {result['error']}"
    seconds = result["seconds"]
    cpu = result["user_s"] + result["sys_s"]
    kib = (result["peak_kib"] - result["rss_before_kib"]) / result["jobs"]
    emulator = result["emulator"]
    spread = ""
    if result.get("job_s"):
        sub, done = result["submitted_s"], result["job_s"]
        spread = (
            f"submitted {sub['median']:.1f}/{sub['max']:.1f} s, "
            f"done {done['min']:.1f}/{done['median']:.1f}/{done['max']:.1f} s"
        )
    return (
        f"{result['scenario']:8} {'ok' if result['ok'] else 'NOT OK':6} "
        f"wall {seconds:6.1f} s (ideal {result['ideal_s']:4.1f} s, poll floor "
        f"{result['poll_floor_s']:4.1f} s) {spread:45} "
        f"client {cpu:5.1f} s CPU ({1e3 * cpu / result['jobs']:5.2f} ms/job), "
        f"peak +{(result['peak_kib'] - result['rss_before_kib']) / 1024:6.1f} MiB "
        f"({kib:5.1f} KiB/job); emulator {emulator['cpu_s']:5.1f} s CPU, "
        f"busiest {emulator['busiest_cpu_pct']:3.0f}%; submits {emulator['submit_count']}, "
        f"downloaded once {emulator['downloaded_once']}, statuses {emulator['statuses']}, "
        f"client outcomes {result.get('outcomes')}"
    )


def main() -> None:
    if "--child" in sys.argv:
        child(sys.argv[1:])
        return
    from decart_emulator import sample_video_path  # noqa: PLC0415 - the parent's only

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--concurrency", type=int, default=500, help="the batch's; 500")
    parser.add_argument("--input", default=str(sample_video_path()), help="the input video")
    parser.add_argument(
        "--emulator-arg", action="append", default=[], help="passed to the emulator; repeatable"
    )
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--json", help="write the figures to this file")
    options = parser.parse_args()
    print(
        f"{options.jobs:,} jobs per scenario; emulator pending {PENDING_S} s + processing "
        f"{PROCESSING_S} s = ideal {PENDING_S + PROCESSING_S} s + transfers; a client polling at "
        f"0.5 s then every 1.5 s sees completion at {POLL_FLOOR_S} s at the earliest",
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="decart-scale-") as tmp:
        for name in [s for s in options.scenarios.split(",") if s]:
            result = _scenario(options, name, Path(tmp))
            results.append(result)
            print(_row(result), flush=True)
    if options.json:
        os.makedirs(os.path.dirname(os.path.abspath(options.json)), exist_ok=True)
        with open(options.json, "w") as f:
            json.dump(
                {
                    "benchmark": "bench_scale_e2e",
                    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                    "command": " ".join(["python", *sys.argv]),
                    "cpus": os.cpu_count(),
                    "code": code_version(),
                    "load_average": os.getloadavg(),
                    "results": results,
                },
                f,
                indent=1,
            )
        print(f"figures written to {options.json}")


if __name__ == "__main__":
    main()
