"""The driver: the job machine, the messages and the exchange composed into one generator per
call, yielding primitive ops (``_ops.py``).

Everything a transport would otherwise repeat lives here once: planning the body, the request
loop, keep-alive reuse, retries, polling, early responses, the deadline. A transport runs a
generator from :class:`Driver` to its end, answering each op; its return value is the call's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar

import h11

from ._download import ContentProblem, Download
from ._errors import DecartSDKError
from ._exchange import ExchangeFailed, Response, exchange
from ._inputs import FileInfo, SubmitForm, prepare_submit
from ._job import Failure, Fetch, Finish, JobMachine, Mode, Poll, Submit, Wait
from ._job_state import JobState
from ._multipart import BodyPlan, plan_body
from ._ops import DriverGen, Notify, ProbeFile, Sleep
from ._policy import DEFAULT_MAX_IN_MEMORY_RESULT, PollPolicy, RetryPolicy, Timeouts
from ._progress import Meter
from ._redact import Redactor
from ._requests import (
    Credentials,
    job_path,
    parse_base_url,
    result_request,
    status_request,
    submit_request,
)
from ._responses import (
    JobStatusResponse,
    JobSubmitResponse,
    Operation,
    QueueJobResult,
    error_for,
    read_job_json,
    retry_after,
)

__all__ = ["Clock", "Driver", "Randomness"]

S = TypeVar("S")


class Clock(Protocol):
    def __call__(self) -> float: ...


class Randomness(Protocol):
    """What the core needs of a random source: ``random.Random`` and ``SystemRandom`` fit."""

    def random(self) -> float: ...

    def getrandbits(self, k: int, /) -> int: ...


# Statuses worth asking about again: the request may succeed later (RFC 9110 §15.5.9, §15.6;
# RFC 6585 §4).
def _transient(status: int) -> bool:
    return status in (408, 429) or status >= 500


_P = ParamSpec("_P")
_T = TypeVar("_T")


def _redacted(
    call: Callable[Concatenate[Driver[S], _P], DriverGen[S, _T]],
) -> Callable[Concatenate[Driver[S], _P], DriverGen[S, _T]]:
    """A call of the driver, whose errors leave through here with the API key masked
    (``_redact.py``): the one place they all pass, whichever layer raised them."""

    @functools.wraps(call)
    def redacted(self: Driver[S], /, *args: _P.args, **kwargs: _P.kwargs) -> DriverGen[S, _T]:
        try:
            return (yield from call(self, *args, **kwargs))
        except Exception as exc:
            error = self._redactor.error(exc)
            if error is exc:
                raise
        # A foreign error replaced by one of ours: raised here, out of the handler, so that
        # the original (which shows the key) does not become its __context__.
        raise error

    return redacted


class Driver(Generic[S]):
    """Builds one generator per API call. Holds no connection and no per-call state, so one
    driver serves any number of concurrent calls. ``S`` is the transport's stream type, which
    the ops' connections carry (``Driver[socket]``, say).

    *max_in_memory_result* bounds a result returned as ``bytes`` (the call fails, pointing to
    an output, past it); a result streamed to an output has no bound."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.decart.ai",
        clock: Clock,
        rand: Randomness,
        transport: str = "sans-io",
        integration: str | None = None,
        poll: PollPolicy | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        max_in_memory_result: int = DEFAULT_MAX_IN_MEMORY_RESULT,
    ) -> None:
        if (
            not isinstance(max_in_memory_result, int)
            or isinstance(max_in_memory_result, bool)
            or max_in_memory_result < 1
        ):
            raise ValueError(
                f"max_in_memory_result must be a positive number of bytes, got "
                f"{max_in_memory_result!r}"
            )
        self.target = parse_base_url(base_url)
        self.credentials = Credentials(api_key, transport, integration)
        self._redactor = Redactor(api_key)
        self.clock = clock
        self.rand = rand
        self.poll = poll or PollPolicy()
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        self.max_in_memory_result = max_in_memory_result

    def __repr__(self) -> str:
        return f"Driver(target={self.target!r}, credentials={self.credentials!r})"

    # -- the calls ----------------------------------------------------------------------------

    @_redacted
    def submit(
        self,
        options: Mapping[str, Any],
        *,
        timeout: float | None = None,
        progress: bool = False,
    ) -> DriverGen[S, JobSubmitResponse]:
        form = prepare_submit(options)
        machine = self._machine(Mode.SUBMIT, timeout, None)
        yield from self._run(machine, form, to_output=False, progress=progress)
        assert machine.job_id is not None and machine.status is not None
        return JobSubmitResponse(machine.job_id, machine.status)

    @_redacted
    def status(
        self, job_id: str, *, timeout: float | None = None
    ) -> DriverGen[S, JobStatusResponse]:
        now, deadline = self._deadline(timeout)
        request = status_request(self.target, self.credentials, job_id)  # checks the id
        # Nearly every status call is one request answered with a 2xx, and callers poll in
        # loops: that case is read here without a job machine. Anything else goes to one,
        # told of this first request, which then retries or gives up as if it had made it.
        outcome = yield from self._request(Operation.STATUS, request, deadline)
        if type(outcome) is Response:
            try:
                _, status = read_job_json(
                    Operation.STATUS, outcome.status, outcome.body, coding=outcome.coding
                )
            except DecartSDKError:
                pass  # the machine reads it again, and reports it
            else:
                return JobStatusResponse(job_id, status)
        machine = self._machine(Mode.STATUS, None, job_id, deadline=deadline, now=now)
        self._record(machine, Poll(job_id), outcome)
        yield from self._run(machine, None, to_output=False)
        assert machine.status is not None
        return JobStatusResponse(job_id, machine.status)

    @_redacted
    def result(
        self,
        job_id: str,
        *,
        to_output: bool = False,
        timeout: float | None = None,
        progress: bool = False,
    ) -> DriverGen[S, QueueJobResult]:
        machine = self._machine(Mode.RESULT, timeout, job_id)
        try:
            outcome = yield from self._run(machine, None, to_output=to_output, progress=progress)
        except DecartSDKError as exc:
            # The content of a job that failed is an error response; the Queue API docs want a
            # "failed" result for it, so ask the job's status before reporting the error.
            code = exc.data.get("status")
            if machine.state is not JobState.ERROR or not isinstance(code, int):
                raise
            # A failed job's content is a 4xx; a 2xx that was no video (empty, too large for
            # memory) or an auth or transient failure says nothing about the job's status.
            if code < 400 or code in (401, 403) or _transient(code):
                raise
            # The probe shares the call's deadline: result(timeout=t) must not take 2t.
            probe = self._machine(Mode.STATUS, None, job_id, deadline=machine.deadline)
            try:
                yield from self._run(probe, None, to_output=False)
            except DecartSDKError:
                raise exc from None  # the content's error says more than the probe's
            if probe.status != "failed":
                raise
            return QueueJobResult("failed", error="Job failed", job_id=job_id)
        assert outcome is not None
        return outcome

    @_redacted
    def submit_and_poll(
        self,
        options: Mapping[str, Any],
        *,
        to_output: bool = False,
        timeout: float | None = None,
        progress: bool = False,
    ) -> DriverGen[S, QueueJobResult]:
        """Submit, poll until the job ends, fetch its result. With *progress*, the generator
        also yields :class:`Progress` ops for the upload and the download."""
        form = prepare_submit(options)
        machine = self._machine(Mode.SUBMIT_AND_POLL, timeout, None)
        outcome = yield from self._run(machine, form, to_output=to_output, progress=progress)
        assert outcome is not None
        return outcome

    @_redacted
    def wait(
        self,
        job_id: str,
        *,
        to_output: bool = False,
        timeout: float | None = None,
        progress: bool = False,
    ) -> DriverGen[S, QueueJobResult]:
        """Resume waiting for a job submitted earlier (by this process or another)."""
        machine = self._machine(Mode.RESUME, timeout, job_id)
        outcome = yield from self._run(machine, None, to_output=to_output, progress=progress)
        assert outcome is not None
        return outcome

    # -- the loop -----------------------------------------------------------------------------

    def _machine(
        self,
        mode: Mode,
        timeout: float | None,
        job_id: str | None,
        *,
        deadline: float | None = None,
        now: float | None = None,
    ) -> JobMachine:
        if deadline is None:
            now, deadline = self._deadline(timeout)
        elif now is None:
            now = self.clock()
        if job_id is not None:
            # Checked now, before any I/O, so that a bad id is the caller's error at once.
            job_path(job_id)
        return JobMachine(
            mode,
            now=now,
            deadline=deadline,
            rand=self.rand.random,
            poll=self.poll,
            retry=self.retry,
            job_id=job_id,
        )

    def _deadline(self, timeout: float | None) -> tuple[float, float]:
        """Now, and the call's deadline."""
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        now = self.clock()
        return now, now + (self.timeouts.job if timeout is None else timeout)

    def _run(
        self,
        machine: JobMachine,
        form: SubmitForm | None,
        *,
        to_output: bool,
        progress: bool = False,
    ) -> DriverGen[S, QueueJobResult | None]:
        """Drive *machine* to its end: the job's result, or None for a one-shot call (whose
        answer is in the machine)."""
        body: BodyPlan | None = None
        replayable = True
        meter = Meter() if progress else None
        download = Download(to_output=to_output, meter=meter, limit=self.max_in_memory_result)
        clock = self.clock
        while True:
            action = machine.next_action(clock())
            if isinstance(action, Finish):
                break
            if isinstance(action, Wait):
                yield Sleep(action.until)
                continue
            send: BodyPlan | None = None
            fetch: Download | None = None
            if meter is not None:
                meter.restart()
            if isinstance(action, Poll):
                op = Operation.STATUS
                request = status_request(self.target, self.credentials, action.job_id)
            elif isinstance(action, Submit):
                assert form is not None
                op = Operation.SUBMIT
                if body is None:
                    body = yield from self._plan(form)
                    replayable = body.content_length is not None
                send = body
                request = submit_request(self.target, self.credentials, form.model.url_path, body)
            else:
                op = Operation.RESULT
                request = result_request(self.target, self.credentials, action.job_id)
            try:
                if isinstance(action, Fetch):
                    fetch = download
                    yield from fetch.start(action.job_id)
                outcome = yield from self._request(
                    op, request, machine.deadline, send=send, fetch=fetch, meter=meter
                )
                if fetch is not None and isinstance(outcome, Response):
                    yield from fetch.finish(outcome)
            except ContentProblem as problem:
                outcome = Failure(problem.error, transient=problem.transient)
            # A body read from a pipe cannot be sent twice, whatever the server said. (Past the
            # deadline a transient failure is the deadline's: _record says so.)
            if (
                send is not None
                and not replayable
                and isinstance(outcome, Failure)
                and clock() < machine.deadline
            ):
                outcome = Failure(outcome.error, transient=False)
            change = self._record(machine, action, outcome)
            if change is not None:
                yield Notify(change)
        return self._finish(machine, download)

    def _request(
        self,
        op: Operation,
        request: h11.Request,
        deadline: float,
        *,
        send: BodyPlan | None = None,
        fetch: Download | None = None,
        meter: Meter | None = None,
    ) -> DriverGen[S, Response | Failure]:
        """One request: its 2xx response, or the failure it came to."""
        # A submit never rides a kept-alive connection: one the server is closing at that
        # moment would leave us unable to tell whether the job was created.
        fresh = send is not None
        while True:
            try:
                response = yield from exchange(
                    self.target.origin,
                    request,
                    send,
                    clock=self.clock,
                    step=self.timeouts.request,
                    deadline=deadline,
                    fresh=fresh,
                    sink=None if fetch is None else fetch.sink,
                    sent=None if meter is None or send is None else meter.uploaded(send),
                    on_head=None if fetch is None else fetch.head,
                )
            except ExchangeFailed as failed:
                if failed.stale and not fresh:
                    # The pooled connection had been closed by the server: a status request
                    # is safe to repeat, and a new connection is no reason to wait.
                    fresh = True
                    continue
                return self._no_response(op, failed)
            return response if 200 <= response.status < 300 else self._refused(op, response)

    def _record(
        self, machine: JobMachine, action: Submit | Poll | Fetch, outcome: Response | Failure
    ) -> JobStatusResponse | None:
        now = self.clock()
        if isinstance(outcome, Failure):
            if outcome.transient and now >= machine.deadline:
                # Most likely the deadline itself cut the request short (its last step's
                # deadline was the job's): out of time, not a failed request.
                machine.deadline_passed(now, outcome.error)
            else:
                machine.failed(now, outcome)
            return None
        if isinstance(action, Fetch):
            machine.fetched()
            return None
        op = Operation.SUBMIT if isinstance(action, Submit) else Operation.STATUS
        try:
            job_id, status = read_job_json(op, outcome.status, outcome.body, coding=outcome.coding)
        except DecartSDKError as exc:
            machine.failed(now, Failure(exc, transient=False))
            return None
        if isinstance(action, Submit):
            return machine.submitted(now, job_id, status)
        return machine.status_received(now, status)

    def _no_response(self, op: Operation, failed: ExchangeFailed) -> Failure:
        cause = failed.error
        error = op.error(
            f"Failed to {op.phrase}: {cause.message}", data={"status": None}, cause=cause
        )
        return Failure(error, transient=cause.transient, no_job_created=not failed.sent)

    def _refused(self, op: Operation, response: Response) -> Failure:
        """A response, but not a 2xx one."""
        wait = retry_after(response.headers)
        return Failure(
            error_for(
                op,
                response.status,
                response.headers,
                response.body,
                truncated=response.truncated,
            ),
            transient=_transient(response.status),
            retry_after=wait,
            no_job_created=response.status == 429 or (response.status == 503 and wait is not None),
        )

    def _plan(self, form: SubmitForm) -> DriverGen[S, BodyPlan]:
        infos: dict[str, FileInfo] = {}
        for file in form.files:
            if file.in_memory is None:
                info = yield ProbeFile(file)
                assert isinstance(info, FileInfo), info
                infos[file.field] = info
        boundary = f"decart-proto-{self.rand.getrandbits(128):032x}"
        return plan_body(form, infos, boundary)

    def _finish(self, machine: JobMachine, download: Download) -> QueueJobResult | None:
        state = machine.state
        if state is JobState.COMPLETED:
            return QueueJobResult("completed", data=download.data(), job_id=machine.job_id)
        if state is JobState.FAILED:
            return QueueJobResult("failed", error="Job failed", job_id=machine.job_id)
        if state is JobState.DEADLINE_EXCEEDED:
            raise machine.deadline_error()
        if state is JobState.ERROR:
            assert machine.error is not None
            raise machine.error
        return None  # REPORTED: a one-shot call reads its answer from the machine
