"""Limits on what we send (PROTOCOL.md §3.8): frame size, text length, write rate. Pure: no clock.

Slack disconnects a client whose frame is over 16 KB and answers writes faster than about one a
second with error ``-1``, then disconnects. We refuse oversize frames before sending and queue
writes behind a token bucket instead of sending too fast.
"""

from __future__ import annotations

import math
from typing import Final

from slack_rtm.errors import FrameTooLargeError

__all__ = ["MAX_FRAME_BYTES", "MAX_TEXT_CHARS", "TokenBucket", "check_frame_size", "check_text"]

MAX_FRAME_BYTES: Final = 16 * 1024
"""The largest client frame (the whole JSON document, in bytes) Slack accepts."""

MAX_TEXT_CHARS: Final = 4000
"""The longest message text, in characters."""


def check_text(text: str) -> None:
    """Refuse a message text over :data:`MAX_TEXT_CHARS` characters.

    Raises:
        FrameTooLargeError: the text is too long.
    """
    if len(text) > MAX_TEXT_CHARS:
        raise FrameTooLargeError(
            f"message text is {len(text)} characters; Slack accepts at most {MAX_TEXT_CHARS}. "
            "Split it into several messages."
        )


def check_frame_size(size: int) -> None:
    """Refuse a frame of ``size`` bytes when it is over :data:`MAX_FRAME_BYTES`.

    Raises:
        FrameTooLargeError: the frame is too large; Slack would close the connection.
    """
    if size > MAX_FRAME_BYTES:
        raise FrameTooLargeError(
            f"the frame is {size} bytes; Slack disconnects clients that send frames over "
            f"{MAX_FRAME_BYTES} bytes. Send less in one frame."
        )


class TokenBucket:
    """A token bucket: ``rate`` tokens a second, at most ``burst`` saved up. Time is passed in.

    Args:
        rate: tokens added per second (sustained writes per second), > 0.
        burst: the most tokens the bucket holds (writes allowed back to back), >= 1.
        now: the current time in seconds; the bucket starts full.

    Raises:
        TypeError, ValueError: ``rate`` or ``burst`` is not a positive finite number.
    """

    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, now: float = 0.0) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise TypeError(f"rate must be a number, got {type(rate).__name__}")
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"rate must be a finite number > 0, got {rate!r}")
        if isinstance(burst, bool) or not isinstance(burst, int):
            raise TypeError(f"burst must be an int, got {type(burst).__name__}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        self.rate = float(rate)
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = now

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def tokens(self, now: float) -> float:
        """How many tokens are available at ``now``."""
        self._refill(now)
        return self._tokens

    def try_take(self, now: float) -> bool:
        """Take one token if one is available at ``now``; True when taken."""
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def next_ready(self) -> float:
        """When the next token is available, from the last time the bucket was used.

        Unlike :meth:`ready_at` this needs no current time: it is the deadline a driver waits for.
        """
        if self._tokens >= 1.0:
            return self._stamp
        return self._stamp + (1.0 - self._tokens) / self.rate

    def ready_at(self, now: float) -> float:
        """The earliest time (>= ``now``) at which one token will be available."""
        self._refill(now)
        if self._tokens >= 1.0:
            return now
        return now + (1.0 - self._tokens) / self.rate
