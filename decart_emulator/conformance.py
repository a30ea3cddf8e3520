"""The conformance kit: the scenarios every transport of ``decart_proto`` must pass, run against
the emulator and its faults. For a transport author, from any test runner::

    from decart_emulator import conformance
    from my_transport import DecartClient

    SUBJECT = conformance.Subject("my-loop", DecartClient, conformance.AsyncioStyle())

    @pytest.fixture(scope="session", params=["http", "https"])
    def kit(request):
        with conformance.Kit(tls=request.param == "https") as kit:
            yield kit

    @pytest.mark.parametrize("scenario", conformance.SCENARIOS, ids=str)
    def test_my_transport(kit, scenario):
        kit.run(SUBJECT, scenario)

A :class:`Subject` is a client factory (called with ``DecartClient``'s keyword options:
``api_key``, ``base_url``, ``ssl_context``, ``poll``, ``retry``, ``timeouts``), the
:class:`Style` its calls run in (``BLOCKING``, ``AsyncioStyle()``, ``TrioStyle()``, or one of
your own: ``conformance_loops``), and optionally how to see its pool's idle connections. A
scenario that fails raises :class:`ConformanceError`, saying what was expected and what came.

What the scenarios cover (``SCENARIOS``, each named for what it proves): every input kind
(a path, a str path, bytes, a file object read part-way, a pipe); outputs (a path, written
atomically; a file object) and progress; the status changes; a kept-alive connection the server
closed, a reset, a truncated download, 429 and 503 with ``Retry-After`` in seconds and as a
date; stalls at each phase (the TLS handshake, the upload, the response's head, the download's
body, a job that never ends), each ending at the call's deadline and not before; TLS refused
(never retried); a call cancelled mid-upload, mid-poll and mid-download, the loop's own way
(a blocking client: by its timeout). After every scenario, each client it made must hold no
connection in the middle of an exchange, and must still work.

Unlike the emulator itself, the kit is a client-side tool: it imports ``decart_proto`` (its
errors and models), ``h11``, and ``trustme`` (of the ``emulator`` extra); never pytest.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import io
import os
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h11
import trustme

from decart_proto import (
    Connection,
    DeadlineExceededError,
    IOTimeout,
    NetworkError,
    PollPolicy,
    Progress,
    QueueStatusError,
    QueueSubmitError,
    RetryPolicy,
    TLSVerificationError,
    models,
)

from ._faults import Fault
from ._server import Emulator
from .conformance_loops import BLOCKING, AsyncioStyle, CallCancelled, Loop, Style, TrioStyle
from .conformance_servers import Misbehaving, SlowReader

__all__ = [
    "BLOCKING",
    "SCENARIOS",
    "AsyncioStyle",
    "ConformanceError",
    "Kit",
    "Scenario",
    "Session",
    "Subject",
    "TrioStyle",
]

MODEL = models.video("lucy-2.1")
STATUS_PATH = r"/v1/jobs/[^/]+"
CONTENT_PATH = r"/v1/jobs/[^/]+/content"
SUBMIT_PATH = r"/v1/jobs/lucy-2\.1"
# The kit's timings: a job is pending for 0.15 s, then processing for 0.15 s; a client polls
# every 0.04 s and retries after 10-50 ms.
PENDING = PROCESSING = 0.15
FAST_POLL = PollPolicy(initial_delay=0.04, interval=0.04)
FAST_RETRY = RetryPolicy(max_retries=4, backoff_base=0.01, backoff_cap=0.05)
# A stalled server holds a request for STALL seconds; a call's DEADLINE is far shorter, and the
# call must end at it: not before, and within SLACK after (slack for a loaded machine).
STALL = 3.0
DEADLINE = 0.5
SLACK = 2.0
UPLOAD = 32 * 1024 * 1024  # more than any socket buffers hold: an upload that takes its time


class ConformanceError(AssertionError):
    """A transport did not do what a scenario expects."""


def expect(condition: object, what: str) -> None:
    if not condition:
        raise ConformanceError(what)


@dataclass(frozen=True)
class Subject:
    """The transport under test: *client* makes a client from ``DecartClient``'s keyword
    options; *style* runs its calls; *idle_connections*, when given, lists the idle
    connections of a client's pool (for the shipped clients:
    ``decart_proto.transports.toolkit.idle_connections``)."""

    name: str
    client: Callable[..., Any]
    style: Style
    idle_connections: Callable[[Any], Sequence[Connection[Any]]] | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Callable[[Session], None]

    def __str__(self) -> str:
        return self.name


class Kit:
    """An emulator with the kit's timings (HTTPS with a throwaway CA when *tls*), on which
    :meth:`run` plays a scenario with a subject. ``with Kit() as kit:`` starts and stops it."""

    def __init__(self, *, tls: bool = False) -> None:
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.emulator = Emulator(
            pending_seconds=PENDING, processing_seconds=PROCESSING, tls=tls, reencode=False
        )
        self.ca = trustme.CA()  # for the kit's own servers

    def __enter__(self) -> Kit:
        self.emulator.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.emulator.stop()

    def run(self, subject: Subject, scenario: Scenario) -> None:
        loop = subject.style.open()
        try:
            with tempfile.TemporaryDirectory(prefix="decart-conformance-") as tmp:
                self.emulator.clear_faults()
                with Session(self, subject, loop, Path(tmp)) as session:
                    scenario.run(session)
        finally:
            self.emulator.clear_faults()
            loop.close()

    def server_context(self) -> ssl.SSLContext:
        """A server context for 127.0.0.1 with a certificate of the kit's CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert("127.0.0.1").configure_cert(context)
        return context

    def trusting_context(self) -> ssl.SSLContext:
        """A client context that trusts the kit's CA."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


class Api:
    """A client as a scenario drives it: ``api.queue.submit(...)`` runs a call to its end on
    the subject's loop; ``api.start.submit(...)`` starts it (:class:`Running`)."""

    def __init__(self, client: Any, loop: Loop) -> None:
        self.client = client
        self.queue = _Calls(client, loop.call)
        self.start = _Calls(client, loop.start)


class _Calls:
    def __init__(self, client: Any, run: Callable[[Callable[[], Any]], Any]) -> None:
        self._client = client
        self._run = run

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            return self._run(lambda: getattr(self._client.queue, name)(*args, **kwargs))

        return call


class Session:
    """What a scenario works with: the emulator, a temporary folder, and clients of the
    subject, each checked when the scenario is done with it."""

    def __init__(self, kit: Kit, subject: Subject, loop: Loop, tmp: Path) -> None:
        self.kit = kit
        self.emu = kit.emulator
        self.subject = subject
        self.loop = loop
        self.tmp = tmp
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @contextlib.contextmanager
    def client(self, **overrides: Any) -> Iterator[Api]:
        """A client of the subject with the kit's timings, for the emulator unless
        *overrides* say otherwise. On exit: its pool holds only idle connections, it still
        answers a submit and a status, and it is closed."""
        options: dict[str, Any] = {
            "api_key": self.emu.api_key,
            "base_url": self.emu.base_url,
            "poll": FAST_POLL,
            "retry": FAST_RETRY,
        }
        if self.kit.tls:
            options["ssl_context"] = self.emu.client_ssl_context()
        options.update(overrides)
        client = self.loop.call(lambda: self.subject.client(**options))
        api = Api(client, self.loop)
        try:
            yield api
            self.check_pool(api)
            if options["base_url"] == self.emu.base_url and options["api_key"] == self.emu.api_key:
                self.emu.clear_faults()
                job = api.queue.submit({"model": MODEL, "data": b"after", "prompt": "x"})
                expect(api.queue.status(job.job_id).job_id == job.job_id, "a status after")
                self.check_pool(api)
        finally:
            self.loop.call(client.close)

    def check_pool(self, api: Api) -> None:
        """No connection in the pool is in the middle of an exchange."""
        for conn in self.idle(api):
            states = (conn.http.our_state, conn.http.their_state)
            expect(states == (h11.IDLE, h11.IDLE), f"a pooled connection mid-exchange: {states}")

    def idle(self, api: Api) -> list[Connection[Any]]:
        """The client's idle connections ([] when the subject cannot show them)."""
        if self.subject.idle_connections is None:
            return []
        return list(self.subject.idle_connections(api.client))

    def server(self, server: Any) -> Any:
        """*server* (of ``conformance_servers``) started, and stopped after the scenario."""
        return self._stack.enter_context(server)

    def instant_jobs(self) -> None:
        """Jobs submitted from now on complete at once: for scenarios about bytes."""
        self.emu.add_fault(Fault(job_pending_seconds=0, job_processing_seconds=0, times=1000))

    def mark(self) -> int:
        """A point in the emulator's request records, for :meth:`retried`."""
        return len(self.emu.requests)

    def retried(self, method: str, pattern: str, first: int | None, since: int) -> bool:
        """Whether, among the requests recorded since *since* (``mark()``), one to *method* on
        a path matching *pattern* was answered *first* (None: dropped unanswered), and a later
        one 200. (Not "the last two": a request an earlier scenario stalled can be recorded
        late, once its answer starts.)"""
        answers = [
            record.status
            for record in self.emu.requests[since:]
            if record.method == method and re.fullmatch(pattern, record.path)
        ]
        return first in answers and 200 in answers[answers.index(first) + 1 :]

    def random_file(self, size: int, name: str = "input.mp4") -> tuple[Path, bytes]:
        data = os.urandom(size)
        path = self.tmp / name
        path.write_bytes(data)
        return path, data


SCENARIOS: list[Scenario] = []


def scenario(run: Callable[[Session], None]) -> Callable[[Session], None]:
    SCENARIOS.append(Scenario(run.__name__, run))
    return run


def raises(kind: type[BaseException], call: Callable[[], Any]) -> Any:
    """The exception of type *kind* that *call* raises (anything else is a failure)."""
    try:
        answer = call()
    except kind as exc:
        return exc
    except BaseException as exc:
        raise ConformanceError(f"expected {kind.__name__}, got {exc!r}") from exc
    raise ConformanceError(f"expected {kind.__name__}, got the answer {answer!r}")


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def expect_deadline(call: Callable[[], Any], deadline: float = DEADLINE) -> Any:
    """*call* ends with DeadlineExceededError once its *deadline* has passed, promptly."""
    error, took = timed(lambda: raises(DeadlineExceededError, call))
    expect(deadline <= took < deadline + SLACK, f"ended after {took:.2f} s, deadline {deadline}")
    return error


def until(ready: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    give_up = time.monotonic() + limit
    while not ready():
        expect(time.monotonic() < give_up, f"{what}: not within {limit} s")
        time.sleep(0.01)


# -- inputs -----------------------------------------------------------------------------------


def _round_trip(session: Session, source: Any, data: bytes) -> None:
    session.instant_jobs()
    with session.client() as api:
        result = api.queue.submit_and_poll({"model": MODEL, "data": source, "prompt": "x"})
    expect(result.status == "completed", f"the job: {result!r}")
    expect(result.data == data, "the video back is the one sent")


@scenario
def input_path(session: Session) -> None:
    path, data = session.random_file(300_000)
    _round_trip(session, path, data)


@scenario
def input_str_path(session: Session) -> None:
    path, data = session.random_file(300_000)
    _round_trip(session, str(path), data)


@scenario
def input_bytes(session: Session) -> None:
    data = os.urandom(300_000)
    _round_trip(session, data, data)


@scenario
def input_file_object_read_part_way(session: Session) -> None:
    """The file's bytes from where the caller left it: what a buffered reader has read ahead
    does not count."""
    path, data = session.random_file(300_000)
    with open(path, "rb") as f:
        f.read(1000)
        _round_trip(session, f, data[1000:])


@scenario
def input_pipe(session: Session) -> None:
    """No size up front: the body goes chunked, read as the writer writes."""
    data = os.urandom(700_000)
    read_fd, write_fd = os.pipe()

    def write() -> None:
        with os.fdopen(write_fd, "wb") as w:
            for start in range(0, len(data), 65536):
                w.write(data[start : start + 65536])

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            _round_trip(session, pipe, data)
    finally:
        writer.join(10)


# -- outputs and progress -----------------------------------------------------------------------


@scenario
def output_to_a_path(session: Session) -> None:
    """Written atomically: the whole video or nothing, and no temporary file left."""
    session.instant_jobs()
    path, data = session.random_file(300_000)
    out = session.tmp / "out" / "result.mp4"
    out.parent.mkdir()
    with session.client() as api:
        job = api.queue.submit({"model": MODEL, "data": path, "prompt": "x"})
        result = api.queue.result(job.job_id, output=out)
    expect(result.status == "completed", f"the job: {result!r}")
    expect(out.read_bytes() == data, "the output holds the video")
    expect([p.name for p in out.parent.iterdir()] == ["result.mp4"], "nothing else left")


@scenario
def output_to_a_file_object(session: Session) -> None:
    session.instant_jobs()
    path, data = session.random_file(300_000)
    out = session.tmp / "result.mp4"
    with session.client() as api, open(out, "wb") as f:
        api.queue.submit_and_poll({"model": MODEL, "data": path, "prompt": "x"}, output=f)
    expect(out.read_bytes() == data, "the file object holds the video")


@scenario
def progress_of_upload_and_download(session: Session) -> None:
    session.instant_jobs()
    path, data = session.random_file(3 * 1024 * 1024 + 321)
    seen: list[Progress] = []
    with session.client() as api:
        api.queue.submit_and_poll(
            {"model": MODEL, "data": path, "prompt": "x"}, on_progress=seen.append
        )
    up = [p.done for p in seen if p.phase == "upload"]
    down = [p for p in seen if p.phase == "download"]
    total = seen[0].total if seen else None
    expect(total is not None and len(data) < total < len(data) + 4096, f"upload total {total}")
    expect(up and up == sorted(up) and up[-1] == total, f"upload reports {up}")
    expect(len(down) >= 3, f"about one download report per MiB: {down}")
    expect(down[-1] == Progress("download", len(data), len(data)), f"download ends {down[-1:]}")


@scenario
def status_changes_reported_once_each(session: Session) -> None:
    """``on_status_change`` in the options, as the Queue API docs pass it."""
    session.emu.add_fault(Fault(method="POST", job_processing_seconds=0.5))
    seen: list[str] = []
    options = {"model": MODEL, "data": b"v", "prompt": "x"}
    with session.client() as api:
        options["on_status_change"] = lambda job: seen.append(job.status)
        result = api.queue.submit_and_poll(options)
    expect(result.data == b"v", f"the job: {result!r}")
    expect(seen == ["pending", "processing", "completed"], f"status changes {seen}")


# -- what the network does ------------------------------------------------------------------------


@scenario
def stale_keep_alive_is_replaced(session: Session) -> None:
    """The server closes a kept-alive connection as a request arrives on it: the request goes
    again on a new connection, without spending a retry (none is allowed here)."""
    with session.client(retry=RetryPolicy(max_retries=0)) as api:
        job = api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
        session.emu.add_fault(Fault(method="GET", path=STATUS_PATH, close_before_response=True))
        since = session.mark()
        status = api.queue.status(job.job_id)
        retried = session.retried("GET", STATUS_PATH, None, since)
    expect(status.job_id == job.job_id, f"the status: {status!r}")
    expect(retried, "the status request dropped, then answered")


@scenario
def reset_is_a_network_error_retried(session: Session) -> None:
    """A reset (RST) is a NetworkError (not an OSError, not a timeout), retried as the policy
    says, then the call's error with it as the cause."""
    server = session.server(Misbehaving("reset"))
    retry = RetryPolicy(max_retries=2, backoff_base=0.01, backoff_cap=0.02)
    with session.client(base_url=server.url("http"), retry=retry) as api:
        error = raises(QueueStatusError, lambda: api.queue.status("job-1", timeout=10))
        expect(not session.idle(api), "no connection kept")
    cause = error.cause
    expect(isinstance(cause, NetworkError), f"the cause: {cause!r}")
    expect(not isinstance(cause, (IOTimeout, TLSVerificationError)), f"the cause: {cause!r}")
    expect(server.accepted == 3, f"{server.accepted} connections for 1 try and 2 retries")


@scenario
def truncated_download_is_fetched_again(session: Session) -> None:
    session.instant_jobs()
    path, data = session.random_file(300_000)
    out = session.tmp / "out.mp4"
    with session.client() as api:
        job = api.queue.submit({"model": MODEL, "data": path, "prompt": "x"})
        api.queue.wait(job.job_id, output=os.devnull)
        for output in (None, out):
            cut = Fault(method="GET", path=CONTENT_PATH, close_after_body_bytes=100_000)
            session.emu.add_fault(cut)
            since = session.mark()
            result = api.queue.result(job.job_id, output=output)
            got = result.data if output is None else out.read_bytes()
            expect(got == data, f"the whole video (output={output})")
            expect(session.retried("GET", CONTENT_PATH, 200, since), "cut, then whole")


@scenario
def retry_after_in_seconds(session: Session) -> None:
    """A 429 on a submit proves that no job was created: retried after Retry-After."""
    before = session.emu.submit_count
    busy = Fault(method="POST", path=SUBMIT_PATH, status=429, headers={"Retry-After": "1"})
    session.emu.add_fault(busy)
    since = session.mark()
    with session.client() as api:
        job, took = timed(lambda: api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"}))
        retried = session.retried("POST", SUBMIT_PATH, 429, since)
        jobs = session.emu.submit_count - before
    expect(job.status == "pending", f"the submit: {job!r}")
    expect(took >= 0.95, f"retried after {took:.2f} s, Retry-After: 1")
    expect(jobs == 1, f"{jobs} jobs")
    expect(retried, "429, then the job")


@scenario
def retry_after_as_a_date(session: Session) -> None:
    """A 503 with Retry-After as an HTTP date, two seconds after now: measured against the
    answer's own Date header (whole seconds), so the wait is one to two seconds."""
    with session.client() as api:
        job = api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
        when = email.utils.formatdate(time.time() + 2, usegmt=True)
        busy = Fault(method="GET", path=STATUS_PATH, status=503, headers={"Retry-After": when})
        session.emu.add_fault(busy)
        since = session.mark()
        status, took = timed(lambda: api.queue.status(job.job_id))
        retried = session.retried("GET", STATUS_PATH, 503, since)
    expect(status.job_id == job.job_id, f"the status: {status!r}")
    expect(took >= 0.95, f"retried after {took:.2f} s, Retry-After: {when}")
    expect(retried, "503, then the status")


# -- stalls, and the deadline held --------------------------------------------------------------


@scenario
def stall_in_the_tls_handshake(session: Session) -> None:
    server = session.server(Misbehaving("silent"))
    with session.client(
        base_url=server.url("https"), ssl_context=session.kit.trusting_context()
    ) as api:
        expect_deadline(lambda: api.queue.status("job-1", timeout=DEADLINE))
        expect(not session.idle(api), "no connection kept")


@scenario
def stall_in_the_upload(session: Session) -> None:
    """A server that reads slowly but steadily: each wait on the socket is short, so only a
    deadline that counts the whole call ends it. From a path (sendfile, where the transport
    can) and from a file object without a descriptor (pieces), at once."""
    tls = session.kit.server_context() if session.kit.tls else None
    server = session.server(SlowReader(tls))
    path = session.tmp / "big.mp4"
    path.write_bytes(bytes(UPLOAD))
    sources = [path, io.BufferedReader(io.BytesIO(bytes(UPLOAD)))]
    context = session.kit.trusting_context() if tls else None
    with session.client(base_url=server.url(session.kit.scheme), ssl_context=context) as api:
        started = time.monotonic()
        running = [
            api.start.submit({"model": MODEL, "data": source, "prompt": "x"}, timeout=DEADLINE)
            for source in sources
        ]
        for call in running:
            raises(DeadlineExceededError, functools.partial(call.wait, DEADLINE + SLACK))
        took = time.monotonic() - started
        expect(DEADLINE <= took < DEADLINE + SLACK, f"both ended after {took:.2f} s")
        expect(not session.idle(api), "no connection kept")


@scenario
def stall_before_the_answer(session: Session) -> None:
    with session.client() as api:
        job = api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
        session.emu.add_fault(Fault(method="GET", path=STATUS_PATH, delay=STALL))
        expect_deadline(lambda: api.queue.status(job.job_id, timeout=DEADLINE))
        expect(not session.idle(api), "the stalled connection closed, not pooled")


@scenario
def stall_in_the_download(session: Session) -> None:
    session.instant_jobs()
    path, _ = session.random_file(300_000)
    out = session.tmp / "out" / "result.mp4"
    out.parent.mkdir()
    with session.client() as api:
        job = api.queue.submit({"model": MODEL, "data": path, "prompt": "x"})
        api.queue.wait(job.job_id, output=os.devnull)
        stall = Fault(
            method="GET", path=CONTENT_PATH, stall_after_bytes=100_000, stall_body_seconds=STALL
        )
        session.emu.add_fault(stall)
        expect_deadline(lambda: api.queue.result(job.job_id, output=out, timeout=DEADLINE))
        expect(list(out.parent.iterdir()) == [], "no partial output, no temporary file")


@scenario
def job_that_never_ends(session: Session) -> None:
    """The deadline passes while polling: the error names the job, which still exists."""
    session.emu.add_fault(Fault(job_pending_seconds=60))
    with session.client() as api:
        error = expect_deadline(
            lambda: api.queue.submit_and_poll(
                {"model": MODEL, "data": b"v", "prompt": "x"}, timeout=DEADLINE
            )
        )
    job_id = error.data.get("job_id")
    expect(session.emu.jobs.get(job_id) == "pending", f"the job to resume: {job_id!r}")


# -- TLS ----------------------------------------------------------------------------------------


@scenario
def tls_refused_is_never_retried(session: Session) -> None:
    """A certificate the client does not trust: TLSVerificationError at once (default retry
    policy), from one connection."""
    server = session.server(Misbehaving("handshake", session.kit.server_context()))
    with session.client(
        base_url=server.url("https"), retry=RetryPolicy(), ssl_context=ssl.create_default_context()
    ) as api:
        error, took = timed(
            lambda: raises(
                QueueSubmitError,
                lambda: api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"}, timeout=30),
            )
        )
    expect(isinstance(error.cause, TLSVerificationError), f"the cause: {error.cause!r}")
    expect("certificate" in error.message.lower(), f"the message: {error.message}")
    expect(took < SLACK, f"ended after {took:.2f} s: retried?")
    expect(server.accepted == 1, f"{server.accepted} connections: retried")


# -- cancellation -------------------------------------------------------------------------------


def interrupt(
    session: Session, start: Callable[..., Any], ready: Callable[[], bool], timeout: float
) -> None:
    """Interrupt a call midway: cancelled the loop's own way once *ready()*; a blocking one by
    its *timeout*. Either way it ends promptly."""
    if not session.loop.cancellable:
        running, started = start(timeout=timeout), time.monotonic()
        raises(DeadlineExceededError, lambda: running.wait(timeout + SLACK))
        took = time.monotonic() - started
        expect(took < timeout + SLACK, f"ended {took:.2f} s after it started")
        return
    running = start()
    until(ready, "the call getting to the point to cancel it at")
    expect(not running.done(), "the call still running when cancelled")
    cancelled_at = time.monotonic()
    running.cancel()
    raises(CallCancelled, lambda: running.wait(SLACK))
    took = time.monotonic() - cancelled_at
    expect(took < SLACK, f"ended {took:.2f} s after the cancel")


def after(seconds: float) -> Callable[[], bool]:
    at = time.monotonic() + seconds
    return lambda: time.monotonic() >= at


@scenario
def cancel_mid_upload(session: Session) -> None:
    """The connection is closed, not left open nor pooled: the server sees it end."""
    tls = session.kit.server_context() if session.kit.tls else None
    server = session.server(SlowReader(tls))
    path = session.tmp / "big.mp4"
    path.write_bytes(bytes(UPLOAD))
    context = session.kit.trusting_context() if tls else None
    with session.client(base_url=server.url(session.kit.scheme), ssl_context=context) as api:
        options = {"model": MODEL, "data": path, "prompt": "x"}
        interrupt(session, lambda **kw: api.start.submit(options, **kw), after(0.3), 0.5)
        expect(not session.idle(api), "no connection kept")
        until(lambda: server.closed_by_client == 1, "the server seeing the connection closed")


@scenario
def cancel_mid_poll(session: Session) -> None:
    with session.client() as api:
        job = api.queue.submit({"model": MODEL, "data": b"v", "prompt": "x"})
        # The first status request hangs: the call is cancelled while it waits for an answer
        # on the connection it took from the pool.
        session.emu.add_fault(Fault(method="GET", path=STATUS_PATH, delay=STALL))
        interrupt(session, lambda **kw: api.start.wait(job.job_id, **kw), after(0.3), 0.3)
        expect(not session.idle(api), "the cancelled call's connection closed, not pooled")
        result = api.queue.wait(job.job_id)
    expect(result.data == b"v", f"the job after: {result!r}")


@scenario
def cancel_mid_download(session: Session) -> None:
    """No partial output and no temporary file is left; the video can be fetched again."""
    session.instant_jobs()
    path, data = session.random_file(300_000)
    out = session.tmp / "out" / "result.mp4"
    out.parent.mkdir()
    with session.client() as api:
        job = api.queue.submit({"model": MODEL, "data": path, "prompt": "x"})
        api.queue.wait(job.job_id, output=os.devnull)
        stall = Fault(
            method="GET", path=CONTENT_PATH, stall_after_bytes=100_000, stall_body_seconds=STALL
        )
        session.emu.add_fault(stall)

        def partial_written() -> bool:
            return any(p.stat().st_size > 0 for p in out.parent.iterdir())

        def start(**kw: Any) -> Any:
            return api.start.result(job.job_id, output=out, **kw)

        interrupt(session, start, partial_written, 0.6)
        expect(list(out.parent.iterdir()) == [], "no partial output, no temporary file")
        expect(not session.idle(api), "no connection kept")
        api.queue.result(job.job_id, output=out)
    expect(out.read_bytes() == data, "fetched whole afterwards")
