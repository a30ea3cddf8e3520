"""The driver against a simulated network and Queue API server, on a virtual clock.

Hypothesis picks the call, the input (bytes, a seekable stream, a pipe of unknown size), where
the result goes, the job's lifecycle, how the server's bytes are cut, and a fault for every
connection and request. Two regimes:

- *strict*: only faults a client can ride out, never more in a row than the retry budget, and a
  generous deadline. The call must then end exactly as the server's job did.
- *free*: any fault, short deadlines. The call must end with a result or an error that the
  server's log explains.

In both, whatever happens: the driver ends within a step bound, never sleeps past the deadline,
gives no I/O step a deadline past the call's, never re-submits after a body may have reached
the server, fetches the result at most once, reports a status only when it changes, and hands
every connection back.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from decart_proto import (
    CompletedResult,
    DeadlineExceededError,
    DecartSDKError,
    Driver,
    FailedResult,
    InvalidInputError,
    JobStatusResponse,
    JobSubmitResponse,
    NetworkError,
    PollPolicy,
    QueueJobResult,
    QueueResultError,
    QueueStatusError,
    QueueSubmitError,
    RetryPolicy,
    SavedResult,
    Timeouts,
    models,
)

from .hyp import examples
from .sim import API_KEY, NO_JOB, Job, Pipe, Record, Server, World

STRICT_FAULTS = {
    "connect": ["refused"],
    "submit": ["429", "429_date", "429_bare", "503_ra"],
    "status": [
        "reset", "truncate", "500", "502", "408", "429", "429_date", "503", "503_ra", "stall",
        "idle_close",
    ],
    "result": [
        "reset", "truncate", "500", "502", "408", "429", "429_date", "503", "503_ra", "stall",
        "idle_close",
    ],
}  # fmt: skip
FREE_FAULTS = {
    "connect": ["refused"],
    "submit": [
        *STRICT_FAULTS["submit"], "reset", "reset_upload", "truncate", "500", "502", "408",
        "503", "stall", "early_413", "401", "404", "unknown_status", "idle_close",
    ],
    "status": [*STRICT_FAULTS["status"], "404", "401", "unknown_status"],
    "result": [*STRICT_FAULTS["result"], "404", "401"],
}  # fmt: skip
OK_WEIGHT = {"connect": 6, "submit": 3, "status": 4, "result": 3}
ERRORS = {"submit": QueueSubmitError, "status": QueueStatusError, "result": QueueResultError}
NETWORKISH = frozenset({"refused", "reset", "reset_upload", "truncate", "stall"})
MAX_RETRIES = 6
JOB_ID = "job-1-ä"  # the server's first id: not ASCII, so the path must be percent-encoded


@dataclass
class Scenario:
    mode: str
    strict: bool
    source: str
    video: bytes
    prompt: str
    to_output: bool
    timeout: float
    request_timeout: float
    poll: PollPolicy
    job_age: float


class Faults:
    """Hypothesis picks a fault for each connection and request; in the strict regime never
    more in a row than the retry budget allows."""

    def __init__(self, data: st.DataObject, strict: bool) -> None:
        self.data = data
        self.table = STRICT_FAULTS if strict else FREE_FAULTS
        self.strict = strict
        self.streak = 0

    def __call__(self, kind: str) -> str:
        if self.strict and self.streak + 1 > MAX_RETRIES:
            choice = "ok"
        else:
            choice = self.data.draw(
                st.sampled_from(["ok"] * OK_WEIGHT[kind] + self.table[kind]), label=kind
            )
        if choice == "idle_close":
            self.streak = 1  # answered, but the next request on that connection will fail
        elif choice == "ok":
            if kind != "connect":
                self.streak = 0
        else:
            self.streak += 1
        return choice


scenarios = st.builds(
    Scenario,
    mode=st.sampled_from(["submit_and_poll", "wait", "result", "submit", "status"]),
    strict=st.booleans(),
    source=st.sampled_from(["bytes", "bytesio", "pipe"]),
    video=st.binary(max_size=3000),
    prompt=st.text(st.characters(exclude_categories=["Cs"]), max_size=20),
    to_output=st.booleans(),
    timeout=st.sampled_from([3.0, 20.0, 300.0]),
    request_timeout=st.sampled_from([1.0, 10.0, 60.0]),
    poll=st.sampled_from([PollPolicy(), PollPolicy(jitter=0.3, growth=1.5, max_interval=4)]),
    job_age=st.sampled_from([0.0, 3.0, 1000.0]),
)
job_shapes = st.tuples(
    st.sampled_from([0.0, 0.3, 2.0, 6.0]),
    st.sampled_from([0.0, 1.0, 5.0]),
    st.booleans(),
    st.binary(min_size=1, max_size=4000),  # an empty result is an error (test_driver_hostile)
)


def _source(sc: Scenario) -> Any:
    if sc.source == "bytes":
        return sc.video
    if sc.source == "bytesio":
        stream = io.BytesIO(b"skipped" + sc.video)
        stream.seek(7)  # the caller's position is where the upload starts
        return stream
    return Pipe(sc.video)


@dataclass
class Outcome:
    value: Any = None
    error: DecartSDKError | None = None


def _call(driver: Driver, sc: Scenario, source: Any) -> Any:
    options = {"model": models.video("lucy-2.1"), "data": source, "prompt": sc.prompt}
    timeout = None if sc.strict else sc.timeout
    if sc.mode == "submit_and_poll":
        return driver.submit_and_poll(options, to_output=sc.to_output, timeout=timeout)
    if sc.mode == "submit":
        return driver.submit(options, timeout=timeout)
    if sc.mode == "wait":
        return driver.wait(JOB_ID, to_output=sc.to_output, timeout=timeout)
    if sc.mode == "result":
        return driver.result(JOB_ID, to_output=sc.to_output, timeout=timeout)
    return driver.status(JOB_ID, timeout=timeout)


def _world(
    sc: Scenario, data: st.DataObject, seed: int, split: str
) -> tuple[World, Server, Driver, float]:
    world = World(random.Random(seed), split=split)
    pending, processing, fails, result = data.draw(job_shapes, label="job")

    def make_job(job_id: str, now: float) -> Job:
        return Job(job_id, now, pending, processing, fails, result)

    submitting = sc.mode in ("submit_and_poll", "submit")
    expected = {"data": sc.video, "prompt": sc.prompt.encode()} if submitting else None
    server = Server(world, Faults(data, sc.strict), make_job, expected)
    world.server = server
    if not submitting:
        server.jobs[JOB_ID] = make_job(JOB_ID, -sc.job_age)
    job_timeout = 10_000.0 if sc.strict else 900.0
    driver = Driver(
        api_key=API_KEY,
        base_url="http://sim.invalid",
        clock=world.clock,
        rand=random.Random(seed),
        poll=sc.poll,
        retry=RetryPolicy(max_retries=MAX_RETRIES),
        # A status or result call tries as long as the call's budget (the generous one of strict
        # scenarios), not the minute of Timeouts.answer: tested on its own, below.
        timeouts=Timeouts(job=job_timeout, request=sc.request_timeout, answer=job_timeout),
    )
    deadline = world.now + (job_timeout if sc.strict else sc.timeout)
    world.call_deadline = deadline
    return world, server, driver, deadline


def _requests(server: Server, kind: str | None = None) -> list[Record]:
    return [r for r in server.log if r.kind != "connect" and (kind is None or r.kind == kind)]


@examples(1500)
@given(
    sc=scenarios,
    data=st.data(),
    seed=st.integers(0, 2**32 - 1),
    split=st.sampled_from(["random", "whole", "bytes"]),
)
def test_driver_in_a_simulated_world(
    sc: Scenario, data: st.DataObject, seed: int, split: str
) -> None:
    world, server, driver, deadline = _world(sc, data, seed, split)
    source = _source(sc)
    gen = _call(driver, sc, source)
    outcome = Outcome()
    try:
        outcome.value = world.run(gen)
    except (QueueSubmitError, QueueStatusError, QueueResultError, DeadlineExceededError) as exc:
        outcome.error = exc

    ended = type(outcome.error or outcome.value).__name__
    event(f"{sc.mode} {'strict' if sc.strict else 'free'}: {ended}")
    event(f"requests: {min(len(server.log) // 5 * 5, 30)}+")

    # -- whatever happened --------------------------------------------------------------------
    assert server.problems == []
    assert world.violations == []
    assert world.held == set(), "every acquired connection is released"
    submits = _requests(server, "submit")
    assert sum(r.job_created for r in submits) <= 1
    for earlier in submits[:-1]:
        assert earlier.fault in NO_JOB, f"re-submitted after {earlier.fault}: {submits}"
    if sc.source == "pipe":
        assert len(submits) <= 1, "a body of unknown size is never sent twice"
    fetched = [r for r in _requests(server, "result") if r.status == 200]
    assert len(fetched) <= 1, "the result is downloaded once"
    _check_notifications(sc, server, world)
    if sc.to_output:
        assert "OutputWrite" not in world.ops or sc.mode in ("submit_and_poll", "wait", "result")
    else:
        assert "OutputWrite" not in world.ops and "OutputReset" not in world.ops

    if outcome.error is not None:
        _check_error(sc, server, outcome.error, deadline)
    else:
        _check_value(sc, server, world, outcome.value)
    if sc.strict:
        _check_strict(sc, server, outcome)


def _check_notifications(sc: Scenario, server: Server, world: World) -> None:
    if sc.mode in ("submit", "status", "result"):
        assert world.notified == [], "one-shot calls notify nobody"
        return
    for a, b in zip(world.notified, world.notified[1:], strict=False):
        assert a != b, f"the same status reported twice in a row: {world.notified}"
    told = [
        r.reported
        for r in _requests(server)
        if r.kind in ("submit", "status") and r.status == 200 and r.reported != "queued"
    ]
    changes = [s for i, s in enumerate(told) if i == 0 or told[i - 1] != s]
    # Each change the server told is reported, in order (a last one may be cut off by an end).
    assert world.notified == changes[: len(world.notified)]
    assert len(world.notified) >= len(changes) - 1


def _stage(sc: Scenario, server: Server) -> str:
    """Which request the call was at when it ended: its error class follows from it."""
    if sc.mode in ("result", "status", "submit"):
        return {"submit": "submit"}.get(sc.mode, sc.mode)
    stage = "submit" if sc.mode == "submit_and_poll" else "status"
    for r in _requests(server):
        if r.kind in ("submit", "status") and r.status == 200 and r.reported is not None:
            if r.reported == "completed":
                stage = "result"
            elif r.reported in ("pending", "processing"):
                stage = "status"
    return stage


def _check_error(sc: Scenario, server: Server, error: DecartSDKError, deadline: float) -> None:
    if isinstance(error, DeadlineExceededError):
        assert not sc.strict, f"a generous deadline passed: {error}"
        # Once the client knows its job's id, a deadline error names it, to resume with.
        known = None if _stage(sc, server) == "submit" else JOB_ID
        assert error.data["job_id"] == known, (error.data, server.log)
        # Only once the deadline has really passed (#14): never while an attempt could fit,
        # unless the server asked for a wait past the last moment one may start (#12).
        if server.world.now < deadline:
            asked = server.log[-1].retry_after
            assert asked is not None and server.world.now + asked > deadline - 0.1 * min(
                sc.request_timeout, sc.timeout
            ), (server.world.now, deadline, server.log)
            assert f"the server asked to retry after {asked} s" in error.message, error
        return
    stage = _stage(sc, server)
    assert type(error) is ERRORS[stage], (stage, error, server.log)
    code = error.data["status"]
    relevant = _requests(server, stage)
    if code is None:
        # A network failure: the last thing that happened to a request of this stage.
        last = server.log[-1] if server.log else None
        assert last is not None
        prior = relevant[-1] if relevant else None
        assert (
            last.fault in NETWORKISH
            or (last.kind == "connect")
            or (prior is not None and prior.fault in ("idle_close", *NETWORKISH))
        ), (error, server.log)
    else:
        assert relevant, (error, server.log)
        assert relevant[-1].status == code, (error, server.log)
        if code == 200:
            assert relevant[-1].fault == "unknown_status"


def _check_value(sc: Scenario, server: Server, world: World, value: Any) -> None:
    if sc.mode == "submit":
        assert isinstance(value, JobSubmitResponse)
        last = _requests(server, "submit")[-1]
        assert (value.job_id, value.status) == (JOB_ID, last.reported)
        return
    if sc.mode == "status":
        assert isinstance(value, JobStatusResponse)
        assert (value.job_id, value.status) == (JOB_ID, _requests(server, "status")[-1].reported)
        return
    assert isinstance(value, QueueJobResult)
    job = server.jobs[JOB_ID]
    assert value.job_id == JOB_ID
    if value.status == "completed":
        assert not job.fails
        if sc.to_output:
            assert value.data is None
            assert bytes(world.output) == job.result
        else:
            assert value.data == job.result
        assert len([r for r in _requests(server, "result") if r.status == 200]) == 1
    else:
        assert value.status == "failed" and value.error
        assert job.fails
        told = [r for r in _requests(server) if r.kind != "result" and r.status == 200]
        assert told[-1].reported == "failed"
        assert not [r for r in _requests(server, "result") if r.status == 200]


def _check_strict(sc: Scenario, server: Server, outcome: Outcome) -> None:
    """Only survivable faults: the call ends as the job did."""
    first_submit_faulted = False
    for r in server.log:
        if r.kind == "connect" or r.fault != "ok":
            first_submit_faulted = True
        if r.kind == "submit":
            first_submit_faulted = first_submit_faulted or r.fault != "ok"
            break
    if sc.source == "pipe" and sc.mode in ("submit", "submit_and_poll") and first_submit_faulted:
        assert isinstance(outcome.error, QueueSubmitError), outcome
        return
    if sc.mode == "result":
        job = server.jobs[JOB_ID]
        last = _requests(server, "result")[-1]
        if last.status == 409:
            probe = _requests(server, "status")
            if probe and probe[-1].reported == "failed":
                assert outcome.value == FailedResult(JOB_ID)
            else:
                assert isinstance(outcome.error, QueueResultError), outcome
                assert outcome.error.data["status"] == 409
        else:
            assert outcome.error is None and outcome.value.status == "completed"
            assert not job.fails
        return
    assert outcome.error is None, (outcome.error, server.log)
    if sc.mode in ("submit_and_poll", "wait"):
        job = server.jobs[JOB_ID]
        assert outcome.value.status == ("failed" if job.fails else "completed")


# -- focused cases --------------------------------------------------------------------------


@dataclass
class Scripted:
    world: World
    server: Server
    run: Callable[[], Any]


def _scripted(
    mode: str,
    faults: list[str],
    *,
    source: Any = b"video",
    job: tuple[float, float, bool, bytes] = (0.0, 0.0, False, b"RESULT"),
    timeout: float | None = None,
    request_timeout: float = 10.0,
    to_output: bool = False,
    retry: RetryPolicy | None = None,
    poll: PollPolicy | None = None,
) -> Scripted:
    """A world whose faults come from a list (then "ok"), for cases worth spelling out."""
    world = World(random.Random(7), split="whole", oversleep=(0.0,), latency=(0.0,))
    script = list(faults)

    def choose(kind: str) -> str:
        if kind == "connect":
            return script.pop(0) if script and script[0] == "refused" else "ok"
        return script.pop(0) if script else "ok"

    def make_job(job_id: str, now: float) -> Job:
        return Job(job_id, now, *job)

    server = Server(world, choose, make_job, None)
    world.server = server
    driver = Driver(
        api_key=API_KEY,
        base_url="http://sim.invalid",
        clock=world.clock,
        rand=random.Random(1),
        retry=retry,
        poll=poll,
        timeouts=Timeouts(request=request_timeout),
    )
    world.call_deadline = (timeout or Timeouts().job) + world.now
    options = {"model": models.video("lucy-2.1"), "data": source, "prompt": "p"}
    if mode in ("wait", "result", "status"):
        server.jobs[JOB_ID] = make_job(JOB_ID, 0.0)

    def run() -> Any:
        if mode == "submit_and_poll":
            return world.run(driver.submit_and_poll(options, to_output=to_output, timeout=timeout))
        if mode == "submit":
            return world.run(driver.submit(options, timeout=timeout))
        if mode == "wait":
            return world.run(driver.wait(JOB_ID, to_output=to_output, timeout=timeout))
        if mode == "result":
            return world.run(driver.result(JOB_ID, to_output=to_output, timeout=timeout))
        return world.run(driver.status(JOB_ID, timeout=timeout))

    return Scripted(world, server, run)


def test_the_happy_path_polls_at_the_official_rhythm() -> None:
    s = _scripted("submit_and_poll", [], job=(0.3, 1.0, False, b"MP4"))
    result = s.run()
    assert result == CompletedResult(b"MP4", JOB_ID)
    times = [round(r.at, 6) for r in s.server.log]
    assert [r.kind for r in s.server.log] == ["submit", "status", "status", "result"]
    assert times == [0.0, 0.5, 2.0, 2.0]
    assert s.world.notified == ["pending", "processing", "completed"]


def test_a_reset_after_the_body_was_sent_is_never_resubmitted() -> None:
    s = _scripted("submit_and_poll", ["reset"])
    with pytest.raises(QueueSubmitError) as info:
        s.run()
    assert info.value.data["status"] is None
    assert [r.kind for r in s.server.log] == ["submit"] and s.server.log[0].job_created


@pytest.mark.parametrize("fault", ["429", "429_date", "429_bare", "503_ra", "refused"])
def test_a_submit_is_retried_when_the_server_proves_no_job_exists(fault: str) -> None:
    s = _scripted("submit_and_poll", [fault])
    assert s.run().status == "completed"
    assert sum(r.job_created for r in s.server.log) == 1
    assert len(_requests(s.server, "submit")) == (1 if fault == "refused" else 2)


@pytest.mark.parametrize("fault", ["503", "500", "408", "stall", "truncate", "early_413"])
def test_a_submit_is_not_retried_when_a_job_may_exist(fault: str) -> None:
    s = _scripted("submit_and_poll", [fault])
    with pytest.raises(QueueSubmitError) as info:
        s.run()
    expected = {"503": 503, "500": 500, "408": 408, "early_413": 413}.get(fault)
    assert info.value.data["status"] == expected
    assert len(_requests(s.server, "submit")) == 1


@pytest.mark.parametrize("wait", [1, 3, 20])
@pytest.mark.parametrize("fault", ["429", "503_ra", "429_date"])
@pytest.mark.parametrize("mode", ["submit", "status", "result"])
def test_a_retry_waits_what_retry_after_asks(mode: str, fault: str, wait: int) -> None:
    # In seconds, or as an HTTP date: the server's wall clock (EPOCH) is unrelated to the
    # virtual clock, so only the difference between its Retry-After and Date headers may count.
    # The policy's own backoff (0.25-0.5 s before a first retry) would come at another time.
    s = _scripted(mode, [fault])
    s.server.retry_after_choices = (wait,)
    s.run()
    first, second = _requests(s.server)
    assert (first.fault, first.retry_after, second.fault) == (fault, wait, "ok")
    assert second.at - first.at == wait


def test_a_body_of_unknown_size_goes_chunked_and_is_never_retried() -> None:
    pipe = Pipe(b"x" * 10_000)
    s = _scripted("submit_and_poll", ["429"], source=pipe)
    with pytest.raises(QueueSubmitError) as info:
        s.run()
    assert info.value.data["status"] == 429
    assert len(_requests(s.server, "submit")) == 1
    assert "ReadFile" in s.world.ops


def test_a_truncated_download_restarts_the_output() -> None:
    s = _scripted("result", ["truncate"], job=(0.0, 0.0, False, b"A" * 5000), to_output=True)
    assert s.run() == SavedResult(JOB_ID)
    assert bytes(s.world.output) == b"A" * 5000
    assert s.world.output_resets == 1


def test_result_of_a_failed_job_is_a_failed_result() -> None:
    s = _scripted("result", [], job=(0.0, 0.0, True, b""))
    assert s.run() == FailedResult(JOB_ID)
    assert [r.kind for r in s.server.log] == ["result", "status"]


def test_result_of_a_running_job_is_the_content_error() -> None:
    s = _scripted("result", [], job=(100.0, 0.0, False, b""))
    with pytest.raises(QueueResultError) as info:
        s.run()
    assert info.value.data["status"] == 409


def test_result_keeps_the_content_error_when_the_probe_fails() -> None:
    s = _scripted("result", ["ok", "401"], job=(100.0, 0.0, False, b""))
    with pytest.raises(QueueResultError) as info:
        s.run()
    assert info.value.data["status"] == 409


@pytest.mark.parametrize("code", ["401", "503"])
def test_result_does_not_probe_after_auth_or_transient_errors(code: str) -> None:
    retry = RetryPolicy(max_retries=0)
    s = _scripted("result", [code], retry=retry)
    with pytest.raises(QueueResultError):
        s.run()
    assert [r.kind for r in s.server.log] == ["result"]


def test_the_result_probe_shares_the_calls_deadline() -> None:
    # The content is refused late (its first request stalls until its 3 s step ends), and the
    # status probe that follows stalls too: it ends at the call's deadline, not at one of its
    # own, and the caller hears of the refused content.
    s = _scripted(
        "result", ["stall", "ok", "stall"], job=(0.0, 0.0, True, b""), timeout=5.0,
        request_timeout=3.0,
    )  # fmt: skip
    with pytest.raises(QueueResultError) as info:
        s.run()
    assert info.value.data["status"] == 409
    assert [(r.kind, r.status) for r in s.server.log] == [
        ("result", None),
        ("result", 409),
        ("status", None),
    ]
    assert s.server.log[-1].at > 3.0
    assert s.world.now == 5.0
    assert s.world.violations == []


# -- #14: the deadline waits to the end ------------------------------------------------------


@pytest.mark.parametrize(
    ("poll", "timeout", "polls"),
    [
        # Before: "Deadline of 3.0 s passed" at 2.0 s, after the polls at 0.5 and 2.0 s.
        (PollPolicy(), 3.0, [0.5, 2.0, 2.7]),
        # Before: "Deadline of 22.0 s passed" at 11.0 s, after the poll at 11.0 s.
        (PollPolicy(growth=2), 22.0, [0.5, 2.0, 5.0, 11.0, 19.8]),
    ],
    ids=["timeout=3", "growth=2,timeout=22"],
)
def test_a_job_that_outlives_the_deadline_is_polled_until_its_end(
    poll: PollPolicy, timeout: float, polls: list[float]
) -> None:
    s = _scripted(
        "submit_and_poll", [], job=(1e6, 0.0, False, b""), timeout=timeout,
        request_timeout=60.0, poll=poll,
    )  # fmt: skip
    with pytest.raises(DeadlineExceededError, match=f"Deadline of {timeout} s passed") as info:
        s.run()
    assert [round(r.at, 6) for r in _requests(s.server, "status")] == polls
    assert s.world.now == timeout
    # Every answer was good: the job just did not finish in time.
    assert info.value.data == {"job_id": JOB_ID, "status": "pending", "last_failure": None}


def test_a_job_completed_late_in_the_deadline_is_fetched() -> None:
    # Completed at 15 s: before #14 the call had given up at 11 s; now the last poll, at 19.8 s,
    # finds it.
    s = _scripted(
        "submit_and_poll", [], job=(15.0, 0.0, False, b"LATE"), timeout=22.0,
        request_timeout=60.0, poll=PollPolicy(growth=2),
    )  # fmt: skip
    assert s.run() == CompletedResult(b"LATE", JOB_ID)
    assert [round(r.at, 6) for r in _requests(s.server, "status")] == [0.5, 2, 5, 11, 19.8]


def test_a_refused_connection_is_tried_until_the_end() -> None:
    # Before #14, with timeout=2: given up after 1.0-1.3 s, once the next backoff reached past
    # the deadline.
    s = _scripted("submit_and_poll", ["refused"] * 20, timeout=2.0, request_timeout=60.0)
    with pytest.raises(DeadlineExceededError) as info:
        s.run()
    tries = [r.at for r in s.server.log if r.kind == "connect"]
    assert len(tries) >= 3 and tries[-1] == pytest.approx(1.8)  # 0.2 s (a tenth) before the end
    assert s.world.now == 2.0
    assert isinstance(info.value.cause, QueueSubmitError)
    assert info.value.data == {"job_id": None, "status": None, "last_failure": info.value.cause}
    assert "the last attempt failed: Failed to submit job: connection refused" in str(info.value)


def test_a_stall_past_the_deadline_is_a_deadline_error_with_the_job_id() -> None:
    s = _scripted(
        "submit_and_poll", ["ok", "stall"], job=(50.0, 0.0, False, b""), timeout=30.0,
        request_timeout=60.0,
    )  # fmt: skip
    with pytest.raises(DeadlineExceededError) as info:
        s.run()
    assert info.value.data == {
        "job_id": JOB_ID, "status": "pending", "last_failure": info.value.cause
    }  # fmt: skip
    assert s.world.now == 30.0
    assert isinstance(info.value.cause, QueueStatusError)


def test_one_shot_calls() -> None:
    s = _scripted("submit", [], job=(5.0, 0.0, False, b""))
    assert s.run() == JobSubmitResponse(JOB_ID, "pending")
    s = _scripted("status", [], job=(0.0, 5.0, False, b""))
    assert s.run() == JobStatusResponse(JOB_ID, "processing")
    assert s.world.notified == []


def test_an_unknown_status_value_is_a_protocol_error() -> None:
    s = _scripted("wait", ["unknown_status"])
    with pytest.raises(QueueStatusError, match="unknown job status 'queued'") as info:
        s.run()
    assert info.value.data["status"] == 200


def test_a_stale_keep_alive_connection_is_retried() -> None:
    s = _scripted("wait", ["idle_close"], job=(1.0, 0.0, False, b"R"))
    assert s.run().data == b"R"
    assert "Acquire" in s.world.ops and s.server.log[0].fault == "idle_close"


@examples(100)
@given(
    mode=st.sampled_from(["submit_and_poll", "wait", "result"]),
    stop_after=st.integers(1, 60),
    to_output=st.booleans(),
)
def test_closing_the_generator_mid_call_ends_it_quietly(
    mode: str, stop_after: int, to_output: bool
) -> None:
    """A cancelled transport closes the generator: no op may follow, nothing may be raised."""
    faults = ["429", "ok", "truncate"]
    s = _scripted(mode, faults, job=(0.0, 0.0, False, b"R" * 900))
    driver = Driver(
        api_key=API_KEY, base_url="http://sim.invalid", clock=s.world.clock, rand=random.Random(3)
    )
    options = {"model": models.video("lucy-2.1"), "data": b"v", "prompt": ""}
    gen = (
        driver.submit_and_poll(options, to_output=to_output)
        if mode == "submit_and_poll"
        else getattr(driver, mode)(JOB_ID, to_output=to_output)
    )
    reply: Any = None
    error: Exception | None = None
    for _ in range(stop_after):
        try:
            op = gen.throw(error) if error else gen.send(reply)
        except StopIteration as stop:
            assert stop.value.data == (None if to_output else b"R" * 900)
            return
        reply, error = None, None
        try:
            reply = s.world.execute(op)
        except NetworkError as exc:
            error = exc
    gen.close()  # raises RuntimeError if the generator yielded again
    with pytest.raises(StopIteration):
        gen.send(None)


def test_bad_arguments_fail_before_any_io() -> None:
    world = World(random.Random(0))
    driver = Driver(api_key=API_KEY, clock=world.clock, rand=random.Random(0))
    with pytest.raises(InvalidInputError, match="job ids come from submit"):
        next(driver.status("a/../b"))
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="timeout"):
            next(driver.wait(JOB_ID, timeout=bad))
    assert API_KEY not in repr(driver)
