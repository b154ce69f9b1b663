"""SessionBridge against the emulator and a real nats-server: events on the stream byte-exact
with their headers, backfilled after a gap, sends by request-reply (ok, Slack's refusal, bad
request, outcome unknown), a hand-over with two bridges, fatal starts, health, and no secret in
logs, the stream or replies."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator

import msgspec
import pytest
from gw_helpers import (
    FAST,
    Relay,
    connect,
    gateway_config,
    make_bridge,
    registration,
    stream_messages,
    wait_stream,
)
from nats.aio.client import Client as NatsClient
from nats.errors import NoRespondersError
from nats.js import JetStreamContext

from slack_rtm.aio import RtmClient
from slack_rtm.cursors import MemoryCursorStore
from slack_rtm.emulator import Emulator
from slack_rtm.errors import StateError
from slack_rtm.gateway import contract as c
from slack_rtm.gateway.bridge import SessionBridge, SessionStartError
from slack_rtm.gateway.publisher import EventPublisher

_decode = msgspec.json.decode
GW = tuple[NatsClient, JetStreamContext, EventPublisher]


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(write_rate=None) as emulator:
        yield emulator


@pytest.fixture
async def gw(nats_url: str) -> AsyncIterator[GW]:
    nc, js = await connect(nats_url)
    publisher = EventPublisher(js)
    await publisher.ensure_stream(max_age=3600, duplicate_window=60)
    try:
        yield nc, js, publisher
    finally:
        await nc.close()


async def test_events_byte_exact_with_headers(emu: Emulator, gw: GW, nats_url: str) -> None:
    nc, js, pub = gw
    bridge = make_bridge(emu, nc, pub, gateway_config(nats_url, emu))
    await bridge.start(5)
    reg = bridge.registration
    async with RtmClient(emu.bot_token, base_url=emu.api_url) as direct:
        alice = emu.workspace.people[0].id
        ts = await emu.post_message(alice, emu.general_channel_id, "hello gateway")
        await emu.set_presence(alice, "away")
        frames = []
        async for event in direct:
            if event.type in ("message", "presence_change"):
                frames.append(event.frame)
            if len(frames) == 2:
                break
    stored = await wait_stream(js, lambda m: len(m) >= 2)
    await bridge.stop()
    assert [m.data for m in stored] == frames  # exactly the bytes Slack sent
    assert [m.subject for m in stored] == [
        c.event_subject(emu.team_id, "message"),
        c.event_subject(emu.team_id, "presence_change"),
    ]
    assert stored[0].headers == c.event_headers(
        emu.team_id, reg.id, f"{reg.id}:{emu.general_channel_id}:{ts}:message"
    )
    # hello, reconnect_url, lifecycle: never on the stream
    assert len(await stream_messages(js)) == 2
    assert bridge.events_in >= 3


async def test_backfilled_after_a_gap_each_once(emu: Emulator, gw: GW, nats_url: str) -> None:
    nc, js, pub = gw
    bridge = make_bridge(emu, nc, pub, gateway_config(nats_url, emu))
    await bridge.start(5)
    alice = emu.workspace.people[0].id
    general = emu.general_channel_id
    live = await emu.post_message(alice, general, "before")
    await wait_stream(js, lambda m: len(m) == 1)
    await asyncio.sleep(0.3)  # healthy: reconnects at once after the hold
    assert await emu.drop_and_hold(emu.bot_user_id, 0.6) == 1
    gap = [await emu.post_message(alice, general, f"gap {i}") for i in range(3)]
    stored = await wait_stream(js, lambda m: len(m) >= 4, timeout=8)
    after = await emu.post_message(alice, general, "after")
    stored = await wait_stream(js, lambda m: len(m) >= 5, timeout=5)
    await bridge.stop()
    texts = [_decode(m.data)["text"] for m in stored]
    assert texts == ["before", "gap 0", "gap 1", "gap 2", "after"]
    flags = [(m.headers or {}).get(c.HEADER_BACKFILLED) for m in stored]
    assert flags == [None, "true", "true", "true", None]
    ids = [(m.headers or {})[c.HEADER_MSG_ID].split(":")[2] for m in stored]
    assert ids == [live, *gap, after]
    for m in stored[1:4]:
        assert _decode(m.data)["channel"] == general


async def test_sends_by_request_reply(emu: Emulator, gw: GW, nats_url: str) -> None:
    nc, _js, pub = gw
    bridge = make_bridge(emu, nc, pub, gateway_config(nats_url, emu))
    await bridge.start(5)
    subject = c.send_subject(emu.team_id)
    assert bridge.send_subject == subject
    general = emu.general_channel_id
    reply = await nc.request(subject, b'{"channel":"%s","text":"via nats"}' % general.encode(), 5)
    ack = _decode(reply.data)
    assert ack["ok"] is True
    assert ack["text"] == "via nats"
    assert list(ack) == ["ok", "reply_to", "ts", "text"]  # Slack's ack as Slack sent it
    frame = await emu.wait_for_frame(
        lambda f: f.data is not None and f.data.get("text") == "via nats"
    )
    assert frame.data is not None
    assert frame.data["id"] == ack["reply_to"]
    # threads
    reply = await nc.request(
        subject,
        msgspec.json.encode({"channel": general, "text": "in thread", "thread_ts": ack["ts"]}),
        5,
    )
    assert _decode(reply.data)["ok"] is True
    # Slack's refusal, in Slack's shape
    refused = _decode((await nc.request(subject, b'{"channel":"C0NOPE","text":"x"}', 5)).data)
    assert refused["ok"] is False
    assert refused["error"]["code"] == 0
    assert isinstance(refused["reply_to"], int)
    # bad requests
    for bad in (
        b"not json",
        b'{"channel":"C1"}',
        b'{"channel":"","text":"x"}',
        b'{"channel":"C1","text":"%s"}' % (b"x" * 4001),
    ):
        answer = _decode((await nc.request(subject, bad, 5)).data)
        assert answer["ok"] is False
        assert answer["error"]["code"] == c.BAD_REQUEST_CODE, bad[:30]
    await bridge.stop()
    assert bridge.sends == 7
    # no holder any more: NATS says so
    with pytest.raises(NoRespondersError):
        await nc.request(subject, b'{"channel":"C1","text":"x"}', 2)


async def test_outcome_unknown_when_the_ack_never_comes(
    emu: Emulator, gw: GW, nats_url: str
) -> None:
    nc, _js, pub = gw
    async with Relay(emu.port) as relay:
        config = gateway_config(nats_url, emu, api_url=f"http://127.0.0.1:{relay.port}/api")
        bridge = make_bridge(
            emu, nc, pub, config, session_config=dataclasses.replace(FAST, fast_resume=False)
        )
        await bridge.start(5)
        relay.swallow_down()  # the link goes silent: frames still reach Slack, acks do not
        reply = await nc.request(
            c.send_subject(emu.team_id),
            b'{"channel":"%s","text":"lost ack"}' % emu.general_channel_id.encode(),
            10,
        )
        answer = _decode(reply.data)
        assert answer["ok"] is False
        assert answer["error"]["code"] == c.OUTCOME_UNKNOWN_CODE
        assert answer["error"]["msg"].startswith("outcome unknown: ")
        assert "reply_to" not in answer
        # Slack did get it: the outcome really was unknown
        await emu.wait_for_frame(lambda f: f.data is not None and f.data.get("text") == "lost ack")
        await bridge.stop()


async def test_user_and_browser_sessions_serve_their_own_subject(
    emu: Emulator, gw: GW, nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    nc, js, pub = gw
    caplog.set_level(logging.DEBUG)
    alice, bob = emu.workspace.people[0].id, emu.workspace.people[1].id
    config = gateway_config(nats_url, emu)
    user = make_bridge(
        emu,
        nc,
        pub,
        config,
        reg=registration(emu, alice, "user", "r000000000000000a"),
        token=emu.user_tokens[alice],
    )
    session = emu.browser_session(bob)
    browser = make_bridge(
        emu,
        nc,
        pub,
        config,
        reg=registration(emu, bob, "browser", "r000000000000000b"),
        token=session.token,
        cookie=session.cookie,
    )
    await user.start(5)
    await browser.start(5)
    for who, bridge in ((alice, user), (bob, browser)):
        assert bridge.send_subject == c.send_subject(emu.team_id, who)
        reply = await nc.request(
            bridge.send_subject,
            b'{"channel":"%s","text":"from %s"}' % (emu.general_channel_id.encode(), who.encode()),
            5,
        )
        assert _decode(reply.data)["ok"] is True
    with pytest.raises(NoRespondersError):  # no bot registered
        await nc.request(c.send_subject(emu.team_id), b'{"channel":"C1","text":"x"}', 2)
    await emu.post_message(emu.bot_user_id, emu.general_channel_id, "to everyone")
    stored = await wait_stream(js, lambda m: len(m) >= 4)
    seen = sorted(
        ((m.headers or {})[c.HEADER_SESSION], _decode(m.data or b"{}")["text"]) for m in stored
    )
    # each session publishes what it sees: the other's message, and the bot's
    assert seen == [
        ("r000000000000000a", f"from {bob}"),
        ("r000000000000000a", "to everyone"),
        ("r000000000000000b", f"from {alice}"),
        ("r000000000000000b", "to everyone"),
    ]
    await user.stop()
    await browser.stop()
    secrets = [emu.user_tokens[alice], session.token, session.cookie]
    everything = (
        caplog.text
        + repr(user)
        + repr(browser)
        + "".join(repr(m.data) + repr(m.headers) for m in await stream_messages(js))
    )
    for secret in secrets:
        assert secret not in everything


async def test_hand_over_two_bridges_each_event_once_each_send_once(
    emu: Emulator, gw: GW, nats_url: str
) -> None:
    nc, js, pub = gw
    config = gateway_config(nats_url, emu)
    old = make_bridge(emu, nc, pub, config)
    await old.start(5)
    alice = emu.workspace.people[0].id
    first = [await emu.post_message(alice, emu.general_channel_id, f"a{i}") for i in range(3)]
    await wait_stream(js, lambda m: len(m) == 3)
    new = make_bridge(emu, nc, pub, config)
    await new.start(5)  # make-before-break: live before the old one closes
    assert emu.connection_count == 2
    both = [await emu.post_message(alice, emu.general_channel_id, f"b{i}") for i in range(4)]
    replies = await asyncio.gather(
        *(
            nc.request(
                c.send_subject(emu.team_id),
                b'{"channel":"%s","text":"send %d"}' % (emu.general_channel_id.encode(), i),
                5,
            )
            for i in range(6)
        )
    )
    assert all(_decode(r.data)["ok"] for r in replies)
    await old.stop()
    after = [await emu.post_message(alice, emu.general_channel_id, f"c{i}") for i in range(2)]
    stored = await wait_stream(js, lambda m: len(m) >= 9)
    await new.stop()
    stored = await stream_messages(js)
    assert [_decode(m.data)["ts"] for m in stored] == first + both + after  # each once, in order
    sent = [
        f
        for f in emu.received
        if f.data is not None and str(f.data.get("text")).startswith("send ")
    ]
    assert sorted(f.data["text"] for f in sent if f.data) == [f"send {i}" for i in range(6)]
    assert pub.duplicates >= 4  # both holders published the overlap; JetStream kept one


async def test_fatal_start_names_the_registration_never_the_token(
    emu: Emulator, gw: GW, nats_url: str
) -> None:
    nc, _js, pub = gw
    emu.set_token_error(emu.bot_token, "invalid_auth")
    bridge = make_bridge(emu, nc, pub, gateway_config(nats_url, emu))
    with pytest.raises(SessionStartError) as info:
        await bridge.start(5)
    assert info.value.fatal is True
    assert info.value.registration_id == bridge.registration.id
    assert bridge.registration.id in str(info.value)
    assert "invalid_auth" in str(info.value)
    assert emu.bot_token not in str(info.value) + repr(info.value) + repr(bridge)
    with pytest.raises(NoRespondersError):
        await nc.request(c.send_subject(emu.team_id), b"{}", 1)
    await bridge.stop()


async def test_start_timeout_is_not_fatal(emu: Emulator, gw: GW, nats_url: str) -> None:
    nc, _js, pub = gw
    emu.hold_reconnects(emu.bot_user_id, 5.0)
    bridge = make_bridge(emu, nc, pub, gateway_config(nats_url, emu))
    with pytest.raises(SessionStartError, match=r"not live within 0\.3 s") as info:
        await bridge.start(0.3)
    assert info.value.fatal is False
    await bridge.stop()


async def test_health_and_a_session_ending_by_itself(emu: Emulator, gw: GW, nats_url: str) -> None:
    nc, _js, pub = gw
    bridge = make_bridge(emu, nc, pub, gateway_config(nats_url, emu, health_timeout=0.4))
    assert bridge.health(time.monotonic()) is not None  # not started
    with pytest.raises(StateError, match="not started"):
        bridge.add_done_callback(lambda: None)
    await bridge.start(5)
    with pytest.raises(TypeError, match="callback must be callable"):
        bridge.add_done_callback(None)  # type: ignore[arg-type]
    ended: list[bool] = []
    bridge.add_done_callback(lambda: ended.append(bridge.done))
    assert bridge.health(time.monotonic()) is None
    assert "silent for" in str(bridge.health(time.monotonic() + 100))
    await asyncio.sleep(0.3)
    await emu.drop_and_hold(emu.bot_user_id, 3.0)
    deadline = time.monotonic() + 3
    while bridge.health(time.monotonic()) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    problem = bridge.health(time.monotonic())
    assert problem is not None
    assert bridge.registration.id in problem
    assert "reconnecting" in problem or "connecting" in problem
    # the token is revoked while reconnecting: the session ends by itself
    emu.set_token_error(emu.bot_token, "token_revoked")
    emu.hold_reconnects(emu.bot_user_id, 0)
    deadline = time.monotonic() + 5
    while not bridge.done and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert bridge.done
    assert bridge.error is not None
    assert "ended" in str(bridge.health(time.monotonic()))
    await asyncio.sleep(0)  # the callback runs on the loop once the pump has ended
    assert ended == [True]
    await asyncio.sleep(0.1)
    with pytest.raises(NoRespondersError):  # unsubscribed: the caller retries elsewhere
        await nc.request(c.send_subject(emu.team_id), b"{}", 1)
    await bridge.stop()
    assert not bridge.done  # stopped: handled


async def test_arguments_checked(emu: Emulator, gw: GW, nats_url: str) -> None:
    nc, js, pub = gw
    config = gateway_config(nats_url, emu)
    reg = registration(emu)
    store = MemoryCursorStore()
    with pytest.raises(TypeError, match="registration"):
        SessionBridge("r1", "xoxb-1", None, nc=nc, publisher=pub, cursors=store, config=config)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="nc"):
        SessionBridge(reg, "xoxb-1", None, nc=js, publisher=pub, cursors=store, config=config)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cursors"):
        SessionBridge(reg, "xoxb-1", None, nc=nc, publisher=pub, cursors=object(), config=config)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="token") as info:
        SessionBridge(reg, "xoxb secret", None, nc=nc, publisher=pub, cursors=store, config=config)
    assert "secret" not in str(info.value)
    with pytest.raises(ValueError, match="cookie"):
        SessionBridge(
            registration(emu, kind="browser"),
            "xoxc-1",
            None,
            nc=nc,
            publisher=pub,
            cursors=store,
            config=config,
        )
    bridge = make_bridge(emu, nc, pub, config)
    with pytest.raises(ValueError, match="timeout"):
        await bridge.start(0)
    await bridge.start(5)
    with pytest.raises(Exception, match="already started"):
        await bridge.start(5)
    await bridge.stop()
    await bridge.stop()  # idempotent
