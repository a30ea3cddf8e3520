"""Print the job state diagram as Graphviz dot, drawn from ``decart_proto``'s transition table
itself (``_job_state.py``) so that the picture cannot drift from the code: one cluster per table
(calls that share one share a cluster), with the state each call starts in.

    python docs/draw_job_states.py > docs/job_states.dot
    dot -Tsvg docs/job_states.dot -o docs/job_states.svg
"""

from __future__ import annotations

import sys
from collections import defaultdict

from decart_proto import TRANSITIONS, JobEvent, JobState, Mode
from decart_proto._job_state import START, START_ONCE, TERMINAL

CALLS = {
    Mode.SUBMIT_AND_POLL: "submit_and_poll()",
    Mode.RESUME: "wait()",
    Mode.SUBMIT: "submit()",
    Mode.STATUS: "status()",
    Mode.RESULT: "result()",
}
PIPE = " from a pipe"  # a start with a body that cannot be sent twice


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def clusters() -> list[list[Mode]]:
    """The calls grouped by the table they share, in the order of ``Mode``."""
    groups: dict[int, list[Mode]] = {}
    for mode in Mode:
        groups.setdefault(id(TRANSITIONS[mode]), []).append(mode)
    return list(groups.values())


def dot() -> str:
    lines = [
        "digraph job_states {",
        "  rankdir=LR;",
        '  node [shape=circle, fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for i, modes in enumerate(clusters()):
        table = TRANSITIONS[modes[0]]
        label = ", ".join(CALLS[mode] for mode in modes)
        lines += [f"  subgraph cluster_{i} {{", f"    label={_quote(label)};"]
        states = set(table) | {t for edges in table.values() for t in edges.values()}
        for state in JobState:  # in the enum's order, for a stable drawing
            if state in states:
                shape = "doublecircle" if state in TERMINAL else "circle"
                lines.append(
                    f"    {_quote(f'{i}:{state.value}')} [label={_quote(state.value)}, "
                    f"shape={shape}];"
                )
        starts = [(CALLS[mode], START[mode]) for mode in modes]
        starts += [(CALLS[mode] + PIPE, START_ONCE[mode]) for mode in modes if mode in START_ONCE]
        for n, (call, state) in enumerate(starts):
            node = _quote(f"{i}:start {n}")
            lines.append(f"    {node} [shape=plaintext, label={_quote(call)}];")
            lines.append(f"    {node} -> {_quote(f'{i}:{state.value}')};")
        # Events leading the same way share one edge, their names joined, to keep it readable.
        edges: dict[tuple[JobState, JobState], list[JobEvent]] = defaultdict(list)
        for source, events in table.items():
            for event, target in events.items():
                edges[source, target].append(event)
        for (source, target), shared in edges.items():
            names = "\\n".join(_quote(e.value)[1:-1] for e in shared)
            lines.append(
                f"    {_quote(f'{i}:{source.value}')} -> {_quote(f'{i}:{target.value}')} "
                f'[label="{names}"];'
            )
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(dot())
