"""EventBatches (the sync client's way of taking events) against the emulator, over loopback."""

from __future__ import annotations

import asyncio
import json

import pytest
from aio_helpers import assert_no_leftovers, make_client

from slack_rtm.aio.batches import EventBatches
from slack_rtm.emulator import Emulator
from slack_rtm.errors import StateError
from slack_rtm.session.events import Event, MalformedFrame, Message, UserTyping


def _payloads(emu: Emulator, n: int, typing_every: int = 0) -> list[str]:
    """``n`` numbered messages; every ``typing_every``-th one followed by a ``user_typing``."""
    channel = emu.general_channel_id
    user = emu.workspace.people[0].id
    out = []
    for i in range(n):
        out.append(json.dumps({"type": "message", "channel": channel, "user": user,
                               "text": f"m{i}", "ts": f"1700000000.{i:06d}"}))
        if typing_every and i % typing_every == 0:
            out.append(json.dumps({"type": "user_typing", "channel": channel, "user": user,
                                   "id": i}))
    return out


async def _take_until(batches: EventBatches, count: int, sizes: list[int],
                      keep: type[Event] = Message) -> list[Event]:
    got: list[Event] = []
    while sum(isinstance(e, keep) for e in got) < count:
        batch = await asyncio.wait_for(batches.take(), 5)
        assert batch, "the iteration ended early"
        sizes.append(len(batch))
        got.extend(batch)
    return got


async def test_batches_keep_order_and_respect_the_cap(emu: Emulator) -> None:
    async with make_client(emu) as rtm:
        batches = EventBatches(rtm, cap=16)
        await emu.firehose_payloads(_payloads(emu, 600))
        sizes: list[int] = []
        got = await _take_until(batches, 600, sizes)
        texts = [e.text for e in got if isinstance(e, Message)]
        assert texts == [f"m{i}" for i in range(600)]
        assert max(sizes) <= 16
        assert len(sizes) < 600  # several events per hand-off
        assert rtm._iterators == 1
        await batches.aclose()
        assert rtm._iterators == 0
    assert_no_leftovers(rtm)


async def test_handlers_run_only_after_earlier_events_were_taken(emu: Emulator) -> None:
    log: list[str] = []
    rtm = make_client(emu)

    @rtm.on("user_typing")
    def typing(event: UserTyping) -> None:
        log.append(f"handler {event.raw['id']}")

    async with rtm:
        batches = EventBatches(rtm)
        # Iterating before the events arrive: from then on, handlers run in the iteration
        # (before that, the background dispatcher runs them, as with ``async for``).
        first = asyncio.ensure_future(batches.take())
        await asyncio.sleep(0)
        assert rtm._iterators == 1
        await emu.firehose_payloads(_payloads(emu, 300, typing_every=25))
        sizes: list[int] = []
        while sum(line.startswith("took m") for line in log) < 300:
            batch = await asyncio.wait_for(first if sizes == [] else batches.take(), 5)
            sizes.append(len(batch))
            for position, event in enumerate(batch):
                if isinstance(event, UserTyping):
                    assert position == 0  # an event with handlers opens its batch
                    log.append(f"took typing {event.raw['id']}")
                elif isinstance(event, Message):
                    log.append(f"took {event.text}")
        await batches.aclose()
    expected: list[str] = []
    for i in range(300):
        expected.append(f"took m{i}")
        if i % 25 == 0:
            expected += [f"handler {i}", f"took typing {i}"]
    assert log == expected
    assert max(sizes) > 1


async def test_untaken_events_go_back_to_the_front(emu: Emulator) -> None:
    async with make_client(emu) as rtm:
        batches = EventBatches(rtm)
        await emu.firehose_payloads(_payloads(emu, 50))
        got = await _take_until(batches, 1, [])
        while len(got) < 10:
            got += await asyncio.wait_for(batches.take(), 5)
        messages = [e for e in got if isinstance(e, Message)]
        await batches.aclose(messages[3:])
        await batches.aclose(messages[3:])  # idempotent: not pushed back twice
        assert await batches.take() == []  # closed
        # A last message marks the end, so a second push-back would show however the 50 were
        # split between reads.
        await emu.firehose_payloads([json.dumps({"type": "message", "text": "end"})])
        rest: list[str] = []
        async for event in rtm:
            if isinstance(event, Message):
                if event.text == "end":
                    break
                rest.append(event.text or "")
        assert rest == [f"m{i}" for i in range(3, 50)]


async def test_the_end_after_close_and_before_connect(emu: Emulator) -> None:
    rtm = make_client(emu)
    with pytest.raises(StateError):
        await EventBatches(rtm).take()
    with pytest.raises(ValueError, match="cap"):
        EventBatches(rtm, cap=0)
    async with rtm:
        batches = EventBatches(rtm)
        await emu.firehose_payloads(_payloads(emu, 5))
        await _take_until(batches, 5, [])
    seen: list[str] = []
    while batch := await asyncio.wait_for(batches.take(), 5):
        seen += [e.type for e in batch]
    assert seen[-1] == "closed"
    assert await batches.take() == []
    assert rtm._iterators == 0


async def test_back_pressure_with_a_tiny_queue(emu: Emulator) -> None:
    async with make_client(emu, max_queue=4) as rtm:
        batches = EventBatches(rtm)
        sender = asyncio.ensure_future(emu.firehose_payloads(_payloads(emu, 400)))
        paused = False
        got: list[Event] = []
        while sum(isinstance(e, Message) for e in got) < 400:
            paused = paused or rtm._paused
            await asyncio.sleep(0)
            got += await asyncio.wait_for(batches.take(), 5)
        await sender
        assert paused
        assert not rtm._paused
        texts = [e.text for e in got if isinstance(e, Message)]
        assert texts == [f"m{i}" for i in range(400)]
        await batches.aclose()


BAD_MESSAGE = '{"type":"message","channel":"C1","text":123,"ts":"1.000001"}'
GOOD_MESSAGE = '{"type":"message","channel":"C1","text":"fine","ts":"1.000002","extra":7}'


def _check_decoded(events: list[Event]) -> None:
    bad = next(e for e in events if isinstance(e, MalformedFrame))
    assert bad.event_type == "message"
    assert "$.text" in bad.error
    assert bad.raw["text"] == 123
    good = next(e for e in events if isinstance(e, Message))
    assert good.text == "fine"
    assert good.raw["extra"] == 7  # the frame was kept for .raw


async def test_message_frames_that_fail_the_typed_decode_arrive_as_malformed(
    emu: Emulator,
) -> None:
    # Frames that start like a message are decoded only when delivered, in each hot loop.
    seen: list[Event] = []
    async with make_client(emu) as rtm:  # async for
        await emu.firehose_payloads([BAD_MESSAGE, GOOD_MESSAGE])
        async for event in rtm:
            seen.append(event)
            if isinstance(event, Message):
                break
    _check_decoded(seen)

    seen = []
    rtm = make_client(emu)
    done = asyncio.Event()

    @rtm.on("*")
    def record(event: Event) -> None:  # the background dispatcher
        seen.append(event)
        if isinstance(event, Message):
            done.set()

    async with rtm:
        await emu.firehose_payloads([BAD_MESSAGE, GOOD_MESSAGE])
        await asyncio.wait_for(done.wait(), 5)
    _check_decoded(seen)

    async with make_client(emu) as rtm:  # batches
        batches = EventBatches(rtm)
        await emu.firehose_payloads([BAD_MESSAGE, GOOD_MESSAGE])
        seen = await _take_until(batches, 1, [])
        await batches.aclose()
    _check_decoded(seen)
