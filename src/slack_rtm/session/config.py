"""The session's tunables: keepalive, reconnect policy, write rate, queue bounds. Pure data."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from slack_rtm.backoff import Backoff

__all__ = ["SessionConfig"]

_FLOAT_FIELDS = (
    "ping_interval",
    "ping_timeout",
    "hello_timeout",
    "reply_timeout",
    "reply_grace",
    "healthy_after",
    "migration_delay",
    "send_rate",
    "dedup_grace",
    "resume_max_age",
)
_INT_FIELDS = ("send_burst", "max_queued_sends", "dedup_capacity", "max_auth_refusals")


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """How the session keeps the link alive, reconnects and paces what it sends.

    Attributes:
        ping_interval: send a JSON ``ping`` after this many seconds without receiving anything.
        ping_timeout: no reply (nor any other frame) this many seconds after a ping: the link is
            dead and the session reconnects.
        hello_timeout: the most seconds from asking for a WebSocket to its ``hello``.
        reply_timeout: a sent message with no reply after this many seconds fails with
            :class:`~slack_rtm.errors.SendOutcomeUnknownError`.
        reply_grace: after the socket that carried a send is lost, how long its reply may still
            arrive (Slack may answer on the next socket) before the send fails with
            :class:`~slack_rtm.errors.SendOutcomeUnknownError`.
        backoff: waits between failed connection attempts (full jitter).
        healthy_after: a session that lasted this many seconds resets the backoff, and its loss
            is followed by an immediate reconnect.
        migration_delay: extra seconds to wait after ``rtm.connect`` says
            ``migration_in_progress``.
        send_rate: sustained writes per second (Slack allows about one).
        send_burst: writes allowed back to back before the rate applies.
        max_queued_sends: the most sends waiting (for the rate limiter or a reconnect); one more
            raises :class:`~slack_rtm.errors.SendQueueFullError`.
        dedup_capacity: the most event keys remembered to drop duplicates across a ``goodbye``.
        dedup_grace: seconds after the old socket closes during which duplicates are still
            dropped.
        max_attempts: give up after this many consecutive failed connection attempts and close
            with the last error; None retries forever (fatal errors always stop at once).
        max_auth_refusals: in-band ``error`` 401 frames in a row (the socket refused the token
            or the session cookie) after which the session stops with
            :class:`~slack_rtm.errors.SocketAuthError` instead of reconnecting.
        fast_resume: after an abrupt drop, first open the last ``reconnect_url`` Slack sent on
            the live socket (no ``rtm.connect``, a Tier-1 call), falling back to
            ``rtm.connect`` when it fails (PROTOCOL.md §3.7).
        resume_max_age: a ``reconnect_url`` older than this many seconds is not tried.

    Raises:
        TypeError, ValueError: on construction, when a value has the wrong type or range.
    """

    ping_interval: float = 5.0
    ping_timeout: float = 10.0
    hello_timeout: float = 15.0
    reply_timeout: float = 30.0
    reply_grace: float = 2.0
    backoff: Backoff = field(default_factory=Backoff)
    healthy_after: float = 5.0
    migration_delay: float = 3.0
    send_rate: float = 1.0
    send_burst: int = 3
    max_queued_sends: int = 100
    dedup_capacity: int = 10_000
    dedup_grace: float = 5.0
    max_attempts: int | None = None
    max_auth_refusals: int = 3
    fast_resume: bool = True
    resume_max_age: float = 120.0

    def __post_init__(self) -> None:
        for name in _FLOAT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        for name in ("ping_interval", "ping_timeout", "hello_timeout", "reply_timeout",
                     "send_rate"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value!r}")
        if not isinstance(self.fast_resume, bool):
            raise TypeError(f"fast_resume must be a bool, got {type(self.fast_resume).__name__}")
        if not isinstance(self.backoff, Backoff):
            raise TypeError(f"backoff must be a Backoff, got {type(self.backoff).__name__}")
        if self.max_attempts is not None:
            if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
                raise TypeError(
                    f"max_attempts must be an int or None, got {type(self.max_attempts).__name__}"
                )
            if self.max_attempts < 1:
                raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts!r}")
