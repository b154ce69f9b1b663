"""What one gateway process is told: :class:`GatewayConfig` (pure data, checked on construction).

The CLI (``slack-rtm gateway``) builds it from its options and the environment; tests and
embedders build it directly and pass it to :func:`slack_rtm.gateway.process.serve`.
"""

from __future__ import annotations

import math
import os
import socket
from dataclasses import dataclass, field

from slack_rtm.api.client import DEFAULT_BASE_URL
from slack_rtm.gateway.contract import (
    DEFAULT_DUPLICATE_WINDOW,
    DEFAULT_MAX_AGE,
    STREAM,
    LeaseTimings,
)

__all__ = ["API_URL_ENV", "KEY_ENV", "GatewayConfig", "default_api_url", "default_name"]

KEY_ENV = "SLACK_RTM_GATEWAY_KEY"
"""The environment variable holding the gateway's key: 32 random bytes in base64."""

API_URL_ENV = "SLACK_API_URL"
"""The environment variable naming the Web API root when ``--api-url`` is not given."""

_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def default_name() -> str:
    """``<host>-<pid>``, made KV- and subject-safe (other characters become ``-``)."""
    raw = f"{socket.gethostname()}-{os.getpid()}"
    return "".join(c if c in _NAME_OK else "-" for c in raw)[:64]


def default_api_url() -> str:
    """``$SLACK_API_URL`` when set, else Slack's Web API root."""
    return os.environ.get(API_URL_ENV) or DEFAULT_BASE_URL


def _positive(name: str, value: object, *, integer: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an int' if integer else 'a number'}, "
                        f"got {type(value).__name__}")
    if not math.isfinite(float(value)) or float(value) <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """One gateway process's settings.

    Attributes:
        nats_url: the NATS server (or a comma-separated list of a cluster's servers).
        key: the 32-byte key that seals tokens and cookies in KV (never shown in a repr).
        name: this process's name, unique in the cluster (default: ``<host>-<pid>``).
        capacity: a hard cap on the sessions this process holds.
        metrics_port: serve ``/metrics`` and ``/healthz`` on this port (0: a free port; None:
            not at all).
        metrics_host: the address ``/metrics`` listens on.
        api_url: the Slack Web API root the sessions use (the emulator's ``api_url`` in tests).
        stream: the JetStream stream events go to.
        max_age: seconds events stay in the stream (when the gateway creates it).
        duplicate_window: seconds JetStream de-duplicates by ``Nats-Msg-Id`` (idem).
        lease: the lease protocol's timings.
        connect_rate: sessions opened per second when rebalancing onto this process (a process
            joined): ``rtm.connect`` is Tier 1, never a stampede.
        takeover_rate: sessions opened per second when taking over from a dead or draining
            process (each is a different token: Slack limits ``rtm.connect`` per token). 200
            by default: a ``kill -9`` of a holder of 1,000 sessions is then over about
            ``expire_after + 1000 / 200`` = 11 s after the kill, and a drain of 500 sessions
            within about 5 s; at 50 a second the same fail-over took 27 s (p99) and the drain
            10.4 s (``bench/gateway_failover.py``). Opening is CPU-bound at a few hundred
            sessions a second per process anyway.
        health_timeout: ``/healthz`` fails when a held session has been reconnecting, or has
            received nothing, for longer than this many seconds.
        drain_timeout: on SIGTERM, the longest to wait for other processes to take the sessions
            over before closing them anyway.
        ping_interval, ping_timeout: the sessions' keepalive (a dead link is noticed within
            their sum: 30 s by default).
        allow_insecure: let the sessions use ``http://``/``ws://`` to hosts other than loopback.
    """

    nats_url: str
    key: bytes = field(repr=False)
    name: str = field(default_factory=default_name)
    capacity: int = 10_000
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    api_url: str = field(default_factory=default_api_url)
    stream: str = STREAM
    max_age: float = DEFAULT_MAX_AGE
    duplicate_window: float = DEFAULT_DUPLICATE_WINDOW
    lease: LeaseTimings = field(default_factory=LeaseTimings)
    connect_rate: float = 5.0
    takeover_rate: float = 200.0
    health_timeout: float = 60.0
    drain_timeout: float = 10.0
    ping_interval: float = 20.0
    ping_timeout: float = 10.0
    allow_insecure: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.nats_url, str) or not self.nats_url.strip():
            raise ValueError("nats_url must be a non-empty string")
        if not isinstance(self.key, bytes) or len(self.key) != 32:
            raise ValueError("key must be 32 bytes (see 'slack-rtm gateway keygen')")
        if not isinstance(self.name, str) or not self.name or len(self.name) > 64 or any(
                c not in _NAME_OK for c in self.name):
            raise ValueError("name must be 1 to 64 characters of A-Z a-z 0-9 - _")
        _positive("capacity", self.capacity, integer=True)
        if self.metrics_port is not None:
            if isinstance(self.metrics_port, bool) or not isinstance(self.metrics_port, int):
                raise TypeError("metrics_port must be an int or None")
            if not 0 <= self.metrics_port <= 65535:
                raise ValueError(f"metrics_port must be 0 to 65535, got {self.metrics_port}")
        if not isinstance(self.metrics_host, str) or not self.metrics_host:
            raise ValueError("metrics_host must be a non-empty string")
        if not isinstance(self.api_url, str) or not self.api_url:
            raise ValueError("api_url must be a non-empty string")
        if not isinstance(self.stream, str) or not self.stream or any(
                c not in _NAME_OK for c in self.stream):
            raise ValueError("stream must be a name of A-Z a-z 0-9 - _")
        for name in ("max_age", "duplicate_window", "connect_rate", "takeover_rate",
                     "health_timeout", "drain_timeout", "ping_interval", "ping_timeout"):
            _positive(name, getattr(self, name))
        if not isinstance(self.lease, LeaseTimings):
            raise TypeError("lease must be a LeaseTimings")
        if not isinstance(self.allow_insecure, bool):
            raise TypeError("allow_insecure must be a bool")
