"""``-`` as a file name: the video read from stdin, the result written to stdout.

So that the command sits in a pipeline (``ffmpeg … -f mp4 - | decart-proto submit - -o - |
mpv -``). The client takes a binary file object for either: a pipe is uploaded as it is read
(chunked, its length unknown), a file redirected in (``< in.mp4``) is sent like a path, and the
result is written to stdout as it arrives. Stdout then carries the video's bytes and nothing
else: the answer a command would print there goes to stderr, and ``--json``, whose answer is
stdout, is refused.

A terminal is refused at either end: a video typed on a keyboard never ends, and one written to
a terminal is noise that can drive it.
"""

from __future__ import annotations

import sys
from typing import BinaryIO

from ._exit import CliError, ExitCode

__all__ = ["STDIO", "check_stdin", "check_stdout", "is_stdio", "source", "target"]

STDIO = "-"


def is_stdio(path: str | None) -> bool:
    return path == STDIO


def source(path: str) -> str | BinaryIO:
    """What the client uploads for *path*: stdin's bytes for ``-``, else the path."""
    return sys.stdin.buffer if path == STDIO else path


def target(path: str) -> str | BinaryIO:
    """Where the client writes the result for *path*: stdout's bytes for ``-``, else the path."""
    return sys.stdout.buffer if path == STDIO else path


def check_stdin() -> None:
    if sys.stdin is None or sys.stdin.isatty():
        raise CliError(
            ExitCode.BAD_INPUT,
            "the input is stdin (-), and stdin is a terminal",
            "pipe the video in (… | decart-proto submit - …) or name its file",
        )


def check_stdout(json_answer: bool) -> None:
    if json_answer:
        raise CliError(
            ExitCode.BAD_INPUT,
            "-o - writes the video to stdout, where --json writes its answer",
            "drop --json, or save the video with -o FILE",
        )
    if sys.stdout is None or sys.stdout.isatty():
        raise CliError(
            ExitCode.BAD_INPUT,
            "-o - would write the video to a terminal",
            "redirect stdout (-o - > out.mp4) or pipe it on (-o - | mpv -)",
        )
