"""A job id is the server's: whatever it holds, the command printed to resume it gives the
same id back, pasted into a shell. An id starting with a dash (the emulator's ids do, one in
64) once printed ``decart-proto wait -abc``, which argparse read as an unknown option."""

from __future__ import annotations

import shlex

import pytest
from decart_proto.cli._args import wait_command
from decart_proto.cli._exit import classify
from decart_proto.cli._parser import build_parser

from decart_proto import DeadlineExceededError
from decart_proto._job import resume_hint

IDS = ["TTfP38KrHGajBMb", "-TTfP38KrHGajBMb", "--json", "-o", "a b", "it's", "-"]


def _parsed(command: str) -> dict[str, object]:
    words = shlex.split(command)
    assert words[:2] == ["decart-proto", "wait"]
    return vars(build_parser().parse_args(words[1:]))


@pytest.mark.parametrize("job_id", IDS)
def test_the_resume_command_gives_the_same_job_back(job_id: str) -> None:
    args = _parsed(wait_command(job_id, "out dir/out.mp4", "http://127.0.0.1:9"))
    assert args["job_id"] == job_id
    assert args["output"] == "out dir/out.mp4"
    assert args["base_url"] == "http://127.0.0.1:9"
    assert _parsed(wait_command(job_id))["job_id"] == job_id


@pytest.mark.parametrize("job_id", IDS)
def test_a_deadline_keeps_the_message_and_drops_the_clients_resume_sentence(job_id: str) -> None:
    # The command prints its own resume command (above); the client's sentence beside it
    # would say the same thing twice, whatever the id holds.
    message = f"Deadline of 1.0 s passed while waiting for job {job_id} (last status: pending)"
    error = classify(DeadlineExceededError(message + resume_hint(job_id), {"job_id": job_id}))
    assert error.message == message


def test_an_ordinary_id_reads_as_before() -> None:
    assert wait_command("abc", "out.mp4") == "decart-proto wait abc -o out.mp4"
