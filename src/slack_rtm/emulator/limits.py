"""Pure rate-limit and clock arithmetic for the emulator (no I/O, the time is passed in).

- :class:`TokenBucket`: the per-connection write limit (PROTOCOL §3.8: 1 message a second
  sustained, short bursts allowed).
- :class:`WindowLimiter`: the per-token ``rtm.connect`` limit (Tier 1: N calls a minute).
- :class:`TsClock`: message timestamps, strings that strictly increase.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["TokenBucket", "TsClock", "WindowLimiter"]


class TokenBucket:
    """A token bucket: ``rate`` tokens a second, at most ``burst`` stored; starts full.

    Args:
        rate: tokens added per second (> 0).
        burst: bucket capacity (>= 1).
        now: the current time in seconds (any monotonic origin).
    """

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not rate > 0:
            raise ValueError("rate must be a number > 0")
        if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
            raise ValueError("burst must be an int >= 1")
        self.rate = float(rate)
        self.burst = burst
        self._tokens = float(burst)
        self._last = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one; returns whether the write is allowed."""
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def wait(self) -> int:
        """Whole seconds (at least 1) until the next token, after a refused :meth:`take`."""
        return max(1, math.ceil((1.0 - self._tokens) / self.rate))


class WindowLimiter:
    """At most ``limit`` events per ``window`` seconds (sliding window).

    Args:
        limit: events allowed per window (>= 1).
        window: the window length in seconds (> 0).
    """

    def __init__(self, limit: int, window: float = 60.0) -> None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError("limit must be an int >= 1")
        if not window > 0:
            raise ValueError("window must be > 0")
        self.limit = limit
        self.window = float(window)
        self._times: deque[float] = deque()

    def hit(self, now: float) -> int | None:
        """Count one event at ``now``; returns ``None`` if allowed, else the whole seconds to wait.

        A refused event is not counted.
        """
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return max(1, math.ceil(self._times[0] + self.window - now))
        self._times.append(now)
        return None


class TsClock:
    """Slack-style message timestamps (``"1700000000.000100"``) that strictly increase.

    Each call returns the wall-clock time in microseconds, or one microsecond past the last
    value if the clock has not moved (or went backwards).
    """

    def __init__(self) -> None:
        self._last_us = 0

    def next(self, now: float) -> str:
        """The next timestamp string for wall-clock time ``now`` (seconds since the epoch)."""
        us = int(now * 1_000_000)
        if us <= self._last_us:
            us = self._last_us + 1
        self._last_us = us
        seconds, micros = divmod(us, 1_000_000)  # on every message's path: kept cheap
        return f"{seconds}.{micros:06d}"

    def reserve(self, n: int, now: float) -> int:
        """Reserve ``n`` consecutive microsecond timestamps; returns the first, in microseconds."""
        first = max(int(now * 1_000_000), self._last_us + 1)
        self._last_us = first + max(n, 1) - 1
        return first
