"""The history methods over real HTTP (PROTOCOL §8): shapes, pagination, errors, recording."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from slack_rtm.emulator import Emulator


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _call(
    http: aiohttp.ClientSession, emu: Emulator, method: str, token: str | None = None, **params: Any
) -> dict[str, Any]:
    """POST the form like the SDK does: ``x-www-form-urlencoded``, token in the header."""
    async with http.post(
        f"{emu.api_url}/{method}",
        headers=_bearer(token or emu.bot_token),
        data={k: str(v) for k, v in params.items()},
    ) as r:
        assert r.status == 200, await r.text()
        assert r.headers["Content-Type"] == "application/json; charset=utf-8"
        body: dict[str, Any] = await r.json()
        return body


def _person(emu: Emulator, name: str) -> tuple[str, str]:
    user = next(u for u in emu.workspace.people if u.name == name)
    return user.id, user.token


async def test_history_shape_and_order(emu: Emulator, http: aiohttp.ClientSession) -> None:
    alice, _ = _person(emu, "alice")
    general = emu.general_channel_id
    stamps = [await emu.post_message(alice, general, f"m{i}") for i in range(3)]
    body = await _call(http, emu, "conversations.history", channel=general)
    assert list(body) == ["ok", "messages", "has_more", "pin_count", "response_metadata"]
    assert body["ok"] is True
    assert body["has_more"] is False
    assert body["pin_count"] == 0
    assert body["response_metadata"] == {"next_cursor": ""}
    assert [m["ts"] for m in body["messages"]] == stamps[::-1]
    first = body["messages"][0]
    assert first["type"] == "message"
    assert first["user"] == alice
    assert first["text"] == "m2"
    assert first["team"] == emu.team_id
    assert "channel" not in first
    assert isinstance(first["ts"], str)


async def test_pagination_with_messages_arriving_between_pages(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    alice, _ = _person(emu, "alice")
    general = emu.general_channel_id
    stamps = [await emu.post_message(alice, general, f"m{i}") for i in range(7)]
    seen: list[str] = []
    cursor = ""
    pages = 0
    while True:
        params: dict[str, Any] = {"channel": general, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = await _call(http, emu, "conversations.history", **params)
        pages += 1
        seen += [m["ts"] for m in body["messages"]]
        cursor = body["response_metadata"]["next_cursor"]
        assert body["has_more"] is bool(cursor)
        if not cursor:
            break
        await emu.post_message(alice, general, f"late {pages}")  # not on the older pages
    assert pages == 3
    assert seen == stamps[::-1]
    newest = await _call(http, emu, "conversations.history", channel=general, limit=2)
    assert [m["text"] for m in newest["messages"]] == ["late 2", "late 1"]


async def test_oldest_latest_inclusive(emu: Emulator, http: aiohttp.ClientSession) -> None:
    alice, _ = _person(emu, "alice")
    general = emu.general_channel_id
    s = [await emu.post_message(alice, general, f"m{i}") for i in range(5)]

    async def texts(**params: Any) -> list[str]:
        body = await _call(http, emu, "conversations.history", channel=general, **params)
        return [m["text"] for m in body["messages"]]

    assert await texts(oldest=s[1], latest=s[4]) == ["m3", "m2"]
    assert await texts(oldest=s[1], latest=s[4], inclusive="false") == ["m3", "m2"]
    assert await texts(oldest=s[1], latest=s[4], inclusive=1) == ["m4", "m3", "m2", "m1"]
    assert await texts(oldest=s[1], latest=s[4], inclusive="true") == ["m4", "m3", "m2", "m1"]
    assert await texts(oldest=s[3]) == ["m4"]
    assert await texts(latest=s[0], inclusive=1, limit=1) == ["m0"]


async def test_limit_default_and_caps(http: aiohttp.ClientSession) -> None:
    async with Emulator(write_rate=None) as emu:
        alice, _ = _person(emu, "alice")
        general = emu.general_channel_id
        await emu.post_messages(
            [{"user_id": alice, "channel_id": general, "text": str(i)} for i in range(1005)]
        )
        body = await _call(http, emu, "conversations.history", channel=general)
        assert len(body["messages"]) == 100  # the default
        assert body["has_more"] is True
        body = await _call(http, emu, "conversations.history", channel=general, limit=0)
        assert len(body["messages"]) == 100
        body = await _call(http, emu, "conversations.history", channel=general, limit=5000)
        assert len(body["messages"]) == 999  # capped silently
        emu.set_history_rate_limit(None, max_limit=15)
        body = await _call(http, emu, "conversations.history", channel=general, limit=200)
        assert len(body["messages"]) == 15
        parent = body["messages"][-1]["ts"]
        emu.set_history_rate_limit(None)
        body = await _call(http, emu, "conversations.history", channel=general, limit=200)
        assert len(body["messages"]) == 200
        await emu.post_messages(
            [{"user_id": alice, "channel_id": general, "text": "r", "thread_ts": parent}] * 3
        )
        emu.set_history_rate_limit(None, max_limit=2, method="conversations.replies")
        body = await _call(http, emu, "conversations.replies", channel=general, ts=parent)
        assert len(body["messages"]) == 2
        body = await _call(http, emu, "conversations.history", channel=general, limit=50)
        assert len(body["messages"]) == 50  # only replies were capped


async def test_threads_over_http(emu: Emulator, http: aiohttp.ClientSession) -> None:
    alice, _ = _person(emu, "alice")
    bob, _ = _person(emu, "bob")
    general = emu.general_channel_id
    parent = await emu.post_message(alice, general, "question")
    r1 = await emu.post_message(bob, general, "answer", thread_ts=parent)
    r2 = await emu.post_message(alice, general, "thanks", thread_ts=parent)
    r3 = await emu.post_message(bob, general, "np", thread_ts=parent)
    body = await _call(http, emu, "conversations.history", channel=general)
    assert [m["text"] for m in body["messages"]] == ["question"]
    top = body["messages"][0]
    assert top["thread_ts"] == parent
    assert top["reply_count"] == 3
    assert top["reply_users"] == [bob, alice]
    assert top["reply_users_count"] == 2
    assert top["latest_reply"] == r3
    body = await _call(http, emu, "conversations.replies", channel=general, ts=parent)
    assert list(body) == ["ok", "messages", "has_more", "response_metadata"]
    assert [m["ts"] for m in body["messages"]] == [parent, r1, r2, r3]
    assert body["messages"][1]["thread_ts"] == parent
    assert body["messages"][1]["parent_user_id"] == alice
    page1 = await _call(http, emu, "conversations.replies", channel=general, ts=parent, limit=2)
    assert [m["ts"] for m in page1["messages"]] == [parent, r1]
    assert page1["has_more"] is True
    cursor = page1["response_metadata"]["next_cursor"]
    page2 = await _call(
        http, emu, "conversations.replies", channel=general, ts=parent, limit=2, cursor=cursor
    )
    assert [m["ts"] for m in page2["messages"]] == [r2, r3]
    assert page2["response_metadata"]["next_cursor"] == ""
    body = await _call(
        http, emu, "conversations.replies", channel=general, ts=parent, oldest=r1, latest=r3
    )
    assert [m["ts"] for m in body["messages"]] == [parent, r2]


async def test_socket_and_injected_messages_are_recorded(
    emu: Emulator, http: aiohttp.ClientSession, open_rtm: Any
) -> None:
    alice, alice_token = _person(emu, "alice")
    general = emu.general_channel_id
    rtm = await open_rtm(emu, alice_token)
    frame_id = await rtm.send({"type": "message", "channel": general, "text": "over the socket"})
    ack = await rtm.recv_until(lambda d: d.get("reply_to") == frame_id)
    thread_id = await rtm.send(
        {"type": "message", "channel": general, "text": "in thread", "thread_ts": ack["ts"]}
    )
    reply = await rtm.recv_until(lambda d: d.get("reply_to") == thread_id)
    await rtm.send({"type": "typing", "channel": general})
    injected = {"type": "message", "channel": general, "user": alice, "text": "injected",
                "ts": "1600000000.000100", "event_ts": "1600000000.000100"}  # fmt: skip
    await emu.inject_event(injected)
    await emu.inject_event({"type": "message", "channel": "C0NOWHERE", "text": "x", "ts": "1.0"})
    await emu.inject_event({"type": "message", "channel": general, "text": "no ts"})
    await emu.firehose(5)  # the firehose is not recorded
    body = await _call(http, emu, "conversations.history", channel=general)
    assert [m["text"] for m in body["messages"]] == ["over the socket", "injected"]
    assert body["messages"][0]["ts"] == ack["ts"]
    assert body["messages"][0]["reply_count"] == 1
    replies = await _call(http, emu, "conversations.replies", channel=general, ts=ack["ts"])
    assert [m["ts"] for m in replies["messages"]] == [ack["ts"], reply["ts"]]
    edit = {"type": "message", "subtype": "message_changed", "hidden": True, "channel": general,
            "ts": emu.next_ts(), "message": {**injected, "text": "edited"}}  # fmt: skip
    await emu.inject_event(edit)
    body = await _call(http, emu, "conversations.history", channel=general)
    assert [m["text"] for m in body["messages"]] == ["over the socket", "edited"]
    assert emu.history.count(general) == 3
    await rtm.ws.close()


async def test_token_and_parameter_transports(emu: Emulator, http: aiohttp.ClientSession) -> None:
    alice, alice_token = _person(emu, "alice")
    general = emu.general_channel_id
    ts = await emu.post_message(alice, general, "hi")
    url = f"{emu.api_url}/conversations.history"
    async with http.post(url, headers=_bearer(alice_token), json={"channel": general}) as r:
        assert [m["ts"] for m in (await r.json())["messages"]] == [ts]
    async with http.get(url, headers=_bearer(alice_token), params={"channel": general}) as r:
        assert [m["ts"] for m in (await r.json())["messages"]] == [ts]
    async with http.post(url, data={"token": alice_token, "channel": general}) as r:
        assert [m["ts"] for m in (await r.json())["messages"]] == [ts]
    async with http.post(url, data={"channel": general}) as r:
        assert await r.json() == {"ok": False, "error": "not_authed"}
    async with http.post(url, headers=_bearer("xoxp-nope"), data={"channel": general}) as r:
        assert await r.json() == {"ok": False, "error": "invalid_auth"}
    emu.set_token_error(alice_token, "token_revoked")
    async with http.post(url, headers=_bearer(alice_token), data={"channel": general}) as r:
        assert await r.json() == {"ok": False, "error": "token_revoked"}


async def test_error_codes(emu: Emulator, http: aiohttp.ClientSession) -> None:
    alice, _ = _person(emu, "alice")
    bob, bob_token = _person(emu, "bob")
    general = emu.general_channel_id
    secret = emu.workspace.channel_by_name("secret").id
    ts = await emu.post_message(alice, general, "hi")
    await emu.post_message(alice, general, "again")
    lonely = emu.workspace.add_channel("lonely", [alice])

    async def error(method: str, token: str | None = None, **params: Any) -> Any:
        body = await _call(http, emu, method, token, **params)
        assert body["ok"] is False, body
        return body["error"]

    history = "conversations.history"
    replies = "conversations.replies"
    assert await error(history, channel="C0NOWHERE") == "channel_not_found"
    assert await error(replies, channel="C0NOWHERE", ts=ts) == "channel_not_found"
    assert await error(history, bob_token, channel=secret) == "channel_not_found"  # private
    assert await error(history, bob_token, channel=lonely.id) == "not_in_channel"  # public
    assert await error(replies, bob_token, channel=lonely.id, ts=ts) == "not_in_channel"
    assert await error(replies, channel=general, ts="1.000001") == "thread_not_found"
    assert await error(history, channel=general, cursor="bogus") == "invalid_cursor"
    page = await _call(http, emu, history, channel=general, limit=1)
    cursor = page["response_metadata"]["next_cursor"]
    assert cursor
    assert await error(history, channel=secret, cursor=cursor) == "invalid_cursor"
    assert await error(history, channel=general, oldest="1", cursor=cursor) == "invalid_cursor"
    assert await error(replies, channel=general, ts=ts, cursor=cursor) == "invalid_cursor"
    assert await error(history, channel=general, oldest="soon") == "invalid_ts_oldest"
    assert await error(history, channel=general, latest="-1") == "invalid_ts_latest"
    for bad in ("ten", "-1", "1.5", "9" * 20):
        body = await _call(http, emu, history, channel=general, limit=bad)
        assert body["error"] == "invalid_arguments"
        assert "limit" in body["response_metadata"]["messages"][0]
    body = await _call(http, emu, history)
    missing = {"messages": ["[ERROR] missing required field: channel"]}
    assert body == {"ok": False, "error": "invalid_arguments", "response_metadata": missing}
    assert await error(replies, channel=general) == "invalid_arguments"
    assert await error("conversations.info") == "invalid_arguments"
    assert await error("users.conversations", limit="x") == "invalid_arguments"
    assert await error("conversations.info", bob_token, channel=secret) == "channel_not_found"
    assert await error("conversations.info", channel="C0NOWHERE") == "channel_not_found"
    assert await error("users.conversations", types="public_channel,wat") == "invalid_types"
    assert await error("users.conversations", user="U0NOBODY") == "user_not_found"
    assert await error("users.conversations", cursor="bogus") == "invalid_cursor"
    assert await error("conversations.nope") == "unknown_method"
    assert bob != alice


async def test_users_conversations_and_info_shapes(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    alice, alice_token = _person(emu, "alice")
    ws = emu.workspace
    general, secret = emu.general_channel_id, ws.channel_by_name("secret").id
    dm = ws.open_dm(emu.bot_user_id, alice)
    body = await _call(http, emu, "users.conversations")
    assert list(body) == ["ok", "channels", "response_metadata"]
    assert [c["name"] for c in body["channels"]] == ["general", "random"]  # public by default
    body = await _call(
        http, emu, "users.conversations", types="public_channel,private_channel,mpim,im"
    )
    assert [c["id"] for c in body["channels"]] == [
        general, ws.channel_by_name("random").id, secret, dm.id
    ]  # fmt: skip
    assert body["response_metadata"] == {"next_cursor": ""}
    by_id = {c["id"]: c for c in body["channels"]}
    for c in body["channels"]:
        assert c["is_member"] is True
        assert {"id", "is_channel", "is_group", "is_im", "is_mpim", "is_private"} <= set(c)
    assert by_id[general]["is_channel"] is True
    assert by_id[general]["is_private"] is False
    assert by_id[general]["is_general"] is True
    assert by_id[general]["name"] == "general"
    assert isinstance(by_id[general]["created"], int)
    assert by_id[secret]["is_private"] is True
    assert by_id[secret]["is_group"] is True
    assert by_id[secret]["name"] == "secret"
    assert by_id[dm.id]["is_im"] is True
    assert by_id[dm.id]["user"] == alice
    assert "name" not in by_id[dm.id]  # as in Slack: a DM has a user, not a name
    # alice's own view of the same DM, and pagination
    body = await _call(http, emu, "users.conversations", alice_token, types="im", limit=5)
    assert [c["user"] for c in body["channels"]] == [emu.bot_user_id]
    all_types = "public_channel,private_channel,im"
    page1 = await _call(http, emu, "users.conversations", types=all_types, limit=3)
    assert len(page1["channels"]) == 3
    cursor = page1["response_metadata"]["next_cursor"]
    page2 = await _call(http, emu, "users.conversations", types=all_types, limit=3, cursor=cursor)
    assert [c["id"] for c in page2["channels"]] == [dm.id]
    assert page2["response_metadata"]["next_cursor"] == ""
    other = await _call(http, emu, "users.conversations", types="im", cursor=cursor)
    assert other["error"] == "invalid_cursor"  # another query
    body = await _call(http, emu, "users.conversations", user=alice, exclude_archived="true")
    assert [c["name"] for c in body["channels"]] == ["general", "random"]
    # conversations.info
    body = await _call(http, emu, "conversations.info", channel=general, include_num_members=1)
    assert list(body) == ["ok", "channel"]
    assert body["channel"] == {**by_id[general], "num_members": 4}
    body = await _call(http, emu, "conversations.info", channel=dm.id)
    assert body["channel"] == by_id[dm.id]
    lonely = ws.add_channel("lonely", [alice])
    body = await _call(http, emu, "conversations.info", channel=lonely.id)
    assert body["channel"]["is_member"] is False  # a public channel the bot is not in
    json.dumps(body)


async def test_history_of_dm_and_private_channel(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    alice, alice_token = _person(emu, "alice")
    dm = emu.workspace.open_dm(emu.bot_user_id, alice)
    secret = emu.workspace.channel_by_name("secret").id
    a = await emu.post_message(alice, dm.id, "psst")
    b = await emu.post_message(alice, secret, "hush")
    body = await _call(http, emu, "conversations.history", alice_token, channel=dm.id)
    assert [m["ts"] for m in body["messages"]] == [a]
    body = await _call(http, emu, "conversations.history", channel=secret)
    assert [m["ts"] for m in body["messages"]] == [b]


@pytest.mark.parametrize("limit", [1, 2])
async def test_history_limit_bounds_the_store(http: aiohttp.ClientSession, limit: int) -> None:
    async with Emulator(history_limit=limit) as emu:
        alice, _ = _person(emu, "alice")
        general = emu.general_channel_id
        stamps = [await emu.post_message(alice, general, str(i)) for i in range(4)]
        body = await _call(http, emu, "conversations.history", channel=general)
        assert [m["ts"] for m in body["messages"]] == stamps[::-1][:limit]
    with pytest.raises(ValueError, match="history_limit"):
        Emulator(history_limit=0)
