"""The shared reconnect policy and the per-channel pacer, without I/O."""

from __future__ import annotations

import pytest

from slack_rtm.backoff import Backoff
from slack_rtm.errors import (
    ConnectionClosedError,
    RateLimitedError,
    RtmConnectErrorSchemaError,
    TransportError,
)
from slack_rtm.session.pacing import ChannelPacer
from slack_rtm.session.policy import Attempts, describe, fatal_code, retry_after


def _slack_error(code: str) -> RtmConnectErrorSchemaError:
    return RtmConnectErrorSchemaError(code, status_code=200, headers={}, body="", result=None,
                                      error=code, fatal=False)


def test_fatal_codes_and_retry_after() -> None:
    assert fatal_code(_slack_error("not_allowed_token_type")) == "not_allowed_token_type"
    assert fatal_code(_slack_error("invalid_auth")) == "invalid_auth"
    assert fatal_code(_slack_error("internal_error")) is None
    assert fatal_code(TransportError("down")) is None
    limited = RateLimitedError("slow", status_code=429, headers={}, body="", result=None,
                               retry_after=4.0)
    assert retry_after(limited) == 4.0
    assert retry_after(TransportError("x")) is None
    assert describe(TransportError("down")) == "TransportError: down"
    assert describe(TransportError()) == "TransportError"


def test_attempts_back_off_give_up_and_reset() -> None:
    draws: list[int] = []

    def rand() -> float:
        draws.append(1)
        return 0.5

    tries = Attempts(Backoff(initial=1.0, maximum=8.0), max_attempts=4)
    assert tries.next_number == 1
    assert tries.failed("x", None, rand) == (0.5, None)
    assert tries.failed("x", None, rand, retry_after=3.0) == (3.0, None)
    assert tries.failed("x", None, rand, extra=1.0) == (3.0, None)
    assert tries.next_number == 4
    delay, error = tries.failed("no luck", None, rand)
    assert delay == 0.0
    assert isinstance(error, ConnectionClosedError)
    assert "gave up after 4" in str(error)
    assert len(draws) == 3  # no jitter drawn when giving up
    assert tries.succeeded() == 5
    assert tries.attempts == 0
    tries.reset_backoff()
    assert tries.failed("x", None, rand) == (0.5, None)
    given = TransportError("last")
    forever = Attempts(Backoff(), None)
    for _ in range(50):
        assert forever.failed("x", given, rand)[1] is None
    once = Attempts(Backoff(), 1)
    assert once.failed("x", given, rand) == (0.0, given)


def test_pacer_bursts_then_spaces_each_channel() -> None:
    pacer = ChannelPacer(rate=2.0, burst=2)
    assert [pacer.reserve("C1", 0.0) for _ in range(4)] == [0.0, 0.0, 0.5, 1.0]
    assert pacer.reserve("C2", 0.0) == 0.0  # channels are paced apart
    assert pacer.reserve("C1", 10.0) == 0.0  # quiet again: a fresh burst
    assert pacer.reserve("C1", 10.0) == 0.0
    assert pacer.reserve("C1", 10.0) == 0.5


def test_pacer_forgets_the_quietest_channels() -> None:
    pacer = ChannelPacer(rate=1.0, burst=1, max_channels=2)
    pacer.reserve("A", 0.0)
    pacer.reserve("B", 0.0)
    pacer.reserve("C", 0.0)  # A is forgotten
    assert pacer.reserve("A", 0.0) == 0.0
    assert pacer.reserve("C", 0.0) == 1.0


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"rate": 0}, ValueError), ({"rate": "1"}, TypeError), ({"burst": 0}, ValueError),
    ({"burst": 1.5}, TypeError), ({"max_channels": True}, TypeError),
    ({"rate": float("inf")}, ValueError),
])
def test_pacer_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        ChannelPacer(**kwargs)  # type: ignore[arg-type]
