"""How long to wait and when to try again: the numbers, separate from the decisions.

Defaults follow Decart's clients (first poll 0.5 s after submit, then every 1.5 s) so that the
load on the service is what it expects; growth and jitter are there for callers with many jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_ANSWER_TIMEOUT",
    "DEFAULT_JOB_TIMEOUT",
    "DEFAULT_MAX_IN_MEMORY_RESULT",
    "DEFAULT_REQUEST_TIMEOUT",
    "LAST_ATTEMPT_SHARE",
    "PollPolicy",
    "RetryPolicy",
    "Timeouts",
    "last_attempt_reserve",
]

# The service fails a job after 10 minutes; waiting a little longer than that means a job the
# service finishes is never abandoned by us, and a job lost in a network outage still ends.
DEFAULT_JOB_TIMEOUT = 15 * 60.0
# How long one step of a request (connecting, a send, a read) may take. The Queue API answers
# at once (it is a queue: the work happens later), so 20 s without a byte is a server that is
# not there; a slow download is not cut, as long as each read brings something.
DEFAULT_REQUEST_TIMEOUT = 20.0
# How long status() and result() called without timeout= go on trying for an answer: no attempt
# starts later than this after the call began. Against a server that accepts and never answers,
# three attempts (20 s each) and an error after about a minute, instead of seven (the retry
# budget) in seven minutes; a download under way runs on, bounded by the job's timeout.
DEFAULT_ANSWER_TIMEOUT = 60.0
# The last attempt of a call starts at the latest this share of a request's time before the
# deadline (of the call's whole time, when that is shorter), so that its answer can still come
# back in time: 6 s before the end with the defaults, 0.3 s before it with timeout=3. A poll or
# a retry that would start later than that is moved there instead.
LAST_ATTEMPT_SHARE = 0.1
# The largest result kept in memory (``Driver(max_in_memory_result=...)``): far above the
# service's clips, far below what a machine can spare. A larger one is refused, pointing to
# output=, which streams any size to a file.
DEFAULT_MAX_IN_MEMORY_RESULT = 1024 * 1024 * 1024


def _check(name: str, value: float, low: float, *, strict: bool = False) -> None:
    if not (value > low if strict else value >= low) or value == float("inf"):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {low}")


def last_attempt_reserve(request_timeout: float, call_time: float) -> float:
    """How long before its deadline a call makes its last attempt at the latest."""
    return LAST_ATTEMPT_SHARE * min(request_timeout, call_time)


def _grown(start: float, factor: float, times: int, cap: float) -> float:
    """``start * factor ** times``, at most *cap*: a long job polled often, or many retries,
    must not overflow a float."""
    try:
        return min(cap, start * factor**times)
    except OverflowError:
        return cap


@dataclass(frozen=True)
class PollPolicy:
    initial_delay: float = 0.5
    interval: float = 1.5
    growth: float = 1.0
    max_interval: float = 30.0
    jitter: float = 0.0  # a fraction: each wait is scaled by a factor in [1 - jitter, 1 + jitter]

    def __post_init__(self) -> None:
        _check("initial_delay", self.initial_delay, 0)
        _check("interval", self.interval, 0, strict=True)
        _check("growth", self.growth, 1)
        _check("max_interval", self.max_interval, self.interval)
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def delay(self, polls_done: int, rand: float) -> float:
        """The wait before the next status request, after *polls_done* of them (0: the wait
        after submit). *rand* is uniform in [0, 1)."""
        if polls_done == 0:
            base = self.initial_delay
        else:
            base = _grown(self.interval, self.growth, polls_done - 1, self.max_interval)
        return base * (1 + self.jitter * (2 * rand - 1))

    def bounds(self) -> tuple[float, float]:
        low = min(self.initial_delay, self.interval) * (1 - self.jitter)
        return low, max(self.initial_delay, self.max_interval) * (1 + self.jitter)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of transient failures: exponential backoff with "equal jitter" (half fixed, half
    random), so that many clients hit by one outage do not come back in step."""

    max_retries: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        _check("backoff_base", self.backoff_base, 0, strict=True)
        _check("backoff_cap", self.backoff_cap, self.backoff_base)
        _check("max_retry_after", self.max_retry_after, 0)

    def delay(self, retry: int, rand: float, retry_after: float | None) -> float:
        """The wait before retry number *retry* (1 for the first); a server's ``Retry-After``
        wins over the backoff, up to ``max_retry_after``."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        full = _grown(self.backoff_base, 2.0, retry - 1, self.backoff_cap)
        return full / 2 + rand * full / 2


@dataclass(frozen=True)
class Timeouts:
    """``job``: one deadline for a whole call, shared by all its requests and retries, when
    the call has no ``timeout=``. ``request``: how long one step of a request (connect, a
    send, a read) may take. ``answer``: how long ``status()`` and ``result()`` without
    ``timeout=`` keep trying: no attempt starts after it, so that a dead server is reported in
    about a minute, while a download under way is never cut by it."""

    job: float = DEFAULT_JOB_TIMEOUT
    request: float = DEFAULT_REQUEST_TIMEOUT
    answer: float = DEFAULT_ANSWER_TIMEOUT

    def __post_init__(self) -> None:
        _check("job", self.job, 0, strict=True)
        _check("request", self.request, 0, strict=True)
        _check("answer", self.answer, 0, strict=True)
