"""The gateway's Prometheus metrics and its ``/metrics`` + ``/healthz`` HTTP endpoint.

:class:`GatewayMetrics` holds every metric of one gateway process in a
:class:`~prometheus_client.CollectorRegistry` of its own (never the global one: several gateways
in one process, and tests, do not clash). :class:`HealthServer` serves it over aiohttp:

- ``GET /metrics``: the Prometheus text format (``generate_latest``), with its content type;
- ``GET /healthz``: ``200 ok`` when the health callable reports no problem, else ``503`` with
  one problem per line (a held session reconnecting or silent for longer than the configured
  ``health_timeout``, a fenced process, ...).

Metric names (the ``slack_rtm_gateway_`` prefix is :data:`PREFIX`); counters end in ``_total``:

=================================================  =============================================
``slack_rtm_gateway_sessions{state}``              sessions by state (gauge, see
                                                   :data:`SESSION_STATES`)
``slack_rtm_gateway_events_received_total``        events the held sessions received
``slack_rtm_gateway_events_published_total``       events stored in JetStream (acknowledged)
``slack_rtm_gateway_publish_failures_total``       publishes that failed (each retry counts)
``slack_rtm_gateway_publish_latency_seconds``      event received → publish acknowledged
                                                   (histogram)
``slack_rtm_gateway_send_round_trip_seconds``      send request taken → reply sent (histogram)
``slack_rtm_gateway_sends_total{outcome}``         send requests by outcome (see
                                                   :data:`SEND_OUTCOMES`)
``slack_rtm_gateway_reconnects_total``             sockets lost and re-opened by the sessions
``slack_rtm_gateway_catch_ups_total``              catch-up runs finished
``slack_rtm_gateway_backfilled_total``             events published from catch-up
``slack_rtm_gateway_lease_renewals_total``         process lease renewals that succeeded
``slack_rtm_gateway_lease_losses_total``           times the process lost its lease (fenced)
``slack_rtm_gateway_failovers_total``              sessions taken over from a dead process
``slack_rtm_gateway_handovers_total``              sessions handed over (drain, rebalance)
``slack_rtm_gateway_fenced``                       1 while the process is fenced, else 0
=================================================  =============================================

The registry also carries the standard ``process_*`` metrics (RSS, CPU seconds, open file
descriptors) where the platform offers them.

Labels never hold a secret, nor a token or cookie in any form, nor a team, user or session id
(one series per session would not scale): the metrics are totals per process. The health body
may name sessions by registration id (not a secret), one per line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from slack_rtm.redact import redact_text

__all__ = [
    "PREFIX",
    "PUBLISH_LATENCY_BUCKETS",
    "SEND_OUTCOMES",
    "SEND_ROUND_TRIP_BUCKETS",
    "SESSION_STATES",
    "GatewayMetrics",
    "HealthServer",
]

log = logging.getLogger("slack_rtm.gateway.metrics")

PREFIX: Final = "slack_rtm_gateway"
"""Every gateway metric's name starts with this (then ``_``)."""

SESSION_STATES: Final = ("held", "opening", "connecting", "connected", "reconnecting",
                         "closing")
"""The ``state`` label values of ``slack_rtm_gateway_sessions``, all exported (0 when none).

``held`` is every session the process holds (the sum of the others is not meaningful: a
session counts in ``held`` and in one of the rest); ``opening`` are sessions claimed whose first
``hello`` has not come yet; the others are the client's
:class:`~slack_rtm.session.state.State` values of the held sessions."""

SEND_OUTCOMES: Final = ("ok", "refused", "unknown", "bad_request")
"""The ``outcome`` label values of ``slack_rtm_gateway_sends_total``: Slack acked the message
(``ok``), refused it (``refused``: an ``ok: false`` ack, or not sent at all), the outcome is
unknown (no ack in time, the socket lost), or the request was not a valid send request."""

PUBLISH_LATENCY_BUCKETS: Final = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                  0.5, 1.0, 2.5, 5.0)
"""Buckets (seconds) of ``slack_rtm_gateway_publish_latency_seconds``: loopback is ~1 ms."""

SEND_ROUND_TRIP_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                                  2.5, 5.0, 10.0, 30.0)
"""Buckets (seconds) of ``slack_rtm_gateway_send_round_trip_seconds`` (Slack's reply timeout
is 30 s)."""


class GatewayMetrics:
    """Every metric of one gateway process, in a registry of its own.

    The attributes are prometheus_client metrics: call ``.inc()`` on a counter,
    ``.observe(seconds)`` on a histogram, ``.labels(state=...).set(n)`` on ``sessions`` (or use
    :meth:`set_sessions`), ``.labels(outcome=...).inc()`` on ``sends`` (or :meth:`count_send`).

    Args:
        process_metrics: also export the standard ``process_*`` metrics (RSS, CPU, fds).

    Attributes:
        registry: the :class:`~prometheus_client.CollectorRegistry` holding them all.
        sessions: gauge ``slack_rtm_gateway_sessions{state}`` (:data:`SESSION_STATES`).
        events_in: counter ``slack_rtm_gateway_events_received_total``.
        events_published: counter ``slack_rtm_gateway_events_published_total``.
        publish_failures: counter ``slack_rtm_gateway_publish_failures_total``.
        publish_latency: histogram ``slack_rtm_gateway_publish_latency_seconds``.
        send_round_trip: histogram ``slack_rtm_gateway_send_round_trip_seconds``.
        sends: counter ``slack_rtm_gateway_sends_total{outcome}`` (:data:`SEND_OUTCOMES`).
        reconnects: counter ``slack_rtm_gateway_reconnects_total``.
        catch_ups: counter ``slack_rtm_gateway_catch_ups_total``.
        backfilled: counter ``slack_rtm_gateway_backfilled_total``.
        lease_renewals: counter ``slack_rtm_gateway_lease_renewals_total``.
        lease_losses: counter ``slack_rtm_gateway_lease_losses_total``.
        failovers: counter ``slack_rtm_gateway_failovers_total``.
        handovers: counter ``slack_rtm_gateway_handovers_total``.
        fenced: gauge ``slack_rtm_gateway_fenced`` (0 or 1; see :meth:`set_fenced`).
        before_exposition: called (if set) by :meth:`exposition` first: the gateway counts its
            sessions by state there, on demand, rather than walking them every tick.

    Raises:
        TypeError: ``process_metrics`` is not a bool.
    """

    def __init__(self, *, process_metrics: bool = True) -> None:
        if not isinstance(process_metrics, bool):
            raise TypeError(f"process_metrics must be a bool, got {type(process_metrics).__name__}")
        self.registry = registry = CollectorRegistry()
        if process_metrics:
            ProcessCollector(registry=registry)

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(f"{PREFIX}_{name}", doc, labels, registry=registry)

        self.sessions = Gauge(f"{PREFIX}_sessions", "Sessions this process holds, by state "
                              "('held': all of them)", ("state",), registry=registry)
        for state in SESSION_STATES:
            self.sessions.labels(state=state).set(0)
        self.events_in = counter("events_received", "Events the held sessions received")
        self.events_published = counter("events_published",
                                        "Events stored in JetStream (publish acknowledged)")
        self.publish_failures = counter("publish_failures",
                                        "Publishes that failed (every attempt counts)")
        self.publish_latency = Histogram(
            f"{PREFIX}_publish_latency_seconds",
            "Seconds from an event's arrival to its publish acknowledgement",
            buckets=PUBLISH_LATENCY_BUCKETS, registry=registry)
        self.send_round_trip = Histogram(
            f"{PREFIX}_send_round_trip_seconds",
            "Seconds from a send request taken to its reply sent",
            buckets=SEND_ROUND_TRIP_BUCKETS, registry=registry)
        self.sends = counter("sends", "Send requests served, by outcome", ("outcome",))
        for outcome in SEND_OUTCOMES:
            self.sends.labels(outcome=outcome)
        self.reconnects = counter("reconnects", "Sockets the held sessions lost and re-opened")
        self.catch_ups = counter("catch_ups", "Catch-up runs finished")
        self.backfilled = counter("backfilled", "Events published from catch-up (history)")
        self.lease_renewals = counter("lease_renewals", "Process lease renewals that succeeded")
        self.lease_losses = counter("lease_losses",
                                    "Times this process lost its lease and fenced itself")
        self.failovers = counter("failovers", "Sessions taken over from a dead process")
        self.handovers = counter("handovers",
                                 "Sessions handed over between live processes (drain, rebalance)")
        self.fenced = Gauge(f"{PREFIX}_fenced", "1 while this process is fenced (it could not "
                            "renew its lease and closed its sessions), else 0", registry=registry)
        self.before_exposition: Callable[[], None] | None = None

    def set_sessions(self, counts: Mapping[str, int]) -> None:
        """Set ``sessions{state}`` for every state at once: ``counts`` maps a state (a
        :data:`SESSION_STATES` value, or a :class:`~slack_rtm.session.state.State`) to its
        number; the states not in it are set to 0.

        Raises:
            TypeError: ``counts`` is not a mapping of str to int.
            ValueError: a state is not one of :data:`SESSION_STATES`, or a count is negative.
        """
        if not isinstance(counts, Mapping):
            raise TypeError(f"counts must be a mapping, got {type(counts).__name__}")
        checked: dict[str, int] = {}
        for state, n in counts.items():
            if not isinstance(state, str):
                raise TypeError(f"counts keys must be str, got {type(state).__name__}")
            name = str(state)  # a State enum member's str() is its value
            if name not in SESSION_STATES:
                raise ValueError(f"counts: unknown state {name[:40]!r}; one of {SESSION_STATES}")
            if isinstance(n, bool) or not isinstance(n, int):
                raise TypeError(f"counts[{name!r}] must be an int, got {type(n).__name__}")
            if n < 0:
                raise ValueError(f"counts[{name!r}] must be >= 0, got {n}")
            checked[name] = n
        for state in SESSION_STATES:
            self.sessions.labels(state=state).set(checked.get(state, 0))

    def count_states(self, states: Iterable[str]) -> None:
        """Set ``sessions{state}`` from the states of the held sessions, one item per session
        (``held`` is set to their number; other states not seen are set to 0).

        Raises:
            TypeError, ValueError: as :meth:`set_sessions`.
        """
        counts: dict[str, int] = {}
        held = 0
        for state in states:
            if not isinstance(state, str):
                raise TypeError(f"states must be str, got {type(state).__name__}")
            key = str(state)
            counts[key] = counts.get(key, 0) + 1
            held += 1
        counts.pop("idle", None)  # created, not started: held, nothing more to say
        counts.pop("closed", None)
        counts["held"] = held
        self.set_sessions(counts)

    def count_send(self, outcome: str) -> None:
        """Count one send request served with ``outcome`` (:data:`SEND_OUTCOMES`).

        Raises:
            ValueError: an unknown outcome.
        """
        if outcome not in SEND_OUTCOMES:
            raise ValueError(f"outcome must be one of {SEND_OUTCOMES}, got {str(outcome)[:40]!r}")
        self.sends.labels(outcome=outcome).inc()

    def set_fenced(self, fenced: bool) -> None:
        """Set ``slack_rtm_gateway_fenced`` (1 while fenced).

        Raises:
            TypeError: ``fenced`` is not a bool.
        """
        if not isinstance(fenced, bool):
            raise TypeError(f"fenced must be a bool, got {type(fenced).__name__}")
        self.fenced.set(1 if fenced else 0)

    def exposition(self) -> bytes:
        """The metrics in the Prometheus text format (what ``/metrics`` serves), after calling
        :attr:`before_exposition` (if set) so that gauges counted on demand are current."""
        refresh = self.before_exposition
        if refresh is not None:
            refresh()
        return generate_latest(self.registry)


class HealthServer:
    """``/metrics`` and ``/healthz`` over HTTP (aiohttp), for one gateway process.

    Args:
        metrics: what ``/metrics`` serves.
        health: called on every ``/healthz`` request; returns the problems (one line each,
            ``[]`` when healthy). It must be quick and must not block. If it raises, the answer
            is 503 naming the exception's type.
        host: the address to listen on (``127.0.0.1`` by default in
            :class:`~slack_rtm.gateway.config.GatewayConfig`).
        port: the port (0: any free port; :meth:`start` returns the one bound).

    Raises:
        TypeError, ValueError: a bad argument.
    """

    def __init__(self, metrics: GatewayMetrics, health: Callable[[], list[str]], *,
                 host: str, port: int) -> None:
        if not isinstance(metrics, GatewayMetrics):
            raise TypeError(f"metrics must be a GatewayMetrics, got {type(metrics).__name__}")
        if not callable(health):
            raise TypeError("health must be callable")
        if not isinstance(host, str):
            raise TypeError(f"host must be a str, got {type(host).__name__}")
        if not host:
            raise ValueError("host must not be empty")
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError(f"port must be an int, got {type(port).__name__}")
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0 to 65535, got {port}")
        self._metrics = metrics
        self._health = health
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._bound: int | None = None

    @property
    def port(self) -> int | None:
        """The bound port while serving, else None."""
        return self._bound

    async def start(self) -> int:
        """Begin serving; returns the bound port.

        Raises:
            RuntimeError: already started.
            OSError: the address cannot be bound (in use, not local, ...).
        """
        if self._runner is not None:
            raise RuntimeError("the health server is already started")
        app = web.Application()
        app.router.add_get("/metrics", self._on_metrics)
        app.router.add_get("/healthz", self._on_healthz)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port = _bound_port(runner)
        self._bound = port
        log.debug("serving /metrics and /healthz on %s:%d", self._host, port)
        return port

    async def stop(self) -> None:
        """Stop serving (idempotent)."""
        runner, self._runner = self._runner, None
        self._bound = None
        if runner is not None:
            await runner.cleanup()

    async def _on_metrics(self, request: web.Request) -> web.Response:
        # generate_latest walks every metric: a few hundred microseconds, no I/O.
        body = self._metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _on_healthz(self, request: web.Request) -> web.Response:
        try:
            problems = self._health()
            if not isinstance(problems, list):
                raise TypeError(f"health() must return a list, got {type(problems).__name__}")
            lines = [redact_text(str(p)).replace("\n", " ") for p in problems]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("the health check failed: %s", type(exc).__name__)
            lines = [f"health check failed: {type(exc).__name__}"]
        if not lines:
            return web.Response(text="ok\n")
        return web.Response(status=503, text="\n".join(lines) + "\n")


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise RuntimeError("the health server did not bind a TCP port")  # pragma: no cover
