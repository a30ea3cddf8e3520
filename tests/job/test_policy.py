"""PollPolicy, RetryPolicy and Timeouts: the numbers behind every wait."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from decart_proto import DEFAULT_JOB_TIMEOUT, PollPolicy, RetryPolicy, Timeouts

from .hyp import examples

unit = st.floats(0, 1, exclude_max=True)


def test_poll_defaults_are_the_official_clients_rhythm() -> None:
    policy = PollPolicy()
    assert policy.delay(0, 0.0) == 0.5
    assert policy.delay(0, 0.99) == 0.5  # no jitter by default
    assert [policy.delay(n, 0.5) for n in range(1, 6)] == [1.5] * 5
    assert policy.bounds() == (0.5, 30.0)


def test_poll_growth_is_geometric_and_capped() -> None:
    policy = PollPolicy(initial_delay=1, interval=2, growth=2, max_interval=10)
    assert [policy.delay(n, 0.3) for n in range(6)] == [1, 2, 4, 8, 10, 10]


def test_poll_growth_never_overflows() -> None:
    policy = PollPolicy(interval=0.1, growth=3, max_interval=5)
    assert policy.delay(10**6, 0.0) == 5
    assert RetryPolicy(max_retries=10**6, backoff_cap=7).delay(10**6, 0.0, None) == 3.5


def test_poll_jitter_scales_around_the_base() -> None:
    policy = PollPolicy(initial_delay=2, interval=4, jitter=0.25)
    assert policy.delay(0, 0.0) == 1.5
    assert policy.delay(0, 0.5) == 2.0
    assert policy.delay(3, 0.0) == 3.0
    assert policy.delay(3, 0.75) == 4.5
    assert policy.bounds() == (1.5, 37.5)


@st.composite
def poll_policies(draw: st.DrawFn) -> PollPolicy:
    interval = draw(st.floats(0.01, 100))
    return PollPolicy(
        initial_delay=draw(st.floats(0, 100)),
        interval=interval,
        growth=draw(st.floats(1, 4)),
        max_interval=draw(st.floats(interval, 1000)),
        jitter=draw(st.floats(0, 1, exclude_max=True)),
    )


@examples(300)
@given(poll_policies(), st.integers(0, 10**4), unit)
def test_every_poll_wait_lies_within_bounds(policy: PollPolicy, polls: int, rand: float) -> None:
    low, high = policy.bounds()
    wait = policy.delay(polls, rand)
    assert low <= wait <= high or math.isclose(wait, low) or math.isclose(wait, high)
    if polls:
        assert policy.interval * (1 - policy.jitter) <= wait * (1 + 1e-9)
        assert wait <= policy.max_interval * (1 + policy.jitter) * (1 + 1e-9)
    else:
        low, high = (policy.initial_delay * (1 + sign * policy.jitter) for sign in (-1, 1))
        assert low * (1 - 1e-9) <= wait <= high * (1 + 1e-9)


@examples(300)
@given(poll_policies(), st.integers(0, 50), unit, unit)
def test_poll_jitter_spreads_waits_evenly_around_the_steady_wait(
    policy: PollPolicy, polls: int, a: float, b: float
) -> None:
    """Jitter as its field describes it: each wait is the steady one (without jitter) scaled by
    a factor that the draw spreads over [1 - jitter, 1 + jitter], the lower draw never the
    longer wait, and draws mirrored about 0.5 giving waits mirrored about the steady one."""
    steady = replace(policy, jitter=0).delay(polls, a)
    j = policy.jitter
    low, high = policy.delay(polls, min(a, b)), policy.delay(polls, max(a, b))
    assert low <= high
    assert steady * (1 - j) * (1 - 1e-9) <= low and high <= steady * (1 + j) * (1 + 1e-9)
    assert math.isclose(policy.delay(polls, 0.0), steady * (1 - j), rel_tol=1e-9)
    assert math.isclose(policy.delay(polls, 0.5), steady, rel_tol=1e-9)
    mirrored = policy.delay(polls, a) + policy.delay(polls, 1 - a)
    assert math.isclose(mirrored, 2 * steady, rel_tol=1e-9, abs_tol=1e-12)


@examples(100)
@given(poll_policies(), st.integers(1, 200), unit)
def test_poll_waits_never_shrink_without_jitter(
    policy: PollPolicy, polls: int, rand: float
) -> None:
    steady = PollPolicy(
        policy.initial_delay, policy.interval, policy.growth, policy.max_interval, jitter=0
    )
    assert steady.delay(polls, rand) <= steady.delay(polls + 1, rand)


def test_retry_backoff_is_exponential_with_equal_jitter() -> None:
    policy = RetryPolicy(backoff_base=1, backoff_cap=8)
    assert [policy.delay(n, 0.0, None) for n in range(1, 6)] == [0.5, 1, 2, 4, 4]
    assert [policy.delay(n, 1.0, None) for n in range(1, 6)] == [1, 2, 4, 8, 8]


def test_retry_after_wins_over_backoff_up_to_its_cap() -> None:
    policy = RetryPolicy(max_retry_after=60)
    assert policy.delay(1, 0.9, 7.0) == 7.0
    assert policy.delay(5, 0.9, 0.0) == 0.0
    assert policy.delay(1, 0.9, -3.0) == 0.0
    assert policy.delay(1, 0.9, 3600.0) == 60.0
    assert policy.delay(1, 0.9, math.inf) == 60.0


@examples(200)
@given(
    st.floats(0.001, 10),
    st.floats(1, 100),
    st.integers(1, 5000),
    unit,
    st.none() | st.floats(-10, 1e6),
)
def test_every_retry_wait_lies_within_bounds(
    base: float, cap_factor: float, retry: int, rand: float, after: float | None
) -> None:
    policy = RetryPolicy(max_retries=5000, backoff_base=base, backoff_cap=base * cap_factor)
    wait = policy.delay(retry, rand, after)
    if after is None:
        assert base / 2 <= wait <= policy.backoff_cap
        return
    # The server's Retry-After, as asked when it is within [0, max_retry_after] (120 s here);
    # a time in the past is no wait, a longer one is cut to the cap. Neither the retry's
    # number nor the draw changes it.
    cap = policy.max_retry_after
    if after < 0:
        assert wait == 0
    elif after > cap:
        assert wait == cap == 120
    else:
        assert wait == after
    assert policy.delay(1, 0.0, after) == policy.delay(retry, 0.99, after) == wait


def test_timeouts_defaults() -> None:
    assert Timeouts() == Timeouts(job=DEFAULT_JOB_TIMEOUT, request=20.0, answer=60.0)
    # Longer than the service's own 10-minute limit, and finite.
    assert 600 < DEFAULT_JOB_TIMEOUT < math.inf


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: PollPolicy(initial_delay=-1), "initial_delay"),
        (lambda: PollPolicy(initial_delay=math.nan), "initial_delay"),
        (lambda: PollPolicy(initial_delay=math.inf), "initial_delay"),
        (lambda: PollPolicy(interval=0), "interval"),
        (lambda: PollPolicy(growth=0.5), "growth"),
        (lambda: PollPolicy(interval=5, max_interval=4), "max_interval"),
        (lambda: PollPolicy(jitter=1), "jitter"),
        (lambda: PollPolicy(jitter=-0.1), "jitter"),
        (lambda: RetryPolicy(max_retries=-1), "max_retries"),
        (lambda: RetryPolicy(backoff_base=0), "backoff_base"),
        (lambda: RetryPolicy(backoff_base=2, backoff_cap=1), "backoff_cap"),
        (lambda: RetryPolicy(max_retry_after=-1), "max_retry_after"),
        (lambda: Timeouts(job=0), "job"),
        (lambda: Timeouts(job=math.inf), "job"),
        (lambda: Timeouts(request=-1), "request"),
        (lambda: Timeouts(answer=0), "answer"),
    ],
)
def test_invalid_numbers_are_refused_naming_the_field(make: object, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        make()  # type: ignore[operator]


def test_edge_values_are_accepted() -> None:
    assert PollPolicy(initial_delay=0, interval=1, max_interval=1, jitter=0.99).delay(0, 0.5) == 0
    assert RetryPolicy(max_retries=0, backoff_base=1, backoff_cap=1).delay(1, 0.0, None) == 0.5
