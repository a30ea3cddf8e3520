"""The command line: argparse, with usage errors on one line (exit code 2) and the API key never
echoed, even by a usage error. What it parses is read into the typed objects of :mod:`._args`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any, NoReturn

from decart_proto import DEFAULT_JOB_TIMEOUT, PollPolicy, Timeouts, __version__, models

from ._args import DEFAULT_MODEL, PROG
from ._completion import SHELLS
from ._exit import ExitCode
from ._text import one_line

__all__ = ["build_parser", "check_common", "command_at", "secret_from"]

EXAMPLES = """\
examples:
  decart-proto demo                                  # the whole job on a local emulator
  export DECART_API_KEY=...                          # your key, from platform.decart.ai
  decart-proto submit in.mp4 --prompt "Anime style" -o out.mp4
  decart-proto submit in.mp4 --prompt "Anime style" --no-wait   # prints the job id
  decart-proto submit - --prompt "Anime style" -o - <in.mp4 >out.mp4   # - is stdin, stdout
  decart-proto status JOB_ID
  decart-proto wait JOB_ID -o out.mp4               # resume a job and save its result
  decart-proto result JOB_ID -o out.mp4             # download a finished job
  decart-proto batch clips/*.mp4 --prompt "Anime style" --out-dir edited/
  decart-proto emulator --port 8000                 # a local Queue API for your own tests
  decart-proto completion bash > ~/.local/share/bash-completion/completions/decart-proto

exit codes: 0 ok, 2 bad input, 3 auth, 4 server, 5 network, 6 job failed,
            7 deadline passed, 8 result not ready yet, 130 interrupted (Ctrl-C),
            1 a bug in decart-proto
"""

COMPLETION_EXAMPLES = """\
install it where your shell finds it, for example:
  decart-proto completion bash > ~/.local/share/bash-completion/completions/decart-proto
  decart-proto completion zsh > "${fpath[1]}/_decart-proto"     # then start a new zsh
  decart-proto completion tcsh > ~/.decart-proto.tcsh     # and source it from ~/.tcshrc
"""


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line, exit code 2, and the key never echoed."""

    secret = ""

    def error(self, message: str) -> NoReturn:
        text = one_line(message, self.secret)
        self.exit(ExitCode.BAD_INPUT, f"{PROG}: error: {text}; see {self.prog} --help\n")


_JOB_TIMEOUT = f"{DEFAULT_JOB_TIMEOUT:g} s: the service fails a job after 10 minutes"
_ANSWER = f"{Timeouts().answer:g} s: a dead server is reported in about a minute"
# What --timeout bounds differs by command: each says so in its own --help.
_TIMEOUT_HELP = {
    None: "the command's deadline; each command's --help says what it bounds",
    "submit": f"the whole job's deadline: upload, waiting and download (default: {_JOB_TIMEOUT})",
    "wait": f"how long to wait for the job and save its result (default: {_JOB_TIMEOUT})",
    "batch": f"each job's deadline, as for submit (default: {_JOB_TIMEOUT})",
    "demo": "the job's deadline (default: as for submit)",
    "status": f"how long to keep asking for an answer, retries included (default: {_ANSWER})",
    "result": f"how long to keep asking for the result, retries included (default: {_ANSWER}; "
    "a download under way is not cut)",
}
# The common options that some commands do not take: the account (demo runs its own emulator),
# the polling rhythm (status and result ask once).
_ACCOUNT = {"submit", "status", "wait", "result", "batch"}
_POLLING = {"submit", "wait", "batch", "demo"}


def _common(command: str | None) -> _Parser:
    """The options a command takes before or after its name: those of *command*, or all of
    them for the top-level parser (``command`` None), where they are only defaults."""
    # A subcommand's parser must not overwrite with None a value given before its name.
    default: Any = None if command is None else argparse.SUPPRESS
    flag: Any = False if command is None else argparse.SUPPRESS
    parser = _Parser(add_help=False)
    group = parser.add_argument_group(
        "common options",
        "also after the command's name; each command's --help lists those it takes"
        if command is None
        else None,
    )
    if command is None or command in _ACCOUNT:
        group.add_argument(
            "--api-key",
            default=default,
            metavar="KEY",
            help="your Decart API key (default: $DECART_API_KEY)",
        )
        group.add_argument(
            "--base-url",
            default=default,
            metavar="URL",
            help="the API's address (default: $DECART_BASE_URL, else https://api.decart.ai)",
        )
    group.add_argument(
        "--json",
        action="store_true",
        default=flag,
        help="print the answer as one JSON object on stdout (errors too)",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=flag,
        help="no progress or notes on stderr: only the answer, and errors",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=flag,
        help="also print each request, its answer and each status change on stderr "
        "(retries are always printed)",
    )
    group.add_argument(
        "--timeout",
        type=_positive_float,
        default=default,
        metavar="SECONDS",
        help=_TIMEOUT_HELP[command],
    )
    if command is None or command in _POLLING:
        group.add_argument(
            "--poll-interval",
            type=_positive_float,
            default=default,
            metavar="SECONDS",
            help=f"time between status checks (default: {PollPolicy().interval:g} s, as "
            "Decart's own clients)",
        )
    return parser


def check_common(namespace: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Refuse a common option given before the name of a command that does not take it
    (``decart-proto --poll-interval 1 status ID``), as its own parser refuses it after."""
    command = namespace.command
    refused = []
    if command not in _ACCOUNT:
        refused += ["api_key", "base_url"]
    if command not in _POLLING:
        refused += ["poll_interval"]
    for name in refused:
        if getattr(namespace, name, None) is not None:
            option = "--" + name.replace("_", "-")
            parser.error(f"{command} takes no {option}")


# The names to choose from; the deprecated ones still work, with a warning.
_CURRENT_MODELS = [name for name in models.VIDEO_MODELS if name not in models.DEPRECATED]
_JOB_ID_HELP = "the id submit printed (after --, when it starts with a dash)"


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
        help=f"the model (default: {DEFAULT_MODEL}); one of: {', '.join(_CURRENT_MODELS)}",
    )
    group.add_argument("-p", "--prompt", help="what to do with the video")
    group.add_argument("--reference-image", metavar="FILE", help="an image guiding the edit")
    group.add_argument(
        "--seed", type=int, metavar="N", help="an integer seed, for repeatable results"
    )
    group.add_argument("--resolution", metavar="RES", help="for example 720p")
    group.add_argument(
        "--enhance-prompt",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let the service rewrite the prompt (model default when not given)",
    )


def _output_options(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help=f"where to save the video (default: {default}); - writes it to stdout",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")


def build_parser(secret: str = "") -> _Parser:
    """The parser, and its subcommands' parsers, each told the key so that an error never
    echoes it."""
    parser = _Parser(
        prog=PROG,
        description="Submit videos to Decart's Queue API, follow the jobs and save the results.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common(None)],
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
            parents=[_common(name)],
        )

    submit = command(
        "submit",
        "upload a video, wait for the job and save the result",
        'decart-proto submit in.mp4 --prompt "Anime style" -o out.mp4',
    )
    submit.add_argument("input", metavar="INPUT", help="the video to edit; - reads it from stdin")
    _model_options(submit)
    _output_options(submit, "INPUT's name with -edited.mp4, in the current directory")
    submit.add_argument(
        "--no-wait",
        action="store_true",
        help="print the job id once submitted, and stop (wait JOB_ID saves the result later)",
    )

    status = command("status", "print a job's status", "decart-proto status JOB_ID")
    status.add_argument("job_id", metavar="JOB_ID", help=_JOB_ID_HELP)

    wait = command(
        "wait",
        "wait for a submitted job and save its result",
        "decart-proto wait JOB_ID -o out.mp4",
    )
    wait.add_argument("job_id", metavar="JOB_ID", help=_JOB_ID_HELP)
    _output_options(wait, "JOB_ID.mp4")

    result = command(
        "result", "download a finished job's result", "decart-proto result JOB_ID -o out.mp4"
    )
    result.add_argument("job_id", metavar="JOB_ID", help=_JOB_ID_HELP)
    _output_options(result, "JOB_ID.mp4")

    batch = command(
        "batch",
        "many videos at once, resumable: rerun the same command after a crash or Ctrl-C",
        'decart-proto batch clips/*.mp4 --prompt "Anime style" --out-dir edited/',
    )
    batch.add_argument(
        "inputs", metavar="INPUT", nargs="+", help="the videos; each saved as DIR/NAME.mp4"
    )
    _model_options(batch)
    batch.add_argument(
        "--out-dir", required=True, metavar="DIR", help="results go here (made when missing)"
    )
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
    demo.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to save the video (default: output.mp4, or output-N.mp4 when that exists); "
        "- writes it to stdout",
    )
    demo.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    demo.add_argument(
        "--input", metavar="FILE", help="your own video (default: a sample); - reads stdin"
    )
    demo.add_argument("-m", "--model", default=DEFAULT_MODEL, help=argparse.SUPPRESS)
    prompt = "Transform into anime style"
    demo.add_argument(
        "-p", "--prompt", default=prompt, help=f"what to do with the video (default: {prompt!r})"
    )
    demo.add_argument(
        "--pending-seconds",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how long the emulator keeps the job pending (default: 1)",
    )
    demo.add_argument(
        "--processing-seconds",
        type=float,
        default=1.5,
        metavar="SECONDS",
        help="how long it then keeps it processing (default: 1.5)",
    )

    completion = commands.add_parser(
        "completion",
        help="print the shell's completion script (bash, zsh or tcsh)",
        description="Print the completion script of SHELL for decart-proto, on stdout.",
        epilog=COMPLETION_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    completion.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or tcsh")

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
