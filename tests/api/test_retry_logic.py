"""The pure retry decisions and Retry-After parsing: no I/O, no clock."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slack_rtm.api import RetryConfig
from slack_rtm.api.retry import decide, parse_retry_after
from slack_rtm.backoff import Backoff

CFG = RetryConfig(max_attempts=4, backoff=Backoff(initial=1.0, maximum=8.0), max_total_wait=20)


def test_not_retryable_gives_up() -> None:
    d = decide(CFG, attempts=1, waited=0, retryable=False, retry_after=None, rand=0.5)
    assert not d.retry
    assert d.wait is None
    assert "not worth retrying" in d.reason


def test_backoff_waits_grow() -> None:
    waits = [
        decide(CFG, attempts=n, waited=0, retryable=True, retry_after=None, rand=0.5).wait
        for n in (1, 2, 3)
    ]
    assert waits == [0.5, 1.0, 2.0]


def test_attempts_exhausted() -> None:
    d = decide(CFG, attempts=4, waited=0, retryable=True, retry_after=None, rand=0.5)
    assert d.wait is None
    assert d.reason == "gave up after 4 attempts"


def test_disabled() -> None:
    cfg = RetryConfig.disabled()
    assert cfg == RetryConfig.none()
    assert not cfg.enabled
    d = decide(cfg, attempts=1, waited=0, retryable=True, retry_after=None, rand=0.5)
    assert d.reason == "retries are disabled"


def test_retry_after_is_a_floor() -> None:
    d = decide(CFG, attempts=1, waited=0, retryable=True, retry_after=6.0, rand=0.1)
    assert d.wait == 6.0
    assert d.reason == "retry 1 of 3"


def test_retry_after_beyond_budget_gives_up() -> None:
    d = decide(CFG, attempts=1, waited=15, retryable=True, retry_after=6.0, rand=0.1)
    assert d.wait is None
    assert "longer than the 5 s left" in d.reason


def test_backoff_clipped_to_budget_then_used_up() -> None:
    d = decide(CFG, attempts=3, waited=19, retryable=True, retry_after=None, rand=0.9)
    assert d.wait == pytest.approx(1.0)
    d = decide(CFG, attempts=3, waited=20, retryable=True, retry_after=None, rand=0.9)
    assert d.wait is None
    assert "budget of 20 s is used up" in d.reason


def test_zero_wait_allowed_with_empty_budget() -> None:
    cfg = RetryConfig(max_attempts=3, max_total_wait=0)
    d = decide(cfg, attempts=1, waited=0, retryable=True, retry_after=None, rand=0.0)
    assert d.wait == 0.0


def test_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="attempts"):
        decide(CFG, attempts=0, waited=0, retryable=True, retry_after=None, rand=0.5)


@given(
    attempts=st.integers(1, 10),
    waited=st.floats(0, 100),
    retry_after=st.none() | st.floats(0, 200),
    rand=st.floats(0, 1, exclude_max=True),
    budget=st.floats(0, 100) | st.just(math.inf),
)
def test_never_sooner_than_retry_after_and_never_over_budget(
    attempts: int, waited: float, retry_after: float | None, rand: float, budget: float
) -> None:
    cfg = RetryConfig(max_attempts=6, max_total_wait=budget)
    d = decide(cfg, attempts=attempts, waited=waited, retryable=True, retry_after=retry_after,
               rand=rand)
    if d.wait is None:
        return
    assert attempts < 6
    assert d.wait <= max(0.0, budget - waited) + 1e-9
    if retry_after is not None:
        assert d.wait >= retry_after


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"max_attempts": 0}, ValueError),
        ({"max_attempts": 2.0}, TypeError),
        ({"max_attempts": True}, TypeError),
        ({"backoff": 1.0}, TypeError),
        ({"max_total_wait": -1}, ValueError),
        ({"max_total_wait": math.nan}, ValueError),
        ({"max_total_wait": "60"}, TypeError),
    ],
)
def test_retry_config_checked(kwargs: dict[str, Any], exc: type[Exception]) -> None:
    with pytest.raises(exc, match=next(iter(kwargs))):
        RetryConfig(**kwargs)


def test_retry_config_is_frozen_with_sane_defaults() -> None:
    cfg = RetryConfig()
    assert cfg.max_attempts == 4
    assert cfg.enabled
    assert cfg.backoff.jitter
    with pytest.raises(AttributeError):
        cfg.max_attempts = 1  # type: ignore[misc]
    assert RetryConfig(max_total_wait=math.inf).max_total_wait == math.inf


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("30", 30.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-1", None),
        ("inf", None),
        ("nan", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00", 0.0),  # a date in the past (no zone: UTC)
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now=now) == 90.0
