"""The driver: the job machine, the messages and the exchange composed into one generator per
call, yielding primitive ops (``_ops.py``).

Composition only. Every decision (retry or not, wait how long, may a job exist, is a failure the
deadline's, which status to report) is the job machine's (``_job.py`` over the table of
``_job_state.py``), told what each request came to by ``_classify.py``. A transport runs a
generator from :class:`Driver` to its end, answering each op; its return value is the call's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar

from ._classify import answered, unanswered, unusable
from ._default_headers import default_headers as checked_headers
from ._download import ContentProblem, Download
from ._errors import DeadlineExceededError, DecartSDKError
from ._events import (
    DEBUG,
    INFO,
    WARNING,
    DeadlineExceeded,
    Event,
    RequestFailed,
    RequestStarted,
    ResponseReceived,
    RetryScheduled,
    StatusChanged,
    masked,
)
from ._exchange import ExchangeFailed, Response, exchange
from ._inputs import FileInfo, SubmitForm, prepare_submit
from ._job import Fetch, Finish, JobMachine, Poll, Submit, Verdict, Wait
from ._job_state import JobState, Mode
from ._multipart import BodyPlan, plan_body
from ._ops import DriverGen, Notify, ProbeFile, Report, Sleep
from ._policy import DEFAULT_MAX_IN_MEMORY_RESULT, PollPolicy, RetryPolicy, Timeouts
from ._progress import Meter
from ._proxy import proxy_for
from ._redact import Redactor
from ._requests import (
    Credentials,
    job_path,
    parse_base_url,
    result_request,
    status_request,
    submit_request,
)
from ._responses import JobStatus, JobStatusResponse, JobSubmitResponse, Operation, header
from ._results import CompletedResult, FailedResult, QueueJobResult, SavedResult

__all__ = ["Clock", "Driver", "Randomness"]

S = TypeVar("S")


class Clock(Protocol):
    """The driver's clock: seconds, monotonic, from any origin (``time.monotonic``, or the
    transport's loop's own clock: ``trio.current_time`` runs the client on trio's, virtual under
    ``MockClock``). Every deadline and ``Sleep`` an op carries is on it."""

    def __call__(self) -> float: ...


class Randomness(Protocol):
    """What the core needs of a random source: ``random.Random`` and ``SystemRandom`` fit."""

    def random(self) -> float: ...

    def getrandbits(self, k: int, /) -> int: ...


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
    an output, past it); a result streamed to an output has no bound.

    *proxy* (a URL) is the proxy every request goes through; without it, *environ* (the
    ``*_PROXY`` variables, passed in by the transport, which reads the process's) may choose
    one (``_proxy.py``). *default_headers* go with every request (``_default_headers.py``).

    *events*, on each call: the lowest level (``logging``'s numbers) at which someone listens
    to what happens — requests at DEBUG, status changes at INFO, retries and a deadline given
    up at WARNING (``_events.py``). The call yields a :class:`Report` op for each event of that
    level or above, and builds no event below it: None (the default), no event at all."""

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
        proxy: str | None = None,
        environ: Mapping[str, str] | None = None,
        default_headers: Mapping[str, str] | None = None,
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
        target = parse_base_url(base_url)
        headers = checked_headers(default_headers)
        self.proxy = proxy_for(target.origin, proxy, environ)
        if self.proxy is not None and not target.origin.tls:
            target, headers = self.proxy.forwarding(target, headers)
        self.target = target
        self.credentials = Credentials(api_key, transport, integration, headers)
        self._redactor = Redactor(api_key, *(self.proxy.secrets if self.proxy else ()))
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
        events: int | None = None,
    ) -> DriverGen[S, JobSubmitResponse]:
        form = prepare_submit(options)
        machine, _ = yield from self._run(
            Mode.SUBMIT, timeout, form=form, progress=progress, events=events
        )
        assert machine.job_id is not None and machine.status is not None
        return JobSubmitResponse(machine.job_id, machine.status)

    @_redacted
    def status(
        self, job_id: str, *, timeout: float | None = None, events: int | None = None
    ) -> DriverGen[S, JobStatusResponse]:
        machine, _ = yield from self._run(Mode.STATUS, timeout, job_id=job_id, events=events)
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
        events: int | None = None,
    ) -> DriverGen[S, QueueJobResult]:
        """The result of a job; a "failed" one, as the Queue API docs have it, for a job that
        failed."""
        return (
            yield from self._job(Mode.RESULT, timeout, to_output, progress, events, job_id=job_id)
        )

    @_redacted
    def submit_and_poll(
        self,
        options: Mapping[str, Any],
        *,
        to_output: bool = False,
        timeout: float | None = None,
        progress: bool = False,
        events: int | None = None,
    ) -> DriverGen[S, QueueJobResult]:
        """Submit, poll until the job ends, fetch its result. With *progress*, the generator
        also yields :class:`Progress` ops for the upload and the download."""
        form = prepare_submit(options)
        return (
            yield from self._job(
                Mode.SUBMIT_AND_POLL, timeout, to_output, progress, events, form=form
            )
        )

    @_redacted
    def wait(
        self,
        job_id: str,
        *,
        to_output: bool = False,
        timeout: float | None = None,
        progress: bool = False,
        events: int | None = None,
    ) -> DriverGen[S, QueueJobResult]:
        """Resume waiting for a job submitted earlier (by this process or another)."""
        return (
            yield from self._job(Mode.RESUME, timeout, to_output, progress, events, job_id=job_id)
        )

    # -- the loop -----------------------------------------------------------------------------

    def _job(
        self,
        mode: Mode,
        timeout: float | None,
        to_output: bool,
        progress: bool,
        events: int | None,
        *,
        form: SubmitForm | None = None,
        job_id: str | None = None,
    ) -> DriverGen[S, QueueJobResult]:
        machine, data = yield from self._run(
            mode,
            timeout,
            form=form,
            job_id=job_id,
            to_output=to_output,
            progress=progress,
            events=events,
        )
        job_id = machine.job_id
        assert job_id is not None  # a job that ended was known by its id
        if machine.state is not JobState.COMPLETED:
            return FailedResult(job_id)
        return SavedResult(job_id) if data is None else CompletedResult(data, job_id)

    def _run(
        self,
        mode: Mode,
        timeout: float | None,
        *,
        form: SubmitForm | None = None,
        job_id: str | None = None,
        to_output: bool = False,
        progress: bool = False,
        events: int | None = None,
    ) -> DriverGen[S, tuple[JobMachine, bytes | None]]:
        """Run a *mode* call's machine to its end: the machine, ended with an answer, and the
        result's bytes when they were kept in memory; an error or a passed deadline is raised."""
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        now = self.clock()
        if job_id is not None:
            job_path(job_id)  # checked before any I/O: a bad id is the caller's error at once
        body = None if form is None else (yield from self._plan(form))
        machine = JobMachine(
            mode,
            now=now,
            deadline=now + (self.timeouts.job if timeout is None else timeout),
            rand=self.rand.random,
            poll=self.poll,
            retry=self.retry,
            job_id=job_id,
            replayable=body is None or body.content_length is not None,
            request_timeout=self.timeouts.request,
            answer_window=self.timeouts.answer if timeout is None else None,
        )
        meter = Meter() if progress else None
        download = Download(to_output=to_output, meter=meter, limit=self.max_in_memory_result)
        while not isinstance(action := machine.next_action(self.clock()), Finish):
            if isinstance(action, Wait):
                yield Sleep(action.until)
                continue
            if meter is not None:
                meter.restart()
            # The attempt's number when its request is reported; 0: nobody listens to requests.
            attempt = machine.retries + 1 if events is not None and events <= DEBUG else 0
            verdict = yield from self._attempt(
                action, machine.deadline, form, body, download, attempt
            )
            old, now = machine.status, self.clock()
            change = machine.handle(now, verdict)
            if events is not None and events <= WARNING:
                yield from self._report_handled(machine, verdict, old, now, change, events)
            if change is not None:
                yield Notify(change)
        if (failure := machine.failure()) is not None:
            if (
                events is not None
                and events <= WARNING
                and isinstance(failure, DeadlineExceededError)
            ):
                yield self._report(DeadlineExceeded(machine.job_id, failure.message))
            raise failure
        return machine, download.data()

    def _report(self, event: Event) -> Report:
        return Report(masked(event, self._redactor.text))

    def _report_handled(
        self,
        machine: JobMachine,
        verdict: Verdict,
        old: JobStatus | None,
        now: float,
        change: JobStatusResponse | None,
        events: int,
    ) -> DriverGen[S, None]:
        """The events of what the machine made of a request's outcome: a status change it
        reports, a retry it scheduled (a wait after a failure: the failures' count is up)."""
        if change is not None and events <= INFO:
            yield self._report(StatusChanged(change.job_id, old, change.status))
        if machine.wake_at is not None and machine.retries > 0:
            yield self._report(
                RetryScheduled(
                    machine.job_id,
                    _reason(verdict.error),
                    machine.wake_at - now,
                    machine.retries + 1,
                    machine.retry.max_retries + 1,
                )
            )

    def _attempt(
        self,
        action: Submit | Poll | Fetch,
        deadline: float,
        form: SubmitForm | None,
        body: BodyPlan | None,
        download: Download,
        attempt: int = 0,
    ) -> DriverGen[S, Verdict]:
        """The request *action* asks for, and what it came to; reported (the request, then its
        answer or failure) when *attempt* is its number, not 0."""
        send = fetch = None
        if isinstance(action, Submit):
            assert form is not None and body is not None
            op, send = Operation.SUBMIT, body
            request = submit_request(self.target, self.credentials, form.model.url_path, body)
        elif isinstance(action, Poll):
            op = Operation.STATUS
            request = status_request(self.target, self.credentials, action.job_id)
        else:
            op, fetch = Operation.RESULT, download
            request = result_request(self.target, self.credentials, action.job_id)
        meter = download.meter
        job_id = None if isinstance(action, Submit) else action.job_id
        if attempt:
            started = self.clock()
            method, path = request.method.decode(), request.target.decode()
            yield self._report(RequestStarted(method, path, job_id, attempt))
        answer: Response | None = None  # the whole answer, when one came
        try:
            if isinstance(action, Fetch):
                yield from download.start(action.job_id)
            response = yield from exchange(
                self.target.origin,
                request,
                send,
                clock=self.clock,
                step=self.timeouts.request,
                deadline=deadline,
                fresh=action.fresh,
                sink=None if fetch is None else fetch.sink,
                sent=None if meter is None or send is None else meter.uploaded(send),
                on_head=None if fetch is None else fetch.head,
                proxy=self.proxy,
            )
            if fetch is not None and 200 <= response.status < 300:  # the body went to it
                yield from fetch.finish(response)
            answer = response
            verdict = answered(op, response)
        except ExchangeFailed as failed:
            verdict = unanswered(op, failed)
        except ContentProblem as problem:
            verdict = unusable(problem)
        if attempt:
            elapsed = self.clock() - started
            event: Event
            if answer is not None:
                rid = header(answer.headers, b"x-request-id")
                job_id = job_id or verdict.job_id
                event = ResponseReceived(method, path, job_id, answer.status, rid, elapsed)
            else:
                event = RequestFailed(method, path, job_id, _reason(verdict.error), elapsed)
            yield self._report(event)
        return verdict

    def _plan(self, form: SubmitForm) -> DriverGen[S, BodyPlan]:
        infos: dict[str, FileInfo] = {}
        for file in form.files:
            if file.in_memory is None:
                info = yield ProbeFile(file)
                assert isinstance(info, FileInfo), info
                infos[file.field] = info
        boundary = f"decart-proto-{self.rand.getrandbits(128):032x}"
        return plan_body(form, infos, boundary)


def _reason(error: DecartSDKError | None) -> str:
    """What a failed request came to, in words: its error's message without the official
    "Failed to <verb>: " head, which the event around it already says."""
    assert error is not None, "every failure carries its error"
    return error.message.partition(": ")[2] or error.message
