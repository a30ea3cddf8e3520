"""``decart-proto``: the Queue API from a terminal, on the blocking transport.

Commands: submit, status, wait, result, batch, demo, emulator. Each prints its result on stdout
(one JSON object with ``--json``), progress and notes on stderr, and ends with an exit code that
says what kind of failure happened (:class:`._exit.ExitCode`, documented in docs/cli.md).

This module is the entry point only: it parses, dispatches, and turns every failure into one
line and an exit code. The commands, the checks and the display are modules of their own, each
importing only modules below it (a test parses the imports and refuses a cycle).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from ._args import PROG, BatchArgs, DemoArgs, JobArgs, JobOptions, Settings, SubmitArgs, read
from ._batch import run_batch
from ._commands import cmd_result, cmd_status, cmd_submit, cmd_wait
from ._completion import print_completion
from ._demo import run_demo
from ._exit import CliError, ExitCode, classify
from ._parser import build_parser, check_common, command_at, secret_from
from ._progress import make_reporter
from ._session import Session
from ._text import one_line, say

__all__ = ["main"]

Command = Callable[[Session, argparse.Namespace], int]

COMMANDS: dict[str, Command] = {
    "submit": lambda s, ns: cmd_submit(s, read(SubmitArgs, ns), read(JobOptions, ns)),
    "status": lambda s, ns: cmd_status(s, read(JobArgs, ns)),
    "wait": lambda s, ns: cmd_wait(s, read(JobArgs, ns)),
    "result": lambda s, ns: cmd_result(s, read(JobArgs, ns)),
    "batch": lambda s, ns: run_batch(s, read(BatchArgs, ns), read(JobOptions, ns)),
    "demo": lambda s, ns: run_demo(s, read(DemoArgs, ns), read(JobOptions, ns)),
}


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
    secret = secret_from(argv).strip()
    parser = build_parser(secret)
    at = command_at(argv, parser)
    if at is not None and argv[at] == "emulator":
        # The emulator's own options and --help, untouched (ours before it change nothing).
        rest = argv[at + 1 :]
        return _finish(None, lambda: _run_emulator(rest), secret, json_mode=False)
    namespace = parser.parse_args(argv)
    if namespace.command is None:
        say(sys.stderr, parser.format_help().splitlines())
        return ExitCode.BAD_INPUT
    check_common(namespace, parser)
    if namespace.command == "completion":
        shell = namespace.shell
        return _finish(None, lambda: print_completion(parser, shell), secret, json_mode=False)
    settings = read(Settings, namespace)
    reporter = make_reporter(sys.stderr, settings.quiet, secret)
    session = Session(settings, secret, reporter)
    command = COMMANDS[namespace.command]
    try:
        return _finish(session, lambda: command(session, namespace), secret, settings.json)
    finally:
        reporter.close()


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
    if session is not None and session.job_id and error.resumable:
        hint = "resume with: " + session.resume_command(session.job_id, session.resume_output)
    if json_mode:
        obj: dict[str, Any] = {
            "error": {"kind": error.code.kind, "message": text, "exit_code": int(error.code)}
        }
        if session is not None and session.job_id:
            obj["job_id"] = session.job_id
        if error.status is not None:
            obj["status"] = error.status
        elif error.code is ExitCode.JOB_FAILED:
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
    elif session is not None and session.submitting:
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
