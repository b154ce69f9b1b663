"""Handlers and delivery: type/subtype/"*", sync and async, errors, slowness, back-pressure."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aio_helpers import assert_no_leftovers, make_client, next_event, person

from slack_rtm.aio import RtmClient
from slack_rtm.emulator import Emulator
from slack_rtm.session.events import Event, HandlerError, Message


async def test_handlers_by_type_subtype_and_star(emu: Emulator) -> None:
    alice = person(emu)
    rtm = make_client(emu)
    seen: dict[str, list[Any]] = {"sync": [], "async": [], "bot": [], "star": []}

    @rtm.on("message")
    def on_message(event: Message) -> None:
        seen["sync"].append(event.text)

    @rtm.on("message")
    async def on_message_async(event: Message) -> None:
        await asyncio.sleep(0)
        seen["async"].append(event.text)

    @rtm.on("message", subtype="bot_message")
    def on_bot(event: Message) -> None:
        seen["bot"].append(event.text)

    @rtm.on("*")
    def on_any(event: Event) -> None:
        seen["star"].append(event.type)

    done = asyncio.Event()
    rtm.add_handler("reaction_added", lambda e: done.set())
    async with rtm:
        await emu.post_message(alice, emu.general_channel_id, "one")
        await emu.inject_event({"type": "message", "subtype": "bot_message",
                                "channel": emu.general_channel_id, "text": "beep",
                                "ts": "1.000001", "bot_id": "B1"})
        await emu.inject_event({"type": "reaction_added", "user": alice, "reaction": "+1",
                                "item": {"type": "message", "channel": "C1", "ts": "1.0"}})
        await asyncio.wait_for(done.wait(), 3)
    assert seen["sync"] == ["one", "beep"]
    assert seen["async"] == ["one", "beep"]
    assert seen["bot"] == ["beep"]
    assert {"connecting", "connected", "hello", "message", "reaction_added"} <= set(seen["star"])
    assert seen["star"][-2:] == ["disconnected", "closed"]  # handlers see the very end too
    assert_no_leftovers(rtm)


async def test_a_failing_handler_is_reported_and_the_session_goes_on(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    alice = person(emu)
    rtm = make_client(emu)
    errors: list[HandlerError] = []

    @rtm.on("message")
    def boom(event: Message) -> None:
        raise RuntimeError(f"cannot handle {event.text}")

    @rtm.on("handler_error")
    def on_error(event: HandlerError) -> None:
        errors.append(event)
        raise RuntimeError("and this one fails too")  # logged only: no loop

    async with rtm:
        it = aiter(rtm)
        await emu.post_message(alice, emu.general_channel_id, "first")
        err = await next_event(it, "handler_error")
        assert isinstance(err, HandlerError)
        assert err.event_type == "message"
        assert "cannot handle first" in err.error
        assert "boom" in err.handler
        await emu.post_message(alice, emu.general_channel_id, "second")
        msg = await next_event(it, "message")
        assert msg.text == "second"
        ack = await rtm.send_message(emu.general_channel_id, "still alive")
        assert ack.ok
    assert len(errors) >= 1
    assert "cannot handle first" in caplog.text


async def test_a_slow_handler_never_delays_keepalive(emu: Emulator) -> None:
    alice = person(emu)
    rtm = make_client(emu)  # ping every 0.3 s idle, dead after 0.5 s without a reply
    handled = asyncio.Event()

    @rtm.on("message")
    async def slow(event: Message) -> None:
        await asyncio.sleep(2.0)
        handled.set()

    async with rtm:
        await emu.post_message(alice, emu.general_channel_id, "take your time")
        await asyncio.wait_for(handled.wait(), 4)
        pings = [f for f in emu.received if f.data and f.data.get("type") == "ping"]
        assert len(pings) >= 3  # the keepalive kept going while the handler slept
        assert emu.connect_calls == 1  # and the link was never declared dead
        assert "disconnected" not in [e.type for e in rtm._queue]


async def test_backpressure_pauses_reading_and_drops_nothing(emu: Emulator) -> None:
    rtm = make_client(emu, max_queue=20)
    n = 2000
    async with rtm:
        it = aiter(rtm)
        await next_event(it, "hello")
        sender = asyncio.ensure_future(emu.firehose(n, user_id=emu.bot_user_id))
        texts: list[str] = []
        paused_seen = False
        async for event in it:
            if event.type == "message":
                texts.append(event.ts)
                if len(texts) % 100 == 0:
                    await asyncio.sleep(0.002)  # a slow consumer
                paused_seen = paused_seen or rtm._paused
                if len(texts) == n:
                    break
        assert await sender == n
        assert len(texts) == n
        assert texts == sorted(texts)  # in order
        assert len(set(texts)) == n  # exactly once
        assert paused_seen
        assert len(rtm._queue) <= 20 + 5000  # bounded by the queue plus one read buffer


async def test_run_async_until_a_handler_closes(emu: Emulator) -> None:
    alice = person(emu)
    rtm = make_client(emu)
    got: list[str] = []

    @rtm.on("message")
    async def stop(event: Message) -> None:
        got.append(event.text or "")
        await rtm.close()

    @rtm.on("hello")
    async def greet(event: Event) -> None:
        await emu.post_message(alice, emu.general_channel_id, "stop now")

    started = time.monotonic()
    await asyncio.wait_for(rtm.run_async(), 5)
    assert got == ["stop now"]
    assert time.monotonic() - started < 3
    assert_no_leftovers(rtm)


async def test_iterating_ends_after_close(emu: Emulator) -> None:
    rtm = make_client(emu)
    await rtm.connect()
    types: list[str] = []

    async def consume() -> None:
        async for event in rtm:
            types.append(event.type)

    task = asyncio.ensure_future(consume())
    await asyncio.sleep(0.1)
    await rtm.close()
    await asyncio.wait_for(task, 2)
    assert types[-1] == "closed"
    assert "connected" in types


async def test_handler_registry_validation() -> None:
    rtm = RtmClient("xoxb-test")
    with pytest.raises(ValueError, match="event_type"):
        rtm.on("Message")
    with pytest.raises(TypeError):
        rtm.on(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        rtm.add_handler("message", 42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="subtype"):
        rtm.on("message", subtype="")
    with pytest.raises(TypeError, match="subtype"):
        rtm.on("message", subtype=3)  # type: ignore[arg-type]

    def handler(event: Event) -> None:
        pass

    rtm.add_handler("message", handler)
    assert rtm.remove_handler(handler) is True
    assert rtm.remove_handler(handler) is False


async def test_async_and_awaitable_returning_handlers_in_order(emu: Emulator) -> None:
    alice = person(emu)
    rtm = make_client(emu)
    order: list[str] = []

    async def later(tag: str) -> None:
        await asyncio.sleep(0.01)
        order.append(tag)

    @rtm.on("message")
    def returns_awaitable(event: Message) -> Any:
        order.append("sync-start")
        return later("sync-awaited")

    @rtm.on("message")
    async def fails(event: Message) -> None:
        raise ValueError("async failure")

    @rtm.on("message")
    def after(event: Message) -> None:
        order.append("after")

    @rtm.on("team_thing", subtype="special")
    def special(event: Event) -> None:
        order.append(f"special:{event.raw['subtype']}")

    async with rtm:
        it = aiter(rtm)
        await emu.post_message(alice, emu.general_channel_id, "go")
        err = await next_event(it, "handler_error")
        assert "async failure" in err.error
        await emu.inject_event({"type": "team_thing", "subtype": "plain"})
        await emu.inject_event({"type": "team_thing", "subtype": "special"})
        await next_event(it, "team_thing")
        await next_event(it, "team_thing")
    assert order == ["sync-start", "sync-awaited", "after", "special:special"]


def test_run_blocks_until_closed_and_raises_fatal_errors() -> None:
    import threading

    from slack_rtm.emulator import Emulator as Emu
    from slack_rtm.errors import RtmConnectErrorSchemaError

    handle = Emu().start_in_thread()
    try:
        token, api = handle.bot_token, handle.api_url
        rtm = RtmClient(token, base_url=api)
        seen: list[str] = []

        @rtm.on("hello")
        async def bye(event: Event) -> None:
            seen.append(event.type)
            await rtm.close()

        thread = threading.Thread(target=rtm.run)
        thread.start()
        thread.join(10)
        assert not thread.is_alive()
        assert seen == ["hello"]
        assert rtm.state.value == "closed"

        handle.set_token_error(token, "invalid_auth")
        bad = RtmClient(token, base_url=api)
        with pytest.raises(RtmConnectErrorSchemaError):
            bad.run()
    finally:
        handle.stop()


async def test_the_dispatchers_short_way_reports_failures_and_awaits_what_it_returns(
    emu: Emulator,
) -> None:
    # One plain sync handler for a type, nobody iterating: the dispatcher's short way.
    alice = person(emu)
    rtm = make_client(emu)
    seen: list[str] = []
    done = asyncio.Event()

    async def later(text: str) -> None:
        await asyncio.sleep(0.01)
        seen.append(f"awaited {text}")

    @rtm.on("message")
    def on_message(event: Message) -> Any:
        seen.append(event.text or "")
        if event.text == "boom":
            raise RuntimeError("boom handler")
        return later(event.text or "")

    @rtm.on("handler_error")
    def on_error(event: HandlerError) -> None:
        seen.append(f"error in {event.handler.rsplit('.', 1)[-1]}: {event.error}")
        done.set()

    assert rtm._handlers.lookup("message")[2] is not None  # the short way applies
    async with rtm:
        await emu.post_message(alice, emu.general_channel_id, "one")
        await emu.post_message(alice, emu.general_channel_id, "boom")
        await asyncio.wait_for(done.wait(), 5)
    assert seen == ["one", "awaited one", "boom",
                    "error in on_message: RuntimeError('boom handler')"]
