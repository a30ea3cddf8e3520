"""Print the job state diagram as Graphviz dot, drawn from ``decart_proto.TRANSITIONS`` itself
so that the picture cannot drift from the code.

    python docs/draw_job_states.py > docs/job_states.dot
    dot -Tsvg docs/job_states.dot -o docs/job_states.svg
"""

from __future__ import annotations

import sys
from collections import defaultdict

from decart_proto import TRANSITIONS, JobEvent, JobState

# Where each call starts, and the one edge that is not in the table: a one-shot call
# (submit(), status()) stops at REPORTED after its first answer (see _job_state.py).
STARTS = {
    "submit_and_poll(), submit()": JobState.SUBMITTING,
    "wait(), status()": JobState.POLLING,
    "result()": JobState.FETCHING,
}
ONE_SHOT = "first answer (one-shot call)"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot() -> str:
    terminal = [s for s in JobState if s not in TRANSITIONS]
    lines = [
        "digraph job_states {",
        "  rankdir=LR;",
        '  node [shape=circle, fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for state in JobState:
        shape = "doublecircle" if state in terminal else "circle"
        lines.append(f"  {_quote(state.value)} [shape={shape}];")
    for i, (call, state) in enumerate(STARTS.items()):
        lines.append(f"  start{i} [shape=plaintext, label={_quote(call)}];")
        lines.append(f"  start{i} -> {_quote(state.value)};")
    # Events leading the same way share one edge, their names joined, to keep it readable.
    edges: dict[tuple[JobState, JobState], list[JobEvent]] = defaultdict(list)
    for source, events in TRANSITIONS.items():
        for event, target in events.items():
            edges[source, target].append(event)
    for (source, target), shared in edges.items():
        label = "\\n".join(_quote(e.value)[1:-1] for e in shared)
        lines.append(f'  {_quote(source.value)} -> {_quote(target.value)} [label="{label}"];')
    for state in (JobState.SUBMITTING, JobState.POLLING):
        lines.append(
            f"  {_quote(state.value)} -> {_quote(JobState.REPORTED.value)} "
            f"[label={_quote(ONE_SHOT)}, style=dashed];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(dot())
