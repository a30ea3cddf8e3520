"""The many-jobs benchmark still runs end to end: a few jobs on each of our clients, each in its
own process against the benchmark's status server, every poll answered right and counted.

Figures are not asserted (speed is measured by the benchmark, not by tests); what is checked is
that the benchmark measures what it says: every poll made and answered, the sockets seen by the
server, and a memory and CPU figure for each client.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_many_jobs.py"
CLIENTS = ("blocking", "asyncio", "trio")
JOBS, POLLS = 20, 3


@pytest.mark.slow  # four processes: about 2 s, more on a loaded machine
def test_bench_many_jobs_runs_with_tiny_numbers(tmp_path: Path) -> None:
    out = tmp_path / "many.json"
    done = subprocess.run(
        [
            sys.executable, str(SCRIPT), "--jobs", str(JOBS), "--polls", str(POLLS),
            "--rounds", "1", "--clients", ",".join(CLIENTS), "--threads", "4",
            "--json", str(out),
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failed:" not in done.stdout, done.stdout
    figures = json.loads(out.read_text())
    samples = {s["client"]: s for s in figures["samples"]}
    assert set(samples) == set(CLIENTS)
    for name, sample in samples.items():
        assert sample["polls"] == JOBS * POLLS, name
        assert sample["ok"] == JOBS * POLLS, (name, sample["errors"])
        assert sample["server"]["requests"] == JOBS * POLLS, name
        assert 1 <= sample["sockets"] <= sample["connections"] <= JOBS, name  # pooled
        assert sample["cpu_us_per_poll"] > 0, name
        assert sample["peak_kib"] >= sample["rss_before_kib"], name
    assert samples["blocking"]["connections"] <= 4  # four threads: four requests at a time
    for name in CLIENTS:
        assert name in figures["medians"][str(JOBS)]
        assert name in done.stdout
