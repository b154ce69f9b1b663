"""The loop-wide keepalive timer (slack_rtm.aio.wheel): the wheel alone on a real event loop,
then real clients over loopback against the emulator sharing it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aio_helpers import assert_no_leftovers, make_client

from slack_rtm.aio import RtmClient
from slack_rtm.aio.wheel import DEFAULT_TICK, TimerWheel, set_timer_wheel, timer_wheel
from slack_rtm.backoff import Backoff
from slack_rtm.emulator import Emulator
from slack_rtm.errors import RtmConnectErrorSchemaError
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.state import State


class Member:
    """Records when the wheel runs it; may add itself again from its callback."""

    def __init__(self, wheel: TimerWheel, name: str, log: list[tuple[str, float]]) -> None:
        self.wheel = wheel
        self.name = name
        self.log = log
        self.slot: int | None = None
        self.again: float | None = None  # re-add at loop time now + again when run

    def add(self, deadline: float) -> None:
        self.slot = self.wheel.add(self, deadline)

    def _on_wheel(self, slot: int) -> None:
        assert slot == self.slot
        self.slot = None
        now = asyncio.get_running_loop().time()
        self.log.append((self.name, now))
        if self.again is not None:
            self.add(now + self.again)
            self.again = None


def wheel_handles(loop: asyncio.AbstractEventLoop) -> list[Any]:
    """The loop's live timer handles (asyncio keeps them in ``_scheduled``)."""
    return [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]


async def test_members_run_at_their_deadline_or_up_to_a_tick_later_in_order() -> None:
    loop = asyncio.get_running_loop()
    wheel = TimerWheel(loop, 0.05)
    log: list[tuple[str, float]] = []
    now = loop.time()
    deadlines = {"c": now + 0.23, "a": now + 0.07, "b": now + 0.12, "a2": now + 0.071}
    members = {name: Member(wheel, name, log) for name in deadlines}
    for name, at in deadlines.items():
        members[name].add(at)
    assert len(wheel) == 4
    assert len(wheel_handles(loop)) == 1  # one loop timer for every member
    while len(log) < 4:
        await asyncio.sleep(0.01)
    assert [name for name, _ in log] in (["a", "a2", "b", "c"], ["a2", "a", "b", "c"])
    for name, ran in log:
        assert deadlines[name] <= ran <= deadlines[name] + 0.05 + 0.05  # a tick, plus the loop
    assert len(wheel) == 0
    assert not wheel.armed
    assert wheel_handles(loop) == []


async def test_a_member_re_added_while_running_does_not_delay_an_earlier_slot() -> None:
    # The timer must go to the earliest slot left, not to the first slot added while running.
    loop = asyncio.get_running_loop()
    wheel = TimerWheel(loop, 0.02)
    log: list[tuple[str, float]] = []
    now = loop.time()
    first, soon = Member(wheel, "first", log), Member(wheel, "soon", log)
    first.again = 5.0  # re-added far away when it runs
    first.add(now + 0.02)
    soon.add(now + 0.1)
    while not any(name == "soon" for name, _ in log):
        await asyncio.sleep(0.01)
        assert loop.time() - now < 1.0, "the earlier slot waited for the later one"
    assert len(wheel) == 1  # 'first', far away
    wheel.discard(first, first.slot)  # type: ignore[arg-type]
    assert not wheel.armed


async def test_discard_and_moving_a_member() -> None:
    loop = asyncio.get_running_loop()
    wheel = TimerWheel(loop, 0.02)
    log: list[tuple[str, float]] = []
    a, b = Member(wheel, "a", log), Member(wheel, "b", log)
    now = loop.time()
    a.add(now + 0.04)
    b.add(now + 0.04)
    wheel.discard(a, a.slot)  # type: ignore[arg-type]
    wheel.discard(a, a.slot)  # type: ignore[arg-type]  # twice: nothing happens
    wheel.discard(a, 12345)  # a slot that does not exist: nothing happens
    assert len(wheel) == 1
    old = b.slot
    wheel.discard(b, old)  # type: ignore[arg-type]
    assert not wheel.armed  # empty: no loop timer left
    b.add(now + 0.06)  # moved later
    assert b.slot != old
    await asyncio.sleep(0.15)
    assert [name for name, _ in log] == ["b"]
    assert log[0][1] >= now + 0.06


def test_the_slot_of_a_deadline_never_runs_it_early() -> None:
    wheel = TimerWheel(asyncio.new_event_loop(), 0.25)
    try:
        for deadline in (0.0, 0.1, 0.25, 0.2500001, 10.0, 1234.5678):
            slot = wheel.slot_of(deadline)
            assert deadline <= slot * 0.25 < deadline + 0.25
        assert (wheel.lead, wheel.coarse_after, wheel.min_interval) == (0.5, 1.5, 2.5)
    finally:
        wheel._loop().close()  # type: ignore[union-attr]


async def test_one_wheel_per_loop_and_how_to_change_it() -> None:
    loop = asyncio.get_running_loop()
    wheel = timer_wheel(loop)
    assert wheel is not None
    assert wheel is timer_wheel(loop)
    assert wheel.tick == DEFAULT_TICK
    finer = set_timer_wheel(loop, 0.05)
    assert finer is timer_wheel(loop)
    assert finer is not None
    assert finer.tick == 0.05
    assert set_timer_wheel(loop, None) is None
    assert timer_wheel(loop) is None


@pytest.mark.parametrize(("tick", "error"), [
    (0, ValueError), (-1.0, ValueError), (float("inf"), ValueError), (float("nan"), ValueError),
    ("1", TypeError), (True, TypeError),
])
async def test_bad_ticks_are_refused(tick: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="tick"):
        set_timer_wheel(asyncio.get_running_loop(), tick)
    with pytest.raises(error, match="tick"):
        TimerWheel(asyncio.get_running_loop(), tick)


def test_set_timer_wheel_wants_a_loop() -> None:
    with pytest.raises(TypeError, match="loop"):
        set_timer_wheel(object(), 0.1)  # type: ignore[arg-type]


# ------------------------------------------------------------------ real clients

TICK = 0.1
# Both keepalive deadlines (0.8 s after a frame, 0.8 s after a ping) at least coarse_after
# (0.6 s) away: the wheel's.
WHEELED = SessionConfig(ping_interval=1.0, ping_timeout=0.8, hello_timeout=2.0,
                        reply_timeout=3.0, backoff=Backoff(initial=0.05, maximum=0.2),
                        healthy_after=0.2, send_rate=50.0, send_burst=20)


def driver_handles(loop: asyncio.AbstractEventLoop) -> list[Any]:
    """Live loop timers whose callback is a client's own timer."""
    return [h for h in wheel_handles(loop)
            if isinstance(getattr(h._callback, "__self__", None), RtmClient)]


async def test_many_clients_share_one_timer_and_keep_their_links(emu: Emulator) -> None:
    loop = asyncio.get_running_loop()
    wheel = set_timer_wheel(loop, TICK)
    assert wheel is not None
    emu.set_reconnect_urls(False)  # no traffic but the keepalive
    clients = [make_client(emu, config=WHEELED) for _ in range(20)]
    for rtm in clients:
        await rtm.connect()
    try:
        assert len(wheel) == 20
        assert wheel.armed
        assert driver_handles(loop) == []  # no client has a loop timer of its own
        for rtm in clients:
            assert rtm._core.ping_lead == pytest.approx(2 * TICK)
        # two keepalive rounds: every client pings (early by at most the lead) and its pong
        # keeps the link
        await asyncio.sleep(2 * WHEELED.ping_interval + 0.3)
        for rtm in clients:
            assert rtm._core._sends.last_id >= 2, "no keepalive ping"
            assert rtm.state is State.CONNECTED
        assert len(wheel) == 20
        assert driver_handles(loop) == []
    finally:
        for rtm in clients:
            await rtm.close()
    assert len(wheel) == 0
    assert not wheel.armed


async def test_a_closed_client_leaves_the_wheel(emu: Emulator) -> None:
    wheel = set_timer_wheel(asyncio.get_running_loop(), TICK)
    assert wheel is not None
    a = make_client(emu, config=WHEELED)
    b = make_client(emu, config=WHEELED)
    await a.connect()
    await b.connect()
    assert len(wheel) == 2
    await a.close()
    assert len(wheel) == 1
    assert a._slot is None
    assert_no_leftovers(a)
    emu.set_pong(False)  # b's session ends by itself too: the dead link, then a fatal error
    await emu.drop_connections()
    emu.fail_next_connects(100, error="invalid_auth")
    with pytest.raises(RtmConnectErrorSchemaError, match="invalid_auth"):
        await asyncio.wait_for(b.wait_closed(), 5)
    assert len(wheel) == 0
    assert not wheel.armed
    assert_no_leftovers(b)


async def test_a_dead_link_is_noticed_within_interval_plus_timeout(emu: Emulator) -> None:
    wheel = set_timer_wheel(asyncio.get_running_loop(), TICK)
    assert wheel is not None
    emu.set_reconnect_urls(False)
    async with make_client(emu, config=WHEELED) as rtm:
        assert rtm._slot is not None
        await asyncio.sleep(0.3)
        emu.set_pong(False)
        last_rx = rtm._core._last_rx
        started = time.monotonic()
        while rtm.state is State.CONNECTED:
            last_rx = rtm._core._last_rx  # a pong already on its way may still arrive
            await asyncio.sleep(0.005)
            assert time.monotonic() - started < 5, "the dead link was never noticed"
        noticed = asyncio.get_running_loop().time()
        silent = noticed - last_rx
        pinged = rtm._core._ping_sent_at - last_rx
        # The ping went out early (the lead: without it, never before ping_interval)...
        assert WHEELED.ping_interval - 2 * TICK - 0.01 <= pinged < WHEELED.ping_interval
        # ...so that the link is given up within ping_interval + ping_timeout of its last
        # frame (plus the 5 ms sampling above and a loaded machine's lateness), and never
        # before the ping's full timeout.
        assert silent <= WHEELED.ping_interval + WHEELED.ping_timeout + 0.15
        assert silent >= pinged + WHEELED.ping_timeout - 0.01
        emu.set_pong(True)
        await asyncio.wait_for(_until_connected(rtm), 5)


async def _until_connected(rtm: RtmClient) -> None:
    while rtm.state is not State.CONNECTED:
        await asyncio.sleep(0.01)


async def test_clients_off_the_wheel_keep_precise_timers(emu: Emulator) -> None:
    loop = asyncio.get_running_loop()
    wheel = set_timer_wheel(loop, TICK)
    assert wheel is not None
    # a keepalive shorter than ten ticks: precise timers, no lead
    fast = make_client(emu, config=SessionConfig(ping_interval=0.5, ping_timeout=0.5))
    async with fast:
        assert fast._wheel is None
        assert fast._timer is not None
        assert fast._core.ping_lead == 0
        assert len(wheel) == 0
    # the wheel turned off for the loop
    set_timer_wheel(loop, None)
    async with make_client(emu, config=WHEELED) as rtm:
        assert rtm._wheel is None
        assert rtm._timer is not None
        assert rtm._core.ping_lead == 0
