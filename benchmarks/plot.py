"""Draw the benchmark charts of docs/benchmarks.md from the figures the benchmarks wrote.

    python benchmarks/plot.py            # benchmarks/results/*.json -> docs/charts/*.svg

The benchmarks write their medians as JSON (``--json``): ``bench_many_jobs.py`` to
``results/many_jobs.json``, ``bench_upload.py`` and ``bench_download.py`` to ``results/upload.json``
and ``results/download.json``. Each chart is drawn from one of those files and says under its
title when and on what machine the figures were measured, since a figure without its machine
(and the load on it) means little.

The SVGs keep their text as text (searchable, small) and carry no creation date or random ids,
so drawing the same figures again gives the same file: tests/test_docs_site.py checks that the
committed charts say what the committed figures say.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CHARTS = HERE.parent / "docs" / "charts"

# Ours first, then the others, in the benchmarks' own order.
CLIENT_ORDER = ["blocking", "asyncio", "uvloop", "trio", "official", "aiohttp", "raw"]
LABELS = {"official": "official (decart)", "raw": "raw socket"}
COLOURS = ["#3f51b5", "#ff9800", "#009688", "#9c27b0"]

matplotlib.rcParams.update(
    {
        "svg.fonttype": "none",  # text stays text
        "svg.hashsalt": "decart-proto",  # ids the same on every run
        "font.family": "DejaVu Sans",
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


def caption(record: dict[str, Any]) -> str:
    """When, on what, at which commit: the line under each chart's title."""
    machine = record.get("machine", {})
    load = machine.get("load_average") or []
    code = record.get("code") or {}
    parts = [
        str(record.get("date", "?"))[:10],
        f"{machine.get('cpus', '?')} x {machine.get('cpu_model') or 'CPU'}",
        f"Python {machine.get('python', '?')}",
    ]
    if load:
        parts.append(f"load {load[0]:.1f}")
    if code.get("commit"):
        parts.append(f"at {code['commit']}" + ("+" if code.get("uncommitted_changes") else ""))
    return " · ".join(parts)


def grouped_bars(
    title: str,
    record: dict[str, Any],
    unit: str,
    groups: dict[str, dict[str, float]],
    out: Path,
    *,
    note: str = "",
) -> Path:
    """One bar per client in each group (a job count, plain or TLS), its value written on it."""
    clients = [c for c in CLIENT_ORDER if any(c in values for values in groups.values())]
    clients += sorted({c for v in groups.values() for c in v} - set(clients))
    figure, axes = plt.subplots(figsize=(8, 3.6), layout="constrained")
    width = 0.8 / max(1, len(groups))
    top = max((v for values in groups.values() for v in values.values()), default=1.0)
    for index, (group, values) in enumerate(groups.items()):
        xs = [i + (index - (len(groups) - 1) / 2) * width for i in range(len(clients))]
        heights = [values.get(c, 0.0) for c in clients]
        bars = axes.bar(xs, heights, width * 0.92, label=group, color=COLOURS[index % 4])
        labels = [_figure(values[c]) if c in values else "n/a" for c in clients]
        axes.bar_label(bars, labels=labels, padding=2, fontsize=8)
    axes.set_xticks(range(len(clients)), [LABELS.get(c, c) for c in clients])
    axes.set_ylabel(unit)
    axes.set_ylim(0, top * 1.15)
    axes.set_title(title, loc="left", fontsize=12, fontweight="bold", pad=18)
    axes.text(0, 1.02, caption(record), transform=axes.transAxes, fontsize=8, color="#555")
    if len(groups) > 1:
        axes.legend(frameon=False, loc="upper right", fontsize=8)
    if note:
        figure.supxlabel(note, fontsize=8, color="#555")
    figure.savefig(out, format="svg", metadata={"Date": None})
    plt.close(figure)
    return out


def _figure(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def many_jobs_charts(record: dict[str, Any], out: Path) -> list[Path]:
    medians: dict[str, dict[str, dict[str, float]]] = record["medians"]
    sizes = sorted(medians, key=int)

    def metric(field: str) -> dict[str, dict[str, float]]:
        return {
            f"{int(size):,} jobs": {
                client: figures[field]
                for client, figures in medians[size].items()
                if figures.get(field) is not None
            }
            for size in sizes
        }

    return [
        grouped_bars(
            "CPU per status poll (lower is better)",
            record,
            "µs of client CPU per poll",
            metric("cpu_us_per_poll"),
            out / "many_jobs_cpu.svg",
            note="N jobs polled at once by one client (bench_many_jobs.py)",
        ),
        grouped_bars(
            "Memory per job (lower is better)",
            record,
            "KiB of resident memory per job",
            metric("kib_per_job"),
            out / "many_jobs_memory.svg",
            note="N jobs polled at once by one client (bench_many_jobs.py)",
        ),
    ]


def media_charts(record: dict[str, Any], direction: str, out: Path) -> list[Path]:
    medians: dict[str, dict[str, dict[str, float]]] = record["medians"]
    size = record.get("options", {}).get("size", 0) / 1024**2

    def metric(field: str) -> dict[str, dict[str, float]]:
        return {
            "TLS" if mode == "tls" else mode: {c: f[field] for c, f in figures.items()}
            for mode, figures in medians.items()
        }

    what = f"{direction} of {size:,.0f} MiB (bench_{direction}.py)"
    return [
        grouped_bars(
            f"{direction.capitalize()} speed (higher is better)",
            record,
            "MiB/s",
            metric("mib_s"),
            out / f"{direction}_speed.svg",
            note=what,
        ),
        grouped_bars(
            f"Peak memory during the {direction} (lower is better)",
            record,
            "peak resident MiB",
            metric("peak_mib"),
            out / f"{direction}_memory.svg",
            note=what,
        ),
    ]


def draw(results: Path, out: Path) -> list[Path]:
    """Every chart whose figures are in *results*; the paths drawn."""
    out.mkdir(parents=True, exist_ok=True)
    drawn: list[Path] = []
    many = results / "many_jobs.json"
    if many.exists():
        drawn += many_jobs_charts(json.loads(many.read_text()), out)
    for direction in ("upload", "download"):
        media = results / f"{direction}.json"
        if media.exists():
            drawn += media_charts(json.loads(media.read_text()), direction, out)
    return drawn


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, default=CHARTS)
    options = parser.parse_args(argv)
    for path in draw(options.results, options.out):
        print(path)


if __name__ == "__main__":
    main()
