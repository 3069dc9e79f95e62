"""Retry delays: exponential backoff with full jitter."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livecue._backoff import backoff_delay

ALMOST_ONE = math.nextafter(1.0, 0.0)


@pytest.mark.parametrize(
    ("attempt", "jitter", "expected"),
    [
        # base 0.25 s doubling per attempt, cap 5 s, times jitter (worked out by hand)
        (0, 0.5, 0.125),
        (1, 0.5, 0.25),
        (2, 0.5, 0.5),
        (3, 0.5, 1.0),
        (4, 0.5, 2.0),
        (4, 0.25, 1.0),
        (5, 0.5, 2.5),  # 8 s ceiling capped at 5 s
        (10, 0.5, 2.5),
        (0, 0.0, 0.0),
    ],
)
def test_known_delays(attempt: int, jitter: float, expected: float) -> None:
    assert backoff_delay(attempt, jitter=jitter) == pytest.approx(expected)


def test_custom_base_and_cap() -> None:
    assert backoff_delay(0, jitter=0.5, base_s=1.0, cap_s=30.0) == pytest.approx(0.5)
    assert backoff_delay(3, jitter=0.5, base_s=1.0, cap_s=30.0) == pytest.approx(4.0)
    assert backoff_delay(6, jitter=0.5, base_s=1.0, cap_s=30.0) == pytest.approx(15.0)


@pytest.mark.parametrize("attempt", range(0, 60))
def test_zero_jitter_means_no_wait(attempt: int) -> None:
    assert backoff_delay(attempt, jitter=0.0) == 0.0


@pytest.mark.parametrize("attempt", [*range(0, 40), 100, 1_000, 10**9])
def test_bounded_by_the_cap(attempt: int) -> None:
    delay = backoff_delay(attempt, jitter=ALMOST_ONE)
    assert 0.0 <= delay < 5.0
    assert backoff_delay(attempt, jitter=ALMOST_ONE, cap_s=1.5) < 1.5


def test_huge_attempts_stay_at_the_cap() -> None:
    assert backoff_delay(10**9, jitter=0.5) == pytest.approx(2.5)


@given(
    st.integers(min_value=0, max_value=200),
    st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    st.floats(min_value=0.001, max_value=10.0),
    st.floats(min_value=0.001, max_value=600.0),
)
def test_ceiling_never_shrinks(attempt: int, jitter: float, base: float, cap: float) -> None:
    now = backoff_delay(attempt, jitter=jitter, base_s=base, cap_s=cap)
    later = backoff_delay(attempt + 1, jitter=jitter, base_s=base, cap_s=cap)
    assert 0.0 <= now <= later <= cap
    assert now <= base * 2.0**attempt


@given(st.integers(min_value=0, max_value=100))
def test_jitter_scales_linearly(attempt: int) -> None:
    full = backoff_delay(attempt, jitter=0.5)
    assert backoff_delay(attempt, jitter=0.25) == pytest.approx(full / 2)


@pytest.mark.parametrize("attempt", [-1, -100])
def test_negative_attempt_is_refused(attempt: int) -> None:
    with pytest.raises(ValueError, match="attempt"):
        backoff_delay(attempt, jitter=0.5)


@pytest.mark.parametrize("jitter", [-0.1, -0.0001, 1.0, 1.5, math.inf, -math.inf, math.nan])
def test_jitter_outside_unit_interval_is_refused(jitter: float) -> None:
    with pytest.raises(ValueError, match="jitter"):
        backoff_delay(0, jitter=jitter)
