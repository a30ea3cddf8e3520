"""Thousands of jobs tracked at once by one client: CPU per poll, memory per job, sockets.

Every client tracks N jobs at once, each polling its own job id back to back (``--polls`` times),
against a status server in another process that answers at once (``_status_server.py``; its own
CPU is reported, so that it is seen not to be the bottleneck). Each client runs in a fresh
process (``_many_clients.py``); rounds are interleaved, medians and ratios against Decart's
official client are printed. See docs/benchmarks.md ("Many jobs per process").

    python benchmarks/bench_many_jobs.py                          # N = 1,000 and 10,000, 3 rounds
    python benchmarks/bench_many_jobs.py --jobs 1000 --rounds 1   # about a minute
    python benchmarks/bench_many_jobs.py --jobs 10000 --ulimit-nofile 1024
    python benchmarks/bench_many_jobs.py --jobs 1000 --profile asyncio
    python benchmarks/bench_many_jobs.py --json benchmarks/results/many_jobs.json
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import subprocess
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import median, print_table
from _many_clients import CLIENTS, OURS
from _measure import code_version, machine, run_child
from _status_server import StatusServer

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = os.path.join(HERE, "_many_clients.py")
BASELINE = "official"
GOAL_CPU = {"asyncio": 0.6, "uvloop": 0.6, "trio": 0.6, "blocking": 1.0}
GOAL_KIB_PER_JOB = 16
NEEDS = {"uvloop": "uvloop", "trio": "trio", "official": "decart", "aiohttp": "aiohttp"}


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="many concurrent jobs on one client")
    parser.add_argument("--jobs", default="1000,10000", help="comma-separated N (1000,10000)")
    parser.add_argument("--polls", type=int, default=10, help="polls per job (10)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--threads", type=int, default=100, help="the blocking client's pool")
    parser.add_argument(
        "--max-connections",
        default="100",
        help="passed to our clients when they accept it ('none' for no limit); 100",
    )
    parser.add_argument(
        "--ulimit-nofile",
        type=int,
        help="run the clients under this RLIMIT_NOFILE (default: the hard limit)",
    )
    parser.add_argument("--profile", choices=CLIENTS, help="one client under cProfile, then stop")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--timeout", type=float, default=900, help="per client run, seconds")
    parser.add_argument("--json", help="write every sample and the medians to this file")
    return parser.parse_args()


def _available(name: str) -> bool:
    module = NEEDS.get(name)
    if module is None or importlib.util.find_spec(module) is not None:
        return True
    print(f"skipping {name}: {module} is not installed")
    return False


def _child_argv(options: argparse.Namespace, name: str, port: int, jobs: int) -> list[str]:
    argv = [sys.executable, CHILD, "--client", name, "--port", str(port), "--jobs", str(jobs)]
    argv += ["--polls", str(options.polls), "--threads", str(options.threads)]
    argv += ["--max-connections", options.max_connections]
    if options.ulimit_nofile is not None:
        argv += ["--fd-limit", str(options.ulimit_nofile)]
    return argv


def _sample(report: dict[str, Any], server: dict[str, Any], whole_cpu: float) -> dict[str, Any]:
    """One run's figures, derived from the child's report and the server's counts."""
    polls, jobs = report["polls"], report["jobs"]
    cpu = report["user_s"] + report["sys_s"]
    sockets = server["peak_open"]
    return {
        **report,
        "server": server,
        "process_cpu_s": whole_cpu,
        "cpu_us_per_poll": 1e6 * cpu / polls,
        "kib_per_job": (report["peak_kib"] - report["rss_before_kib"]) / jobs,
        "sockets": sockets,
        # More connections than sockets at once: connections closed and made again, each a
        # connect the client paid for (a pool too small, or a reused connection judged stale).
        "connections": server["accepted"],
        "polls_per_s": polls / report["seconds"],
        "failed": sum(report["errors"].values()),
        # Sockets the client held at once plus what it had open before: at the limit, some
        # socket() calls failed with EMFILE, whether or not the client retried them quietly.
        "fd_limit_hit": sockets + report["fds_before"] >= report["fd_limit"],
        # The server's CPU over the client's measured time: near 100% would make it the limit.
        "server_cpu_pct": 100 * server["cpu_s"] / report["seconds"],
        "server_us_per_request": 1e6 * server["cpu_s"] / max(server["requests"], 1),
    }


def _run_rounds(
    options: argparse.Namespace, names: list[str], sizes: list[int]
) -> tuple[list[dict[str, Any]], dict[tuple[str, int], str]]:
    samples: list[dict[str, Any]] = []
    failures: dict[tuple[str, int], str] = {}
    with StatusServer() as server:
        for round_no in range(options.rounds):
            shift = round_no % len(names)
            for jobs in sizes:
                for name in names[shift:] + names[:shift]:
                    if (name, jobs) in failures:
                        continue
                    server.reset()
                    run = run_child(_child_argv(options, name, server.port, jobs), options.timeout)
                    counts = server.stats()
                    if not run.ok:
                        failures[name, jobs] = run.error
                        print(f"  {name} at {jobs:,} jobs failed: {run.error}", flush=True)
                        continue
                    sample = _sample(run.report, counts, run.cpu_s)
                    sample["round"] = round_no + 1
                    samples.append(sample)
                    print(
                        f"round {round_no + 1}/{options.rounds} {jobs:>6,} jobs {name:9}"
                        f"{sample['cpu_us_per_poll']:7.0f} us/poll "
                        f"{sample['kib_per_job']:7.1f} KiB/job "
                        f"{sample['sockets']:6,} sockets ({sample['connections']:,} made) "
                        f"{sample['polls_per_s']:8,.0f} polls/s "
                        f"{sample['failed']:6,} failed server {sample['server_cpu_pct']:3.0f}% cpu",
                        flush=True,
                    )
    return samples, failures


def _medians(samples: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """{jobs: {client: {figure: median}}}."""
    keys = (
        "cpu_us_per_poll", "kib_per_job", "sockets", "connections", "polls_per_s", "failed",
        "server_cpu_pct", "server_us_per_request", "seconds",
    )  # fmt: skip
    grouped: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for sample in samples:
        grouped.setdefault((sample["jobs"], sample["client"]), []).append(sample)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (jobs, name), group in grouped.items():
        figures = {key: median([s[key] for s in group]) for key in keys}
        figures["fd_limit_hit"] = float(any(s["fd_limit_hit"] for s in group))
        figures["emfile"] = float(sum(s["errors"].get("EMFILE", 0) for s in group))
        figures["limit_passed"] = float("max_connections" in group[0]["options"])
        out.setdefault(str(jobs), {})[name] = figures
    return out


def _verdict(
    name: str, figures: dict[str, float], base: dict[str, float] | None, limit: str
) -> str:
    if name not in OURS:
        return ""
    misses = []
    if base is not None and figures["cpu_us_per_poll"] > GOAL_CPU[name] * base["cpu_us_per_poll"]:
        misses.append(f"cpu > {GOAL_CPU[name]}x")
    if figures["kib_per_job"] > GOAL_KIB_PER_JOB:
        misses.append(f"> {GOAL_KIB_PER_JOB} KiB/job")
    if limit != "none" and figures["sockets"] > int(limit) + 1:
        misses.append(f"> {int(limit) + 1} sockets")
    if figures["failed"] or figures["fd_limit_hit"]:
        misses.append("fd limit hit" if figures["fd_limit_hit"] else "failures")
    return "met" if not misses else "NOT met: " + ", ".join(misses)


def _print_tables(
    options: argparse.Namespace,
    names: list[str],
    sizes: list[int],
    medians: dict[str, dict[str, dict[str, float]]],
    failures: dict[tuple[str, int], str],
) -> None:
    for jobs in sizes:
        by_client = medians.get(str(jobs), {})
        base = by_client.get(BASELINE)
        rows = []
        for name in names:
            figures = by_client.get(name)
            if figures is None:
                rows.append([name, failures.get((name, jobs), "no sample"), *[""] * 9])
                continue
            cpu, kib = figures["cpu_us_per_poll"], figures["kib_per_job"]
            sockets = f"{figures['sockets']:,.0f}"
            if name in OURS and not figures["limit_passed"]:
                sockets += " (no limit)"
            failed = f"{figures['failed']:,.0f}"
            if figures["fd_limit_hit"]:
                failed += " fd limit hit"
            rows.append(
                [
                    name,
                    f"{cpu:,.0f}",
                    f"{cpu / base['cpu_us_per_poll']:.2f}x" if base else "",
                    f"{kib:,.1f}",
                    f"{kib / base['kib_per_job']:.2f}x" if base and base["kib_per_job"] else "",
                    sockets,
                    f"{figures['connections']:,.0f}",
                    f"{figures['polls_per_s']:,.0f}",
                    failed,
                    f"{figures['server_cpu_pct']:.0f}%",
                    _verdict(name, figures, base, options.max_connections),
                ]
            )
        limit = f", RLIMIT_NOFILE {options.ulimit_nofile}" if options.ulimit_nofile else ""
        print_table(
            f"{jobs:,} jobs x {options.polls} polls each: median of {options.rounds} rounds"
            f"{limit} (Python {sys.version.split()[0]})",
            [
                "client", "CPU us/poll", "vs official", "KiB/job", "vs official",
                "sockets at once", "connections made", "polls/s", "failed polls", "server CPU",
                f"goal (cpu <= 0.6x / 1.0x blocking, <= {GOAL_KIB_PER_JOB} KiB/job)",
            ],
            rows,
        )  # fmt: skip


def _print_failures(samples: list[dict[str, Any]]) -> None:
    """What the failed polls were, client by client: the counts by kind and a message of each."""
    seen: set[tuple[int, str, str]] = set()
    for sample in samples:
        for kind, count in sample["errors"].items():
            key = (sample["jobs"], sample["client"], kind)
            if key in seen:
                continue
            seen.add(key)
            example = sample.get("error_examples", {}).get(kind, "")
            print(
                f"  {sample['client']} at {sample['jobs']:,} jobs (round {sample['round']}): "
                f"{count:,} x {kind}: {example}"
            )


def _profile(options: argparse.Namespace, name: str, jobs: int) -> None:
    with StatusServer() as server:
        server.reset()
        argv = _child_argv(options, name, server.port, jobs)
        argv += ["--profile", "--top", str(options.top)]
        subprocess.run(argv, check=True)


def main() -> None:
    options = _parse()
    sizes = [int(n) for n in options.jobs.split(",") if n]
    if options.profile:
        _profile(options, options.profile, sizes[0])
        return
    names = [n for n in options.clients.split(",") if n and _available(n)]
    facts = machine()
    samples, failures = _run_rounds(options, names, sizes)
    medians = _medians(samples)
    _print_tables(options, names, sizes, medians, failures)
    _print_failures(samples)
    if options.json:
        os.makedirs(os.path.dirname(os.path.abspath(options.json)), exist_ok=True)
        with open(options.json, "w") as f:
            json.dump(
                {
                    "benchmark": "bench_many_jobs",
                    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                    "machine": facts,
                    "code": code_version(),
                    "load_average_after": os.getloadavg(),
                    "command": " ".join(["python", *sys.argv]),
                    "options": vars(options),
                    "medians": medians,
                    "failures": {f"{n}@{j}": e for (n, j), e in failures.items()},
                    "samples": samples,
                },
                f,
                indent=1,
            )
        print(f"\nraw figures written to {options.json}")


if __name__ == "__main__":
    main()
