"""Backoff arithmetic, shared by Web API retries and session reconnects. Pure: no clock, no I/O.

Exponential backoff with *full jitter*: the n-th wait is uniform in ``[0, min(cap, base * 2**n)]``.
A ``Retry-After`` from the server is a floor, never shortened by jitter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait between attempts.

    Attributes:
        initial: the ceiling of the first wait, in seconds.
        maximum: the largest ceiling, in seconds.
        multiplier: growth of the ceiling per attempt.
        jitter: True for full jitter (uniform in ``[0, ceiling]``); False waits the ceiling.
    """

    initial: float = 0.5
    maximum: float = 120.0
    multiplier: float = 2.0
    jitter: bool = True

    def __post_init__(self) -> None:
        for name in ("initial", "maximum", "multiplier"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"Backoff.{name} must be a number, got {type(value).__name__}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"Backoff.{name} must be a finite number >= 0, got {value!r}")
        if self.multiplier < 1:
            raise ValueError(f"Backoff.multiplier must be >= 1, got {self.multiplier!r}")
        if self.maximum < self.initial:
            raise ValueError("Backoff.maximum must be >= Backoff.initial")

    def ceiling(self, attempt: int) -> float:
        """The largest wait before retry number ``attempt`` (0 for the first retry)."""
        if attempt < 0:
            raise ValueError(f"attempt must be >= 0, got {attempt}")
        # Compare in log space so that a large attempt number cannot overflow.
        if self.initial == 0:
            return 0.0
        if self.multiplier > 1 and attempt * math.log(self.multiplier) > math.log(
            self.maximum / self.initial
        ):
            return self.maximum
        return min(self.maximum, self.initial * self.multiplier**attempt)

    def delay(self, attempt: int, rand: float, retry_after: float | None = None) -> float:
        """The wait before retry number ``attempt``.

        Args:
            attempt: 0 for the first retry, 1 for the second, ...
            rand: a uniform random number in ``[0, 1)``, supplied by the caller (keeps this pure).
            retry_after: the server's ``Retry-After`` in seconds, if any: the result is never less.
        """
        if not 0.0 <= rand < 1.0:
            raise ValueError(f"rand must be in [0, 1), got {rand!r}")
        ceiling = self.ceiling(attempt)
        wait = ceiling * rand if self.jitter else ceiling
        if retry_after is not None and retry_after > wait:
            wait = retry_after
        return wait
