"""Socket Mode controls over real sockets: commands, interactions, disconnects, the socket cap,
pongs, drops, the HTTP control API and the thread twins, and secrets kept out of sight."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from socket_mode_helpers import ACK, TIMEOUT, Sm, connections_open, open_sm

from slack_rtm.emulator import Emulator, EmulatorThread
from slack_rtm.emulator.socket_mode import MAX_SOCKET_MODE_CONNECTIONS


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(write_rate=None, ack_timeout=ACK, reconnect_url_interval=None) as e:
        yield e


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def closed(sm: Sm, timeout: float = TIMEOUT) -> aiohttp.WSMessage:
    """The next non-text message (the close) on ``sm``, text frames skipped."""
    while True:
        msg = await asyncio.wait_for(sm.ws.receive(), timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            return msg


# -- commands and interactions -------------------------------------------------------------------


async def test_slash_command_answered_with_a_payload(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    sm = await open_sm(http, emu)
    bob = emu.workspace.people[1]
    envelope_id = await emu.send_slash_command("/deploy", "now please", bob.id)
    env = await sm.recv()
    assert env["envelope_id"] == envelope_id
    assert (env["type"], env["accepts_response_payload"], env["retry_attempt"]) == (
        "slash_commands",
        True,
        0,
    )
    p = env["payload"]
    assert (p["command"], p["text"], p["user_id"], p["user_name"]) == (
        "/deploy",
        "now please",
        bob.id,
        "bob",
    )
    assert (p["channel_id"], p["team_id"], p["api_app_id"]) == (
        emu.general_channel_id,
        emu.team_id,
        emu.app_id,
    )
    assert p["response_url"].startswith(emu.base_url + "/commands/")
    assert p["trigger_id"]
    await sm.ack(env, {"text": "deploying"})
    await emu.wait_socket_mode_acks(1)
    assert emu.socket_mode_acks[0].payload == {"text": "deploying"}
    await sm.expect_nothing(ACK * 1.5)


async def test_slash_command_without_a_socket_waits_for_one(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    envelope_id = await emu.send_slash_command()
    assert emu.socket_mode_envelopes == []
    sm = await open_sm(http, emu)
    env = await sm.recv(TIMEOUT)  # the first redelivery finds the new socket
    assert (env["retry_attempt"], env["retry_reason"]) == (1, "timeout")
    assert env["envelope_id"] != envelope_id
    assert env["payload"]["command"] == "/cmd"


async def test_interactions(emu: Emulator, http: aiohttp.ClientSession) -> None:
    sm = await open_sm(http, emu)
    await emu.send_interaction()
    env = await sm.recv()
    assert (env["type"], env["accepts_response_payload"]) == ("interactive", False)
    assert env["payload"]["type"] == "block_actions"
    assert env["payload"]["actions"][0]["action_id"] == "button-1"
    await sm.ack(env)
    await emu.send_interaction({"type": "block_suggestion", "value": "ab"})
    env = await sm.recv()
    assert env["accepts_response_payload"] is True
    assert env["payload"] == {"type": "block_suggestion", "value": "ab"}
    await sm.ack(env, {"options": []})
    await emu.wait_socket_mode_acks(2)
    assert emu.socket_mode_acks[1].payload == {"options": []}


async def test_command_arguments_are_checked(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="command"):
        await emu.send_slash_command("deploy")
    with pytest.raises(TypeError, match="text"):
        await emu.send_slash_command("/x", 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="user_id"):
        await emu.send_slash_command("/x", user_id="U0")
    with pytest.raises(ValueError, match="channel_id"):
        await emu.send_slash_command("/x", channel_id="C0")
    with pytest.raises(TypeError, match="payload"):
        await emu.send_interaction([])  # type: ignore[arg-type]


# -- disconnects ----------------------------------------------------------------------------------


async def test_warning_is_a_frame_only(emu: Emulator, http: aiohttp.ClientSession) -> None:
    sm = await open_sm(http, emu)
    assert await emu.socket_mode_disconnect("warning") == 1
    assert await sm.recv() == {
        "type": "disconnect",
        "reason": "warning",
        "debug_info": {"host": "applink-emu-1"},
    }
    await sm.expect_nothing(0.3)
    assert emu.socket_mode_connections == 1


async def test_refresh_requested_closes_that_socket_later(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    a = await open_sm(http, emu)
    b = await open_sm(http, emu)
    first = emu.socket_mode_connection_ids[0]
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert (
        await emu.socket_mode_disconnect("refresh_requested", close_after=0.2, connection=first)
        == 1
    )
    assert (await a.recv())["reason"] == "refresh_requested"
    # meanwhile new envelopes go to the other socket
    await emu.post_message(emu.workspace.people[0].id, emu.general_channel_id, "to b")
    assert (await b.recv())["payload"]["event"]["text"] == "to b"
    msg = await closed(a)
    assert msg.type == aiohttp.WSMsgType.CLOSE
    assert msg.data == 1001
    assert loop.time() - start >= 0.18
    await emu.wait_socket_mode_connections(1)
    await b.expect_nothing(0.05)
    with pytest.raises(ValueError, match="connection"):
        await emu.socket_mode_disconnect("warning", connection=first)


async def test_link_disabled_closes_all_and_refuses_until_enabled(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    socks = [await open_sm(http, emu) for _ in range(2)]
    _, spare = await connections_open(http, emu)  # handed out before: refused after
    assert await emu.socket_mode_disconnect("link_disabled") == 2
    for sm in socks:
        assert (await sm.recv())["reason"] == "link_disabled"
        assert (await closed(sm)).type == aiohttp.WSMsgType.CLOSE
    await emu.wait_socket_mode_connections(0)
    assert await connections_open(http, emu) == (200, {"ok": False, "error": "no_permission"})
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await http.ws_connect(spare["url"])
    assert info.value.status == 403
    with pytest.raises(ValueError, match="connection"):
        await emu.socket_mode_disconnect("link_disabled", connection=1)
    with pytest.raises(ValueError, match="reason"):
        await emu.socket_mode_disconnect("goodbye")
    emu.enable_socket_mode()
    await open_sm(http, emu)


# -- the socket cap, pongs, drops ----------------------------------------------------------------


async def test_at_most_ten_sockets(emu: Emulator, http: aiohttp.ClientSession) -> None:
    socks = [await open_sm(http, emu) for _ in range(MAX_SOCKET_MODE_CONNECTIONS)]
    assert socks[-1].hello["num_connections"] == 10
    _, body = await connections_open(http, emu)
    ws = await http.ws_connect(body["url"])
    msg = await ws.receive(TIMEOUT)
    assert msg.type == aiohttp.WSMsgType.CLOSE
    assert (msg.data, msg.extra) == (1008, "too_many_websockets")
    assert emu.socket_mode_connections == 10
    await socks[0].ws.close()
    await emu.wait_socket_mode_connections(9)
    sm = await open_sm(http, emu)
    assert sm.hello["num_connections"] == 10


async def test_pongs_follow_set_pong(emu: Emulator, http: aiohttp.ClientSession) -> None:
    sm = await open_sm(http, emu, autoping=False)
    await sm.ws.ping(b"one")
    msg = await sm.ws.receive(TIMEOUT)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.PONG, b"one")
    emu.set_pong(False)
    await sm.ws.ping(b"two")
    await sm.expect_nothing(0.3)
    emu.set_pong(True)
    await sm.ws.ping(b"three")
    msg = await sm.ws.receive(TIMEOUT)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.PONG, b"three")


@pytest.mark.parametrize("abrupt", [True, False])
async def test_drop_connections_drops_socket_mode_too(
    emu: Emulator, http: aiohttp.ClientSession, abrupt: bool
) -> None:
    sm = await open_sm(http, emu)
    people = emu.workspace.people
    assert await emu.drop_connections(abrupt, user_id=people[0].id) == 0
    assert await emu.drop_connections(abrupt, user_id=emu.bot_user_id) == 1
    msg = await closed(sm)
    if abrupt:
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    else:
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1001)
    await emu.wait_socket_mode_connections(0)
    await open_sm(http, emu)
    assert await emu.drop_connections(abrupt) == 1


# -- the HTTP control API and the thread twins ----------------------------------------------------


async def test_http_controls(emu: Emulator, http: aiohttp.ClientSession) -> None:
    async def post(name: str, **body: Any) -> tuple[int, dict[str, Any]]:
        async with http.post(f"{emu.control_url}/{name}", json=body) as r:
            answer: dict[str, Any] = await r.json()
            return r.status, answer

    async def get(name: str) -> dict[str, Any]:
        async with http.get(f"{emu.control_url}/{name}") as r:
            answer: dict[str, Any] = await r.json()
            return answer

    sm = await open_sm(http, emu)
    status, body = await post("wait_socket_mode_connections", n=1)
    assert (status, body) == (200, {"ok": True, "socket_mode_connections": 1})
    _, body = await post("send_slash_command", command="/x", text="y")
    env = await sm.recv()
    assert env["envelope_id"] == body["envelope_id"]
    await sm.ack(env, {"text": "done"})
    assert (await post("wait_socket_mode_acks", n=1))[1] == {"ok": True, "count": 1}
    _, body = await post("send_interaction", payload={"type": "view_submission"})
    env = await sm.recv()
    assert (env["envelope_id"], env["accepts_response_payload"]) == (body["envelope_id"], True)
    acks = await get("socket_mode_acks")
    assert acks["count"] == 1
    assert acks["acks"][0]["payload"] == {"text": "done"}
    envelopes = await get("socket_mode_envelopes?since=1")
    assert envelopes["count"] == 2
    assert [e["type"] for e in envelopes["envelopes"]] == ["interactive"]
    assert (await get("socket_mode_unacked"))["count"] == 0
    assert (await post("socket_mode_disconnect", reason="warning"))[1] == {"ok": True, "reached": 1}
    assert (await post("socket_mode_disconnect", reason="nope"))[0] == 400
    assert (await post("set_post_rate_limit", per_second=None))[0] == 200
    assert (await post("set_post_rate_limit", per_second=0))[0] == 400
    _, body = await post("prepare_socket_mode_firehose", n=3)
    assert body["prepared"] == 3
    _, body = await post("socket_mode_firehose", n=3)
    assert body["sent"] == 3
    await post("socket_mode_disconnect", reason="link_disabled")
    await post("wait_socket_mode_connections", n=0)
    assert (await post("enable_socket_mode"))[0] == 200
    state = await get("state")
    assert (state["app_id"], state["app_token"], state["socket_mode_enabled"]) == (
        emu.app_id,
        emu.app_token,
        True,
    )
    assert (await post("wait_socket_mode_acks", n=50, timeout=0.05))[0] == 504


def test_thread_twins() -> None:
    with EmulatorThread(ack_timeout=ACK) as emu:
        assert emu.app_token == emu.emulator.app_token
        assert emu.app_id == emu.emulator.app_id

        async def scenario() -> None:
            async with aiohttp.ClientSession() as http:
                sm = await open_sm(http, emu.emulator)
                await emu.aio.wait_socket_mode_connections(1)
                envelope_id = await emu.aio.send_slash_command("/a")
                env = await sm.recv()
                assert env["envelope_id"] == envelope_id
                await sm.ack(env)
                await emu.aio.wait_socket_mode_acks(1)
                await emu.aio.send_interaction()
                await sm.ack(await sm.recv())
                await emu.aio.wait_socket_mode_acks(2)
                assert await emu.aio.socket_mode_disconnect("warning") == 1
                await emu.aio.set_post_rate_limit(2.0, 3)
                await emu.aio.prepare_socket_mode_firehose(2)
                assert await emu.aio.socket_mode_firehose(2) == 2
                await emu.aio.socket_mode_disconnect("link_disabled")
                await emu.aio.wait_socket_mode_connections(0)
                await emu.aio.enable_socket_mode()

        asyncio.run(scenario())
        assert emu.socket_mode_connections == 0
        assert emu.socket_mode_connection_ids == []
        assert [a.retry_attempt for a in emu.socket_mode_acks[:2]] == [0, 0]
        assert len(emu.socket_mode_envelopes) == 2
        assert emu.socket_mode_unacked == []
        emu.set_post_rate_limit(None)
        emu.prepare_socket_mode_firehose(1)
        assert emu.socket_mode_firehose(1) == 0  # no socket: nothing sent
        emu.enable_socket_mode()
        emu.wait_socket_mode_connections(0)
        emu.wait_socket_mode_acks(2)
        assert emu.socket_mode_disconnect("warning") == 0
        assert emu.send_interaction()
        assert emu.send_slash_command()


# -- secrets --------------------------------------------------------------------------------------


async def test_app_token_and_tickets_stay_out_of_logs_and_reprs(
    emu: Emulator, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sm = await open_sm(http, emu)
    await http.post(emu.api_url + "/apps.connections.open", data={"token": "xapp-1-bad"})
    await emu.post_message(emu.workspace.people[0].id, emu.general_channel_id, "x")
    await sm.ack(await sm.recv())
    await emu.wait_socket_mode_acks(1)
    await emu.socket_mode_disconnect("refresh_requested", close_after=0.01)
    await emu.wait_socket_mode_connections(0)
    urls = [u for u in emu.issued_urls if "/socket-mode/" in u]
    assert urls
    secrets = [emu.app_token, *urls, *(u.split("/socket-mode/")[1].split("?")[0] for u in urls)]
    shown = " ".join(
        [
            caplog.text,
            repr(emu),
            *map(repr, emu.connect_log),
            *map(repr, emu.socket_mode_acks),
            *map(repr, emu.socket_mode_envelopes),
            repr(emu.bot),
        ]
    )
    for secret in secrets:
        assert secret not in shown


def test_constructor_checks() -> None:
    with pytest.raises(ValueError, match="ack_timeout"):
        Emulator(ack_timeout=0)
    with pytest.raises(ValueError, match="app_token"):
        Emulator(app_token="xoxb-1")
    with pytest.raises(TypeError, match="app_token"):
        Emulator(app_token=3)  # type: ignore[arg-type]
    emu = Emulator(app_token="xapp-1-A1-2-3")
    assert emu.app_token == "xapp-1-A1-2-3"
    with pytest.raises(ValueError, match="n"):
        emu.prepare_socket_mode_firehose(-1)
    with pytest.raises(ValueError, match="burst"):
        emu.set_post_rate_limit(1.0, 0)
