"""Write the blocking client from the async one: ``transports/_sync_client.py`` is
``transports/_async_client.py`` with each line rewritten by the rules below (``async def`` ->
``def``, ``await x`` -> ``x``, ``AsyncIO`` -> ``SyncIO``, ...), so that the run loop, the pool
and the facade are written once. The idea is httpcore's (``scripts/unasync.py``); this is our
own, for one file.

    python scripts/unasync.py           # rewrite the generated file
    python scripts/unasync.py --check   # exit 1, with a diff, if it is not current

A rule that no line uses is an error too: it is a rule for code that is gone.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "transports" / "_async_client.py"
TARGET = ROOT / "transports" / "_sync_client.py"

# In order. Prose in the source is written to read right after them too (no "await " in it).
RULES: list[tuple[str, str]] = [
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\bawait ", ""),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\bAsync(?=[A-Z])", "Sync"),  # AsyncIO -> SyncIO, AsyncPoolLock -> SyncPoolLock, ...
    (r"\bcall_async\b", "call_sync"),
]
_COMPILED = [(re.compile(pattern), repl) for pattern, repl in RULES]

# The generated file's docstring, in place of the source's (which speaks of the generation).
DOCSTRING = '''"""The blocking client's run loop, pool and facade. Generated from
``_async_client.py`` by ``scripts/unasync.py``: do not edit; edit that file and run the
script."""'''


def unasync(text: str, used: set[int] | None = None) -> str:
    """*text*, the async source, as the blocking client's; the indexes of the rules that
    changed something are added to *used*."""
    opening, _, body = text.partition('"""')
    _, _, rest = body.partition('"""')
    if opening or not rest:
        raise ValueError("the source must begin with its docstring")
    lines = [DOCSTRING]
    for source_line in rest.splitlines(keepends=True):
        line = source_line
        for index, (pattern, repl) in enumerate(_COMPILED):
            line, count = pattern.subn(repl, line)
            if count and used is not None:
                used.add(index)
        lines.append(line)
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether it is current")
    parser.add_argument("--source", type=Path, default=SOURCE, help=argparse.SUPPRESS)
    parser.add_argument("--target", type=Path, default=TARGET, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    used: set[int] = set()
    wanted = unasync(args.source.read_text(), used)
    unused = [RULES[i][0] for i in range(len(RULES)) if i not in used]
    if unused:
        print(f"unasync: rules that change nothing in {args.source}: {unused}", file=sys.stderr)
        return 1
    if not args.check:
        args.target.write_text(wanted)
        return 0
    current = args.target.read_text() if args.target.exists() else ""
    if current == wanted:
        return 0
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        wanted.splitlines(keepends=True),
        str(args.target),
        f"{args.target} as generated",
    )
    sys.stdout.writelines(diff)
    print(
        f"unasync: {args.target} is not what {args.source} generates: run "
        "python scripts/unasync.py, and commit both files",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
