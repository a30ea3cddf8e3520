"""Each command's --help lists the options it takes, says what they do for it, and nothing
else: ``status`` does not poll, ``demo`` has no account, and every option is explained."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, cli_env, run_cli
from decart_proto.cli._parser import build_parser

COMMANDS = ("submit", "status", "wait", "result", "batch", "demo")


def _help(tmp_path: Path, *args: str) -> str:
    done = run_cli([*args, "--help"], None, tmp_path, env=cli_env(None, COLUMNS="100"))
    assert done.returncode == 0, done.stderr
    return done.stdout


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {"": parser, **commands.choices}


@pytest.mark.parametrize("name", ["", *COMMANDS])
def test_every_option_and_argument_is_explained(name: str) -> None:
    parser = _subparsers()[name]
    unexplained = [
        action.option_strings or action.dest
        for action in parser._actions
        if not action.help and not isinstance(action, argparse._SubParsersAction)
    ]
    assert unexplained == []
    shown = parser.format_help()
    assert "per job" not in shown  # no command's deadline is "per job" but batch's, said so
    # Metavars name what to give (SECONDS, FILE), not the option's own name in capitals.
    assert not re.search(r"--[a-z-]+ [A-Z_]{2,}_[A-Z_]+", shown), shown


def test_status_and_result_do_not_poll(tmp_path: Path) -> None:
    for command in ("status", "result"):
        shown = _help(tmp_path, command)
        assert "--poll-interval" not in shown and "--timeout SECONDS" in shown
        assert "retries included (default: 60 s" in shown
    for command in ("submit", "wait", "batch", "demo"):
        assert "--poll-interval" in _help(tmp_path, command)
    assert "whole job's deadline" in _help(tmp_path, "submit")
    assert "each job's deadline" in _help(tmp_path, "batch")


def test_the_demo_takes_no_account(tmp_path: Path) -> None:
    shown = _help(tmp_path, "demo")
    assert "--api-key" not in shown and "--base-url" not in shown
    assert "--pending-seconds SECONDS" in shown and "--processing-seconds SECONDS" in shown
    for command in ("submit", "status", "wait", "result", "batch"):
        assert "--api-key KEY" in _help(tmp_path, command)


def test_a_common_option_the_command_does_not_take_is_refused_before_its_name(
    tmp_path: Path,
) -> None:
    env = cli_env(None, DECART_API_KEY="k" * 20, DECART_BASE_URL="http://127.0.0.1:9")
    polled = run_cli(["--poll-interval", "1", "status", "job-1"], None, tmp_path, env=env)
    assert "status takes no --poll-interval" in assert_one_line_error(polled, 2)
    keyed = run_cli(["--api-key", "secret-key-123", "demo"], None, tmp_path, env=env)
    line = assert_one_line_error(keyed, 2)
    assert "demo takes no --api-key" in line and "secret-key-123" not in line
    # After the name, argparse's own refusal.
    after = run_cli(["status", "job-1", "--poll-interval", "1"], None, tmp_path, env=env)
    assert "--poll-interval" in assert_one_line_error(after, 2)


def test_the_emulators_timing_options_are_explained(tmp_path: Path) -> None:
    shown = _help(tmp_path, "emulator")
    for option in ("--pending-seconds", "--processing-seconds", "--job-limit-seconds"):
        # The option's line, then its help: words, not the next option.
        assert re.search(rf"{option} SECONDS\s+[a-z]", shown), (option, shown)
    assert re.search(r"--max-upload-bytes BYTES\s+[a-z]", shown), shown
