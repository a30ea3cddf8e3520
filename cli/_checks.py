"""Checks made before anything is sent: the inputs exist and can be read, the output can be
saved, the job's options pass the model's rules. A command that would fail after a paid upload
fails here instead, with exit code 2.

Every command (``submit``, ``wait``, ``result``, ``batch``, ``demo``) takes its checks from this
one module, so that they say the same thing in the same words.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings
from typing import TYPE_CHECKING, Any

from decart_proto.transports._common import AtomicFileOutput

from decart_proto import DecartSDKError, models, prepare_submit

from ._args import PROG, JobOptions
from ._exit import CliError, ExitCode
from ._stdio import check_stdin, check_stdout, is_stdio
from ._text import say

if TYPE_CHECKING:
    from ._session import Session

__all__ = [
    "check_destination",
    "check_input",
    "check_output",
    "check_source",
    "safe_name",
    "submit_options",
]


def check_input(path: str, what: str = "input") -> str:
    if is_stdio(path):
        raise CliError(
            ExitCode.BAD_INPUT,
            f"the {what} cannot be stdin (-) here",
            "only the video of submit and demo can; name a file",
        )
    if not os.path.exists(path):
        raise CliError(ExitCode.BAD_INPUT, f"{what} file {path!r} does not exist")
    if not os.path.isfile(path):
        raise CliError(ExitCode.BAD_INPUT, f"{what} {path!r} is not a regular file")
    if not os.access(path, os.R_OK):
        raise CliError(ExitCode.BAD_INPUT, f"{what} file {path!r} is not readable")
    return path


def check_source(path: str) -> str:
    """The video to upload: a file, or ``-`` for stdin."""
    if is_stdio(path):
        check_stdin()
        return path
    return check_input(path)


def check_destination(session: Session, path: str, force: bool) -> str:
    """Where ``-o`` saves the result: a file (:func:`check_output`), or ``-`` for stdout, which
    then carries the video alone (the session prints its answer on stderr)."""
    if is_stdio(path):
        check_stdout(session.json)
        session.stdout_is_output = True
        return path
    return check_output(path, force)


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


def submit_options(job: JobOptions) -> dict[str, Any]:
    """The submit options besides model and data, checked against the model's rules now so
    that a batch refuses before its first upload."""
    options: dict[str, Any] = {
        "prompt": job.prompt,
        "seed": job.seed,
        "resolution": job.resolution,
        "enhance_prompt": job.enhance_prompt,
    }
    if job.reference_image is not None:
        options["reference_image"] = check_input(job.reference_image, "reference image")
    options = {k: v for k, v in options.items() if v is not None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        model = models.video(job.model)
    for warning in caught:
        say(sys.stderr, f"{PROG}: warning: {warning.message}")
    prepare_submit({**options, "model": model, "data": b""})
    return options


def safe_name(job_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", job_id).lstrip(".") or "job"
