"""``decart-proto completion SHELL``: the shell's completion script, on stdout.

Made by ``shtab`` from the command's own parser, so that it offers exactly the commands and
options that exist, and never drifts from them. Arguments that name files (``INPUT``, ``-o
FILE``, ``--reference-image FILE``, ``--journal FILE``) complete as files, ``--out-dir DIR``
as folders; a job id completes as nothing (it is the server's).

shtab is part of the ``cli`` extra; it is imported only here, when a script is asked for.
"""

from __future__ import annotations

import argparse
import sys

from ._exit import CliError, ExitCode
from ._text import say

__all__ = ["SHELLS", "print_completion"]

SHELLS = ("bash", "zsh", "tcsh")


def print_completion(parser: argparse.ArgumentParser, shell: str) -> int:
    try:
        import shtab  # noqa: PLC0415 - the optional cli extra
    except ImportError as exc:
        raise CliError(
            ExitCode.BAD_INPUT,
            f"shell completion needs shtab, which is not installed ({exc})",
            "pip install 'decart-proto[cli]'",
        ) from None
    kinds = {"FILE": shtab.FILE, "INPUT": shtab.FILE, "DIR": shtab.DIRECTORY}
    for sub in _parsers(parser):
        for action in sub._actions:
            complete = kinds.get(str(action.metavar))
            if complete is not None:
                action.complete = complete  # type: ignore[attr-defined] # shtab reads it
    # No secret to redact: the script holds nothing of the user's (and a short key would
    # otherwise be replaced inside it).
    say(sys.stdout, shtab.complete(parser, shell=shell).splitlines())
    return ExitCode.OK


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """*parser* and its commands' parsers."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found += list(action.choices.values())
    return found
