"""GatewayClient against a real nats-server (and the emulator for sends): typed events with
team, session and backfilled; filters by team and types; durable consumers that resume; sends
that raise what RtmClient.send_message raises, and NoHolderError."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest
from gw_helpers import FAST, Relay, connect, gateway_config, make_bridge
from msgspec.structs import force_setattr

from slack_rtm.emulator import Emulator
from slack_rtm.errors import (
    FrameTooLargeError,
    SendError,
    SendOutcomeUnknownError,
    SendQueueFullError,
    StateError,
)
from slack_rtm.gateway import GatewayClient, GatewayEvent, NoHolderError
from slack_rtm.gateway import contract as c
from slack_rtm.gateway.client import _read_reply
from slack_rtm.gateway.publisher import EventPublisher
from slack_rtm.session.events import Message, Reply, UnknownEvent, decode_frame

T1, T2 = "T0ONE", "T0TWO"


def frame(i: int, kind: str = "message", channel: str = "C1") -> bytes:
    return b'{"type":"%s","channel":"%s","user":"U1","text":"n%d","ts":"1700000000.%06d"}' % (
        kind.encode(),
        channel.encode(),
        i,
        i,
    )


@pytest.fixture
async def publisher(nats_url: str) -> AsyncIterator[EventPublisher]:
    nc, js = await connect(nats_url)
    pub = EventPublisher(js)
    await pub.ensure_stream(max_age=3600, duplicate_window=60)
    try:
        yield pub
    finally:
        await nc.close()


async def take(it: AsyncIterator[GatewayEvent], n: int) -> list[GatewayEvent]:
    out: list[GatewayEvent] = []

    async def run() -> None:
        async for event in it:
            out.append(event)
            if len(out) == n:
                return

    await asyncio.wait_for(run(), 5)
    return out


async def started(
    it: AsyncIterator[GatewayEvent], publisher: EventPublisher
) -> asyncio.Task[GatewayEvent]:
    """Begin waiting for the next event; returns once its consumer exists (the first
    ``__anext__`` creates it)."""
    js = publisher._js
    before = (await js.stream_info(c.STREAM)).state.consumer_count
    task = asyncio.ensure_future(it.__anext__())
    for _ in range(250):
        if (await js.stream_info(c.STREAM)).state.consumer_count > before:
            await asyncio.sleep(0.02)  # its subscription is made right after
            return task
        await asyncio.sleep(0.02)
    raise AssertionError("the consumer was never created")


async def test_events_typed_with_team_session_backfilled(
    nats_url: str, publisher: EventPublisher
) -> None:
    async with GatewayClient(nats_url) as gw:
        it = gw.events()
        first = await started(it, publisher)
        await publisher.publish(T1, "r1", decode_frame(frame(1)))
        backfilled = decode_frame(frame(2))
        force_setattr(backfilled, "_backfilled", True)
        await publisher.publish(T2, "r2", backfilled)
        await publisher.publish(T1, "r1", decode_frame(frame(3, "thing_happened")))
        events = [await asyncio.wait_for(first, 5), *await take(it, 2)]
        await it.aclose()  # type: ignore[attr-defined]
    a, b, u = events
    assert isinstance(a.event, Message)
    assert (a.team, a.session, a.backfilled, a.type, a.text) == (T1, "r1", False, "message", "n1")
    assert a.frame == frame(1)
    assert a.msg_id == "r1:C1:1700000000.000001:message"
    assert (b.team, b.session, b.backfilled) == (T2, "r2", True)
    assert isinstance(u.event, UnknownEvent)
    assert (u.type, u.raw["text"]) == ("thing_happened", "n3")
    assert a.sequence < b.sequence < u.sequence


async def test_filters_by_team_and_types(nats_url: str, publisher: EventPublisher) -> None:
    async with GatewayClient(nats_url) as gw:
        it = gw.events(team=T1, types=["message", "reaction_added"])
        first = await started(it, publisher)
        await publisher.publish(T2, "r2", decode_frame(frame(1)))
        await publisher.publish(T1, "r1", decode_frame(frame(2, "user_typing")))
        await publisher.publish(T1, "r1", decode_frame(frame(3)))
        await publisher.publish(T1, "r1", decode_frame(frame(4, "reaction_added")))
        got = [await asyncio.wait_for(first, 5), *await take(it, 1)]
        await it.aclose()  # type: ignore[attr-defined]
        assert [(e.team, e.type, e.raw["text"]) for e in got] == [
            (T1, "message", "n3"),
            (T1, "reaction_added", "n4"),
        ]
        one = gw.events(types="user_typing")
        first = await started(one, publisher)
        await publisher.publish(T2, "r2", decode_frame(frame(5, "user_typing")))
        assert (await asyncio.wait_for(first, 5)).raw["text"] == "n5"
        await one.aclose()  # type: ignore[attr-defined]


async def test_durable_resumes_where_it_stopped(nats_url: str, publisher: EventPublisher) -> None:
    async with GatewayClient(nats_url) as gw:
        it = gw.events(durable="archiver")
        first = await started(it, publisher)  # creates the consumer: from now on
        for i in range(6):
            await publisher.publish(T1, "r1", decode_frame(frame(i)))
        got = [await asyncio.wait_for(first, 5), *await take(it, 2)]
        await it.aclose()  # type: ignore[attr-defined]  # stopped while on n2: it comes again
        assert [e.raw["text"] for e in got] == ["n0", "n1", "n2"]
    async with GatewayClient(nats_url) as gw:
        again = await take(gw.events(durable="archiver"), 4)
        assert [e.raw["text"] for e in again] == ["n2", "n3", "n4", "n5"]


async def test_sends_through_a_bridge(nats_url: str, publisher: EventPublisher) -> None:
    async with Emulator(write_rate=None) as emu:
        nc, _ = await connect(nats_url)
        bridge = make_bridge(emu, nc, publisher, gateway_config(nats_url, emu))
        async with GatewayClient(nats_url) as gw:
            with pytest.raises(NoHolderError, match=f"team {emu.team_id}'s bot"):
                await gw.send_message(emu.team_id, emu.general_channel_id, "nobody")
            await bridge.start(5)
            ack = await gw.send_message(emu.team_id, emu.general_channel_id, "through the gateway")
            assert isinstance(ack, Reply)
            assert ack.ok
            assert ack.text == "through the gateway"
            assert ack.ts is not None
            threaded = await gw.send_message(
                emu.team_id, emu.general_channel_id, "reply", thread_ts=ack.ts
            )
            assert threaded.ok
            with pytest.raises(SendError) as info:
                await gw.send_message(emu.team_id, "C0NOPE", "x")
            assert info.value.code == 0
            assert info.value.reply_to is not None
            alice = emu.workspace.people[0].id
            with pytest.raises(NoHolderError, match=f"user {alice}"):
                await gw.send_message(emu.team_id, emu.general_channel_id, "x", user=alice)
        await bridge.stop()
        await nc.close()


async def test_outcome_unknown_through_the_gateway(
    nats_url: str, publisher: EventPublisher
) -> None:
    async with Emulator(write_rate=None) as emu, Relay(emu.port) as relay:
        nc, _ = await connect(nats_url)
        config = gateway_config(nats_url, emu, api_url=f"http://127.0.0.1:{relay.port}/api")
        bridge = make_bridge(
            emu, nc, publisher, config, session_config=dataclasses.replace(FAST, fast_resume=False)
        )
        await bridge.start(5)
        relay.swallow_down()
        async with GatewayClient(nats_url) as gw:
            with pytest.raises(SendOutcomeUnknownError, match="outcome unknown"):
                await gw.send_message(emu.team_id, emu.general_channel_id, "lost")
            with pytest.raises(SendOutcomeUnknownError, match=r"within 0\.2 s"):
                await gw.send_message(emu.team_id, emu.general_channel_id, "slow", timeout=0.2)
        await bridge.stop()
        await nc.close()


def test_replies_read() -> None:
    ok = _read_reply(b'{"ok":true,"reply_to":3,"ts":"1.5","text":"x"}')
    assert (ok.ok, ok.reply_to, ok.ts, ok.text) == (True, 3, "1.5", "x")
    with pytest.raises(SendError) as info:  # Slack's own -1 (slow down) has reply_to
        _read_reply(b'{"ok":false,"reply_to":4,"error":{"code":-1,"msg":"slow down"}}')
    assert (info.value.code, info.value.msg, info.value.reply_to) == (-1, "slow down", 4)
    with pytest.raises(SendOutcomeUnknownError, match="outcome unknown: gone"):
        _read_reply(c.outcome_unknown_reply("gone"))
    with pytest.raises(c.ContractError, match="refused the request: bad"):
        _read_reply(c.bad_request_reply("bad"))
    with pytest.raises(SendQueueFullError, match="not sent: busy"):
        _read_reply(c.not_sent_reply("busy"))
    for junk in (b"", b"[1]", b'{"ok":false}', b'{"error":{"code":"x"}}'):
        with pytest.raises(SendOutcomeUnknownError, match="not a Slack ack"):
            _read_reply(junk)


async def test_arguments_checked(nats_url: str) -> None:
    with pytest.raises(TypeError, match="nats_url"):
        GatewayClient(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nats_url"):
        GatewayClient(" ")
    with pytest.raises(ValueError, match="stream"):
        GatewayClient(nats_url, stream="a.b")
    with pytest.raises(ValueError, match="connect_timeout"):
        GatewayClient(nats_url, connect_timeout=0)
    gw = GatewayClient(nats_url)
    with pytest.raises(StateError):
        await gw.send_message("T1", "C1", "x")
    with pytest.raises(StateError):
        await gw.events().__anext__()
    async with gw:
        assert "connected" in repr(gw)
        with pytest.raises(StateError):
            await gw.connect()
        with pytest.raises(c.ContractError, match="team"):
            gw.events(team="t1")
        with pytest.raises(TypeError):
            gw.events(types=[""])
        with pytest.raises(ValueError, match="types"):
            gw.events(types=[])
        with pytest.raises(ValueError, match="durable"):
            gw.events(durable="a.b")
        with pytest.raises(TypeError, match="durable"):
            gw.events(durable=3)  # type: ignore[arg-type]
        with pytest.raises(c.ContractError, match="team"):
            await gw.send_message("t1", "C1", "x")
        with pytest.raises(c.ContractError, match="user"):
            await gw.send_message("T1", "C1", "x", user="u")
        with pytest.raises(ValueError, match="channel"):
            await gw.send_message("T1", "", "x")
        with pytest.raises(TypeError, match="text"):
            await gw.send_message("T1", "C1", None)  # type: ignore[arg-type]
        with pytest.raises(FrameTooLargeError):
            await gw.send_message("T1", "C1", "x" * 4001)
        with pytest.raises(TypeError, match="thread_ts"):
            await gw.send_message("T1", "C1", "x", thread_ts=1)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="timeout"):
            await gw.send_message("T1", "C1", "x", timeout=-1)
    await gw.close()  # idempotent
    assert "closed" in repr(gw)
