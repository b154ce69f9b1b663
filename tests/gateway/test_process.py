"""gateway.process without a cluster: argument checks, the pace of openings, the state a new
Gateway reports (the process itself is tested with real processes in test_cluster.py)."""

from __future__ import annotations

import pytest

from slack_rtm.gateway.config import GatewayConfig
from slack_rtm.gateway.process import EXIT_DRAINED, EXIT_NAME_TAKEN, EXIT_NATS, Gateway, _Pace


def test_gateway_needs_a_config() -> None:
    with pytest.raises(TypeError, match="GatewayConfig"):
        Gateway({"nats_url": "nats://127.0.0.1:4222"})  # type: ignore[arg-type]


async def test_a_new_gateway_holds_nothing_and_is_healthy() -> None:
    gw = Gateway(GatewayConfig(nats_url="nats://127.0.0.1:1", key=b"k" * 32, name="gw-a"))
    assert gw.held == frozenset()
    assert not gw.fenced
    assert not gw.draining
    assert gw.health() == []
    assert "gw-a" in repr(gw)
    assert "kkkk" not in repr(gw)
    gw.stop()  # before run(): run() would drain at once
    assert (EXIT_DRAINED, EXIT_NATS, EXIT_NAME_TAKEN) == (0, 1, 2)


def test_pace_allows_rate_per_second_in_small_bursts() -> None:
    pace = _Pace(4.0)
    now = pace.at
    assert pace.take(now)  # a burst of max(1, rate / 4) = 1
    assert not pace.take(now)
    assert not pace.take(now + 0.2)
    assert pace.take(now + 0.25)
    fast = _Pace(40.0)
    taken = sum(fast.take(fast.at) for _ in range(50))
    assert taken == 10  # the burst
    later = fast.at + 1.0
    assert sum(fast.take(later) for _ in range(50)) == 10  # refilled to the burst, not beyond
