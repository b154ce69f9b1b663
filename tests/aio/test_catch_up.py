"""Catch-up over real sockets against the emulator: gaps, live events during it, 429s,
unreadable conversations, goodbye, crash and restart, and the delivery rule."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aio_helpers import FAST, Recorder, make_client, person

from slack_rtm.aio import RtmClient
from slack_rtm.cursors import ts_key
from slack_rtm.emulator import Emulator
from slack_rtm.session.events import Event

CHILD = Path(__file__).resolve().parent.parent / "catchup_child.py"


def channel_id(emu: Emulator, name: str) -> str:
    return next(c.id for c in emu.workspace.channels.values() if c.name == name)


def assert_in_order_once(rec: Recorder) -> dict[str, list[str]]:
    """Per channel, message ts strictly increasing (no duplicate, no reordering)."""
    per: dict[str, list[str]] = {}
    for m in rec.of("message"):
        per.setdefault(m.channel, []).append(m.ts)
    for channel, tss in per.items():
        keys = [ts_key(t) for t in tss]
        assert keys == sorted(set(keys)), f"{channel}: {tss}"
    return per


async def seed(emu: Emulator, rec: Recorder, channels: list[str]) -> dict[str, str]:
    """One message per channel, delivered: the bot then has a cursor in each."""
    alice = person(emu)
    tss = {ch: await emu.post_message(alice, ch, f"seed {ch}") for ch in channels}
    await rec.has_ts(list(tss.values()))
    return tss


async def post_gap(emu: Emulator, general: str, random: str, secret: str, parent: str) -> list[str]:
    alice, bob = person(emu, 0), person(emu, 1)
    return await emu.post_messages(
        [
            {"user_id": alice, "channel_id": general, "text": "g1"},
            {"user_id": bob, "channel_id": random, "text": "r1"},
            {"user_id": bob, "channel_id": general, "text": "t1", "thread_ts": parent},
            {"user_id": alice, "channel_id": secret, "text": "s1"},
            {"user_id": alice, "channel_id": general, "text": "g2"},
            {"user_id": bob, "channel_id": general, "text": "t2", "thread_ts": parent},
            {"user_id": bob, "channel_id": random, "text": "r2"},
        ]
    )


def check_backfilled(rec: Recorder, gap: list[str]) -> None:
    by_ts = {}
    for m in rec.of("message"):
        assert m.ts not in by_ts, f"{m.ts} delivered twice"
        by_ts[m.ts] = m
    for ts in gap:
        assert by_ts[ts].backfilled is True, ts
    assert_in_order_once(rec)


async def test_abrupt_drop_gap_is_caught_up_once_in_order(emu: Emulator) -> None:
    general, random, secret = (channel_id(emu, n) for n in ("general", "random", "secret"))
    async with make_client(emu, catch_up=True) as rtm:
        rec = Recorder(rtm)
        seeded = await seed(emu, rec, [general, random, secret])
        parent = seeded[general]
        await asyncio.sleep(0.3)  # healthy: reconnect at once after the hold
        assert await emu.drop_and_hold(emu.bot_user_id, 1.0) == 1
        await rec.count("disconnected", 1)
        gap = await post_gap(emu, general, random, secret, parent)
        await rec.wait(lambda: rec.phases("done"), timeout=8)
        await rec.has_ts(gap)
        started, done = rec.phases("started"), rec.phases("done")
        assert len(started) == 1
        assert len(done) == 1
        assert started[0].conversations == 3
        assert done[0].messages == len(gap)
        assert done[0].failed == 0
        check_backfilled(rec, gap)
        threaded = [m for m in rec.of("message") if m.text in ("t1", "t2")]
        assert [m.thread_ts for m in threaded] == [parent, parent]
        # afterwards, live messages flow as usual (not backfilled)
        after = await emu.post_message(person(emu), general, "after")
        await rec.has_ts([after])
        assert rec.of("message")[-1].backfilled is False
        assert_in_order_once(rec)


async def test_dead_link_gap_is_caught_up() -> None:
    async with Emulator(write_rate=None, reconnect_url_interval=None) as emu:
        general, random, secret = (channel_id(emu, n) for n in ("general", "random", "secret"))
        async with make_client(emu, catch_up=True) as rtm:
            rec = Recorder(rtm)
            seeded = await seed(emu, rec, [general, random, secret])
            await asyncio.sleep(0.3)
            emu.set_pong(False)
            emu.hold_reconnects(emu.bot_user_id, 1.5)
            await rec.count("disconnected", 1, timeout=4)
            emu.set_pong(True)
            gap = await post_gap(emu, general, random, secret, seeded[general])
            await rec.wait(lambda: rec.phases("done"), timeout=8)
            await rec.has_ts(gap)
            assert rec.phases("done")[0].messages == len(gap)
            check_backfilled(rec, gap)


async def test_live_messages_during_a_slow_catch_up_neither_duplicated_nor_reordered(
    emu: Emulator,
) -> None:
    general, random, secret = (channel_id(emu, n) for n in ("general", "random", "secret"))
    alice = person(emu)
    async with make_client(emu, catch_up=True) as rtm:
        rec = Recorder(rtm)
        seeded = await seed(emu, rec, [general, random, secret])
        await asyncio.sleep(0.3)
        await emu.drop_and_hold(emu.bot_user_id, 0.8)
        await rec.count("disconnected", 1)
        gap = await post_gap(emu, general, random, secret, seeded[general])
        emu.rate_limit_next_history_calls(1, retry_after=1)
        await rec.wait(lambda: rec.phases("started"), timeout=6)
        live: list[str] = []
        for i in range(6):  # while the first history call waits out its Retry-After
            for ch in (general, random, secret):
                live.append(await emu.post_message(alice, ch, f"live {i}"))
            await asyncio.sleep(0.05)
        assert not rec.phases("done"), "the catch-up was not slowed down"
        await rec.wait(lambda: rec.phases("done"), timeout=8)
        await rec.has_ts(gap + live)
        per = assert_in_order_once(rec)
        assert sum(len(v) for v in per.values()) == len(seeded) + len(gap) + len(live)
        for m in rec.of("message"):
            assert m.backfilled is (m.ts in gap), m.text


async def test_a_429_storm_delays_but_loses_nothing(emu: Emulator) -> None:
    general, random, secret = (channel_id(emu, n) for n in ("general", "random", "secret"))
    async with make_client(emu, catch_up=True) as rtm:
        rec = Recorder(rtm)
        seeded = await seed(emu, rec, [general, random, secret])
        await asyncio.sleep(0.3)
        await emu.drop_and_hold(emu.bot_user_id, 0.5)
        await rec.count("disconnected", 1)
        gap = await post_gap(emu, general, random, secret, seeded[general])
        emu.rate_limit_next_history_calls(3, retry_after=1)
        await rec.wait(lambda: rec.phases("done"), timeout=10)
        done = rec.phases("done")[0]
        assert done.seconds >= 2.5  # three Retry-After waits of 1 s
        assert done.failed == 0
        assert done.messages == len(gap)
        await rec.has_ts(gap)
        check_backfilled(rec, gap)


async def test_an_unreadable_conversation_does_not_stop_the_others(emu: Emulator) -> None:
    general, random, secret = (channel_id(emu, n) for n in ("general", "random", "secret"))
    async with make_client(emu, catch_up=True) as rtm:
        rec = Recorder(rtm)
        seeded = await seed(emu, rec, [general, random, secret])
        await asyncio.sleep(0.3)
        await emu.drop_and_hold(emu.bot_user_id, 0.6)
        await rec.count("disconnected", 1)
        gap = await post_gap(emu, general, random, secret, seeded[general])
        emu.workspace.leave(random, emu.bot_user_id)
        await rec.wait(lambda: rec.phases("done"), timeout=8)
        done = rec.phases("done")[0]
        assert done.failed == 1
        assert done.conversations == 3
        readable = [
            ts
            for ts, text in zip(gap, ("g1", "r1", "t1", "s1", "g2", "t2", "r2"), strict=True)
            if not text.startswith("r")
        ]
        await rec.has_ts(readable)
        assert done.messages == len(readable)
        delivered = {m.ts for m in rec.of("message")}
        assert delivered & set(gap) == set(readable)  # nothing of random: the bot left it
        assert random not in rtm._book.cursors  # type: ignore[union-attr]
        check_backfilled(rec, readable)


async def test_goodbye_is_no_gap_no_catch_up_nothing_lost(emu: Emulator) -> None:
    general = emu.general_channel_id
    alice = person(emu)
    async with make_client(emu, catch_up=True) as rtm:
        rec = Recorder(rtm)
        await seed(emu, rec, [general])
        await emu.send_goodbye(close_after=0.5)
        tss = [await emu.post_message(alice, general, f"across {i}") for i in range(5)]
        await rec.count("reconnecting", 1)
        await rec.count("connected", 2)
        tss += [await emu.post_message(alice, general, f"after {i}") for i in range(3)]
        await rec.has_ts(tss)
        await asyncio.sleep(0.6)  # the old socket closes: still no catch-up
        assert rec.of("catch_up") == []
        assert all(m.backfilled is False for m in rec.of("message"))
        assert_in_order_once(rec)
        assert rtm._catchup[0].runs == 0  # type: ignore[index]


async def test_crash_and_restart_catches_up_from_the_saved_cursors(
    emu: Emulator, tmp_path: Path
) -> None:
    general = emu.general_channel_id
    alice = person(emu)
    state = tmp_path / "cursors.sqlite"
    env = {
        **os.environ,
        "SLACK_API_URL": emu.api_url,
        "SLACK_TOKEN": emu.bot_token,
        "CURSOR_STATE": str(state),
    }

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, str(CHILD), env=env, stdout=asyncio.subprocess.PIPE
        )

    async def read_until(
        proc: asyncio.subprocess.Process, want: set[str], got: list[tuple[str, bool]]
    ) -> None:
        assert proc.stdout is not None
        while not want <= {ts for ts, _ in got}:
            line = await asyncio.wait_for(proc.stdout.readline(), 8)
            assert line, "the child ended"
            ts, flag = line.decode().split()
            got.append((ts, flag == "1"))

    async def ready(proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 8)
        assert line.strip() == b"connected"

    first = await start()
    try:
        await ready(first)
        before = [await emu.post_message(alice, general, f"before {i}") for i in range(3)]
        got: list[tuple[str, bool]] = []
        await read_until(first, set(before), got)
        await asyncio.sleep(1.6)  # cursors are saved every second
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    after = [await emu.post_message(alice, general, f"while down {i}") for i in range(4)]
    second = await start()
    try:
        await ready(second)
        again: list[tuple[str, bool]] = []
        await read_until(second, set(after), again)
        flags = dict(again)
        assert all(flags[ts] for ts in after)  # all K, from history
        assert [ts for ts, _ in again if ts in after] == after  # once each, in order
        assert set(before).isdisjoint(flags)  # the cursor was saved: no repeat
    finally:
        second.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(second.wait(), 5)
        except asyncio.TimeoutError:
            second.kill()
            await second.wait()


async def test_iteration_begun_late_sees_every_event_handler_once(emu: Emulator) -> None:
    general = emu.general_channel_id
    alice = person(emu)
    handled: list[str] = []
    rtm = make_client(emu)
    rtm.on("message")(lambda e: handled.append(e.ts))
    async with rtm:
        tss = [await emu.post_message(alice, general, f"m{i}") for i in range(5)]
        await asyncio.sleep(0.3)
        assert handled == tss  # handled in the background already
        seen: list[Event] = []

        async def iterate() -> None:
            async for event in rtm:
                seen.append(event)
                if event.type == "message" and event.ts == tss[-1]:
                    return

        await asyncio.wait_for(iterate(), 3)
        assert seen[0].type == "connecting"  # from connect on
        types = [e.type for e in seen]
        assert "connected" in types
        assert types.index("connected") < types.index("message")
        assert [e.ts for e in seen if e.type == "message"] == tss
        assert handled == tss  # not handled again when yielded


async def test_wait_closed_stops_keeping(emu: Emulator) -> None:
    general = emu.general_channel_id
    handled: list[str] = []
    rtm = make_client(emu)
    rtm.on("message")(lambda e: handled.append(e.ts))
    async with rtm:
        waiter = asyncio.ensure_future(rtm.wait_closed())
        await asyncio.sleep(0)
        ts = await emu.post_message(person(emu), general, "handled only")
        deadline = time.monotonic() + 3
        while ts not in handled and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert handled == [ts]
        assert rtm._kept is None
        assert not rtm._keeping
        await rtm.close()
        await asyncio.wait_for(waiter, 3)


@pytest.mark.parametrize("bad", [1, "yes"])
def test_catch_up_must_be_bool(emu: Emulator, bad: Any) -> None:
    with pytest.raises(TypeError, match="catch_up"):
        RtmClient("xoxb-1", catch_up=bad, config=FAST)


async def test_a_second_gap_during_a_catch_up_loses_nothing(emu: Emulator) -> None:
    """A new gap while a catch-up runs restarts it; the first one's clean-up must not release
    the second one's holds (live messages would then pass older history)."""
    general, random = (channel_id(emu, n) for n in ("general", "random"))
    async with make_client(emu, catch_up=True) as rtm:
        rec = Recorder(rtm)
        await seed(emu, rec, [general, random])
        await asyncio.sleep(0.3)
        alice = person(emu)
        await emu.drop_and_hold(emu.bot_user_id, 0.5)
        gap1 = [await emu.post_message(alice, ch, "gap one") for ch in (general, random)]
        emu.rate_limit_next_history_calls(1, retry_after=1)  # the first catch-up waits 1 s
        await rec.wait(lambda: rec.phases("started"), timeout=8)
        await emu.drop_and_hold(emu.bot_user_id, 0.5)  # a second gap while it waits
        gap2 = [await emu.post_message(alice, ch, "gap two") for ch in (general, random)]
        await rec.wait(lambda: rec.phases("done"), timeout=10)
        live = [await emu.post_message(alice, ch, "live") for ch in (general, random)]
        await rec.has_ts(gap1 + gap2 + live, timeout=10)
        check_backfilled(rec, gap1 + gap2)
        assert len(rec.phases("started")) == 2  # the first was cancelled and begun again


def test_a_bad_argument_opens_no_state_file(tmp_path: Path) -> None:
    path = tmp_path / "cursors.db"
    with pytest.raises(ValueError, match="close_timeout"):
        RtmClient("xoxb-1-2-3", catch_up=True, state=path, close_timeout=-1)
    with pytest.raises(ValueError, match="catch_up=True"):
        RtmClient("xoxb-1-2-3", state=path)
    assert not path.exists()


async def test_own_messages_sent_before_a_gap_are_not_caught_up(emu: Emulator) -> None:
    """Slack does not deliver a client's own messages back on its socket; catch-up does not
    either, although history holds them."""
    general = channel_id(emu, "general")
    async with make_client(emu, catch_up=True) as rtm:
        rec = Recorder(rtm)
        await seed(emu, rec, [general])
        ack = await rtm.send_message(general, "from the bot")
        await asyncio.sleep(0.3)
        await emu.drop_and_hold(emu.bot_user_id, 0.5)
        gap = await emu.post_message(person(emu), general, "while away")
        await rec.wait(lambda: rec.phases("done"), timeout=8)
        await rec.has_ts([gap])
        tss = [m.ts for m in rec.of("message")]
        assert ack.ts not in tss
        assert tss.count(gap) == 1
        assert rec.phases("done")[0].messages == 1
