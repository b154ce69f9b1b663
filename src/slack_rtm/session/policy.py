"""Reconnect policy shared by the RTM and the Socket Mode cores. Pure: no clock, no I/O.

Both cores (:mod:`slack_rtm.session.core`, :mod:`slack_rtm.session.socket_mode`) decide the
same way whether a failed connection call is worth retrying, how long to wait, and when to give
up (PROTOCOL.md §5, §9): a fatal Slack code (:func:`slack_rtm.codes.is_fatal`) stops at once,
anything else backs off with full jitter (:class:`~slack_rtm.backoff.Backoff`), never sooner
than the answer's ``Retry-After``, and ``max_attempts`` failed attempts in a row end the session.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_rtm import codes
from slack_rtm.backoff import Backoff
from slack_rtm.errors import ApiError, ConnectionClosedError, RtmConnectErrorSchemaError

__all__ = ["Attempts", "check_ping_lead", "describe", "fatal_code", "retry_after"]


def describe(error: BaseException) -> str:
    """``"ClassName: message"`` (or the class name alone), for logs and lifecycle events."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def fatal_code(error: BaseException) -> str | None:
    """The Slack code of a connection call's error when retrying can never help, else None.

    Fatal: an ``ok: false`` answer whose code :func:`slack_rtm.codes.is_fatal` names
    (``invalid_auth``, ``not_allowed_token_type``, ...). Everything else (transport errors,
    5xx, 429, transient and unknown codes) is retried with backoff.
    """
    if isinstance(error, RtmConnectErrorSchemaError) and codes.is_fatal(error.error):
        return error.error
    return None


def retry_after(error: BaseException) -> float | None:
    """The answer's ``Retry-After`` in seconds, whatever its status (429, 5xx, ``ok: false``)."""
    return error.retry_after if isinstance(error, ApiError) else None


class Attempts:
    """Counts failed connection attempts and turns them into waits.

    Args:
        backoff: the waits between attempts.
        max_attempts: failed attempts in a row after which to give up (None: never).

    Attributes:
        attempts: failed attempts since the last success (``hello``).
        failures: failures since the backoff was last reset (a healthy session lost).
    """

    __slots__ = ("attempts", "backoff", "failures", "max_attempts")

    def __init__(self, backoff: Backoff, max_attempts: int | None) -> None:
        self.backoff = backoff
        self.max_attempts = max_attempts
        self.attempts = 0
        self.failures = 0

    def failed(self, why: str, error: BaseException | None, rand: Callable[[], float],
               retry_after: float | None = None, extra: float = 0.0,
               ) -> tuple[float, BaseException | None]:
        """Count one failed attempt: ``(delay, None)`` to retry after ``delay`` seconds, or
        ``(0.0, error)`` to give up with ``error`` (``max_attempts`` reached). ``rand`` gives
        the jitter (called only when retrying)."""
        self.attempts += 1
        if self.max_attempts is not None and self.attempts >= self.max_attempts:
            return 0.0, error if error is not None else ConnectionClosedError(
                f"gave up after {self.attempts} failed connection attempts: {why}")
        delay = self.backoff.delay(self.failures, rand(), retry_after) + extra
        self.failures += 1
        return delay, None

    def succeeded(self) -> int:
        """A socket said ``hello``: returns the attempt number it was (1 for the first try)."""
        attempt = self.attempts + 1
        self.attempts = 0
        return attempt

    def reset_backoff(self) -> None:
        """A healthy session was lost: the next wait starts from the first ceiling again."""
        self.failures = 0

    @property
    def next_number(self) -> int:
        """The number of the attempt about to start (1 for the first)."""
        return self.attempts + 1


def check_ping_lead(seconds: object, ping_interval: float) -> float:
    """``seconds`` as a core's ``ping_lead``: how much before ``ping_interval`` of silence a
    keepalive ping may go out, for a driver whose shared coarse timer runs a tick late.

    Raises:
        TypeError: not a number.
        ValueError: negative, not finite, or not less than half of ``ping_interval``.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"ping_lead must be a number, got {type(seconds).__name__}")
    if not 0 <= seconds < ping_interval / 2:  # also refuses NaN
        raise ValueError("ping_lead must be >= 0 and less than half of ping_interval, "
                         f"got {seconds!r}")
    return float(seconds)
