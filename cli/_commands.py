"""The one-job commands: ``submit``, ``status``, ``wait`` and ``result``. Each checks what it can
before anything is sent, runs the job through :mod:`._run` and prints one answer."""

from __future__ import annotations

import os

from decart_proto.transports.blocking import DecartClient

from decart_proto import DecartSDKError, QueueResultError

from ._args import JobArgs, JobOptions, SubmitArgs
from ._checks import check_destination, check_source, safe_name, submit_options
from ._exit import CliError, ExitCode
from ._progress import human_bytes
from ._run import JobSpec, Outcome, fetch_result, run_job, submit_only
from ._session import Session
from ._stdio import is_stdio

__all__ = ["cmd_result", "cmd_status", "cmd_submit", "cmd_wait"]


def _report(session: Session, outcome: Outcome) -> int:
    if outcome.status == "completed":
        size = human_bytes(outcome.bytes)
        if session.stdout_is_output:
            text = f"Wrote the result to stdout ({size}), job {outcome.job_id}"
        else:
            text = f"Saved {outcome.output} ({size}), job {outcome.job_id}"
        session.result(outcome.output or "" if session.quiet else text, outcome.as_json())
        return ExitCode.OK
    session.job_id = outcome.job_id
    raise CliError(ExitCode.JOB_FAILED, f"job {outcome.job_id} failed: {outcome.error}")


def cmd_submit(session: Session, args: SubmitArgs, job: JobOptions) -> int:
    timeout = session.settings.timeout
    check_source(args.input)
    options = submit_options(job)
    label = "stdin" if is_stdio(args.input) else os.path.basename(args.input)
    output = None
    if not args.no_wait:
        default = os.path.splitext(label)[0] + "-edited.mp4"
        output = check_destination(session, args.output or default, args.force)
    with session.client() as client:
        spec = JobSpec(label, output or "", args.input, job.model, options)
        if args.no_wait:
            session.submitting = True
            submitted, uploaded = submit_only(client, spec, session.reporter, timeout)
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

        session.submitting = True
        outcome = run_job(client, spec, session.reporter, timeout=timeout, on_job_id=remember)
    return _report(session, outcome)


def cmd_status(session: Session, args: JobArgs) -> int:
    with session.client() as client:
        status = client.queue.status(args.job_id, timeout=session.settings.timeout)
    session.result(
        status.status if session.quiet else f"{status.job_id}: {status.status}",
        {"job_id": status.job_id, "status": status.status},
    )
    return ExitCode.OK


def cmd_wait(session: Session, args: JobArgs) -> int:
    output = check_destination(session, args.output or safe_name(args.job_id) + ".mp4", args.force)
    session.job_id, session.resume_output = args.job_id, output
    with session.client() as client:
        spec = JobSpec(args.job_id, output, job_id=args.job_id)
        outcome = run_job(client, spec, session.reporter, timeout=session.settings.timeout)
    return _report(session, outcome)


def cmd_result(session: Session, args: JobArgs) -> int:
    output = check_destination(session, args.output or safe_name(args.job_id) + ".mp4", args.force)
    session.job_id, session.resume_output = args.job_id, output
    with session.client() as client:
        try:
            outcome = fetch_result(
                client, args.job_id, output, session.reporter, session.settings.timeout
            )
        except QueueResultError as exc:
            if exc.data.get("status") != 409:
                raise
            raise _unfinished(session, client, args.job_id, output, exc) from exc
    return _report(session, outcome)


def _unfinished(
    session: Session, client: DecartClient, job_id: str, output: str, exc: QueueResultError
) -> CliError:
    """The server has no result for the job (409): its status says why, and what to do."""
    try:
        status: str | None = client.queue.status(job_id, timeout=session.settings.timeout).status
    except DecartSDKError:
        status = None  # the 409 is answer enough
    if status == "failed":
        message = f"job {job_id} failed, so it has no result: {exc.message}"
        return CliError(ExitCode.JOB_FAILED, message, status=status)
    if status in ("pending", "processing"):
        message = f"job {job_id} is still {status}: its result is not ready yet"
    else:  # the status could not be read, or changed since: the server's own answer says why
        message = f"the result of job {job_id} is not ready: {exc.message}"
    return CliError(
        ExitCode.NOT_READY,
        message,
        f"wait for it and save it with: {session.resume_command(job_id, output)}",
        status,
    )
