"""The state diagram script draws exactly the transition table: every call's edges and where it
starts, and nothing else."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from decart_proto import TRANSITIONS, JobState, Mode
from decart_proto._job_state import START, START_ONCE, TERMINAL

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCRIPT = DOCS / "draw_job_states.py"
CLUSTER = re.compile(r"^\s*subgraph cluster_(\d+) \{$")
LABEL = re.compile(r'^\s*label="([^"]+)";$')
NODE = re.compile(r'^\s*"(\d+):([^"]+)" \[label="([^"]+)", shape=(\w+)\];$')
START_NODE = re.compile(r'^\s*"(\d+):start (\d+)" \[shape=plaintext, label="([^"]+)"\];$')
START_EDGE = re.compile(r'^\s*"(\d+):start (\d+)" -> "(\d+):([^"]+)";$')
EDGE = re.compile(r'^\s*"(\d+):([^"]+)" -> "(\d+):([^"]+)" \[label="([^"]*)"\];$')
# Written here, not taken from the script: what each call is called in the picture.
CALLS = {
    Mode.SUBMIT_AND_POLL: "submit_and_poll()",
    Mode.RESUME: "wait()",
    Mode.SUBMIT: "submit()",
    Mode.STATUS: "status()",
    Mode.RESULT: "result()",
}


def _drawn() -> str:
    return subprocess.run(
        [sys.executable, str(SCRIPT)], check=True, capture_output=True, text=True, timeout=60
    ).stdout


def test_the_diagram_has_every_transition_and_nothing_else() -> None:
    out = _drawn()
    assert out.startswith("digraph job_states {") and out.rstrip().endswith("}")
    calls: dict[str, set[str]] = {}  # cluster -> the calls it is labelled with
    edges: dict[str, set[tuple[str, str, str]]] = {}
    shapes: dict[str, dict[str, str]] = {}
    start_names: dict[tuple[str, str], str] = {}
    starts: dict[str, str] = {}  # call name (" from a pipe" too) -> the state it starts in
    cluster = ""
    for line in out.splitlines():
        if m := CLUSTER.match(line):
            cluster = m.group(1)
            edges[cluster], shapes[cluster] = set(), {}
        elif (m := LABEL.match(line)) and cluster not in calls:
            calls[cluster] = set(m.group(1).split(", "))
        elif m := NODE.match(line):
            assert m.group(1) == cluster and m.group(2) == m.group(3)
            shapes[cluster][m.group(2)] = m.group(4)
        elif m := START_NODE.match(line):
            start_names[m.group(1), m.group(2)] = m.group(3)
        elif m := START_EDGE.match(line):
            assert m.group(1) == m.group(3) == cluster
            starts[start_names[cluster, m.group(2)]] = m.group(4)
        elif m := EDGE.match(line):
            assert m.group(1) == m.group(3) == cluster
            for event in m.group(5).split("\\n"):
                edges[cluster].add((m.group(2), event, m.group(4)))
        else:
            assert line.strip() in ("}", "rankdir=LR;") or line.strip().startswith(
                ("digraph", "node [", "edge [")
            ), line
    assert sorted(name for names in calls.values() for name in names) == sorted(CALLS.values())
    for cluster, names in calls.items():
        modes = [mode for mode, name in CALLS.items() if name in names]
        table = TRANSITIONS[modes[0]]
        assert all(TRANSITIONS[mode] is table for mode in modes), "one cluster, one table"
        assert edges[cluster] == {
            (source.value, event.value, target.value)
            for source, events in table.items()
            for event, target in events.items()
        }
        for state, shape in shapes[cluster].items():
            assert shape == ("doublecircle" if JobState(state) in TERMINAL else "circle")
        drawn = {s for edge in edges[cluster] for s in (edge[0], edge[2])}
        assert set(shapes[cluster]) == drawn
    expected = {CALLS[mode]: START[mode].value for mode in Mode}
    expected |= {CALLS[mode] + " from a pipe": START_ONCE[mode].value for mode in START_ONCE}
    assert starts == expected


def test_the_committed_diagram_is_current() -> None:
    assert (DOCS / "job_states.dot").read_text() == _drawn(), (
        "regenerate: python docs/draw_job_states.py > docs/job_states.dot && "
        "dot -Tsvg docs/job_states.dot -o docs/job_states.svg"
    )
