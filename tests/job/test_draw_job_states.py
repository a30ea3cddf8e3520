"""The state diagram script draws exactly the transition table."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from decart_proto import TRANSITIONS, JobState

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "draw_job_states.py"
EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[label="([^"]*)"(, style=dashed)?\];$')
NODE = re.compile(r'^\s*"([^"]+)" \[shape=(\w+)\];$')


def test_the_diagram_has_every_transition_and_nothing_else() -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT)], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    assert out.startswith("digraph job_states {") and out.rstrip().endswith("}")
    drawn: set[tuple[str, str, str]] = set()
    dashed: set[tuple[str, str]] = set()
    shapes: dict[str, str] = {}
    for line in out.splitlines():
        if m := EDGE.match(line):
            source, target, label, style = m.groups()
            if style:
                dashed.add((source, target))
                continue
            for event in label.split("\\n"):
                drawn.add((source, event, target))
        elif m := NODE.match(line):
            shapes[m.group(1)] = m.group(2)
    table = {
        (source.value, event.value, target.value)
        for source, events in TRANSITIONS.items()
        for event, target in events.items()
    }
    assert drawn == table
    # The one-shot calls' exit, which is not in the table, is drawn apart.
    assert dashed == {("submitting", "reported"), ("polling", "reported")}
    assert shapes == {s.value: "circle" if s in TRANSITIONS else "doublecircle" for s in JobState}
