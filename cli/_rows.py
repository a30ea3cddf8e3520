"""One row of the live display, fitted to the terminal's width.

A table of columns (rich's default) gives each column a share of a narrow terminal and cuts
every value to fit it: on 80 columns the numbers came out as ``3.1…  10…  0:0…`` and rows
wrapped. A row here is the label, an optional bar and a few fields, each field whole or not
shown: when the row is too wide, the least useful field goes first (the time left before the
speed, the speed before the size), then the label is shortened in its middle, so that a file's
extension and the phase (``…clip.mp4: upload``) stay visible; the bar takes what is left. No
number is ever cut.

Widths are counted in terminal cells (a CJK character takes two), so a server's job id or a
file's name in any script cannot push a row past the edge. Pure functions: the display
(:mod:`._progress`) styles the pieces.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = [
    "BAR_MAX",
    "BAR_MIN",
    "LABEL_MIN",
    "Field",
    "Row",
    "cells",
    "clock",
    "fit",
    "shorten",
    "sizes",
]

BAR_MIN = 10
BAR_MAX = 30
LABEL_MIN = 16  # fields are dropped before the label gets shorter than this


@dataclass(frozen=True)
class Field:
    """A value shown after the label (a percentage, a size, a speed); *rank* 0 is never
    dropped, and of the others the highest rank goes first."""

    text: str
    style: str
    rank: int = 0


@dataclass(frozen=True)
class Row:
    """What fits: the label as shown, the bar's width (0: none), the fields kept in order."""

    label: str
    bar: int
    fields: tuple[Field, ...]

    def width(self) -> int:
        parts = [cells(self.label)] + ([self.bar] if self.bar else [])
        parts += [cells(f.text) for f in self.fields]
        return sum(parts) + len(parts) - 1


def cells(text: str) -> int:
    """The terminal cells *text* takes: two for a wide character, none for a combining one."""
    if text.isascii():
        return len(text)
    return sum(_cell(c) for c in text)


def _cell(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def shorten(text: str, width: int) -> str:
    """*text* in at most *width* cells: whole, or its start and end around an ellipsis."""
    if cells(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head_room = width // 2
    tail_room = width - 1 - head_room
    head = _take(text, head_room)
    tail = _take(text[::-1], tail_room)[::-1]
    return f"{head}…{tail}"


def _take(text: str, width: int) -> str:
    taken, used = [], 0
    for char in text:
        used += _cell(char)
        if used > width:
            break
        taken.append(char)
    return "".join(taken)


def fit(label: str, fields: list[Field], width: int, *, bar: bool) -> Row:
    """The row for *width* cells (see the module's docstring). When even the label's first
    cell and the fields of rank 0 do not fit, the row is wider than *width*: the display then
    crops it at the edge rather than wrapping it."""
    kept = list(fields)
    bar_min = BAR_MIN if bar else 0

    def room(for_fields: list[Field]) -> int:
        """The cells left for the label (and the bar beyond its minimum)."""
        used = sum(cells(f.text) + 1 for f in for_fields) + (bar_min + 1 if bar else 0)
        return width - used

    while room(kept) < min(cells(label), LABEL_MIN) and any(f.rank for f in kept):
        dropped = max(kept, key=lambda f: f.rank)
        kept.remove(dropped)
    left = room(kept)
    shown = shorten(label, max(left, 1))
    bar_width = min(BAR_MAX, bar_min + max(left - cells(shown), 0)) if bar else 0
    return Row(shown, bar_width, tuple(kept))


def sizes(done: int, total: int | None) -> str:
    """``3.1/10.0 MB``: both in the unit of the larger, or ``3.1 MB`` when no total is known."""
    largest = max(done, total or 0)
    unit, suffix = 1, "B"
    for step, name in ((1e3, "kB"), (1e6, "MB"), (1e9, "GB")):
        if largest >= step:
            unit, suffix = int(step), name
    digits = 0 if unit == 1 else 1
    if total is None:
        return f"{done / unit:.{digits}f} {suffix}"
    return f"{done / unit:.{digits}f}/{total / unit:.{digits}f} {suffix}"


def clock(seconds: float | None) -> str:
    """``0:01:05``; ``-:--:--`` when unknown."""
    if seconds is None:
        return "-:--:--"
    whole = int(max(seconds, 0))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
