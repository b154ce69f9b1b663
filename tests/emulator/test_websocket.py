"""The emulator's RTM WebSocket over real sockets, with a bare aiohttp client."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import aiohttp
import pytest

from slack_rtm.emulator import ERRORS, Emulator
from slack_rtm.emulator.websocket import (
    CODE_INVALID_CHANNEL,
    CODE_NO_TEXT,
    CODE_NOT_IN_CHANNEL,
    CODE_SLOW_DOWN,
    CODE_UNSUPPORTED,
)

EXPIRED = {"type": "error", "error": {"code": 1, "msg": "Socket URL has expired"}}


def _person(emu: Emulator, name: str) -> tuple[str, str]:
    user = next(u for u in emu.workspace.people if u.name == name)
    return user.id, user.token


async def test_hello_first_and_ticket_single_use(
    emu: Emulator, http: aiohttp.ClientSession, rtm_connect: Any
) -> None:
    body = await rtm_connect(emu, emu.bot_token)
    async with http.ws_connect(body["url"]) as ws:
        assert await ws.receive_json(timeout=5) == {"type": "hello"}
        await emu.wait_connections(1)
    async with http.ws_connect(body["url"]) as ws:  # reused
        assert await ws.receive_json(timeout=5) == EXPIRED
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE
    async with http.ws_connect(f"ws://127.0.0.1:{emu.port}/websocket/never-issued") as ws:
        assert await ws.receive_json(timeout=5) == EXPIRED


async def test_ticket_expires(http: aiohttp.ClientSession, rtm_connect: Any) -> None:
    async with Emulator(url_ttl=0.1) as emu:
        body = await rtm_connect(emu, emu.bot_token)
        await asyncio.sleep(0.15)
        async with http.ws_connect(body["url"]) as ws:
            assert await ws.receive_json(timeout=5) == EXPIRED
        assert emu.connection_count == 0


async def test_json_ping_echoes_flat_fields(emu: Emulator, open_rtm: Any) -> None:
    rtm = await open_rtm(emu)
    await rtm.send({"id": 7, "type": "ping", "time": 1403299273342, "tag": "x", "nested": {"a": 1}})
    assert await rtm.recv() == {"type": "pong", "reply_to": 7, "time": 1403299273342, "tag": "x"}


async def test_protocol_ping_answered_and_set_pong_false(emu: Emulator, open_rtm: Any) -> None:
    rtm = await open_rtm(emu)
    await rtm.ws.ping(b"abc")
    msg = await rtm.ws.receive(timeout=5)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.PONG, b"abc")
    emu.set_pong(False)
    await rtm.ws.ping(b"def")
    await rtm.send({"type": "ping"})
    await rtm.expect_nothing(0.3)
    emu.set_pong(True)
    await rtm.send({"id": 99, "type": "ping"})
    assert await rtm.recv() == {"type": "pong", "reply_to": 99}
    assert len(emu.received) == 2  # both JSON pings recorded, answered or not


async def test_message_ack_and_fanout_to_other_members(emu: Emulator, open_rtm: Any) -> None:
    alice, alice_token = _person(emu, "alice")
    bot = await open_rtm(emu)
    person = await open_rtm(emu, alice_token)
    general = emu.general_channel_id
    mid = await bot.send({"type": "message", "channel": general, "text": "hi all"})
    ack = await bot.recv()
    assert set(ack) == {"ok", "reply_to", "ts", "text"}
    assert (ack["ok"], ack["reply_to"], ack["text"]) == (True, mid, "hi all")
    assert isinstance(ack["ts"], str)
    event = await person.recv()
    assert event["type"] == "message"
    assert (event["user"], event["channel"], event["text"]) == (emu.bot_user_id, general, "hi all")
    assert event["ts"] == ack["ts"] == event["event_ts"]
    assert event["team"] == emu.team_id
    await bot.expect_nothing(0.2)  # the sender's sockets do not get their own message
    # ts strictly increase, as strings of equal width
    tss = [ack["ts"]]
    for i in range(5):
        await person.send({"type": "message", "channel": general, "text": f"n{i}"})
        tss.append((await person.recv())["ts"])
    assert tss == sorted(tss)
    assert len(set(tss)) == len(tss)
    assert all(float(a) < float(b) for a, b in itertools.pairwise(tss))
    frame = await emu.wait_for_frame(lambda f: f.user_id == alice)
    assert frame.data == {"id": 1, "type": "message", "channel": general, "text": "n0"}


async def test_thread_ts_passed_on(emu: Emulator, open_rtm: Any) -> None:
    _, alice_token = _person(emu, "alice")
    bot = await open_rtm(emu)
    person = await open_rtm(emu, alice_token)
    await bot.send(
        {"type": "message", "channel": emu.general_channel_id, "text": "r", "thread_ts": "1.2"}
    )
    await bot.recv()
    assert (await person.recv())["thread_ts"] == "1.2"


async def test_echo_own_messages_option(open_rtm: Any) -> None:
    async with Emulator(echo_own_messages=True) as emu:
        bot = await open_rtm(emu)
        await bot.send({"type": "message", "channel": emu.general_channel_id, "text": "me"})
        first, second = await bot.recv(), await bot.recv()
        assert {first.get("type"), second.get("type")} == {None, "message"}


async def test_message_failures(emu: Emulator, open_rtm: Any) -> None:
    rtm = await open_rtm(emu, _person(emu, "bob")[1])
    secret = emu.workspace.channel_by_name("secret").id

    async def failure(frame: dict[str, Any]) -> dict[str, Any]:
        fid = await rtm.send(frame)
        reply = await rtm.recv()
        assert reply["ok"] is False
        assert reply["reply_to"] == fid
        return dict(reply["error"])

    assert await failure({"type": "message", "channel": "CNOPE", "text": "x"}) == {
        "code": CODE_INVALID_CHANNEL,
        "msg": "invalid channel id",
    }
    assert await failure({"type": "message", "text": "x"}) == {
        "code": 0,
        "msg": "invalid channel id",
    }
    assert (await failure({"type": "message", "channel": secret, "text": "x"}))[
        "code"
    ] == CODE_NOT_IN_CHANNEL
    assert await failure({"type": "message", "channel": emu.general_channel_id}) == {
        "code": CODE_NO_TEXT,
        "msg": "message text is missing",
    }
    assert (await failure({"type": "message", "channel": emu.general_channel_id, "text": ""}))[
        "code"
    ] == 2
    assert (await failure({"type": "bogus"}))["code"] == CODE_UNSUPPORTED
    assert (await failure({"channel": "C1"}))["msg"] == ERRORS[CODE_UNSUPPORTED]


async def test_malformed_frames_recorded_not_fatal(emu: Emulator, open_rtm: Any) -> None:
    rtm = await open_rtm(emu)
    await rtm.ws.send_str("{not json")
    await rtm.ws.send_str("[1, 2]")
    await rtm.ws.send_bytes(b"\xff\xfe binary")
    await rtm.ws.send_str('{"type": "message", "channel": "C1", "text": "no id"}')
    await rtm.ws.send_str('{"id": true, "type": "message", "text": "bool id"}')
    await rtm.send({"id": 5, "type": "ping"})
    assert await rtm.recv() == {"type": "pong", "reply_to": 5}  # still alive, nothing else sent
    texts = [f.text for f in emu.received]
    assert texts[0] == "{not json"
    assert emu.received[0].data is None
    assert emu.received[1].data is None
    assert "binary" in texts[2]
    assert emu.received[3].data == {"type": "message", "channel": "C1", "text": "no id"}
    assert len(emu.received) == 6


async def test_deeply_nested_frame_recorded_not_fatal(emu: Emulator, open_rtm: Any) -> None:
    rtm = await open_rtm(emu)
    await rtm.ws.send_str("[" * 5000 + "]" * 5000)
    await rtm.send({"id": 2, "type": "ping"})
    assert await rtm.recv() == {"type": "pong", "reply_to": 2}
    assert emu.received[0].data is None


async def test_oversized_frame_disconnects(emu: Emulator, open_rtm: Any) -> None:
    rtm = await open_rtm(emu)
    text = "x" * (16 * 1024)
    await rtm.send({"type": "message", "channel": emu.general_channel_id, "text": text})
    msg = await rtm.ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE
    assert msg.data == 1009
    assert len(emu.received[-1].text) > 16 * 1024
    await emu.wait_connections(0)


async def test_frame_just_under_limit_is_fine(emu: Emulator, open_rtm: Any) -> None:
    rtm = await open_rtm(emu)
    frame = {"id": 1, "type": "message", "channel": emu.general_channel_id, "text": ""}
    base = len(json.dumps(frame))
    frame["text"] = "y" * (16 * 1024 - base)
    await rtm.ws.send_str(json.dumps(frame))
    assert (await rtm.recv())["ok"] is True


async def test_write_rate_slow_down_then_disconnect(open_rtm: Any) -> None:
    async with Emulator(write_rate=1.0, write_burst=3, write_abuse_limit=2) as emu:
        rtm = await open_rtm(emu)
        general = emu.general_channel_id
        for _ in range(3):
            await rtm.send({"type": "message", "channel": general, "text": "ok"})
            assert (await rtm.recv())["ok"] is True
        for _ in range(3):  # refused: two tolerated, the third closes the socket
            fid = await rtm.send({"type": "message", "channel": general, "text": "fast"})
            reply = await rtm.recv()
            assert reply == {
                "ok": False,
                "reply_to": fid,
                "error": {"code": CODE_SLOW_DOWN, "msg": "slow down, too many messages..."},
            }
        msg = await rtm.ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert msg.data == 1008


async def test_write_rate_refills(open_rtm: Any) -> None:
    async with Emulator(write_rate=20.0, write_burst=1) as emu:
        rtm = await open_rtm(emu)
        general = emu.general_channel_id
        await rtm.send({"type": "message", "channel": general, "text": "1"})
        assert (await rtm.recv())["ok"] is True
        await rtm.send({"type": "message", "channel": general, "text": "2"})
        assert (await rtm.recv())["ok"] is False
        await asyncio.sleep(0.1)
        await rtm.send({"type": "message", "channel": general, "text": "3"})
        assert (await rtm.recv())["ok"] is True


async def test_typing_to_others(emu: Emulator, open_rtm: Any) -> None:
    alice, alice_token = _person(emu, "alice")
    bot = await open_rtm(emu)
    person = await open_rtm(emu, alice_token)
    await person.send({"type": "typing", "channel": emu.general_channel_id})
    assert await bot.recv() == {
        "type": "user_typing",
        "channel": emu.general_channel_id,
        "user": alice,
    }
    await person.expect_nothing(0.2)
    fid = await person.send({"type": "typing", "channel": "CNOPE"})
    assert (await person.recv())["reply_to"] == fid


@pytest.mark.parametrize("flag", ["1", "true"])
async def test_presence_sub_batch_shape(emu: Emulator, open_rtm: Any, flag: str) -> None:
    bob, _ = _person(emu, "bob")
    carol, _ = _person(emu, "carol")
    await emu.set_presence(carol, "away")
    rtm = await open_rtm(emu, batch_presence_aware=flag, presence_sub=flag)
    await rtm.send({"type": "presence_sub", "ids": [bob, carol, "UUNKNOWN"]})
    events = [await rtm.recv(), await rtm.recv()]
    assert {"type": "presence_change", "users": [bob], "presence": "active"} in events
    assert {"type": "presence_change", "users": [carol], "presence": "away"} in events
    # replacing the list: only new ids get their state
    await rtm.send({"type": "presence_sub", "ids": [carol]})
    await rtm.expect_nothing(0.2)
    await emu.set_presence(bob, "away")  # bob is no longer subscribed
    await emu.set_presence(carol, "active")
    assert await rtm.recv() == {"type": "presence_change", "users": [carol], "presence": "active"}


async def test_presence_single_shape_and_query(emu: Emulator, open_rtm: Any) -> None:
    bob, _ = _person(emu, "bob")
    rtm = await open_rtm(emu, batch_presence_aware="0", presence_sub="false")
    await rtm.send({"type": "presence_query", "ids": [bob]})
    assert await rtm.recv() == {"type": "presence_change", "user": bob, "presence": "active"}
    # not in presence_sub mode: every presence change arrives
    await emu.set_presence(bob, "away")
    assert await rtm.recv() == {"type": "presence_change", "user": bob, "presence": "away"}


async def test_inject_event_all_and_one_user(emu: Emulator, open_rtm: Any) -> None:
    alice, alice_token = _person(emu, "alice")
    bot = await open_rtm(emu)
    person = await open_rtm(emu, alice_token)
    event = {"type": "reaction_added", "user": alice, "reaction": "tada"}
    assert await emu.inject_event(event) == 2
    assert await bot.recv() == event
    assert await person.recv() == event
    assert await emu.inject_event({"type": "custom"}, user_id=alice) == 1
    assert await person.recv() == {"type": "custom"}
    await bot.expect_nothing(0.2)


async def test_post_message_as_person(emu: Emulator, open_rtm: Any) -> None:
    alice, _ = _person(emu, "alice")
    bot = await open_rtm(emu)
    ts = await emu.post_message(alice, emu.general_channel_id, "hello bot")
    event = await bot.recv()
    assert (event["type"], event["user"], event["text"], event["ts"]) == (
        "message",
        alice,
        "hello bot",
        ts,
    )
    with pytest.raises(ValueError, match="user_id"):
        await emu.post_message(
            _person(emu, "bob")[0], emu.workspace.channel_by_name("secret").id, "x"
        )
    with pytest.raises(ValueError, match="channel_id"):
        await emu.post_message(alice, "CNOPE", "x")


async def test_goodbye_and_close_after(emu: Emulator, open_rtm: Any) -> None:
    rtm = await open_rtm(emu)
    assert await emu.send_goodbye(close_after=0.1) == 1
    assert await rtm.recv() == {"type": "goodbye"}
    msg = await rtm.ws.receive(timeout=5)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1001)


async def test_goodbye_without_close_keeps_socket(emu: Emulator, open_rtm: Any) -> None:
    rtm = await open_rtm(emu)
    await emu.send_goodbye()
    assert await rtm.recv() == {"type": "goodbye"}
    await rtm.send({"id": 3, "type": "ping"})
    assert (await rtm.recv())["reply_to"] == 3


async def test_migration_closes_all(emu: Emulator, open_rtm: Any, rtm_connect: Any) -> None:
    a = await open_rtm(emu)
    b = await open_rtm(emu, _person(emu, "alice")[1])
    assert await emu.start_migration(duration=5) == 2
    for rtm in (a, b):
        assert await rtm.recv() == {"type": "team_migration_started"}
        assert (await rtm.ws.receive(timeout=5)).type == aiohttp.WSMsgType.CLOSE
    await emu.wait_connections(0)
    assert (await rtm_connect(emu, emu.bot_token))["error"] == "migration_in_progress"


async def test_drop_graceful(emu: Emulator, open_rtm: Any) -> None:
    rtm = await open_rtm(emu)
    assert await emu.drop_connections(abrupt=False) == 1
    msg = await rtm.ws.receive(timeout=5)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1001)


async def test_drop_abrupt_no_close_frame(emu: Emulator, open_rtm: Any) -> None:
    rtm = await open_rtm(emu)
    assert await emu.drop_connections(abrupt=True) == 1
    msg = await rtm.ws.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    assert rtm.ws.close_code != 1001
    await emu.wait_connections(0)


async def test_wait_helpers_time_out(emu: Emulator) -> None:
    with pytest.raises(TimeoutError):
        await emu.wait_for_frame(lambda f: True, timeout=0.05)
    with pytest.raises(TimeoutError):
        await emu.wait_connections(1, timeout=0.05)


async def test_connection_counting(emu: Emulator, open_rtm: Any) -> None:
    rtm = await open_rtm(emu)
    assert emu.connection_count == 1
    assert emu.connections[0].user.id == emu.bot_user_id
    await rtm.ws.close()
    await emu.wait_connections(0)
