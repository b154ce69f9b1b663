"""Retry decisions for Web API calls. Pure: no clock, no sleeping, no I/O.

The arithmetic of each wait is :meth:`slack_rtm.backoff.Backoff.delay`; this module only decides
*whether* to retry, within :class:`~slack_rtm.api.config.RetryConfig`'s attempts and wait budget,
and reads ``Retry-After``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from slack_rtm.api.config import RetryConfig

__all__ = ["RetryDecision", "decide", "parse_retry_after"]


@dataclass(frozen=True)
class RetryDecision:
    """What to do after a failed attempt.

    Attributes:
        wait: seconds to sleep before the next attempt, or None to give up.
        reason: why, in words fit for a log line or the end of an error message.
    """

    wait: float | None
    reason: str

    @property
    def retry(self) -> bool:
        """True when another attempt should be made after :attr:`wait` seconds."""
        return self.wait is not None


def decide(
    config: RetryConfig,
    *,
    attempts: int,
    waited: float,
    retryable: bool,
    retry_after: float | None,
    rand: float,
) -> RetryDecision:
    """Whether to retry after a failed attempt, and after how long.

    Args:
        config: the retry policy of the call.
        attempts: attempts made so far, the failed one included (>= 1).
        waited: seconds already spent waiting between earlier attempts of this call.
        retryable: whether the failure is worth retrying at all (a fatal Slack code is not).
        retry_after: the server's ``Retry-After`` in seconds, if any: never retry sooner.
        rand: a uniform random number in ``[0, 1)`` for the jitter.

    Returns:
        The decision; ``wait`` never exceeds what is left of ``config.max_total_wait``.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    if not retryable:
        return RetryDecision(None, "the error is not worth retrying")
    if attempts >= config.max_attempts:
        if config.max_attempts == 1:
            return RetryDecision(None, "retries are disabled")
        return RetryDecision(None, f"gave up after {attempts} attempts")
    remaining = max(0.0, config.max_total_wait - waited)
    if retry_after is not None and retry_after > remaining:
        return RetryDecision(
            None,
            f"Retry-After of {retry_after:g} s is longer than the {remaining:g} s left of the "
            f"retry wait budget",
        )
    wait = config.backoff.delay(attempts - 1, rand, retry_after)
    if wait > remaining:
        if remaining <= 0:
            return RetryDecision(
                None, f"the retry wait budget of {config.max_total_wait:g} s is used up"
            )
        wait = remaining
    return RetryDecision(wait, f"retry {attempts} of {config.max_attempts - 1}")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header value, or None when absent or unreadable.

    Accepts delay-seconds (``"30"``; a fraction such as ``"1.5"`` is tolerated) and an HTTP-date
    (RFC 9110 §10.2.3), counted from ``now`` (default: the current UTC time). A date in the past
    gives 0. Garbage, negative, infinite or NaN values give None: the caller falls back to its
    own backoff.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        return _parse_http_date(text, now)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def _parse_http_date(text: str, now: datetime | None) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now if now is not None else datetime.now(timezone.utc)
    return max(0.0, (when - current).total_seconds())
