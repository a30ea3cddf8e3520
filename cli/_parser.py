"""The command line: argparse, with usage errors on one line (exit code 2) and the API key never
echoed, even by a usage error. What it parses is read into the typed objects of :mod:`._args`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any, NoReturn

from decart_proto import __version__, models

from ._args import DEFAULT_MODEL, PROG
from ._exit import ExitCode
from ._text import one_line

__all__ = ["build_parser", "command_at", "secret_from"]

EXAMPLES = """\
examples:
  decart-proto demo                                  # the whole job on a local emulator
  export DECART_API_KEY=...                          # your key, from platform.decart.ai
  decart-proto submit in.mp4 --prompt "Anime style" -o out.mp4
  decart-proto submit in.mp4 --prompt "Anime style" --no-wait   # prints the job id
  decart-proto status JOB_ID
  decart-proto wait JOB_ID -o out.mp4               # resume a job and save its result
  decart-proto result JOB_ID -o out.mp4             # download a finished job
  decart-proto batch clips/*.mp4 --prompt "Anime style" --out-dir edited/
  decart-proto emulator --port 8000                 # a local Queue API for your own tests

exit codes: 0 ok, 2 bad input, 3 auth, 4 server, 5 network, 6 job failed,
            7 deadline passed, 8 result not ready yet, 130 interrupted (Ctrl-C),
            1 a bug in decart-proto
"""


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line, exit code 2, and the key never echoed."""

    secret = ""

    def error(self, message: str) -> NoReturn:
        text = one_line(message, self.secret)
        self.exit(ExitCode.BAD_INPUT, f"{PROG}: error: {text}; see {self.prog} --help\n")


def _common(suppress: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after the command's name."""
    default: Any = argparse.SUPPRESS if suppress else None
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("common options")
    group.add_argument(
        "--api-key", default=default, help="your Decart API key (default: $DECART_API_KEY)"
    )
    group.add_argument(
        "--base-url",
        default=default,
        help="the API's address (default: $DECART_BASE_URL, else https://api.decart.ai)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default if suppress else False,
        help="print the result as one JSON object on stdout",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default if suppress else False,
        help="no progress or notes on stderr; only the result and errors",
    )
    group.add_argument(
        "--timeout",
        type=_positive_float,
        default=default,
        metavar="SECONDS",
        help="give up waiting after this long (default: 900 s per job)",
    )
    group.add_argument(
        "--poll-interval",
        type=_positive_float,
        default=default,
        metavar="SECONDS",
        help="time between status checks (default: 1.5 s, as Decart's own clients)",
    )
    return parser


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return value


def _model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("job options")
    group.add_argument(
        "-m",
        "--model",
        default=DEFAULT_MODEL,
        help=f"the model (default: {DEFAULT_MODEL}); one of: {', '.join(models.VIDEO_MODELS)}",
    )
    group.add_argument("-p", "--prompt", help="what to do with the video")
    group.add_argument("--reference-image", metavar="FILE", help="an image guiding the edit")
    group.add_argument("--seed", type=int, help="an integer seed, for repeatable results")
    group.add_argument("--resolution", help="for example 720p")
    group.add_argument(
        "--enhance-prompt",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let the service rewrite the prompt (model default when not given)",
    )


def _output_options(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "-o", "--output", metavar="FILE", help=f"where to save the video ({default})"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")


def build_parser(secret: str = "") -> _Parser:
    """The parser, and its subcommands' parsers, each told the key so that an error never
    echoes it."""
    sub_parents: list[Any] = [_common(suppress=True)]
    parents: list[argparse.ArgumentParser] = [_common(suppress=False)]
    parser = _Parser(
        prog=PROG,
        description="Submit videos to Decart's Queue API, follow the jobs and save the results.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=parents,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help_text: str, epilog: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog="example:\n  " + epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=sub_parents,
        )

    submit = command(
        "submit",
        "upload a video, wait for the job and save the result",
        'decart-proto submit in.mp4 --prompt "Anime style" -o out.mp4',
    )
    submit.add_argument("input", metavar="INPUT", help="the video to edit")
    _model_options(submit)
    _output_options(submit, "INPUT's name with -edited.mp4, in the current directory")
    submit.add_argument(
        "--no-wait", action="store_true", help="print the job id once submitted, and stop"
    )

    status = command("status", "print a job's status", "decart-proto status JOB_ID")
    status.add_argument("job_id", metavar="JOB_ID")

    wait = command(
        "wait",
        "wait for a submitted job and save its result",
        "decart-proto wait JOB_ID -o out.mp4",
    )
    wait.add_argument("job_id", metavar="JOB_ID")
    _output_options(wait, "JOB_ID.mp4")

    result = command(
        "result", "download a finished job's result", "decart-proto result JOB_ID -o out.mp4"
    )
    result.add_argument("job_id", metavar="JOB_ID")
    _output_options(result, "JOB_ID.mp4")

    batch = command(
        "batch",
        "many videos at once, resumable: rerun the same command after a crash or Ctrl-C",
        'decart-proto batch clips/*.mp4 --prompt "Anime style" --out-dir edited/',
    )
    batch.add_argument("inputs", metavar="INPUT", nargs="+")
    _model_options(batch)
    batch.add_argument("--out-dir", required=True, metavar="DIR", help="results go here")
    batch.add_argument(
        "--concurrency", type=int, default=4, metavar="N", help="jobs in flight (default: 4)"
    )
    batch.add_argument(
        "--journal", metavar="FILE", help="the journal (default: DIR/decart-batch.jsonl)"
    )
    batch.add_argument("--force", action="store_true", help="overwrite existing outputs")
    batch.add_argument(
        "--retry-failed", action="store_true", help="submit again the inputs whose job failed"
    )

    demo = command(
        "demo",
        "run a whole job against a local emulator: no API key, no network",
        "decart-proto demo",
    )
    demo.add_argument("-o", "--output", metavar="FILE", help="where to save the video")
    demo.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    demo.add_argument("--input", metavar="FILE", help="your own video (default: a sample)")
    demo.add_argument("-m", "--model", default=DEFAULT_MODEL, help=argparse.SUPPRESS)
    demo.add_argument("-p", "--prompt", default="Transform into anime style", help="the prompt")
    demo.add_argument(
        "--pending-seconds", type=float, default=1.0, help="how long the job stays pending"
    )
    demo.add_argument(
        "--processing-seconds", type=float, default=1.5, help="how long it stays processing"
    )

    emulator = commands.add_parser(
        "emulator",
        help="run the local Queue API emulator in the foreground (see --help)",
        add_help=False,
    )
    emulator.add_argument("emulator_args", nargs=argparse.REMAINDER)
    for sub in {parser, *commands.choices.values()}:
        assert isinstance(sub, _Parser)
        sub.secret = secret
    return parser


def secret_from(argv: Sequence[str]) -> str:
    """The key, found before parsing so that even a usage error cannot print it."""
    for i, word in enumerate(argv):
        if word == "--api-key" and i + 1 < len(argv):
            return argv[i + 1]
        if word.startswith("--api-key="):
            return word.split("=", 1)[1]
    return os.environ.get("DECART_API_KEY", "")


def command_at(argv: Sequence[str], parser: argparse.ArgumentParser) -> int | None:
    """Where the command is in *argv*: the first word that is neither an option nor an
    option's value."""
    takes_value = {
        option
        for action in parser._actions
        if action.nargs != 0
        for option in action.option_strings
    }
    at = 0
    while at < len(argv):
        word = argv[at]
        if word == "--":
            return at + 1 if at + 1 < len(argv) else None
        if not word.startswith("-"):
            return at
        at += 2 if word in takes_value else 1
    return None
