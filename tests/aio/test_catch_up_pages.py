"""Catch-up over real sockets when the history is longer than a page: Slack caps ``limit`` at 15
for some apps (the emulator's ``set_history_rate_limit(None, max_limit=15)``), so a gap of 50
messages, or a thread of 20 replies, takes several ``conversations.history`` /
``conversations.replies`` pages, each followed by its ``next_cursor``."""

from __future__ import annotations

import asyncio

from aio_helpers import Recorder, make_client, person
from test_catch_up import assert_in_order_once, channel_id, check_backfilled, seed

from slack_rtm.emulator import Emulator

CAP = 15


async def test_a_gap_of_many_pages_is_caught_up_once_in_order(emu: Emulator) -> None:
    general, random = (channel_id(emu, n) for n in ("general", "random"))
    emu.set_history_rate_limit(None, max_limit=CAP)
    alice, bob = person(emu, 0), person(emu, 1)
    async with make_client(emu, catch_up=True) as rtm:
        rec = Recorder(rtm)
        seeded = await seed(emu, rec, [general, random])
        await asyncio.sleep(0.3)  # healthy: reconnect at once after the hold
        assert await emu.drop_and_hold(emu.bot_user_id, 0.8) == 1
        await rec.count("disconnected", 1)
        posts = []
        for i in range(50):
            posts.append({"user_id": alice, "channel_id": general, "text": f"g{i}"})
            if i % 12 == 5:  # four in random, between general's
                posts.append({"user_id": bob, "channel_id": random, "text": f"r{i}"})
        gap = await emu.post_messages(posts)
        await rec.wait(lambda: rec.phases("done"), timeout=8)
        await rec.has_ts(gap)
        done = rec.phases("done")[0]
        assert done.failed == 0
        assert done.messages == len(gap) == 54
        # general: 4 pages after the cursor (15, 15, 15, 5) and the page before it;
        # random: 1 page after and 1 before. No thread.
        assert done.calls == 7
        check_backfilled(rec, gap)
        per = assert_in_order_once(rec)
        by_channel = {general: [seeded[general]], random: [seeded[random]]}
        for item, ts in zip(posts, gap, strict=True):
            by_channel[item["channel_id"]].append(ts)
        assert per == by_channel  # every one, once, in posting order
        after = await emu.post_message(alice, general, "after")
        await rec.has_ts([after])
        assert rec.of("message")[-1].backfilled is False


async def test_threads_whose_replies_span_pages_are_caught_up_once_in_order(
    emu: Emulator,
) -> None:
    general = emu.general_channel_id
    emu.set_history_rate_limit(None, max_limit=CAP)
    alice, bob = person(emu, 0), person(emu, 1)
    async with make_client(emu, catch_up=True) as rtm:
        rec = Recorder(rtm)
        old_parent = (await seed(emu, rec, [general]))[general]
        await asyncio.sleep(0.3)
        assert await emu.drop_and_hold(emu.bot_user_id, 0.8) == 1
        await rec.count("disconnected", 1)
        new_parent = await emu.post_message(alice, general, "a thread begun in the gap")
        posts = []
        for i in range(20):
            # under the parent at the cursor (found in the page before the cursor) and under
            # the one posted in the gap (found in the history after it), interleaved
            posts.append(
                {"user_id": bob, "channel_id": general, "text": f"old {i}", "thread_ts": old_parent}
            )
            posts.append(
                {
                    "user_id": alice,
                    "channel_id": general,
                    "text": f"new {i}",
                    "thread_ts": new_parent,
                }
            )
        replies = await emu.post_messages(posts)
        gap = [new_parent, *replies]
        await rec.wait(lambda: rec.phases("done"), timeout=8)
        await rec.has_ts(gap)
        done = rec.phases("done")[0]
        assert done.failed == 0
        assert done.messages == len(gap) == 41
        # history: 1 page after, 1 before; each thread: the parent and 14 replies, then 6
        assert done.calls == 6
        check_backfilled(rec, gap)
        assert [m.ts for m in rec.of("message")] == [old_parent, *gap]
        for parent, prefix in ((old_parent, "old"), (new_parent, "new")):
            thread = [m for m in rec.of("message") if m.thread_ts == parent and m.ts != parent]
            assert [m.text for m in thread] == [f"{prefix} {i}" for i in range(20)]


async def test_a_thread_whose_parent_is_pages_back_is_remembered_and_caught_up(
    emu: Emulator,
) -> None:
    general = emu.general_channel_id
    emu.set_history_rate_limit(None, max_limit=CAP)
    alice, bob = person(emu, 0), person(emu, 1)
    async with make_client(emu, catch_up=True) as rtm:
        rec = Recorder(rtm)
        parent = (await seed(emu, rec, [general]))[general]
        before = [await emu.post_message(bob, general, "first reply", thread_ts=parent)]
        before += [await emu.post_message(alice, general, f"top {i}") for i in range(20)]
        await rec.has_ts(before)  # delivered live: the thread is remembered
        await asyncio.sleep(0.1)
        assert await emu.drop_and_hold(emu.bot_user_id, 0.8) == 1
        await rec.count("disconnected", 1)
        # the parent is 21 messages back: in neither the history after the cursor nor the
        # page (of 15) before it
        gap = await emu.post_messages(
            [
                {"user_id": bob, "channel_id": general, "text": "late reply", "thread_ts": parent},
                {"user_id": alice, "channel_id": general, "text": "top after"},
            ]
        )
        await rec.wait(lambda: rec.phases("done"), timeout=8)
        await rec.has_ts(gap)
        done = rec.phases("done")[0]
        assert (done.messages, done.failed, done.calls) == (2, 0, 3)
        check_backfilled(rec, gap)
        late = next(m for m in rec.of("message") if m.text == "late reply")
        assert late.thread_ts == parent
