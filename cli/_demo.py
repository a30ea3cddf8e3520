"""``decart-proto demo``: the main job end to end, offline, in a few seconds.

A throwaway emulator on a free loopback port, the packaged sample video, the real client and the
same progress display as ``submit``. The result goes to ``output.mp4`` in the current directory,
or ``output-1.mp4``, ``output-2.mp4``… when that exists, so that the README's Quickstart can be
run again and again without ever overwriting a file; ``-o FILE`` names it exactly (and then
refuses an existing file without ``--force``, as every other command does).
"""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from typing import Any

from decart_proto.transports.blocking import DecartClient

from ._args import PROG, DemoArgs, JobOptions
from ._checks import check_destination, check_source, submit_options
from ._event_lines import event_lines
from ._exit import CliError, ExitCode
from ._progress import human_bytes
from ._run import JobSpec, run_job
from ._session import Session, poll_policy
from ._stdio import is_stdio

__all__ = ["fresh_output", "run_demo"]


def fresh_output(directory: str = ".", stem: str = "output", suffix: str = ".mp4") -> str:
    """``output.mp4``, or the first ``output-N.mp4`` that does not exist."""
    name = stem + suffix
    n = 0
    while os.path.lexists(os.path.join(directory, name)):
        n += 1
        name = f"{stem}-{n}{suffix}"
    return os.path.join(directory, name) if directory != "." else name


def size(path: str) -> str:
    return human_bytes(os.path.getsize(path))


def run_demo(session: Session, args: DemoArgs, job: JobOptions) -> int:
    try:
        from decart_emulator import Emulator, sample_video_path  # noqa: PLC0415
    except ImportError as exc:
        raise CliError(
            ExitCode.BAD_INPUT,
            f"the demo needs the emulator, which is not installed ({exc})",
            "pip install 'decart-proto[cli,emulator]'",
        ) from None
    source = check_source(args.input) if args.input else str(sample_video_path())
    output = check_destination(session, args.output or fresh_output(), args.force)
    saved = "the result to stdout" if is_stdio(output) else os.path.abspath(output)
    # The demo takes a model and a prompt only: its parser has no other job option.
    options = submit_options(job)
    say = session.reporter.line
    key = f"demo-{secrets.token_hex(8)}"  # the emulator's own; nothing real to protect
    with Emulator(
        api_keys=(key,),
        pending_seconds=args.pending_seconds,
        processing_seconds=args.processing_seconds,
    ) as emulator:
        say(f"Started a local Decart Queue API emulator at {emulator.base_url}")
        what = "stdin" if is_stdio(source) else f"{os.path.basename(source)} ({size(source)})"
        say(f'Submitting {what} to {job.model} with the prompt "{job.prompt}"')
        statuses: list[str] = []
        spec = JobSpec("demo", output, source, job.model, options)
        started = time.monotonic()

        def remember(job_id: str) -> None:
            session.job_id = job_id

        with DecartClient(
            api_key=key,
            base_url=emulator.base_url,
            poll=poll_policy(session.settings.poll_interval),
            event_hook=event_lines(session.reporter, session.settings.verbose),
        ) as client:
            outcome = run_job(
                client,
                spec,
                session.reporter,
                timeout=session.settings.timeout,
                on_job_id=remember,
                on_status=statuses.append,
            )
        took = time.monotonic() - started
        requests = [tuple(r) for r in emulator.requests]
        base_url = emulator.base_url
    session.job_id = None  # the emulator is gone: there is nothing to resume
    if outcome.status != "completed":
        raise CliError(ExitCode.JOB_FAILED, f"the demo job failed: {outcome.error}")
    counted = Counter(f"{method} {path} → {status}" for method, path, status in requests)
    wire = "; ".join(f"{req}" + (f" ({n} times)" if n > 1 else "") for req, n in counted.items())
    obj: dict[str, Any] = {
        **outcome.as_json(),
        "input": source,
        "model": job.model,
        "prompt": job.prompt,
        "statuses": statuses,
        "seconds": round(took, 2),
        "emulator": base_url,
        "requests": [list(r) for r in requests],
    }
    text = [
        f"Saved {saved} ({human_bytes(outcome.bytes)})",
        f"  job       {outcome.job_id}: {' → '.join(statuses)} in {took:.1f} s",
        f"  requests  {wire}",
        "The emulator has stopped. The same job on Decart's service:",
        "  export DECART_API_KEY=...   # your key, from platform.decart.ai",
        f'  {PROG} submit your-video.mp4 --prompt "{job.prompt}" -o edited.mp4',
    ]
    session.result(saved if session.quiet else text, obj)
    return ExitCode.OK
