"""``decart-proto``: the Queue API from a terminal, on the blocking transport.

Commands: submit, status, wait, result, batch, demo, emulator. Each prints its result on stdout
(one JSON object with ``--json``), progress and notes on stderr, and ends with an exit code that
says what kind of failure happened (``_cli_exit.ExitCode``, documented in docs/cli.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from decart_proto import DecartSDKError, PollPolicy, __version__, models, prepare_submit

from ._cli_exit import CliError, ExitCode, classify
from ._cli_progress import Reporter, human_bytes, make_reporter
from ._cli_run import JobSpec, Outcome, fetch_result, run_job, submit_only
from ._cli_text import one_line, say
from ._common import AtomicFileOutput

__all__ = ["main"]

PROG = "decart-proto"
DEFAULT_MODEL = "lucy-2.1"

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
            7 deadline passed, 130 interrupted (Ctrl-C), 1 a bug in decart-proto
"""


@dataclass
class Session:
    """One invocation: its settings, where it writes, and the job being waited for (so that a
    Ctrl-C can say how to resume it)."""

    args: argparse.Namespace
    secret: str
    reporter: Reporter
    job_id: str | None = None
    resume_output: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    @property
    def quiet(self) -> bool:
        return bool(self.args.quiet)

    def result(self, lines: str | list[str], obj: dict[str, Any]) -> None:
        """The command's answer on stdout: *lines* for people, *obj* with --json."""
        self.reporter.close()  # a live display ends before the answer is printed below it
        answer = json.dumps(obj, sort_keys=True) if self.json else lines
        if answer:
            say(sys.stdout, answer, self.secret)

    def client(self) -> Any:
        from .blocking import DecartClient  # noqa: PLC0415 - after argument checks

        return DecartClient(
            api_key=self.args.api_key,
            base_url=self.args.base_url or os.environ.get("DECART_BASE_URL") or None,
            poll=poll_policy(self.args.poll_interval),
        )

    def resume_command(self, job_id: str, output: str | None) -> str:
        words = [PROG, "wait", job_id]
        if output:
            words += ["-o", output]
        if self.args.base_url:
            words += ["--base-url", self.args.base_url]
        return " ".join(shlex.quote(w) for w in words)


def poll_policy(interval: float | None) -> PollPolicy | None:
    if interval is None:
        return None
    return PollPolicy(
        initial_delay=min(0.5, interval), interval=interval, max_interval=max(30.0, interval)
    )


# -- argument parsing -----------------------------------------------------------------------


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


def build_parser() -> _Parser:
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
    return parser


# -- checks made before anything is sent ------------------------------------------------------


def _check_input(path: str, what: str = "input") -> str:
    if not os.path.exists(path):
        raise CliError(ExitCode.BAD_INPUT, f"{what} file {path!r} does not exist")
    if not os.path.isfile(path):
        raise CliError(ExitCode.BAD_INPUT, f"{what} {path!r} is not a regular file")
    if not os.access(path, os.R_OK):
        raise CliError(ExitCode.BAD_INPUT, f"{what} file {path!r} is not readable")
    return path


def check_output(path: str, force: bool, option: str = "-o") -> str:
    """Refuse, before anything is sent, an output the job's result could not be saved to;
    *option* is the one that chooses it, for the hint."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        problem = "is not a directory" if os.path.exists(directory) else "does not exist"
        raise CliError(ExitCode.BAD_INPUT, f"the output's folder {directory!r} {problem}")
    if os.path.isdir(path):
        raise CliError(ExitCode.BAD_INPUT, f"the output {path!r} is a directory")
    if os.path.exists(path) and not force:
        raise CliError(
            ExitCode.BAD_INPUT,
            f"the output {path!r} exists",
            f"pass --force to overwrite it, or {option} to choose another",
        )
    _check_writable(path, directory, option)
    return path


def _check_writable(path: str, directory: str, option: str) -> None:
    """Find out by doing it: the client's own writer creates its temporary file beside *path*,
    then removes it. Permission bits cannot tell (root ignores them, while a read-only mount, a
    full inode table or a name too long for the temporary file refuse root too)."""
    output = AtomicFileOutput(path)
    try:
        output.write(b"")
    except (OSError, DecartSDKError) as exc:
        cause = exc if isinstance(exc, OSError) else exc.__cause__
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(exc)
        raise CliError(
            ExitCode.BAD_INPUT,
            f"cannot save the output in {directory!r}: creating its temporary file there "
            f"failed ({reason})",
            f"choose another {option}, or a folder you can write to",
        ) from None
    finally:
        with contextlib.suppress(OSError):  # nothing was created, or its removal fails alike
            output.discard()


def job_options(args: argparse.Namespace) -> dict[str, Any]:
    """The submit options besides model and data, checked against the model's rules now so
    that a batch refuses before its first upload."""
    options: dict[str, Any] = {
        "prompt": args.prompt,
        "seed": args.seed,
        "resolution": args.resolution,
        "enhance_prompt": args.enhance_prompt,
    }
    if args.reference_image is not None:
        options["reference_image"] = _check_input(args.reference_image, "reference image")
    options = {k: v for k, v in options.items() if v is not None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        model = models.video(args.model)
    for warning in caught:
        say(sys.stderr, f"{PROG}: warning: {warning.message}")
    prepare_submit({**options, "model": model, "data": b""})
    return options


def safe_name(job_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", job_id).lstrip(".") or "job"


# -- the commands -------------------------------------------------------------------------------


def _report(session: Session, outcome: Outcome) -> int:
    if outcome.status == "completed":
        session.result(
            outcome.output or ""
            if session.quiet
            else f"Saved {outcome.output} ({human_bytes(outcome.bytes)}), job {outcome.job_id}",
            outcome.as_json(),
        )
        return ExitCode.OK
    session.job_id = outcome.job_id
    raise CliError(ExitCode.JOB_FAILED, f"job {outcome.job_id} failed: {outcome.error}")


def cmd_submit(session: Session) -> int:
    args = session.args
    _check_input(args.input)
    options = job_options(args)
    output = None
    if not args.no_wait:
        default = os.path.splitext(os.path.basename(args.input))[0] + "-edited.mp4"
        output = check_output(args.output or default, args.force)
    with session.client() as client:
        spec = JobSpec(os.path.basename(args.input), output or "", args.input, args.model, options)
        if args.no_wait:
            session.extra["submitting"] = True
            submitted, uploaded = submit_only(client, spec, session.reporter, args.timeout)
            session.result(
                submitted.job_id
                if session.quiet
                else [
                    f"Submitted job {submitted.job_id}",
                    f"Save its result with: {session.resume_command(submitted.job_id, None)}",
                ],
                {"job_id": submitted.job_id, "status": submitted.status, "uploaded": uploaded},
            )
            return ExitCode.OK
        assert output is not None
        session.resume_output = output

        def remember(job_id: str) -> None:
            session.job_id = job_id

        session.extra["submitting"] = True
        outcome = run_job(client, spec, session.reporter, timeout=args.timeout, on_job_id=remember)
    return _report(session, outcome)


def cmd_status(session: Session) -> int:
    with session.client() as client:
        status = client.queue.status(session.args.job_id, timeout=session.args.timeout)
    session.result(
        status.status if session.quiet else f"{status.job_id}: {status.status}",
        {"job_id": status.job_id, "status": status.status},
    )
    return ExitCode.OK


def cmd_wait(session: Session) -> int:
    args = session.args
    output = check_output(args.output or safe_name(args.job_id) + ".mp4", args.force)
    session.job_id, session.resume_output = args.job_id, output
    with session.client() as client:
        spec = JobSpec(args.job_id, output, job_id=args.job_id)
        outcome = run_job(client, spec, session.reporter, timeout=args.timeout)
    return _report(session, outcome)


def cmd_result(session: Session) -> int:
    args = session.args
    output = check_output(args.output or safe_name(args.job_id) + ".mp4", args.force)
    with session.client() as client:
        outcome = fetch_result(client, args.job_id, output, session.reporter, args.timeout)
    return _report(session, outcome)


def cmd_batch(session: Session) -> int:
    from ._cli_batch import run_batch  # noqa: PLC0415

    return run_batch(session)


def cmd_demo(session: Session) -> int:
    from ._cli_demo import run_demo  # noqa: PLC0415

    return run_demo(session)


COMMANDS: dict[str, Callable[[Session], int]] = {
    "submit": cmd_submit,
    "status": cmd_status,
    "wait": cmd_wait,
    "result": cmd_result,
    "batch": cmd_batch,
    "demo": cmd_demo,
}


# -- the entry point ----------------------------------------------------------------------------


def _secret_from(argv: Sequence[str]) -> str:
    """The key, found before parsing so that even a usage error cannot print it."""
    for i, word in enumerate(argv):
        if word == "--api-key" and i + 1 < len(argv):
            return argv[i + 1]
        if word.startswith("--api-key="):
            return word.split("=", 1)[1]
    return os.environ.get("DECART_API_KEY", "")


def _run_emulator(argv: Sequence[str]) -> int:
    try:
        from decart_emulator.__main__ import main as emulator_main  # noqa: PLC0415
    except ImportError as exc:
        raise CliError(
            ExitCode.BAD_INPUT,
            f"the emulator is not installed ({exc})",
            "pip install 'decart-proto[emulator]'",
        ) from None
    return emulator_main(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    secret = _secret_from(argv).strip()
    parser = build_parser()
    parser.secret = secret
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.secret = secret
    at = _command_at(argv, parser)
    if at is not None and argv[at] == "emulator":
        # The emulator's own options and --help, untouched (ours before it change nothing).
        rest = argv[at + 1 :]
        return _finish(None, lambda: _run_emulator(rest), secret, json_mode=False)
    args = parser.parse_args(argv)
    if args.command is None:
        say(sys.stderr, parser.format_help().splitlines())
        return ExitCode.BAD_INPUT
    reporter = make_reporter(sys.stderr, args.quiet, secret)
    session = Session(args, secret, reporter)
    try:
        return _finish(session, lambda: COMMANDS[args.command](session), secret, args.json)
    finally:
        reporter.close()


def _command_at(argv: Sequence[str], parser: argparse.ArgumentParser) -> int | None:
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


def _finish(session: Session | None, run: Callable[[], int], secret: str, json_mode: bool) -> int:
    """Run a command and turn every expected failure into a line and an exit code."""
    try:
        return int(run())
    except KeyboardInterrupt:
        if session is not None:
            session.reporter.close()
        return _interrupted(session, json_mode)
    except BrokenPipeError:
        return ExitCode.OK
    except Exception as exc:
        try:
            error = classify(exc)
        except Exception:
            if os.environ.get("DECART_PROTO_DEBUG"):
                say(sys.stderr, traceback.format_exc().splitlines(), secret)
            text = one_line(f"{type(exc).__name__}: {exc}", secret)
            say(
                sys.stderr,
                f"{PROG}: internal error (a bug, please report it): {text}; "
                "set DECART_PROTO_DEBUG=1 for the traceback",
            )
            return ExitCode.INTERNAL
        if session is not None:
            session.reporter.close()
        _print_error(error, secret, json_mode, session)
        return int(error.code)


def _print_error(error: CliError, secret: str, json_mode: bool, session: Session | None) -> None:
    text = one_line(error.message, secret)
    hint = one_line(error.hint, secret)
    if session is not None and session.job_id and error.code is ExitCode.DEADLINE:
        hint = "resume with: " + session.resume_command(session.job_id, session.resume_output)
    if json_mode:
        obj: dict[str, Any] = {
            "error": {"kind": error.code.kind, "message": text, "exit_code": int(error.code)}
        }
        if session is not None and session.job_id:
            obj["job_id"] = session.job_id
        if error.code is ExitCode.JOB_FAILED:
            obj["status"] = "failed"
        say(sys.stdout, json.dumps(obj, sort_keys=True), secret)
    say(sys.stderr, f"{PROG}: error: {text}" + (f"; {hint}" if hint else ""), secret)


def _interrupted(session: Session | None, json_mode: bool) -> int:
    if session is not None and session.job_id:
        command = session.resume_command(session.job_id, session.resume_output)
        text = (
            f"{PROG}: interrupted; job {session.job_id} goes on on the server. "
            f"Resume with: {command}"
        )
        obj: dict[str, Any] = {"interrupted": True, "job_id": session.job_id, "resume": command}
    elif session is not None and session.extra.get("submitting"):
        text = (
            f"{PROG}: interrupted before the server answered the submit; if the upload had "
            "finished, a job may exist, but no job id was received"
        )
        obj = {"interrupted": True, "job_id": None}
    else:
        text = f"{PROG}: interrupted"
        obj = {"interrupted": True}
    secret = session.secret if session is not None else ""
    if json_mode:
        say(sys.stdout, json.dumps(obj, sort_keys=True), secret)
    say(sys.stderr, one_line(text, secret))
    return ExitCode.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
