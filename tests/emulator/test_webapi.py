"""The emulator's Web API over real HTTP: rtm.connect, auth.test, errors and limits."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest

from slack_rtm.emulator import Emulator


async def _get(http: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, Any, Any]:
    async with http.get(url, **kw) as r:
        return r.status, await r.json(content_type=None), r.headers


async def _post(http: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, Any, Any]:
    async with http.post(url, **kw) as r:
        return r.status, await r.json(content_type=None), r.headers


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_success_shape_over_get_with_bearer(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    status, body, headers = await _get(
        http, emu.api_url + "/rtm.connect", headers=_bearer(emu.bot_token)
    )
    assert status == 200
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert set(body) == {"ok", "url", "team", "self"}
    assert body["ok"] is True
    assert re.fullmatch(
        rf"ws://127\.0\.0\.1:{emu.port}/websocket/[A-Za-z0-9_-]{{20,}}", body["url"]
    )
    team = emu.workspace.team
    assert body["team"] == {"id": team.id, "name": team.name, "domain": team.domain}
    assert body["self"] == {"id": emu.bot_user_id, "name": "rtmbot"}
    assert re.fullmatch(r"[UW][A-Z0-9]{2,}", body["self"]["id"])
    assert re.fullmatch(r"T[A-Z0-9]{2,}", body["team"]["id"])
    assert headers["X-Accepted-OAuth-Scopes"] == "rtm:stream"
    assert emu.connect_calls == 1
    assert emu.connect_log[0].ok
    assert emu.connect_log[0].user_id == emu.bot_user_id


async def test_token_in_form_field_and_query(emu: Emulator, http: aiohttp.ClientSession) -> None:
    alice, token = next(iter(emu.user_tokens.items()))
    _, body, _ = await _post(http, emu.api_url + "/rtm.connect", data={"token": token})
    assert body["ok"] is True
    assert body["self"]["id"] == alice
    _, body, _ = await _get(http, emu.api_url + "/rtm.connect", params={"token": token})
    assert body["ok"] is True
    assert body["self"]["id"] == alice
    assert all("token" not in call.params for call in emu.connect_log)


async def test_reject_query_tokens(http: aiohttp.ClientSession) -> None:
    async with Emulator(reject_query_tokens=True) as emu:
        url = emu.api_url + "/rtm.connect"
        _, body, _ = await _get(http, url, params={"token": emu.bot_token})
        assert body == {"ok": False, "error": "invalid_auth"}
        _, body, _ = await _get(http, url, headers=_bearer(emu.bot_token))
        assert body["ok"] is True


async def test_json_post_with_header_token(emu: Emulator, http: aiohttp.ClientSession) -> None:
    _, body, _ = await _post(
        http,
        emu.api_url + "/rtm.connect",
        headers=_bearer(emu.bot_token),
        json={"batch_presence_aware": True},
    )
    assert body["ok"] is True
    assert emu.connect_log[-1].params == {"batch_presence_aware": "1"}


async def test_bad_json_bodies_are_ignored(emu: Emulator, http: aiohttp.ClientSession) -> None:
    url = emu.api_url + "/rtm.connect"
    for raw in ("{nope", "[" * 5000 + "]" * 5000, "[1]"):
        _, body, _ = await _post(
            http,
            url,
            headers={**_bearer(emu.bot_token), "Content-Type": "application/json"},
            data=raw,
        )
        assert body["ok"] is True
        assert emu.connect_log[-1].params == {}


async def test_missing_and_wrong_token(emu: Emulator, http: aiohttp.ClientSession) -> None:
    status, body, _ = await _get(http, emu.api_url + "/rtm.connect")
    assert (status, body) == (200, {"ok": False, "error": "not_authed"})
    status, body, _ = await _get(http, emu.api_url + "/rtm.connect", headers=_bearer("xoxb-nope"))
    assert (status, body) == (200, {"ok": False, "error": "invalid_auth"})


async def test_per_token_error_and_clear(emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.set_token_error(emu.bot_token, "account_inactive")
    url = emu.api_url + "/rtm.connect"
    _, body, _ = await _get(http, url, headers=_bearer(emu.bot_token))
    assert body == {"ok": False, "error": "account_inactive"}
    _, body, _ = await _get(http, emu.api_url + "/auth.test", headers=_bearer(emu.bot_token))
    assert body == {"ok": False, "error": "account_inactive"}
    other = next(iter(emu.user_tokens.values()))
    _, body, _ = await _get(http, url, headers=_bearer(other))
    assert body["ok"] is True
    emu.set_token_error(emu.bot_token, None)
    _, body, _ = await _get(http, url, headers=_bearer(emu.bot_token))
    assert body["ok"] is True


async def test_auth_test_bot_and_person(emu: Emulator, http: aiohttp.ClientSession) -> None:
    _, body, _ = await _post(http, emu.api_url + "/auth.test", headers=_bearer(emu.bot_token))
    assert body["ok"] is True
    assert body["user_id"] == emu.bot_user_id
    assert body["team_id"] == emu.team_id
    assert body["bot_id"] == emu.workspace.user(emu.bot_user_id).bot_id
    uid, token = next(iter(emu.user_tokens.items()))
    _, body, _ = await _post(http, emu.api_url + "/auth.test", headers=_bearer(token))
    assert body["user_id"] == uid
    assert "bot_id" not in body
    _, body, _ = await _post(http, emu.api_url + "/auth.test")
    assert body == {"ok": False, "error": "not_authed"}


async def test_unknown_method_and_unknown_path(emu: Emulator, http: aiohttp.ClientSession) -> None:
    status, body, _ = await _get(
        http, emu.api_url + "/chat.scheduleMessage", headers=_bearer(emu.bot_token)
    )
    assert (status, body) == (200, {"ok": False, "error": "unknown_method"})
    async with http.get(f"{emu.base_url}/nothing/here") as r:
        assert r.status == 404


async def test_fail_next_connects(emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.fail_next_connects(2, error="service_unavailable", status=503)
    url = emu.api_url + "/rtm.connect"
    for _ in range(2):
        status, body, _ = await _get(http, url, headers=_bearer(emu.bot_token))
        assert (status, body) == (503, {"ok": False, "error": "service_unavailable"})
    status, body, _ = await _get(http, url, headers=_bearer(emu.bot_token))
    assert status == 200
    assert body["ok"] is True
    assert [c.error for c in emu.connect_log] == ["service_unavailable"] * 2 + [None]


async def test_fail_next_connects_with_retry_after(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    emu.fail_next_connects(1, error="service_unavailable", status=503, retry_after=3)
    emu.fail_next_connects(1, status=500)
    url = emu.api_url + "/rtm.connect"
    status, body, headers = await _get(http, url, headers=_bearer(emu.bot_token))
    assert (status, body, headers["Retry-After"]) == (
        503, {"ok": False, "error": "service_unavailable"}, "3")
    status, _, headers = await _get(http, url, headers=_bearer(emu.bot_token))
    assert status == 500
    assert "Retry-After" not in headers
    with pytest.raises(ValueError, match="retry_after"):
        emu.fail_next_connects(1, retry_after=-1)


async def test_rate_limit_next_connects(emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.rate_limit_next_connects(1, retry_after=7)
    url = emu.api_url + "/rtm.connect"
    status, body, headers = await _get(http, url, headers=_bearer(emu.bot_token))
    assert (status, body, headers["Retry-After"]) == (
        429,
        {"ok": False, "error": "ratelimited"},
        "7",
    )
    status, body, _ = await _get(http, url, headers=_bearer(emu.bot_token))
    assert body["ok"] is True


async def test_connect_rate_limit_per_token(http: aiohttp.ClientSession) -> None:
    async with Emulator(connect_rate_limit=2) as emu:
        url = emu.api_url + "/rtm.connect"
        for _ in range(2):
            _, body, _ = await _get(http, url, headers=_bearer(emu.bot_token))
            assert body["ok"] is True
        status, body, headers = await _get(http, url, headers=_bearer(emu.bot_token))
        assert status == 429
        assert body == {"ok": False, "error": "ratelimited"}
        assert 1 <= int(headers["Retry-After"]) <= 60
        other = next(iter(emu.user_tokens.values()))  # the limit is per token
        _, body, _ = await _get(http, url, headers=_bearer(other))
        assert body["ok"] is True


async def test_migration_in_progress_then_recovers(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    await emu.start_migration(duration=0.3)
    url = emu.api_url + "/rtm.connect"
    _, body, _ = await _get(http, url, headers=_bearer(emu.bot_token))
    assert body == {"ok": False, "error": "migration_in_progress"}
    await asyncio.sleep(0.35)
    _, body, _ = await _get(http, url, headers=_bearer(emu.bot_token))
    assert body["ok"] is True


async def test_connect_rate_limit_set_per_token(emu: Emulator, http: aiohttp.ClientSession) -> None:
    url = emu.api_url + "/rtm.connect"
    emu.set_connect_rate_limit(1, token=emu.bot_token)
    assert (await _get(http, url, headers=_bearer(emu.bot_token)))[0] == 200
    assert (await _get(http, url, headers=_bearer(emu.bot_token)))[0] == 429
    other = next(iter(emu.user_tokens.values()))
    for _ in range(3):  # no default limit
        assert (await _get(http, url, headers=_bearer(other)))[0] == 200
    async with http.post(
        f"{emu.control_url}/connect_rate_limit", json={"per_minute": None, "token": emu.bot_token}
    ) as r:
        assert r.status == 200
    assert (await _get(http, url, headers=_bearer(emu.bot_token)))[0] == 200
    emu.set_connect_rate_limit(1)  # counting starts when the limit is set
    assert (await _get(http, url, headers=_bearer(other)))[0] == 200
    assert (await _get(http, url, headers=_bearer(other)))[0] == 429
    with pytest.raises(ValueError, match="per_minute"):
        emu.set_connect_rate_limit(0)
    with pytest.raises(ValueError, match="token"):
        emu.set_connect_rate_limit(1, token="")
