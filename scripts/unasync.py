"""Write the blocking client from the async one: each ``transports/_async_*.py`` (the pool, the
run loop, the facade) has a generated twin ``transports/_sync_*.py``, the same file with each
line rewritten by the rules below (``async def`` -> ``def``, ``await x`` -> ``x``, ``AsyncIO`` ->
``SyncIO``, ...), so that the run loop, the pool and the facade are written once. The idea is
httpcore's (``scripts/unasync.py``); this is our own.

    python scripts/unasync.py           # rewrite the generated files
    python scripts/unasync.py --check   # exit 1, with a diff, if one is not current

A rule that no line of any source uses is an error too: it is a rule for code that is gone.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "transports"
NAMES = ["pool", "run", "client"]  # _async_<name>.py -> _sync_<name>.py

# In order. Prose in the sources is written to read right after them too (no "await " in it).
RULES: list[tuple[str, str]] = [
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\bawait ", ""),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\bAsync(?=[A-Z])", "Sync"),  # AsyncIO -> SyncIO, AsyncPoolLock -> SyncPoolLock, ...
    (r"\bcall_async\b", "call_sync"),
    (r"\b_async_(?=[a-z])", "_sync_"),  # from ._async_pool import ... -> from ._sync_pool ...
]
_COMPILED = [(re.compile(pattern), repl) for pattern, repl in RULES]

NOTICE = (
    "Generated from ``{source}`` by ``scripts/unasync.py``: do not edit;\n"
    "edit that file and run the script."
)


def unasync(text: str, source_name: str, used: set[int] | None = None) -> str:
    """*text*, an async source named *source_name*, as its blocking twin; the indexes of the
    rules that changed something are added to *used*. The twin's docstring is the first
    paragraph of the source's, rewritten, and a notice that it is generated."""
    opening, _, body = text.partition('"""')
    docstring, _, rest = body.partition('"""')
    if opening or not rest:
        raise ValueError(f"{source_name} must begin with its docstring")
    summary = docstring.split("\n\n")[0]
    lines = ['"""', summary, "\n\n", NOTICE.format(source=source_name), '\n"""']
    for source_line in rest.splitlines(keepends=True):
        line = source_line
        for index, (pattern, repl) in enumerate(_COMPILED):
            line, count = pattern.subn(repl, line)
            if count and used is not None:
                used.add(index)
        lines.append(line)
    # The summary goes through the rules too, without counting as a use.
    lines[1] = _rewrite(summary)
    return "".join(lines)


def _rewrite(line: str) -> str:
    for pattern, repl in _COMPILED:
        line = pattern.sub(repl, line)
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether they are current")
    parser.add_argument("--folder", type=Path, default=FOLDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    used: set[int] = set()
    stale = []
    for name in NAMES:
        source = args.folder / f"_async_{name}.py"
        target = args.folder / f"_sync_{name}.py"
        wanted = unasync(source.read_text(), source.name, used)
        current = target.read_text() if target.exists() else ""
        if current == wanted:
            continue
        if not args.check:
            target.write_text(wanted)
            continue
        diff = difflib.unified_diff(
            current.splitlines(keepends=True),
            wanted.splitlines(keepends=True),
            str(target),
            f"{target} as generated",
        )
        sys.stdout.writelines(diff)
        stale.append(target.name)
    unused = [RULES[i][0] for i in range(len(RULES)) if i not in used]
    if unused:
        print(f"unasync: rules that change nothing in {args.folder}: {unused}", file=sys.stderr)
        return 1
    if stale:
        print(
            f"unasync: {', '.join(stale)} not what the _async_ sources generate: run "
            "python scripts/unasync.py, and commit the sources and the generated files",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
