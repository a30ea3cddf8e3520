"""Every line the ``decart-proto`` command writes passes through here: the API key removed and
every character a terminal would act on made visible.

The command prints what servers send: job ids, statuses, error bodies. Printed raw, a job id
holding ``ESC [2J`` clears the user's screen and ``ESC ]0;…BEL`` sets the window's title; a C1
control (``\\x9b`` is a CSI on terminals that honour 8-bit controls) does the same, a bidi
override makes a line read backwards, and a lone surrogate (valid in a JSON string) cannot even be
encoded, so writing it would crash. Such characters are shown in the notation of a Python string
(``\\x1b``, ``\\u202e``), which says what the server sent without acting on it.

Escaping happens at the edge, on whole lines, because the command cannot tell which part of a
message came from a server: its own text never holds these characters, so escaping everything
costs nothing. ``--json`` output is already safe (``json.dumps`` writes ASCII with escapes) and
keeps the exact values for scripts. A test checks that no other module of the command prints or
writes to a stream without taking its text from here.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import TextIO

__all__ = ["MAX_MESSAGE", "clean", "one_line", "say", "visible"]

MAX_MESSAGE = 400

# Bidirectional formatting (Unicode's bidi controls: marks, embeddings, overrides, isolates).
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_ESCAPES: dict[int, str] = {
    code: (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    for code in [
        *range(0x20),  # C0, newline and tab included: a line is one line
        *range(0x7F, 0xA0),  # DEL and C1
        0x2028,  # line and paragraph separators, a line break to some renderers
        0x2029,
        *map(ord, _BIDI),
        *range(0xD800, 0xE000),  # lone surrogates: not encodable as UTF-8
    ]
}
_WRITE_LOCK = threading.Lock()  # a batch's workers report from several threads


def visible(text: str) -> str:
    """*text* with every control, bidi and unencodable character shown as an escape."""
    if text.isprintable():  # the common case; printable excludes everything escaped above
        return text
    return text.translate(_ESCAPES)


def clean(text: str, secret: str = "") -> str:
    """*text* without the API key, made :func:`visible`."""
    if secret:
        text = text.replace(secret, "[redacted]")
    return visible(text)


def one_line(text: str, secret: str = "") -> str:
    """A message: whitespace collapsed (server bodies may be HTML), :func:`clean`, bounded."""
    if secret:
        text = text.replace(secret, "[redacted]")
    text = visible(re.sub(r"\s+", " ", text).strip())
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1] + "…"
    return text


def say(stream: TextIO, lines: str | Iterable[str], secret: str = "") -> None:
    """Write *lines* (one string is one line), each :func:`clean`, and flush."""
    if isinstance(lines, str):
        lines = [lines]
    data = "".join(clean(line, secret) + "\n" for line in lines)
    with _WRITE_LOCK:
        stream.write(data)
        stream.flush()
