"""``decart-proto completion SHELL`` prints a completion script made from the parser itself:
the bash one is loaded into a real bash and asked to complete, as a user's Tab would."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, cli_env, run_cli

COMMANDS = ("submit", "status", "wait", "result", "batch", "demo", "emulator", "completion")


def _script(shell: str, tmp_path: Path) -> str:
    done = run_cli(["completion", shell], None, tmp_path, env=cli_env(None))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


def _complete(script: Path, cwd: Path, *words: str) -> list[str]:
    """What bash offers for the last of *words*, the completion function called as bash
    calls it on Tab."""
    line = " ".join(("decart-proto", *words))
    program = (
        f"source {script}\n"
        f"COMP_WORDS=(decart-proto {' '.join(words)}); COMP_CWORD={len(words)}\n"
        f"COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}\n"
        f"_shtab_decart_proto decart-proto '{words[-1]}' '{(('decart-proto', *words))[-2]}'\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [word for word in done.stdout.splitlines() if word]


def test_bash_completes_commands_options_and_files(tmp_path: Path) -> None:
    script = tmp_path / "decart-proto.bash"
    script.write_text(_script("bash", tmp_path))
    syntax = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, timeout=30, check=False
    )
    assert syntax.returncode == 0, syntax.stderr

    work = tmp_path / "work"
    (work / "clips").mkdir(parents=True)
    (work / "clip.mp4").write_bytes(b"x")
    assert sorted(_complete(script, work, "s")) == ["status", "submit"]
    assert set(_complete(script, work, "")) >= set(COMMANDS)
    # Each command's own options: status does not poll.
    status = _complete(script, work, "status", "--")
    assert "--timeout" in status and "--api-key" in status
    assert "--poll-interval" not in status
    assert "--poll-interval" in _complete(script, work, "wait", "--")
    # Files where a file is named, folders where a folder is.
    assert "clip.mp4" in _complete(script, work, "submit", "cl")
    assert _complete(script, work, "batch", "--out-dir", "cl") == ["clips"]


@pytest.mark.parametrize("shell", ["zsh", "tcsh"])
def test_zsh_and_tcsh_scripts_name_every_command(shell: str, tmp_path: Path) -> None:
    script = _script(shell, tmp_path)
    assert "decart-proto" in script
    for command in COMMANDS:
        assert command in script, command


def test_an_unknown_shell_is_refused(tmp_path: Path) -> None:
    done = run_cli(["completion", "fish"], None, tmp_path, env=cli_env(None))
    assert "fish" in assert_one_line_error(done, 2)
