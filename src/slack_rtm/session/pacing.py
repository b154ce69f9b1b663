"""Pacing Web API posts per channel (Socket Mode's sends, PROTOCOL.md §9). Pure: no clock.

``chat.postMessage`` allows about one message a second per channel, with short bursts. A
:class:`ChannelPacer` hands each post the delay to wait before it goes, so that no channel gets
more than ``burst`` posts back to back nor more than ``rate`` a second beyond that (the generic
cell rate algorithm: one theoretical arrival time per channel, no timers).
"""

from __future__ import annotations

import math

__all__ = ["ChannelPacer"]


class ChannelPacer:
    """Per-channel pacing of posts.

    Args:
        rate: sustained posts per second per channel, > 0.
        burst: posts a quiet channel allows back to back, >= 1.
        max_channels: channels remembered; quiet ones are forgotten first.

    Raises:
        TypeError, ValueError: an argument of the wrong type or range.
    """

    __slots__ = ("_interval", "_max", "_slack", "_tat", "burst", "rate")

    def __init__(self, rate: float = 1.0, burst: int = 3, max_channels: int = 10_000) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise TypeError(f"rate must be a number, got {type(rate).__name__}")
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"rate must be a finite number > 0, got {rate!r}")
        for name, value in (("burst", burst), ("max_channels", max_channels)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value!r}")
        self.rate = float(rate)
        self.burst = burst
        self._interval = 1.0 / self.rate
        self._slack = (burst - 1) * self._interval
        self._max = max_channels
        self._tat: dict[str, float] = {}  # channel -> theoretical arrival time of the next post

    def reserve(self, channel: str, now: float) -> float:
        """Book a post to ``channel`` at ``now``: the seconds to wait before sending it (0.0:
        send now). Every call books a slot, so callers must then wait and send."""
        tat = self._tat.pop(channel, now)
        if tat < now:
            tat = now
        delay = tat - self._slack - now
        self._tat[channel] = tat + self._interval  # re-inserted: the most recent last
        if len(self._tat) > self._max:
            del self._tat[next(iter(self._tat))]
        return delay if delay > 0 else 0.0
