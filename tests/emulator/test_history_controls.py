"""History rate limits and gap controls, over real sockets, HTTP controls and the thread."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from slack_rtm.emulator import Emulator, EmulatorThread


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _history(
    http: aiohttp.ClientSession,
    emu: Emulator,
    method: str = "conversations.history",
    token: str | None = None,
    **params: Any,
) -> tuple[int, dict[str, Any], Any]:
    params.setdefault("channel", emu.general_channel_id)
    async with http.post(
        f"{emu.api_url}/{method}", headers=_bearer(token or emu.bot_token), data=params
    ) as r:
        return r.status, await r.json(), r.headers


async def _control(
    http: aiohttp.ClientSession, emu: Emulator, name: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{emu.control_url}/{name}", json=body) as r:
        return r.status, await r.json()


def _person(emu: Emulator, name: str) -> tuple[str, str]:
    user = next(u for u in emu.workspace.people if u.name == name)
    return user.id, user.token


async def test_default_tier3_limit_per_method_and_token(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    for _ in range(50):
        status, body, _ = await _history(http, emu)
        assert status == 200
        assert body["ok"] is True
    status, body, headers = await _history(http, emu)
    assert status == 429
    assert body == {"ok": False, "error": "ratelimited"}
    assert 1 <= int(headers["Retry-After"]) <= 60
    ts = await emu.post_message(emu.bot_user_id, emu.general_channel_id, "hi")
    status, _, _ = await _history(http, emu, "conversations.replies", ts=ts)
    assert status == 200  # another method has its own window
    _, alice_token = _person(emu, "alice")
    status, _, _ = await _history(http, emu, token=alice_token)
    assert status == 200  # another token too
    status, _, _ = await _history(http, emu, "conversations.info")
    assert status == 200  # not a rate-limited method


async def test_tightened_limit_and_lifting_it(emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.set_history_rate_limit(1, max_limit=15)
    status, _, _ = await _history(http, emu)
    assert status == 200
    status, body, headers = await _history(http, emu, limit=5)
    assert (status, body["error"]) == (429, "ratelimited")
    assert 59 <= int(headers["Retry-After"]) <= 60
    emu.set_history_rate_limit(None)
    for _ in range(60):
        status, _, _ = await _history(http, emu)
        assert status == 200
    emu.set_history_rate_limit(1, method="conversations.replies")
    status, _, _ = await _history(http, emu)
    assert status == 200
    with pytest.raises(ValueError, match="method"):
        emu.set_history_rate_limit(1, method="chat.postMessage")
    with pytest.raises(ValueError, match="per_minute"):
        emu.set_history_rate_limit(0)


async def test_rate_limit_next_history_calls(emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.set_history_rate_limit(None)
    emu.rate_limit_next_history_calls(2, retry_after=3)
    status, body, _ = await _history(http, emu, token="xoxb-not-a-token")
    assert body == {"ok": False, "error": "invalid_auth"}  # the token is checked first
    ts = await emu.post_message(emu.bot_user_id, emu.general_channel_id, "hi")
    for method, extra in (("conversations.history", {}), ("conversations.replies", {"ts": ts})):
        status, body, headers = await _history(http, emu, method, **extra)
        assert status == 429
        assert body == {"ok": False, "error": "ratelimited"}
        assert headers["Retry-After"] == "3"
    status, _, _ = await _history(http, emu)
    assert status == 200
    with pytest.raises(ValueError, match="n must"):
        emu.rate_limit_next_history_calls(-1)


async def test_hold_reconnects_refuses_connect_and_upgrade(
    emu: Emulator, http: aiohttp.ClientSession, rtm_connect: Any
) -> None:
    alice, alice_token = _person(emu, "alice")
    early = await rtm_connect(emu, alice_token)  # a URL handed out before the hold
    emu.hold_reconnects(alice, 0.3)
    held = await rtm_connect(emu, alice_token)
    assert held == {"ok": False, "error": "service_unavailable"}
    assert emu.connect_log[-1].error == "service_unavailable"
    assert emu.connect_log[-1].status == 200
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await http.ws_connect(early["url"])
    assert info.value.status == 503
    other = await rtm_connect(emu, emu.bot_token)  # only alice is held
    assert other["ok"] is True
    await asyncio.sleep(0.35)
    after = await rtm_connect(emu, alice_token)
    assert after["ok"] is True
    for url in (early["url"], after["url"]):  # the refused URL was not used up
        ws = await http.ws_connect(url)
        assert (await ws.receive_json(timeout=5)) == {"type": "hello"}
        await ws.close()
    emu.hold_reconnects(alice, 60)
    emu.hold_reconnects(alice, 0)  # lifts it
    assert (await rtm_connect(emu, alice_token))["ok"] is True
    with pytest.raises(ValueError, match="user_id"):
        emu.hold_reconnects("U0NOBODY", 1)
    with pytest.raises(ValueError, match="seconds"):
        emu.hold_reconnects(alice, -1)


async def test_drop_and_hold_then_catch_up(
    emu: Emulator, http: aiohttp.ClientSession, open_rtm: Any, rtm_connect: Any
) -> None:
    alice, alice_token = _person(emu, "alice")
    bob, _ = _person(emu, "bob")
    general = emu.general_channel_id
    rtm = await open_rtm(emu, alice_token)
    bot = await open_rtm(emu)
    seen = await emu.post_message(bob, general, "before")
    assert (await rtm.recv_until(lambda d: d.get("type") == "message"))["ts"] == seen
    assert await emu.drop_and_hold(alice, 0.4, abrupt=True) == 1
    msg = await rtm.ws.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
    await emu.wait_connections(1)  # the bot's socket stays
    gap = await emu.post_messages(
        [{"user_id": bob, "channel_id": general, "text": f"gap {i}"} for i in range(3)]
    )
    assert (await rtm_connect(emu, alice_token))["error"] == "service_unavailable"
    await asyncio.sleep(0.45)
    rtm2 = await open_rtm(emu, alice_token)
    status, body, _ = await _history(http, emu, token=alice_token, oldest=seen)
    assert status == 200
    assert [m["ts"] for m in body["messages"]] == gap[::-1]
    await rtm2.ws.close()
    await bot.ws.close()
    assert await emu.drop_and_hold(alice, 0.01, abrupt=False) == 0


async def test_post_messages_checks_every_item_first(emu: Emulator) -> None:
    alice, _ = _person(emu, "alice")
    general = emu.general_channel_id
    secret = emu.workspace.channel_by_name("secret").id
    bob, _ = _person(emu, "bob")
    good = {"user_id": alice, "channel_id": general, "text": "ok"}
    for bad, error, match in (
        ("nope", TypeError, "messages must"),
        ([good, 5], TypeError, r"messages\[1\] must"),
        ([good, {**good, "user_id": "U0X"}], ValueError, r"messages\[1\]: user_id"),
        ([good, {**good, "channel_id": "C0X"}], ValueError, r"messages\[1\]: channel_id"),
        ([{**good, "user_id": bob, "channel_id": secret}], ValueError, "not a member"),
        ([{**good, "text": 5}], TypeError, "text"),
        ([{**good, "thread_ts": 5}], TypeError, "thread_ts"),
        ([{**good, "extra": 1}], ValueError, "unknown keys"),
    ):
        with pytest.raises(error, match=match):
            await emu.post_messages(bad)  # type: ignore[arg-type]
    assert emu.history.count(general) == 0  # nothing was posted
    assert len(await emu.post_messages([good, good])) == 2


async def test_http_control_routes(emu: Emulator, http: aiohttp.ClientSession) -> None:
    alice, alice_token = _person(emu, "alice")
    general = emu.general_channel_id
    status, body = await _control(
        http,
        emu,
        "post_messages",
        {"messages": [{"user_id": alice, "channel_id": general, "text": "a"}]},
    )
    assert status == 200
    assert body["ok"] is True
    assert len(body["ts"]) == 1
    status, body = await _control(http, emu, "set_history_rate_limit", {"per_minute": 1})
    assert (status, body) == (200, {"ok": True})
    assert (await _history(http, emu))[0] == 200
    assert (await _history(http, emu))[0] == 429
    status, _ = await _control(
        http, emu, "set_history_rate_limit", {"per_minute": None, "max_limit": 15}
    )
    assert status == 200
    assert (await _history(http, emu))[0] == 200
    status, _ = await _control(
        http, emu, "rate_limit_next_history_calls", {"n": 1, "retry_after": 4}
    )
    assert status == 200
    status, _, headers = await _history(http, emu)
    assert (status, headers["Retry-After"]) == (429, "4")
    status, _ = await _control(http, emu, "hold_reconnects", {"user_id": alice, "seconds": 30})
    assert status == 200
    assert emu.reconnect_held(alice)
    status, body = await _control(
        http, emu, "drop_and_hold", {"user_id": alice, "seconds": 0, "abrupt": False}
    )
    assert (status, body) == (200, {"ok": True, "dropped": 0})
    assert not emu.reconnect_held(alice)
    for name, bad in (
        ("set_history_rate_limit", {}),
        ("set_history_rate_limit", {"per_minute": 0}),
        ("rate_limit_next_history_calls", {"n": "x"}),
        ("hold_reconnects", {"user_id": alice}),
        ("hold_reconnects", {"user_id": "U0X", "seconds": 1}),
        ("drop_and_hold", {"user_id": alice, "seconds": 1, "abrupt": "yes"}),
        ("post_messages", {"messages": [{"user_id": alice}]}),
        ("post_messages", {}),
    ):
        status, body = await _control(http, emu, name, bad)
        assert status == 400, (name, bad, body)
        assert body["ok"] is False
    assert not emu.reconnect_held(alice)
    assert alice_token not in str(emu.history)


def test_thread_twins() -> None:
    with EmulatorThread() as emu:
        alice = next(u for u in emu.workspace.people if u.name == "alice").id
        general = emu.general_channel_id
        stamps = emu.post_messages([{"user_id": alice, "channel_id": general, "text": "x"}])
        assert len(stamps) == 1
        emu.set_history_rate_limit(1, max_limit=15, method="conversations.history")
        emu.rate_limit_next_history_calls(1, retry_after=2)
        emu.hold_reconnects(alice, 0)
        assert emu.drop_and_hold(alice, 0, abrupt=True) == 0
        limits = emu.emulator.history_limits
        assert limits.max_limit("conversations.history") == 15

        async def twins() -> None:
            await emu.aio.set_history_rate_limit(None)
            await emu.aio.rate_limit_next_history_calls(0)
            await emu.aio.hold_reconnects(alice, 0)
            assert await emu.aio.drop_and_hold(alice, 0) == 0
            assert len(await emu.aio.post_messages([])) == 0
            assert len(await emu.aio.post_messages([{"user_id": alice, "channel_id": general,
                                                     "text": "y"}])) == 1  # fmt: skip

        asyncio.run(twins())
        assert limits.max_limit("conversations.history") == 999
        assert emu.emulator.history.count(general) == 2
