"""The Socket Mode session's tunables: the socket pool, keepalive, reconnects, acks. Pure data."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from slack_rtm.backoff import Backoff

__all__ = ["ACK_DEADLINE", "MAX_CONNECTIONS", "SocketModeConfig"]

MAX_CONNECTIONS = 10
"""The most sockets Slack opens for one app (PROTOCOL.md §9)."""

ACK_DEADLINE = 3.0
"""Seconds Slack waits for an ack before it redelivers an envelope (PROTOCOL.md §9)."""

_POSITIVE = ("ping_interval", "ping_timeout", "hello_timeout", "response_timeout",
             "drain_timeout")
_NON_NEGATIVE = ("healthy_after",)


@dataclass(frozen=True, slots=True)
class SocketModeConfig:
    """How a Socket Mode session keeps its sockets, reconnects and acknowledges envelopes.

    Attributes:
        connections: sockets kept open at once, 1 to 10 (Slack spreads envelopes across them;
            two give a hand-over without a gap when one is refreshed or lost).
        ping_interval: send a WebSocket ping on a socket after this many seconds without
            receiving anything on it.
        ping_timeout: no pong (nor any other frame) this many seconds after the ping: the socket
            is dead, closed and replaced.
        hello_timeout: the most seconds from asking for a socket to its ``hello``.
        backoff: waits between failed connection attempts (full jitter; ``Retry-After`` is a
            floor), as for RTM.
        healthy_after: a socket that lived this many seconds resets the backoff, and its loss is
            followed by an immediate reconnect.
        max_attempts: give up after this many failed connection attempts in a row (None: retry
            forever; fatal codes such as ``invalid_auth`` always stop at once).
        dedup_capacity: the most ``event_id`` keys remembered to drop redeliveries.
        ack_after_handler: False (default): acknowledge each envelope as soon as it is queued for
            delivery. True: only after its handlers returned, and not at all when one raised (so
            that Slack redelivers it: at-least-once processing).
        response_timeout: for envelopes that accept a response payload (commands,
            interactions): how long the ack waits for the handler's answer before it goes
            without one (logged as a warning). Must be under Slack's 3 s.
        drain_timeout: after a replacement socket said ``hello``, the most seconds a socket
            being retired stays open for acks still owed on it.

    Raises:
        TypeError, ValueError: on construction, when a value has the wrong type or range.
    """

    connections: int = 2
    ping_interval: float = 5.0
    ping_timeout: float = 10.0
    hello_timeout: float = 15.0
    backoff: Backoff = field(default_factory=Backoff)
    healthy_after: float = 5.0
    max_attempts: int | None = None
    dedup_capacity: int = 10_000
    ack_after_handler: bool = False
    response_timeout: float = 2.5
    drain_timeout: float = 3.0

    def __post_init__(self) -> None:
        for name in (*_POSITIVE, *_NON_NEGATIVE):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not math.isfinite(value) or value < 0 or (name in _POSITIVE and value == 0):
                bound = "> 0" if name in _POSITIVE else ">= 0"
                raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
        if self.response_timeout >= ACK_DEADLINE:
            raise ValueError(
                f"response_timeout must be under Slack's {ACK_DEADLINE:g} s ack deadline, got "
                f"{self.response_timeout!r}"
            )
        for name, low, high in (("connections", 1, MAX_CONNECTIONS),
                                ("dedup_capacity", 1, None)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value < low or (high is not None and value > high):
                limit = f"{low} to {high}" if high is not None else f">= {low}"
                raise ValueError(f"{name} must be {limit}, got {value!r}")
        if not isinstance(self.ack_after_handler, bool):
            raise TypeError(
                f"ack_after_handler must be a bool, got {type(self.ack_after_handler).__name__}"
            )
        if not isinstance(self.backoff, Backoff):
            raise TypeError(f"backoff must be a Backoff, got {type(self.backoff).__name__}")
        if self.max_attempts is not None:
            if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
                raise TypeError(
                    f"max_attempts must be an int or None, got {type(self.max_attempts).__name__}"
                )
            if self.max_attempts < 1:
                raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts!r}")
