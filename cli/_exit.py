"""Exit codes: every expected failure of the ``decart-proto`` command becomes a kind, a
distinct exit code and a message (printed as one line by :func:`._text.one_line`).

Scripts branch on the code, people read the line; a traceback is only for bugs.
"""

from __future__ import annotations

import enum
import os

from decart_proto import (
    DeadlineExceededError,
    DecartSDKError,
    InvalidAPIKeyError,
    InvalidBaseURLError,
    InvalidInputError,
    LocalProtocolError,
    ModelNotFoundError,
    NetworkError,
    OutputError,
    QueueResultError,
    QueueStatusError,
    QueueSubmitError,
    RemoteProtocolError,
)
from decart_proto._job import resume_hint

__all__ = ["CliError", "ExitCode", "classify"]


class ExitCode(enum.IntEnum):
    """The documented exit codes (docs/cli.md); 2 is also argparse's usage error."""

    OK = 0
    INTERNAL = 1
    BAD_INPUT = 2
    AUTH = 3
    SERVER = 4
    NETWORK = 5
    JOB_FAILED = 6
    DEADLINE = 7
    NOT_READY = 8  # `result` on a job still pending or processing: try `wait`, or again later
    INTERRUPTED = 130  # 128 + SIGINT, the shell's convention

    @property
    def kind(self) -> str:
        return self.name.lower().replace("_", "-")


class CliError(Exception):
    """A failure the command explains itself: a code, a message and an optional hint; *status*
    is the job's, when the failure is about a job's state (``--json`` reports it).
    *resumable*: the job goes on, and waiting for it again can save its result (a deadline, an
    output that failed); the command then gives the ``wait`` command to paste."""

    def __init__(
        self,
        code: ExitCode,
        message: str,
        hint: str = "",
        status: str | None = None,
        *,
        resumable: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.status = status
        self.resumable = resumable


_MORE_TIME = "check --base-url and your connection, or allow more time with --timeout"


def _http_kind(status: int) -> ExitCode:
    if status in (401, 403):
        return ExitCode.AUTH
    if 400 <= status < 500 and status not in (408, 429):
        return ExitCode.BAD_INPUT  # the server refused what we asked for: 404, 409, 413, 422
    return ExitCode.SERVER


def classify(exc: BaseException) -> CliError:
    """The CLI's view of an exception the client or the file system raised on purpose."""
    error = _classify(exc)
    job_id = exc.data.get("job_id") if isinstance(exc, DecartSDKError) else None
    if isinstance(job_id, str) and job_id:
        # The client's message ends with the job id to resume with; the command says it once,
        # as a command to paste, where it knows one (``_main``: a job it waited for).
        sentence = resume_hint(job_id)
        if sentence in error.message:
            error.message = error.message.replace(sentence, "")
            error.resumable = True
    return error


def _classify(exc: BaseException) -> CliError:
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, InvalidAPIKeyError):
        return CliError(
            ExitCode.AUTH,
            "missing API key",
            "pass --api-key or set DECART_API_KEY (`decart-proto demo` needs none)",
        )
    if isinstance(exc, DeadlineExceededError):
        return CliError(ExitCode.DEADLINE, exc.message, _MORE_TIME, resumable=True)
    if isinstance(exc, OutputError):  # the result could not be written where it was asked to go
        return CliError(ExitCode.BAD_INPUT, exc.message)
    if isinstance(exc, (QueueSubmitError, QueueStatusError, QueueResultError)):
        status = exc.data.get("status")
        if isinstance(status, int) and status >= 300:
            code = _http_kind(status)
            hint = "check the API key" if code is ExitCode.AUTH else ""
            return CliError(code, exc.message, hint)
        if isinstance(status, int):  # a 2xx answer the API's contract does not allow
            return CliError(ExitCode.SERVER, exc.message)
        # No whole answer arrived: refused, reset, closed early, timed out.
        return CliError(ExitCode.NETWORK, exc.message, "check --base-url and your connection")
    if isinstance(exc, RemoteProtocolError):
        return CliError(ExitCode.SERVER, exc.message)
    if isinstance(exc, NetworkError):
        return CliError(ExitCode.NETWORK, exc.message)
    if isinstance(exc, ModelNotFoundError):
        return CliError(ExitCode.BAD_INPUT, f"unknown model {exc.model!r}", "see --help for models")
    if isinstance(exc, (InvalidInputError, InvalidBaseURLError, LocalProtocolError)):
        return CliError(ExitCode.BAD_INPUT, exc.message)
    if isinstance(exc, DecartSDKError):
        return CliError(ExitCode.SERVER, exc.message)
    if isinstance(exc, OSError):
        where = f"{os.fsdecode(exc.filename)}: " if exc.filename else ""
        return CliError(ExitCode.BAD_INPUT, f"{where}{exc.strerror or exc}")
    raise exc
