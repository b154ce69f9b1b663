import math

import pytest

from slack_rtm.backoff import Backoff


def test_ceiling_grows_exponentially_then_caps() -> None:
    b = Backoff(initial=1.0, maximum=10.0, multiplier=2.0)
    assert [b.ceiling(n) for n in range(6)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_huge_attempt_does_not_overflow() -> None:
    assert Backoff(initial=1.0, maximum=60.0).ceiling(10_000) == 60.0


def test_full_jitter_scales_ceiling() -> None:
    b = Backoff(initial=1.0, maximum=10.0)
    assert b.delay(2, 0.5) == pytest.approx(2.0)
    assert b.delay(2, 0.0) == 0.0


def test_no_jitter_waits_the_ceiling() -> None:
    assert Backoff(initial=1.0, maximum=10.0, jitter=False).delay(1, 0.1) == 2.0


def test_retry_after_is_a_floor() -> None:
    b = Backoff(initial=1.0, maximum=10.0)
    assert b.delay(0, 0.9, retry_after=30.0) == 30.0
    assert b.delay(3, 0.99, retry_after=0.5) == pytest.approx(7.92)


def test_zero_initial_never_waits() -> None:
    assert Backoff(initial=0.0, maximum=0.0).delay(5, 0.7) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"initial": -1.0}, ValueError),
        ({"initial": math.nan}, ValueError),
        ({"maximum": math.inf}, ValueError),
        ({"multiplier": 0.5}, ValueError),
        ({"initial": 5.0, "maximum": 1.0}, ValueError),
        ({"initial": "1"}, TypeError),
        ({"initial": True}, TypeError),
    ],
)
def test_invalid_configuration_is_refused(kwargs: dict[str, object], exc: type[Exception]) -> None:
    with pytest.raises(exc):
        Backoff(**kwargs)  # type: ignore[arg-type]


def test_invalid_arguments_are_refused() -> None:
    b = Backoff()
    with pytest.raises(ValueError, match="attempt"):
        b.ceiling(-1)
    with pytest.raises(ValueError, match="rand"):
        b.delay(0, 1.0)
