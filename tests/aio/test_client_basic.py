"""RtmClient against the emulator over loopback: connect, receive, send/ack, ping, close."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aio_helpers import assert_no_leftovers, make_client, next_event, person

from slack_rtm.aio import RtmClient, State
from slack_rtm.emulator import Emulator
from slack_rtm.errors import (
    ConnectionClosedError,
    FrameTooLargeError,
    SendError,
    StateError,
)
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.events import Connected, Hello, Message


async def test_connect_hello_self_team_and_close(emu: Emulator,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rtm = make_client(emu)
    assert rtm.state is State.IDLE
    with pytest.raises(StateError):
        _ = rtm.self
    async with rtm:
        assert rtm.state is State.CONNECTED
        assert rtm.self.id == emu.bot_user_id
        assert rtm.team.id == emu.team_id
        first = [e async for e in _take(rtm, 3)]
        assert [type(e) for e in first[-2:]] == [Connected, Hello]
        assert emu.connection_count == 1
    assert rtm.state is State.CLOSED
    assert_no_leftovers(rtm)
    await emu.wait_connections(0, timeout=2.0)
    assert emu.bot_token not in caplog.text
    assert "/websocket/" not in caplog.text.replace("/…", "")
    assert "xoxb-" not in repr(rtm).replace("xoxb-…", "")


async def _take(rtm: RtmClient, n: int):  # type: ignore[no-untyped-def]
    count = 0
    async for event in rtm:
        yield event
        count += 1
        if count == n:
            return


async def test_receive_a_posted_message(emu: Emulator) -> None:
    alice = person(emu)
    async with make_client(emu) as rtm:
        it = aiter(rtm)
        await next_event(it, "hello")
        ts = await emu.post_message(alice, emu.general_channel_id, "hello bot")
        msg = await next_event(it, "message")
        assert isinstance(msg, Message)
        assert (msg.user, msg.channel, msg.text, msg.ts) == (alice, emu.general_channel_id,
                                                             "hello bot", ts)
        assert msg.raw["text"] == "hello bot"


async def test_send_and_ack(emu: Emulator) -> None:
    async with make_client(emu) as rtm:
        ack = await rtm.send_message(emu.general_channel_id, "hi there")
        assert ack.ok is True
        assert isinstance(ack.ts, str)
        assert ack.text == "hi there"
        frame = await emu.wait_for_frame(lambda f: f.data.get("type") == "message")
        assert frame.data["text"] == "hi there"
        assert frame.data["id"] == ack.reply_to


async def test_send_to_unknown_channel_is_send_error_code_0(emu: Emulator) -> None:
    async with make_client(emu) as rtm:
        with pytest.raises(SendError) as info:
            await rtm.send_message("CNOSUCHCHANNEL", "hi")
        assert info.value.code == 0
        assert info.value.msg
        # the session is still fine
        ack = await rtm.send_message(emu.general_channel_id, "still here")
        assert ack.ok


async def test_frames_that_only_look_like_acks(emu: Emulator) -> None:
    # Frames starting like a reply ({"ok":...) go the short way only when they answer a pending
    # send; the rest still arrive as events, and the session goes on.
    async with make_client(emu) as rtm:
        it = aiter(rtm)
        await next_event(it, "hello")
        await emu.inject_event({"ok": True, "reply_to": 987654})  # answers nothing: ignored
        await emu.inject_event({"ok": True, "type": "surprise", "n": 1})
        await emu.inject_event({"ok": True, "reply_to": "seven"})
        surprise = await next_event(it, "surprise")
        assert surprise.raw == {"ok": True, "type": "surprise", "n": 1}
        malformed = await next_event(it, "malformed")
        assert "seven" in malformed.text
        ack = await rtm.send_message(emu.general_channel_id, "after them")
        assert ack.text == "after them"


async def test_bad_arguments_fail_before_any_io(emu: Emulator) -> None:
    async with make_client(emu) as rtm:
        before = len(emu.received)
        with pytest.raises(TypeError):
            await rtm.send_message(None, "x")  # type: ignore[arg-type]
        with pytest.raises(FrameTooLargeError):
            await rtm.send_message(emu.general_channel_id, "x" * 4001)
        with pytest.raises(ValueError, match="at most 500"):
            await rtm.query_presence([f"U{i}" for i in range(501)])
        await asyncio.sleep(0.05)
        assert len(emu.received) == before


def test_constructor_validates() -> None:
    with pytest.raises(TypeError, match="token"):
        RtmClient(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="token"):
        RtmClient("")
    with pytest.raises(ValueError, match="http://"):
        RtmClient("xoxb-1", base_url="http://slack.example.com/api")
    RtmClient("xoxb-1", base_url="http://slack.example.com/api", allow_insecure=True)
    with pytest.raises(ValueError, match="ping_interval"):
        RtmClient("xoxb-1", ping_interval=-1)
    with pytest.raises(TypeError, match="ssl"):
        RtmClient("xoxb-1", ssl=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="inside config"):
        RtmClient("xoxb-1", ping_interval=1, config=SessionConfig())
    with pytest.raises(ValueError, match="max_queue"):
        RtmClient("xoxb-1", max_queue=1)
    with pytest.raises(TypeError, match="presence_sub"):
        RtmClient("xoxb-1", presence_sub="yes")  # type: ignore[arg-type]


async def test_calls_before_connect_and_after_close(emu: Emulator) -> None:
    rtm = make_client(emu)
    with pytest.raises(StateError):
        await rtm.send_message(emu.general_channel_id, "too early")
    with pytest.raises(StateError):
        await rtm.wait_closed()
    await rtm.connect()
    with pytest.raises(StateError):
        await rtm.connect()
    await rtm.close()
    await rtm.close()  # idempotent
    with pytest.raises(ConnectionClosedError):
        await rtm.send_message(emu.general_channel_id, "too late")
    assert_no_leftovers(rtm)


async def test_close_before_connect_is_fine() -> None:
    rtm = RtmClient("xoxb-test-token", base_url="http://127.0.0.1:9/api")
    await rtm.close()
    assert rtm.state is State.CLOSED


async def test_ping_rtt(emu: Emulator) -> None:
    async with make_client(emu) as rtm:
        rtt = await rtm.ping()
        assert 0 <= rtt < 1.0
        frame = await emu.wait_for_frame(lambda f: f.data.get("type") == "ping")
        assert frame.data["id"] > 0


async def test_typing_and_presence(emu: Emulator) -> None:
    alice = person(emu)
    async with make_client(emu) as rtm:
        await rtm.send_typing(emu.general_channel_id)
        await rtm.subscribe_presence([alice])
        await rtm.query_presence([alice])
        for kind in ("typing", "presence_sub", "presence_query"):
            frame = await emu.wait_for_frame(lambda f, k=kind: f.data.get("type") == k)
            assert frame.data["id"] > 0
        it = aiter(rtm)
        change = await next_event(it, "presence_change")
        assert alice in ((change.user,) if change.user else change.users)


async def test_close_fails_pending_sends_and_leaves_nothing(emu: Emulator) -> None:
    emu.set_pong(False)
    rtm = make_client(emu)
    await rtm.connect()
    ping = asyncio.ensure_future(rtm.ping())  # never answered
    await emu.wait_for_frame(lambda f: f.data.get("type") == "ping")
    await rtm.close()
    with pytest.raises(ConnectionClosedError):
        await ping
    assert_no_leftovers(rtm)
    await emu.wait_connections(0, timeout=2.0)


async def test_an_open_socket_keeps_no_upgrade_headers(emu: Emulator) -> None:
    """picows keeps the upgrade request and response on the transport; their headers are
    dropped once the socket is open (density), and the session works on."""
    async with make_client(emu) as rtm:
        transports = [lst.transport for lst in rtm._listeners.values()]
        assert transports
        for transport in transports:
            assert transport is not None
            assert len(transport.request.headers) == 0
            assert len(transport.response.headers) == 0
        ack = await rtm.send_message(emu.general_channel_id, "still works")
        assert ack.ts
