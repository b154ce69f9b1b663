"""``chat.postMessage`` in the emulator over real sockets: answers, Slack's errors, the rate limit,
and where the message goes (history, RTM sockets, Socket Mode envelopes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import msgspec
import pytest
from socket_mode_helpers import ACK, TIMEOUT, open_sm

from slack_rtm.emulator import Emulator


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(write_rate=None, ack_timeout=ACK, reconnect_url_interval=None) as e:
        yield e


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def post(
    http: aiohttp.ClientSession,
    emu: Emulator,
    token: str | None,
    *,
    form: bool = False,
    cookie: str | None = None,
    **body: Any,
) -> tuple[int, dict[str, Any], Any]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    if cookie is not None:
        headers["Cookie"] = cookie
    kw: dict[str, Any] = {"data": body} if form else {"json": body}
    async with http.post(emu.api_url + "/chat.postMessage", headers=headers, **kw) as r:
        answer: dict[str, Any] = await r.json()
        return r.status, answer, r.headers


async def test_bot_post_goes_everywhere(emu: Emulator, http: aiohttp.ClientSession) -> None:
    sm = await open_sm(http, emu)
    alice = emu.workspace.people[0]
    body = await (
        await http.post(
            emu.api_url + "/rtm.connect", headers={"Authorization": f"Bearer {alice.token}"}
        )
    ).json()
    rtm = await http.ws_connect(body["url"])
    assert (await rtm.receive_json(timeout=TIMEOUT))["type"] == "hello"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    status, answer, _ = await post(
        http, emu, emu.bot_token, channel=emu.general_channel_id, text="hi", blocks=blocks
    )
    assert status == 200
    assert answer["ok"] is True
    ts = answer["ts"]
    assert answer["channel"] == emu.general_channel_id
    bot = emu.workspace.user(emu.bot_user_id)
    assert answer["message"] == {
        "type": "message",
        "user": bot.id,
        "text": "hi",
        "ts": ts,
        "team": emu.team_id,
        "bot_id": bot.bot_id,
        "app_id": emu.app_id,
        "blocks": blocks,
    }
    event = await rtm.receive_json(timeout=TIMEOUT)  # a person's RTM socket
    assert (event["type"], event["ts"], event["bot_id"]) == ("message", ts, bot.bot_id)
    env = await sm.recv()  # the app gets its own post too (bots filter on bot_id)
    assert env["payload"]["event"]["ts"] == ts
    assert env["payload"]["event"]["bot_id"] == bot.bot_id
    assert emu.history.count(emu.general_channel_id) == 1
    await rtm.close()


async def test_user_and_browser_session_posts(emu: Emulator, http: aiohttp.ClientSession) -> None:
    alice = emu.workspace.people[0]
    status, answer, _ = await post(
        http, emu, alice.token, form=True, channel="#general", text="in a thread",
        thread_ts="1700000000.000100",
    )  # fmt: skip
    assert status == 200
    assert answer["message"]["user"] == alice.id
    assert answer["message"]["thread_ts"] == "1700000000.000100"
    assert "bot_id" not in answer["message"]
    session = emu.browser_session(alice.id)
    cookie = f"d={quote(session.cookie, safe='')}"
    status, answer, _ = await post(
        http, emu, session.token, cookie=cookie, channel=emu.general_channel_id, text="b"
    )
    assert answer["ok"] is True
    _, answer, _ = await post(http, emu, session.token, channel=emu.general_channel_id, text="b")
    assert answer == {"ok": False, "error": "invalid_auth"}


async def test_errors(emu: Emulator, http: aiohttp.ClientSession) -> None:
    ws = emu.workspace
    people = [p.id for p in ws.people]
    public = ws.add_channel("no-bot", people)
    private = ws.add_channel("no-bot-private", people, private=True)
    general = emu.general_channel_id
    cases: list[tuple[str | None, dict[str, Any], str]] = [
        (emu.bot_token, {"text": "x"}, "channel_not_found"),
        (emu.bot_token, {"channel": "C0NOPE", "text": "x"}, "channel_not_found"),
        (emu.bot_token, {"channel": public.id, "text": "x"}, "not_in_channel"),
        (emu.bot_token, {"channel": private.id, "text": "x"}, "channel_not_found"),
        (emu.bot_token, {"channel": general}, "no_text"),
        (emu.bot_token, {"channel": general, "text": ""}, "no_text"),
        (emu.bot_token, {"channel": general, "text": "x" * 40_001}, "msg_too_long"),
        (emu.bot_token, {"channel": general, "blocks": {"a": 1}}, "invalid_blocks"),
        (emu.app_token, {"channel": general, "text": "x"}, "not_allowed_token_type"),
        ("xoxb-nope", {"channel": general, "text": "x"}, "invalid_auth"),
        (None, {"channel": general, "text": "x"}, "not_authed"),
    ]
    for token, body, error in cases:
        status, answer, _ = await post(http, emu, token, **body)
        assert (status, answer) == (200, {"ok": False, "error": error}), body
    _, answer, _ = await post(http, emu, emu.bot_token, form=True, channel=general, blocks="[1")
    assert answer["error"] == "invalid_blocks"
    _, answer, _ = await post(
        http, emu, emu.bot_token, form=True, channel=general,
        blocks=msgspec.json.encode([{"type": "divider"}]).decode(),
    )  # fmt: skip
    assert answer["message"]["blocks"] == [{"type": "divider"}]
    _, answer, _ = await post(http, emu, emu.bot_token, channel=general, text="x" * 40_000)
    assert answer["ok"] is True
    emu.set_token_error(emu.bot_token, "account_inactive")
    _, answer, _ = await post(http, emu, emu.bot_token, channel=general, text="x")
    assert answer == {"ok": False, "error": "account_inactive"}


async def test_rate_limit_per_channel(emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.set_post_rate_limit(0.5, 2)
    general = emu.general_channel_id
    random = emu.workspace.channel_by_name("random").id
    for _ in range(2):
        assert (await post(http, emu, emu.bot_token, channel=general, text="x"))[0] == 200
    status, answer, headers = await post(http, emu, emu.bot_token, channel=general, text="x")
    assert (status, answer) == (429, {"ok": False, "error": "rate_limited"})
    assert headers["Retry-After"] == "2"
    assert (await post(http, emu, emu.bot_token, channel=random, text="x"))[0] == 200
    alice = emu.workspace.people[0]
    assert (await post(http, emu, alice.token, channel=general, text="x"))[0] == 200
    emu.set_post_rate_limit(None)
    for _ in range(5):
        assert (await post(http, emu, emu.bot_token, channel=general, text="x"))[0] == 200
    assert emu.history.count(general) == 2 + 1 + 5


async def test_default_rate_limit_allows_a_burst_of_ten(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    statuses = [
        (await post(http, emu, emu.bot_token, channel=emu.general_channel_id, text="x"))[0]
        for _ in range(11)
    ]
    assert statuses == [200] * 10 + [429]


async def test_auth_test_for_the_bot_token(emu: Emulator, http: aiohttp.ClientSession) -> None:
    async with http.post(
        emu.api_url + "/auth.test", headers={"Authorization": f"Bearer {emu.bot_token}"}
    ) as r:
        body = await r.json()
    bot = emu.workspace.user(emu.bot_user_id)
    assert (body["ok"], body["user_id"], body["bot_id"]) == (True, bot.id, bot.bot_id)
