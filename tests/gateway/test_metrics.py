"""GatewayMetrics and HealthServer: the metrics' names and labels, the text format parsed back,
``/healthz`` over a real HTTP socket on 127.0.0.1 (port 0)."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from slack_rtm.gateway import metrics as metrics_module
from slack_rtm.gateway.metrics import (
    PREFIX,
    SEND_OUTCOMES,
    SESSION_STATES,
    GatewayMetrics,
    HealthServer,
)
from slack_rtm.session.state import State

EXPECTED_FAMILIES = {
    # family name (as the parser gives it: counters without _total) -> type
    f"{PREFIX}_sessions": "gauge",
    f"{PREFIX}_events_received": "counter",
    f"{PREFIX}_events_published": "counter",
    f"{PREFIX}_publish_failures": "counter",
    f"{PREFIX}_publish_latency_seconds": "histogram",
    f"{PREFIX}_send_round_trip_seconds": "histogram",
    f"{PREFIX}_sends": "counter",
    f"{PREFIX}_reconnects": "counter",
    f"{PREFIX}_catch_ups": "counter",
    f"{PREFIX}_backfilled": "counter",
    f"{PREFIX}_lease_renewals": "counter",
    f"{PREFIX}_lease_losses": "counter",
    f"{PREFIX}_failovers": "counter",
    f"{PREFIX}_handovers": "counter",
    f"{PREFIX}_fenced": "gauge",
}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a text exposition: (name, sorted labels) -> value."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_every_pinned_metric_is_exported_with_its_type() -> None:
    m = GatewayMetrics()
    families = {f.name: f.type for f in text_string_to_metric_families(m.exposition().decode())}
    for name, kind in EXPECTED_FAMILIES.items():
        assert families.get(name) == kind, name
    # every session state and send outcome is there from the start (0), so rate() and
    # absent() behave before the first event
    got = samples(m.exposition().decode())
    for state in SESSION_STATES:
        assert got[(f"{PREFIX}_sessions", (("state", state),))] == 0
    for outcome in SEND_OUTCOMES:
        assert got[(f"{PREFIX}_sends_total", (("outcome", outcome),))] == 0
    assert got[(f"{PREFIX}_fenced", ())] == 0


def test_counters_histograms_and_gauges_move() -> None:
    m = GatewayMetrics(process_metrics=False)
    m.events_in.inc(3)
    m.events_published.inc(2)
    m.publish_failures.inc()
    m.publish_latency.observe(0.0015)
    m.send_round_trip.observe(0.2)
    m.count_send("ok")
    m.count_send("unknown")
    for counter in (m.reconnects, m.catch_ups, m.backfilled, m.lease_renewals, m.lease_losses,
                    m.failovers, m.handovers):
        counter.inc()
    m.set_fenced(True)
    got = samples(m.exposition().decode())
    assert got[(f"{PREFIX}_events_received_total", ())] == 3
    assert got[(f"{PREFIX}_events_published_total", ())] == 2
    assert got[(f"{PREFIX}_publish_failures_total", ())] == 1
    assert got[(f"{PREFIX}_publish_latency_seconds_count", ())] == 1
    assert got[(f"{PREFIX}_publish_latency_seconds_bucket", (("le", "0.002"),))] == 1
    assert got[(f"{PREFIX}_publish_latency_seconds_bucket", (("le", "0.001"),))] == 0
    assert got[(f"{PREFIX}_send_round_trip_seconds_sum", ())] == pytest.approx(0.2)
    assert got[(f"{PREFIX}_sends_total", (("outcome", "ok"),))] == 1
    assert got[(f"{PREFIX}_sends_total", (("outcome", "unknown"),))] == 1
    for name in ("reconnects", "catch_ups", "backfilled", "lease_renewals", "lease_losses",
                 "failovers", "handovers"):
        assert got[(f"{PREFIX}_{name}_total", ())] == 1, name
    assert got[(f"{PREFIX}_fenced", ())] == 1
    m.set_fenced(False)
    assert samples(m.exposition().decode())[(f"{PREFIX}_fenced", ())] == 0
    # no process_* metrics when asked not to
    assert not any(name.startswith("process_") for name, _ in got)


def test_process_metrics_are_exported_by_default() -> None:
    got = samples(GatewayMetrics().exposition().decode())
    assert ("process_resident_memory_bytes", ()) in got


def test_session_states_are_set_all_at_once() -> None:
    m = GatewayMetrics(process_metrics=False)
    m.count_states([State.CONNECTED, State.CONNECTED, State.RECONNECTING, State.IDLE])
    got = samples(m.exposition().decode())

    def state(s: str) -> float:
        return got[(f"{PREFIX}_sessions", (("state", s),))]

    assert (state("held"), state("connected"), state("reconnecting"), state("connecting")) == (
        4, 2, 1, 0)
    m.set_sessions({"held": 1, State.CONNECTING: 1})
    got = samples(m.exposition().decode())
    assert (state("held"), state("connecting"), state("connected"), state("reconnecting")) == (
        1, 1, 0, 0)


def test_two_instances_do_not_clash() -> None:
    a, b = GatewayMetrics(), GatewayMetrics()
    a.events_in.inc()
    assert samples(b.exposition().decode())[(f"{PREFIX}_events_received_total", ())] == 0


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda m: m.set_sessions([("held", 1)]), TypeError, "counts must be a mapping"),
        (lambda m: m.set_sessions({"lost": 1}), ValueError, "unknown state"),
        (lambda m: m.set_sessions({1: 1}), TypeError, "keys must be str"),
        (lambda m: m.set_sessions({"held": -1}), ValueError, "must be >= 0"),
        (lambda m: m.set_sessions({"held": 1.5}), TypeError, "must be an int"),
        (lambda m: m.count_states([None]), TypeError, "states must be str"),
        (lambda m: m.count_send("fine"), ValueError, "outcome must be one of"),
        (lambda m: m.set_fenced(1), TypeError, "fenced must be a bool"),
    ],
)
def test_bad_arguments_are_refused(call, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        call(GatewayMetrics(process_metrics=False))


def test_constructor_arguments_are_checked() -> None:
    m = GatewayMetrics(process_metrics=False)
    with pytest.raises(TypeError, match="process_metrics"):
        GatewayMetrics(process_metrics=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="metrics must be"):
        HealthServer(object(), list, host="127.0.0.1", port=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="health must be callable"):
        HealthServer(m, None, host="127.0.0.1", port=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="host"):
        HealthServer(m, list, host=None, port=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="host"):
        HealthServer(m, list, host="", port=0)
    with pytest.raises(TypeError, match="port"):
        HealthServer(m, list, host="127.0.0.1", port="80")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="port"):
        HealthServer(m, list, host="127.0.0.1", port=70000)


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str, str]:
    async with session.get(url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


async def test_metrics_and_healthz_over_http() -> None:
    m = GatewayMetrics()
    problems: list[str] = []
    server = HealthServer(m, lambda: list(problems), host="127.0.0.1", port=0)
    port = await server.start()
    assert port > 0
    assert server.port == port
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            m.events_in.inc(5)
            status, ctype, text = await _get(http, f"{base}/metrics")
            assert status == 200
            assert ctype.startswith("text/plain")
            assert "version=" in ctype  # Prometheus' text format content type
            assert samples(text)[(f"{PREFIX}_events_received_total", ())] == 5

            status, _, text = await _get(http, f"{base}/healthz")
            assert (status, text) == (200, "ok\n")

            problems += ["session r0123456789abcdef reconnecting for 61 s",
                         "session r1111111111111111 silent for 75 s"]
            status, _, text = await _get(http, f"{base}/healthz")
            assert status == 503
            assert text.splitlines() == problems

            problems.clear()
            status, _, text = await _get(http, f"{base}/healthz")
            assert (status, text) == (200, "ok\n")

            status, _, _ = await _get(http, f"{base}/nothing")
            assert status == 404
    finally:
        await server.stop()
    assert server.port is None
    await server.stop()  # idempotent
    with socket.socket() as probe:  # the port is free again
        probe.bind(("127.0.0.1", port))


async def test_healthz_never_shows_a_token_and_survives_a_failing_check() -> None:
    m = GatewayMetrics(process_metrics=False)
    calls = {"n": 0}

    def health() -> list[str]:
        calls["n"] += 1
        if calls["n"] == 1:
            return ["session with xoxb-1234-5678-abcdefSECRET\nbroken"]
        if calls["n"] == 2:
            raise RuntimeError("xoxb-1234-5678-abcdefSECRET")
        return "not a list"  # type: ignore[return-value]

    server = HealthServer(m, health, host="127.0.0.1", port=0)
    port = await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            status, _, text = await _get(http, f"http://127.0.0.1:{port}/healthz")
            assert status == 503
            assert "SECRET" not in text
            assert len(text.splitlines()) == 1  # one problem stays one line
            status, _, text = await _get(http, f"http://127.0.0.1:{port}/healthz")
            assert (status, text) == (503, "health check failed: RuntimeError\n")
            status, _, text = await _get(http, f"http://127.0.0.1:{port}/healthz")
            assert (status, text) == (503, "health check failed: TypeError\n")
    finally:
        await server.stop()


async def test_start_twice_and_a_port_in_use_are_errors() -> None:
    m = GatewayMetrics(process_metrics=False)
    server = HealthServer(m, list, host="127.0.0.1", port=0)
    port = await server.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            await server.start()
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            other = HealthServer(m, list, host="127.0.0.1", port=taken.getsockname()[1])
            with pytest.raises(OSError, match="address"):
                await other.start()
            assert other.port is None
    finally:
        await server.stop()
    assert port > 0


async def test_scrapes_while_metrics_change_concurrently() -> None:
    m = GatewayMetrics(process_metrics=False)
    server = HealthServer(m, list, host="127.0.0.1", port=0)
    port = await server.start()
    stop = asyncio.Event()

    async def churn() -> None:
        while not stop.is_set():
            m.events_in.inc()
            m.publish_latency.observe(0.001)
            await asyncio.sleep(0)

    task = asyncio.create_task(churn())
    try:
        async with aiohttp.ClientSession() as http:
            values = []
            for _ in range(5):
                _, _, text = await _get(http, f"http://127.0.0.1:{port}/metrics")
                values.append(samples(text)[(f"{PREFIX}_events_received_total", ())])
            assert values == sorted(values)
            assert values[-1] > 0
    finally:
        stop.set()
        await task
        await server.stop()


def test_module_exports() -> None:
    for name in metrics_module.__all__:
        assert hasattr(metrics_module, name)
