"""``decart-proto batch``: many jobs on one client, bounded concurrency, resumable.

Every job id is appended to the journal (:mod:`._journal`) the moment the client reports it,
from inside the status callback, before the job is polled. A rerun of the same command folds
the journal back: recorded jobs are waited for, never submitted again; saved results are not
downloaded again.

Ctrl-C stops the batch without losing a job id: uploads are abandoned at their next progress
report from the client (at most 8 MiB later) while part of the body is unsent (the server never
saw a whole body, so no job exists); an upload already sent is given time to return its job id
(which is then journaled); downloads in progress are dropped (nothing
half-written), and no journal line is left half-written. Jobs that were only being polled need
nothing: their ids are in the journal.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
import threading
from dataclasses import dataclass
from typing import Any

from decart_proto.transports.blocking import DecartClient

from ._args import PROG, BatchArgs, JobOptions
from ._checks import check_input, check_output, submit_options
from ._exit import CliError, ExitCode, classify
from ._journal import Journal, JournalEntry
from ._progress import Stopped, human_bytes
from ._run import JobSpec, Outcome, run_job
from ._session import Session
from ._text import one_line, say

__all__ = ["run_batch"]


@dataclass
class Item:
    """One input of the batch and what this run does with it."""

    entry: JournalEntry
    spec: JobSpec
    action: str  # submit, resume, skip-done, skip-failed
    outcome: Outcome | None = None
    error: CliError | None = None


class Phases:
    """Counts workers in a phase that must not be cut short: between starting an upload and
    journaling its job id, and between a job completing and journaling its saved result."""

    def __init__(self) -> None:
        self._count = 0
        self._cond = threading.Condition()

    def enter(self) -> None:
        with self._cond:
            self._count += 1

    def leave(self) -> None:
        with self._cond:
            self._count -= 1
            self._cond.notify_all()

    def busy(self) -> int:
        with self._cond:
            return self._count

    def wait_idle(self) -> None:
        with self._cond:
            while self._count:
                self._cond.wait(0.2)


def _plan(args: BatchArgs, job: JobOptions, journal: Journal) -> list[Item]:
    options = submit_options(job)
    recorded_options = {"model": job.model, **options}
    if "reference_image" in options:
        recorded_options["reference_image"] = os.path.abspath(options["reference_image"])
    items: list[Item] = []
    seen_inputs: set[str] = set()
    seen_outputs: dict[str, str] = {}
    for path in args.inputs:
        check_input(path)
        key = os.path.abspath(path)
        if key in seen_inputs:
            continue
        seen_inputs.add(key)
        # Absolute, as the input's key: a rerun from another directory finds the same files.
        name = os.path.splitext(os.path.basename(path))[0] + ".mp4"
        output = os.path.join(os.path.abspath(args.out_dir), name)
        if output in seen_outputs:
            raise CliError(
                ExitCode.BAD_INPUT,
                f"{path!r} and {seen_outputs[output]!r} would both be saved as {output!r}",
                "rename one of them or run them in two batches",
            )
        seen_outputs[output] = path
        entry = journal.entries.get(key) or JournalEntry(key)
        if entry.state != "new" and entry.options != recorded_options:
            raise CliError(
                ExitCode.BAD_INPUT,
                f"the journal {journal.path} records {path!r} with other options ({entry.options})",
                "rerun with the same options, or use another --out-dir or --journal",
            )
        entry.options = recorded_options
        spec = JobSpec(os.path.basename(path), entry.output or output, path, job.model, options)
        if entry.state == "done" and os.path.exists(spec.output):
            action = "skip-done"
        elif entry.state == "failed" and not args.retry_failed:
            action = "skip-failed"
        elif entry.state in ("submitted", "done"):
            action = "resume"  # done but its file is gone: fetched again, never resubmitted
            spec.job_id = entry.job_id
            check_output(spec.output, True, "--out-dir")  # its result is saved there too
        else:
            entry.job_id, entry.state, entry.output = None, "new", output
            check_output(output, args.force, "--out-dir")
            action = "submit"
        items.append(Item(entry, spec, action))
    return items


def _work(
    session: Session,
    client: DecartClient,
    journal: Journal,
    item: Item,
    stop: threading.Event,
    phases: Phases,
) -> None:
    entry, spec = item.entry, item.spec
    uploading = spec.job_id is None
    downloading = False

    def check() -> None:
        if stop.is_set():
            raise Stopped

    def on_job_id(job_id: str) -> None:
        nonlocal uploading
        entry.job_id, entry.state = job_id, "submitted"
        journal.record("submitted", entry)
        if uploading:
            uploading = False
            phases.leave()

    def on_status(status: str) -> None:
        nonlocal downloading
        if status == "completed" and not downloading:
            downloading = True
            phases.enter()
        elif stop.is_set():
            raise Stopped

    if uploading:
        phases.enter()
    try:
        if item.action == "resume" and os.path.exists(spec.output) and entry.state == "submitted":
            # Saved by an earlier run that stopped before journaling it: the file is whole
            # (renamed into place only once complete).
            outcome = Outcome(entry.job_id, "completed", spec.output, os.path.getsize(spec.output))
        else:
            outcome = run_job(
                client,
                spec,
                session.reporter,
                timeout=session.settings.timeout,
                on_job_id=on_job_id,
                on_status=on_status,
                check=check,
            )
        item.outcome = outcome
        if outcome.status == "completed":
            entry.state = "done"
            journal.record("done", entry, bytes=outcome.bytes)
        else:
            entry.state, entry.error = "failed", outcome.error
            journal.record("failed", entry, error=outcome.error)
    except Stopped:
        pass
    except Exception as exc:
        try:
            item.error = classify(exc)
        except Exception:
            item.error = CliError(ExitCode.INTERNAL, f"{type(exc).__name__}: {exc}")
    finally:
        if uploading:
            phases.leave()
        if downloading:
            phases.leave()


def _resume_command(argv: list[str]) -> str:
    words, skip = [], False
    for word in argv:
        if skip:
            skip = False
        elif word == "--api-key":
            skip = True
        elif not word.startswith("--api-key="):
            words.append(word)
    return " ".join(shlex.quote(w) for w in [PROG, *words])


def run_batch(session: Session, args: BatchArgs, job: JobOptions) -> int:
    if args.concurrency < 1:
        raise CliError(ExitCode.BAD_INPUT, "--concurrency must be at least 1")
    out_dir = args.out_dir
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise CliError(ExitCode.BAD_INPUT, f"cannot create {out_dir!r}: {exc.strerror}") from None
    journal = Journal(args.journal or os.path.join(out_dir, "decart-batch.jsonl"))
    try:
        items = _plan(args, job, journal)
        todo = [item for item in items if item.action in ("submit", "resume")]
        for item in items:
            if item.action == "skip-done":
                session.reporter.line(f"{item.spec.label}: already saved as {item.spec.output}")
            elif item.action == "resume":
                session.reporter.line(f"{item.spec.label}: resuming job {item.spec.job_id}")
        client = session.client() if todo else None
        stop = threading.Event()
        phases = Phases()
        queue = list(reversed(todo))
        lock = threading.Lock()

        def worker() -> None:
            while not stop.is_set():
                with lock:
                    if not queue:
                        return
                    item = queue.pop()
                assert client is not None
                _work(session, client, journal, item, stop, phases)

        threads = [
            threading.Thread(target=worker, name=f"batch-{n}", daemon=True)
            for n in range(min(args.concurrency, len(todo)))
        ]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
        except KeyboardInterrupt:
            _interrupt(session, journal, stop, phases)
    finally:
        journal.close()
    if client is not None:
        client.close()
    return _summary(session, items, journal.path)


def _interrupt(session: Session, journal: Journal, stop: threading.Event, phases: Phases) -> None:
    """Stop, keep every job id, and exit 130 without waiting for jobs being polled."""
    stop.set()
    if phases.busy():
        session.reporter.line(
            "interrupted: letting uploads in flight return their job ids "
            "(Ctrl-C again to abandon them)"
        )
        with contextlib.suppress(KeyboardInterrupt):
            phases.wait_idle()
    journal.close()  # waits for a line being written, then refuses more
    session.reporter.close()
    command = _resume_command(sys.argv[1:])
    say(
        sys.stderr,
        one_line(
            f"{PROG}: interrupted; the journal {journal.path} holds every job id. "
            f"Resume with: {command}",
            session.secret,
        ),
    )
    if session.json:
        say(sys.stdout, json.dumps({"interrupted": True, "journal": journal.path}))
    # Workers still polling hold nothing that matters; a daemon thread stopped in the middle of
    # interpreter shutdown can print noise, so leave at once.
    os._exit(ExitCode.INTERRUPTED)


def _summary(session: Session, items: list[Item], journal_path: str) -> int:
    rows: list[dict[str, Any]] = []
    lines: list[str] = []
    code = ExitCode.OK
    counts = {"completed": 0, "failed": 0, "error": 0}
    for item in items:
        spec, entry = item.spec, item.entry
        if item.error is not None:
            state, detail = "error", one_line(item.error.message, session.secret)
            if code is ExitCode.OK:
                code = item.error.code
        elif item.action == "skip-failed" or (item.outcome and item.outcome.status == "failed"):
            state, detail = "failed", entry.error or "Job failed"
            if code is ExitCode.OK:
                code = ExitCode.JOB_FAILED
        elif item.outcome is None and item.action != "skip-done":
            state, detail = "error", "not run"
            if code is ExitCode.OK:
                code = ExitCode.INTERNAL
        else:
            state = "completed"
            size = item.outcome.bytes if item.outcome else os.path.getsize(spec.output)
            detail = f"{spec.output} ({human_bytes(size)})"
        counts[state] += 1
        rows.append(
            {
                "input": spec.input,
                "job_id": entry.job_id,
                "status": state,
                "output": spec.output if state == "completed" else None,
                "error": None if state == "completed" else detail,
                "skipped": item.action.startswith("skip"),
            }
        )
        lines.append(f"{state:<9} {spec.input}  job {entry.job_id or '-'}  {detail}")
    total = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
    lines.append(f"{len(items)} inputs: {total}; journal {journal_path}")
    if session.quiet and not session.json:
        lines = lines[-1:]
    session.result(lines, {"jobs": rows, **counts, "journal": journal_path})
    if code is ExitCode.JOB_FAILED:
        say(sys.stderr, f"{PROG}: error: some jobs failed; --retry-failed submits them again")
    elif code is not ExitCode.OK:
        say(
            sys.stderr,
            f"{PROG}: error: some inputs were not processed; rerun the same command to resume",
        )
    return code
