"""The HTTP control API under /_emulator/, driven over real HTTP while clients are connected."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from slack_rtm.emulator import Emulator

EXPIRED = {"type": "error", "error": {"code": 1, "msg": "Socket URL has expired"}}


async def _call(
    http: aiohttp.ClientSession, emu: Emulator, action: str, body: Any = None, *, status: int = 200
) -> dict[str, Any]:
    async with http.post(f"{emu.control_url}/{action}", json=body) as r:
        data: dict[str, Any] = await r.json()
        assert r.status == status, data
        return data


async def test_state(emu: Emulator, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{emu.control_url}/state") as r:
        state = await r.json()
    assert state["ok"] is True
    assert state["api_url"] == emu.api_url
    assert state["bot_token"] == emu.bot_token
    assert state["user_tokens"] == emu.user_tokens
    assert state["general_channel_id"] == emu.general_channel_id
    assert state["connection_count"] == 0
    names = {u["name"] for u in state["workspace"]["users"]}
    assert names == {"rtmbot", "alice", "bob", "carol"}


async def test_post_inject_presence_and_received(
    emu: Emulator, http: aiohttp.ClientSession, open_rtm: Any
) -> None:
    rtm = await open_rtm(emu)
    alice = emu.workspace.people[0].id
    body = {"user_id": alice, "channel_id": emu.general_channel_id, "text": "via http"}
    res = await _call(http, emu, "post_message", body)
    event = await rtm.recv()
    assert (event["text"], event["ts"]) == ("via http", res["ts"])
    res = await _call(http, emu, "inject_event", {"event": {"type": "emoji_changed"}})
    assert res == {"ok": True, "reached": 1}
    assert await rtm.recv() == {"type": "emoji_changed"}
    res = await _call(http, emu, "presence", {"user_id": alice, "presence": "away"})
    assert res["reached"] == 1
    assert await rtm.recv() == {"type": "presence_change", "user": alice, "presence": "away"}
    await rtm.send({"type": "typing", "channel": emu.general_channel_id})
    res = await _call(http, emu, "wait_frame", {"match": {"type": "typing"}, "timeout": 2})
    assert res["frame"]["data"]["type"] == "typing"
    assert res["frame"]["user_id"] == emu.bot_user_id
    async with http.get(f"{emu.control_url}/received", params={"since": "0"}) as r:
        got = await r.json()
    assert got["count"] == 1
    assert got["frames"][0]["conn_id"] == 1
    async with http.delete(f"{emu.control_url}/received") as r:
        assert (await r.json())["ok"] is True
    assert emu.received == []


async def test_connection_faults(
    emu: Emulator, http: aiohttp.ClientSession, open_rtm: Any, rtm_connect: Any
) -> None:
    rtm = await open_rtm(emu)
    assert (await _call(http, emu, "wait_connections", {"n": 1}))["connection_count"] == 1
    assert (await _call(http, emu, "goodbye", {}))["reached"] == 1
    assert await rtm.recv() == {"type": "goodbye"}
    await _call(http, emu, "pong", {"enabled": False})
    assert emu.pong_enabled is False
    await _call(http, emu, "pong", {"enabled": True})
    assert (await _call(http, emu, "drop", {"abrupt": False}))["dropped"] == 1
    await _call(http, emu, "wait_connections", {"n": 0})
    await _call(http, emu, "fail_connects", {"n": 1, "error": "internal_error"})
    assert (await rtm_connect(emu, emu.bot_token))["error"] == "internal_error"
    await _call(http, emu, "fail_connects", {"n": 1, "status": 503, "retry_after": 2})
    assert (await rtm_connect(emu, emu.bot_token))["error"] == "internal_error"
    assert emu.connect_log[-1].status == 503
    await _call(http, emu, "rate_limit_connects", {"n": 1, "retry_after": 2})
    assert (await rtm_connect(emu, emu.bot_token))["error"] == "ratelimited"
    await _call(http, emu, "token_error", {"token": emu.bot_token, "error": "token_revoked"})
    assert (await rtm_connect(emu, emu.bot_token))["error"] == "token_revoked"
    await _call(http, emu, "token_error", {"token": emu.bot_token, "error": None})
    await _call(http, emu, "migration", {"duration": 0.2})
    assert (await rtm_connect(emu, emu.bot_token))["error"] == "migration_in_progress"
    await asyncio.sleep(0.25)
    assert (await rtm_connect(emu, emu.bot_token))["ok"] is True


async def test_firehose_over_http(
    emu: Emulator, http: aiohttp.ClientSession, open_rtm: Any
) -> None:
    rtm = await open_rtm(emu)
    task = asyncio.create_task(_call(http, emu, "firehose", {"n": 500}))
    tss = [(await rtm.recv())["ts"] for _ in range(500)]
    res = await task
    assert res["sent"] == 500
    assert res["cpu_seconds"] >= 0
    assert tss == sorted(tss)
    res = await _call(http, emu, "firehose", {"payloads": [{"type": "a"}, '{"type":"b"}']})
    assert res["sent"] == 2
    assert [await rtm.recv(), await rtm.recv()] == [{"type": "a"}, {"type": "b"}]


@pytest.mark.parametrize(
    ("action", "body", "status"),
    [
        ("post_message", {"user_id": "UNOPE", "channel_id": "C1", "text": "x"}, 400),
        ("post_message", {}, 400),
        ("pong", {"enabled": "yes"}, 400),
        ("fail_connects", {"n": -1}, 400),
        ("fail_connects", {"n": 1, "retry_after": -1}, 400),
        ("inject_event", {"event": "not an object"}, 400),
        ("firehose", {"payloads": "nope"}, 400),
        ("wait_frame", {"match": {"type": "never"}, "timeout": 0.05}, 504),
        ("wait_frame", {"match": []}, 400),
        ("no_such_action", {}, 404),
        ("state_", [1, 2], 404),
    ],
)
async def test_bad_requests(
    emu: Emulator, http: aiohttp.ClientSession, action: str, body: Any, status: int
) -> None:
    res = await _call(http, emu, action, body, status=status)
    assert res["ok"] is False
    assert res["error"]


async def test_bad_bodies(emu: Emulator, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{emu.control_url}/pong", data=b"{nope") as r:
        assert r.status == 400
    async with http.post(f"{emu.control_url}/pong", data="[" * 5000 + "]" * 5000) as r:
        assert r.status == 400
    async with http.post(f"{emu.control_url}/pong", json=[1]) as r:
        assert r.status == 400
    async with http.get(f"{emu.control_url}/received", params={"since": "x"}) as r:
        assert r.status == 400


async def test_control_api_can_be_disabled(http: aiohttp.ClientSession) -> None:
    async with Emulator(control_api=False) as emu, http.get(f"{emu.control_url}/state") as r:
        assert r.status == 404


async def test_python_named_routes(
    emu: Emulator, http: aiohttp.ClientSession, open_rtm: Any, rtm_connect: Any
) -> None:
    rtm = await open_rtm(emu)
    alice = emu.workspace.people[0].id
    res = await _call(http, emu, "set_presence", {"user_id": alice, "presence": "away"})
    assert res["reached"] == 1
    assert (await rtm.recv())["presence"] == "away"
    await _call(http, emu, "set_pong", {"enabled": False})
    assert emu.pong_enabled is False
    await _call(http, emu, "set_pong", {"enabled": True})
    await rtm.send({"type": "typing", "channel": emu.general_channel_id})
    res = await _call(http, emu, "wait_for_frame", {"match": {"type": "typing"}, "timeout": 2})
    assert res["frame"]["data"]["channel"] == emu.general_channel_id
    await _call(http, emu, "clear_received")
    assert emu.received == []
    assert (await _call(http, emu, "prepare_firehose", {"n": 3}))["prepared"] == 3
    assert (await _call(http, emu, "firehose", {"n": 3}))["sent"] == 3
    assert len({(await rtm.recv())["ts"] for _ in range(3)}) == 3
    res = await _call(http, emu, "firehose_payloads", {"payloads": ['{"type":"z"}']})
    assert res["sent"] == 1
    assert await rtm.recv() == {"type": "z"}
    assert (await _call(http, emu, "send_goodbye", {"close_after": 0.05}))["reached"] == 1
    assert await rtm.recv() == {"type": "goodbye"}
    await _call(http, emu, "wait_connections", {"n": 0, "timeout": 2})
    rtm = await open_rtm(emu)
    assert (await _call(http, emu, "drop_connections", {"abrupt": True}))["dropped"] == 1
    await _call(http, emu, "wait_connections", {"n": 0, "timeout": 2})
    await _call(http, emu, "fail_next_connects", {"n": 1, "error": "fatal_error"})
    assert (await rtm_connect(emu, emu.bot_token))["error"] == "fatal_error"
    await _call(http, emu, "rate_limit_next_connects", {"n": 1})
    assert (await rtm_connect(emu, emu.bot_token))["error"] == "ratelimited"
    bad = {"token": emu.bot_token, "error": "account_inactive"}
    await _call(http, emu, "set_token_error", bad)
    assert (await rtm_connect(emu, emu.bot_token))["error"] == "account_inactive"
    await _call(http, emu, "set_token_error", {"token": emu.bot_token, "error": None})
    limit = {"per_minute": 1, "token": emu.bot_token}
    await _call(http, emu, "set_connect_rate_limit", limit)
    assert (await rtm_connect(emu, emu.bot_token))["ok"] is True
    assert (await rtm_connect(emu, emu.bot_token))["error"] == "ratelimited"
    await _call(http, emu, "set_connect_rate_limit", {"per_minute": None, "token": emu.bot_token})
    assert (await _call(http, emu, "start_migration", {"duration": 0.01}))["reached"] == 0
    await asyncio.sleep(0.02)
    assert (await rtm_connect(emu, emu.bot_token))["ok"] is True


async def test_expire_next_urls_over_http(
    emu: Emulator, http: aiohttp.ClientSession, rtm_connect: Any
) -> None:
    await _call(http, emu, "expire_next_urls", {"n": 2})
    await _call(http, emu, "expire_next_urls")  # n defaults to 1
    for _ in range(3):
        body = await rtm_connect(emu, emu.bot_token)
        async with http.ws_connect(body["url"]) as ws:
            assert await ws.receive_json(timeout=5) == EXPIRED
    body = await rtm_connect(emu, emu.bot_token)
    async with http.ws_connect(body["url"]) as ws:
        assert await ws.receive_json(timeout=5) == {"type": "hello"}
    res = await _call(http, emu, "expire_next_urls", {"n": -1}, status=400)
    assert "n must be" in res["error"]


async def test_records_over_http(
    emu: Emulator, http: aiohttp.ClientSession, rtm_connect: Any
) -> None:
    first = await rtm_connect(emu, emu.bot_token, presence_sub="1")
    await rtm_connect(emu, "xoxb-wrong")
    second = await rtm_connect(emu, emu.bot_token)
    async with http.get(f"{emu.control_url}/issued_urls") as r:
        assert await r.json() == {"ok": True, "urls": [first["url"], second["url"]]}
    async with http.get(f"{emu.control_url}/connect_log") as r:
        log = await r.json()
    assert log["count"] == 3
    assert [c["ok"] for c in log["calls"]] == [True, False, True]
    assert log["calls"][0]["params"] == {"presence_sub": "1"}
    assert log["calls"][1] == {
        "user_id": None, "status": 200, "ok": False, "error": "invalid_auth", "params": {},
        "cookie": None, "user_agent": log["calls"][1]["user_agent"], "method": "rtm.connect",
    }  # fmt: skip
    async with http.get(f"{emu.control_url}/connect_log", params={"since": "2"}) as r:
        assert [c["user_id"] for c in (await r.json())["calls"]] == [emu.bot_user_id]
    async with http.get(f"{emu.control_url}/connect_log", params={"since": "x"}) as r:
        assert r.status == 400
    async with http.get(f"{emu.control_url}/state") as r:
        assert (await r.json())["issued_url_count"] == 2


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("drop_connections", {"abrupt": "no"}),
        ("set_pong", {}),
        ("firehose_payloads", {}),
        ("firehose_payloads", {"payloads": None}),
        ("firehose_payloads", {"payloads": {"type": "x"}}),
        ("prepare_firehose", {"n": "3"}),
        ("set_connect_rate_limit", {"per_minute": 0}),
        ("set_token_error", {"token": "", "error": "x"}),
        ("rate_limit_next_connects", {"n": 1, "retry_after": -1}),
    ],
)
async def test_bad_arguments_on_python_named_routes(
    emu: Emulator, http: aiohttp.ClientSession, action: str, body: Any
) -> None:
    res = await _call(http, emu, action, body, status=400)
    assert res["ok"] is False
    assert res["error"]
