"""gateway.process in-process against a real nats-server and the emulator: the steady state
looks only at what changed (no walk over every session each tick), a change is still acted on
at once, and a saturated event loop opens no new session on that tick."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from slack_rtm.emulator import Emulator
from slack_rtm.gateway.config import GatewayConfig
from slack_rtm.gateway.contract import Registration
from slack_rtm.gateway.kv import connect, open_buckets
from slack_rtm.gateway.process import SWEEP_EVERY, TICK, Gateway
from slack_rtm.gateway.registry import Registry
from slack_rtm.gateway.secrets import GatewayKey


async def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (got := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
    return got


@dataclass
class Run:
    gateway: Gateway
    registry: Registry
    regs: list[Registration]
    emu: Emulator


class Counted:
    """Wraps one of the gateway's methods (an instance attribute shadows it) and counts."""

    def __init__(self, gateway: Gateway, name: str) -> None:
        self.calls: list[tuple[Any, ...]] = []
        real = getattr(gateway, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(args)
            return real(*args, **kwargs)

        setattr(gateway, name, counted)


@pytest.fixture
async def run(nats_url: str) -> AsyncIterator[Run]:
    raw = GatewayKey.from_base64(GatewayKey.generate()).raw
    async with Emulator(write_rate=None) as emu:
        nc = await connect(nats_url)
        try:
            buckets = await open_buckets(nc.jetstream())
            registry = Registry(buckets.registrations, GatewayKey(raw))
            regs = [await registry.register(token, None, api_url=emu.api_url)
                    for token in list(emu.user_tokens.values())[:3]]
            gateway = Gateway(GatewayConfig(nats_url=nats_url, key=raw, name="gw-a",
                                            api_url=emu.api_url))
            task = asyncio.create_task(gateway.run())
            try:
                await until(lambda: gateway.held == {r.id for r in regs}, 15, "3 sessions held")
                yield Run(gateway, registry, regs, emu)
            finally:
                gateway.stop()
                assert await asyncio.wait_for(task, 30) == 0
        finally:
            await nc.close()


async def test_the_steady_state_does_not_walk_every_session_each_tick(run: Run) -> None:
    gw = run.gateway
    ticks, held, placed = Counted(gw, "_tick"), Counted(gw, "_check_held"), Counted(gw, "_place")
    await until(lambda: len(ticks.calls) >= 8, 10, "8 ticks")
    # Nothing changed: at most the safety-net sweep (every SWEEP_EVERY s) looked at them all.
    assert 8 * TICK < SWEEP_EVERY
    assert len(held.calls) <= 1
    assert len(placed.calls) <= 1
    # A change is still acted on within a tick or two, looking at that session only.
    gone = run.regs[0].id
    assert await run.registry.remove(gone)
    await until(lambda: gone not in gw.held, 2, "the removed registration's session closed")
    assert [gone] in [list(args[0]) for args in held.calls]
    assert gw.held == {r.id for r in run.regs[1:]}


async def test_sessions_counted_by_state_on_a_metrics_scrape(run: Run) -> None:
    gw = run.gateway
    gw.metrics.sessions.labels(state="held").set(0)  # stale until counted again
    text = gw.metrics.exposition().decode()
    assert 'slack_rtm_gateway_sessions{state="held"} 3.0' in text
    assert 'slack_rtm_gateway_sessions{state="connected"} 3.0' in text


async def test_a_lagging_loop_opens_nothing_on_that_tick(run: Run) -> None:
    gw = run.gateway
    reg = await run.registry.register(run.emu.bot_token, None, api_url=run.emu.api_url)
    time.sleep(3 * TICK + 0.5)  # the loop is blocked: the next tick is late
    await until(lambda: reg.id in gw.held, 10, "the new registration held")
    assert gw.lagging >= 1
    assert not gw.fenced
