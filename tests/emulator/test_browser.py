"""Browser sessions (xoxc- token + d cookie), the upgrade records and refuse_next_sockets, over
real sockets with httpx and aiohttp's WebSocket client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import httpx
import pytest

from slack_rtm.emulator import BrowserSession, Emulator, EmulatorThread, Upgrade
from slack_rtm.emulator.browser import UNAUTHORIZED_EVENT, cookie_values, cookies_match

HELLO = {"type": "hello"}
EXPIRED = {"type": "error", "error": {"code": 1, "msg": "Socket URL has expired"}}
UA = "Mozilla/5.0 (X11; Linux x86_64) emulator-test"
ORIGIN = "https://app.slack.com"


def _enc(value: str) -> str:
    return quote(value, safe="")


def _cookie(session: BrowserSession, *, d_s: str | None = None) -> str:
    header = f"d={_enc(session.cookie)}"
    return header if d_s is None else f"{header}; d-s={d_s}"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(write_rate=None, reconnect_url_interval=None) as e:
        yield e


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def _alice(emu: Emulator) -> str:
    return next(u.id for u in emu.workspace.people if u.name == "alice")


async def _call(
    api: httpx.AsyncClient, emu: Emulator, method: str, token: str, cookie: str | None = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "User-Agent": UA}
    if cookie is not None:
        headers["Cookie"] = cookie
    r = await api.post(f"{emu.api_url}/{method}", headers=headers)
    body: dict[str, Any] = r.json()
    return body


async def _first_frames(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[list[Any], int | None]:
    """Every JSON frame until the close, and the close code."""
    frames: list[Any] = []
    async with http.ws_connect(url, headers=headers or {}) as ws:
        while True:
            msg = await ws.receive(timeout=5)
            if msg.type == aiohttp.WSMsgType.TEXT:
                frames.append(msg.json())
            else:
                assert msg.type == aiohttp.WSMsgType.CLOSE, msg
                return frames, msg.data


# -- pure -------------------------------------------------------------------------------------


def test_cookie_values_and_matching() -> None:
    s = BrowserSession("U1", "xoxc-1", "xoxd-a/b+c==")
    assert cookie_values(None) == {}
    assert cookie_values(" d = x ;lc=1; noeq; d=second; =v") == {"d": "x", "lc": "1"}
    assert cookies_match("d=xoxd-a%2Fb%2Bc%3D%3D", s)
    assert cookies_match("lc=1; d=xoxd-a%2fb%2bc%3d%3d; other=x", s)  # lower-case hex is fine
    assert not cookies_match("d=xoxd-a/b+c==", s)  # raw
    assert not cookies_match("d=xoxd-a%2Fb+c%3D%3D", s)  # one raw character is enough
    assert not cookies_match("d=xoxd-a%252Fb%252Bc%253D%253D", s)  # encoded twice
    assert not cookies_match("d-s=1; lc=1", s)
    assert not cookies_match(None, s)
    with_ds = BrowserSession("U1", "xoxc-1", "xoxd-a/b+c==", d_s="1700000000")
    assert not cookies_match("d=xoxd-a%2Fb%2Bc%3D%3D", with_ds)
    assert not cookies_match("d=xoxd-a%2Fb%2Bc%3D%3D; d-s=1700000001", with_ds)
    assert cookies_match("d=xoxd-a%2Fb%2Bc%3D%3D; d-s=1700000000", with_ds)


async def test_browser_session_shape_repr_and_identity(emu: Emulator) -> None:
    alice = _alice(emu)
    bob = next(u.id for u in emu.workspace.people if u.name == "bob")
    s = emu.browser_session(alice)
    assert s.user_id == alice
    assert s.d_s is None
    assert s.token.startswith("xoxc-")
    assert s.cookie.startswith("xoxd-")
    assert {"/", "+", "="} <= set(s.cookie)
    assert repr(s) == f"BrowserSession(user_id={alice!r})"
    assert s.token not in repr(s)
    assert s.cookie not in repr(s)
    assert emu.browser_session(alice) is s  # the same session again
    other = emu.browser_session(bob)
    assert other.token != s.token
    assert other.cookie != s.cookie
    with_ds = emu.browser_session(alice, d_s="1700000000")  # the requirement changes
    assert (with_ds.token, with_ds.cookie, with_ds.d_s) == (s.token, s.cookie, "1700000000")
    assert emu.browser_session(alice, d_s="1700000000") is with_ds
    assert emu.browser_session(alice).d_s is None  # None replaces it too
    state = emu.state()
    assert {b["user_id"] for b in state["browser_sessions"]} == {alice, bob}
    with pytest.raises(AttributeError):
        s.token = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "match"),
    [
        (("UNOPE",), {}, ValueError, "user_id"),
        ((None,), {}, ValueError, "user_id"),
        ((), {"d_s": 5}, TypeError, "d_s"),
        ((), {"d_s": ""}, ValueError, "d_s"),
        ((), {"d_s": "1; d=x"}, ValueError, "d_s"),
    ],
)
async def test_browser_session_bad_arguments(
    emu: Emulator, args: tuple[Any, ...], kwargs: dict[str, Any], exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match):
        emu.browser_session(*(args or (_alice(emu),)), **kwargs)


async def test_browser_session_refuses_a_bot(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="bot"):
        emu.browser_session(emu.bot_user_id)


# -- the Web API leg --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "ok"),
    [
        ("encoded", True),
        ("encoded_among_others", True),
        ("raw", False),
        ("double_encoded", False),
        ("missing", False),
        ("other_sessions_cookie", False),
    ],
)
async def test_cookie_forms_on_rtm_connect_and_auth_test(
    emu: Emulator, api: httpx.AsyncClient, form: str, ok: bool
) -> None:
    s = emu.browser_session(_alice(emu))
    bob = emu.browser_session(next(u.id for u in emu.workspace.people if u.name == "bob"))
    cookie = {
        "encoded": f"d={_enc(s.cookie)}",
        "encoded_among_others": f"lc=1700000000; d={_enc(s.cookie)}; x=y",
        "raw": f"d={s.cookie}",
        "double_encoded": f"d={_enc(_enc(s.cookie))}",
        "missing": None,
        "other_sessions_cookie": f"d={_enc(bob.cookie)}",
    }[form]
    connect = await _call(api, emu, "rtm.connect", s.token, cookie)
    auth = await _call(api, emu, "auth.test", s.token, cookie)
    if ok:
        assert connect["ok"] is True
        assert connect["self"]["id"] == s.user_id
        assert auth["ok"] is True
        assert auth["user_id"] == s.user_id
        assert "bot_id" not in auth
    else:
        assert connect == {"ok": False, "error": "invalid_auth"}
        assert auth == {"ok": False, "error": "invalid_auth"}
    call = emu.connect_log[-1]
    assert (call.ok, call.cookie, call.user_agent) == (ok, cookie, UA)


async def test_d_s_required_when_set(emu: Emulator, api: httpx.AsyncClient) -> None:
    s = emu.browser_session(_alice(emu), d_s="1700000000")
    assert (await _call(api, emu, "auth.test", s.token, _cookie(s)))["ok"] is False
    wrong = _cookie(s, d_s="1700000001")
    assert (await _call(api, emu, "auth.test", s.token, wrong))["ok"] is False
    assert (await _call(api, emu, "auth.test", s.token, _cookie(s, d_s="1700000000")))["ok"]
    emu.browser_session(s.user_id)  # lifted again
    assert (await _call(api, emu, "auth.test", s.token, _cookie(s)))["ok"] is True


async def test_other_tokens_with_or_without_cookies(emu: Emulator, api: httpx.AsyncClient) -> None:
    s = emu.browser_session(_alice(emu))
    for token in (emu.bot_token, emu.user_tokens[s.user_id]):
        for cookie in (None, _cookie(s), "d=garbage"):
            assert (await _call(api, emu, "rtm.connect", token, cookie))["ok"] is True
    assert (await _call(api, emu, "auth.test", "xoxc-unknown", _cookie(s)))["ok"] is False


async def test_token_error_applies_to_browser_tokens(emu: Emulator, api: httpx.AsyncClient) -> None:
    s = emu.browser_session(_alice(emu))
    emu.set_token_error(s.token, "account_inactive")
    body = await _call(api, emu, "rtm.connect", s.token, _cookie(s))
    assert body == {"ok": False, "error": "account_inactive"}


# -- the WebSocket leg ------------------------------------------------------------------------


async def test_upgrade_needs_the_cookie_too(
    emu: Emulator, api: httpx.AsyncClient, http: aiohttp.ClientSession
) -> None:
    s = emu.browser_session(_alice(emu), d_s="1700000000")
    cookie = _cookie(s, d_s="1700000000")
    refused = [
        None,
        f"d={_enc(s.cookie)}",  # no d-s
        f"d={s.cookie}; d-s=1700000000",  # raw
    ]
    for sent in refused:
        url = (await _call(api, emu, "rtm.connect", s.token, cookie))["url"]
        frames, code = await _first_frames(http, url, {"Cookie": sent} if sent else None)
        assert frames == [UNAUTHORIZED_EVENT]
        assert frames[0]["error"]["code"] == 401
        assert "invalid_auth" in frames[0]["error"]["msg"]
        assert code == 1008
    assert emu.connection_count == 0
    url = (await _call(api, emu, "rtm.connect", s.token, cookie))["url"]
    headers = {"Cookie": cookie, "Origin": ORIGIN, "User-Agent": UA}
    async with http.ws_connect(url, headers=headers) as ws:
        assert await ws.receive_json(timeout=5) == HELLO
        await emu.wait_connections(1)
        assert emu.connections[0].user.id == s.user_id
    ups = emu.upgrades
    assert [u.outcome for u in ups] == ["invalid_auth"] * 3 + ["hello"]
    assert ups[0] == Upgrade(s.user_id, "invalid_auth", False, None, None, ups[0].user_agent)
    assert ups[-1] == Upgrade(s.user_id, "hello", False, cookie, ORIGIN, UA)
    assert all(url.rsplit("/", 1)[1] not in repr(u) for u in ups)


async def test_ticket_used_up_by_a_refused_upgrade(
    emu: Emulator, api: httpx.AsyncClient, http: aiohttp.ClientSession
) -> None:
    s = emu.browser_session(_alice(emu))
    url = (await _call(api, emu, "rtm.connect", s.token, _cookie(s)))["url"]
    assert (await _first_frames(http, url))[0] == [UNAUTHORIZED_EVENT]
    assert (await _first_frames(http, url, {"Cookie": _cookie(s)}))[0] == [EXPIRED]
    assert [u.outcome for u in emu.upgrades] == ["invalid_auth", "expired"]
    assert emu.upgrades[1].user_id is None


async def test_plain_tokens_upgrade_without_cookies(emu: Emulator, open_rtm: Any) -> None:
    await open_rtm(emu)
    assert emu.upgrades[0].outcome == "hello"
    assert emu.upgrades[0].cookie is None


async def test_browser_session_sends_and_receives(
    emu: Emulator, api: httpx.AsyncClient, http: aiohttp.ClientSession, open_rtm: Any
) -> None:
    s = emu.browser_session(_alice(emu))
    general = emu.general_channel_id
    bot = await open_rtm(emu)
    url = (await _call(api, emu, "rtm.connect", s.token, _cookie(s)))["url"]
    async with http.ws_connect(url, headers={"Cookie": _cookie(s)}) as ws:
        assert await ws.receive_json(timeout=5) == HELLO
        await ws.send_json({"id": 1, "type": "message", "channel": general, "text": "from web"})
        ack = await ws.receive_json(timeout=5)
        assert ack["ok"] is True
        assert ack["reply_to"] == 1
        event = await bot.recv_until(lambda d: d.get("type") == "message")
        assert (event["user"], event["text"]) == (s.user_id, "from web")
        await bot.send({"type": "message", "channel": general, "text": "to web"})
        while (got := await ws.receive_json(timeout=5)).get("type") != "message":
            pass
        assert (got["user"], got["text"]) == (emu.bot_user_id, "to web")
        bob = next(u.id for u in emu.workspace.people if u.name == "bob")
        await ws.send_json({"type": "presence_query", "ids": [bob]})
        assert await ws.receive_json(timeout=5) == {
            "type": "presence_change", "user": bob, "presence": "active"
        }  # fmt: skip


# -- refuse_next_sockets ----------------------------------------------------------------------


async def test_refuse_next_sockets_before_and_after_hello(
    emu: Emulator, http: aiohttp.ClientSession, rtm_connect: Any
) -> None:
    emu.refuse_next_sockets(1)
    emu.refuse_next_sockets(1, after_hello=True)
    emu.refuse_next_sockets(0)
    assert emu.state()["refuse_next_sockets"] == 2
    bad = await rtm_connect(emu, emu.bot_token)
    async with http.ws_connect(bad["url"] + "x") as ws:  # an unknown ticket does not consume
        assert await ws.receive_json(timeout=5) == EXPIRED
    assert emu.state()["refuse_next_sockets"] == 2
    for expected in ([UNAUTHORIZED_EVENT], [HELLO, UNAUTHORIZED_EVENT]):
        url = (await rtm_connect(emu, emu.bot_token))["url"]
        assert await _first_frames(http, url) == (expected, 1008)
    assert emu.state()["refuse_next_sockets"] == 0
    assert emu.connection_count == 0
    url = (await rtm_connect(emu, emu.bot_token))["url"]
    async with http.ws_connect(url) as ws:
        assert await ws.receive_json(timeout=5) == HELLO
        await emu.wait_connections(1)
    outcomes = [u.outcome for u in emu.upgrades]
    assert outcomes == ["expired", "refused", "refused_after_hello", "hello"]


@pytest.mark.parametrize(
    ("args", "kwargs", "exc"),
    [((-1,), {}, ValueError), ((1.0,), {}, ValueError), ((1,), {"after_hello": 1}, TypeError)],
)
async def test_refuse_next_sockets_bad_arguments(
    emu: Emulator, args: tuple[Any, ...], kwargs: dict[str, Any], exc: type[Exception]
) -> None:
    with pytest.raises(exc):
        emu.refuse_next_sockets(*args, **kwargs)
    assert emu.state()["refuse_next_sockets"] == 0


# -- HTTP control and twins -------------------------------------------------------------------


async def test_http_controls(
    emu: Emulator, api: httpx.AsyncClient, http: aiohttp.ClientSession
) -> None:
    alice = _alice(emu)
    r = await api.post(f"{emu.control_url}/browser_session", json={"user_id": alice, "d_s": "17"})
    body = r.json()
    s = emu.browser_session(alice, d_s="17")
    assert body == {"ok": True, "user_id": alice, "token": s.token, "cookie": s.cookie, "d_s": "17"}
    r = await api.post(f"{emu.control_url}/browser_session", json={"user_id": emu.bot_user_id})
    assert r.status_code == 400
    assert "bot" in r.json()["error"]
    r = await api.post(f"{emu.control_url}/refuse_next_sockets", json={"n": 1, "after_hello": True})
    assert r.json() == {"ok": True}
    assert emu.state()["refuse_next_sockets"] == 1
    for bad in ({}, {"n": -1}, {"n": 1, "after_hello": "yes"}):
        r = await api.post(f"{emu.control_url}/refuse_next_sockets", json=bad)
        assert r.status_code == 400, bad
    cookie = _cookie(s, d_s="17")
    url = (await _call(api, emu, "rtm.connect", s.token, cookie))["url"]
    frames, _ = await _first_frames(http, url, {"Cookie": cookie, "Origin": ORIGIN})
    assert frames == [HELLO, UNAUTHORIZED_EVENT]
    r = await api.get(f"{emu.control_url}/upgrades")
    assert r.json() == {
        "ok": True,
        "count": 1,
        "upgrades": [
            {
                "user_id": alice, "outcome": "refused_after_hello", "resume": False,
                "cookie": cookie, "origin": ORIGIN,
                "user_agent": emu.upgrades[0].user_agent,
            }
        ],
    }  # fmt: skip
    assert (await api.get(f"{emu.control_url}/upgrades?since=1")).json()["upgrades"] == []
    assert (await api.get(f"{emu.control_url}/upgrades?since=x")).status_code == 400
    log = (await api.get(f"{emu.control_url}/connect_log")).json()["calls"]
    assert (log[-1]["cookie"], log[-1]["user_agent"]) == (cookie, UA)


def test_thread_twins() -> None:
    with EmulatorThread(reconnect_url_interval=None) as emu:
        alice = next(u.id for u in emu.workspace.people if u.name == "alice")
        s = emu.browser_session(alice, d_s="5")
        assert s == emu.emulator.browser_session(alice, d_s="5")
        emu.refuse_next_sockets(2, after_hello=True)
        assert emu.state()["refuse_next_sockets"] == 2
        assert emu.upgrades == []
        assert emu.resumes == 0
        with httpx.Client(timeout=5) as client:
            headers = {"Authorization": f"Bearer {s.token}", "Cookie": _cookie(s, d_s="5")}
            assert client.post(f"{emu.api_url}/auth.test", headers=headers).json()["ok"]


async def test_aio_twins() -> None:
    with EmulatorThread(reconnect_url_interval=None) as emu:
        alice = next(u.id for u in emu.workspace.people if u.name == "alice")
        s = await emu.aio.browser_session(alice)
        assert s.user_id == alice
        assert s.d_s is None
        await emu.aio.refuse_next_sockets(1)
        assert emu.state()["refuse_next_sockets"] == 1
        with pytest.raises(ValueError, match="n must be"):
            await emu.aio.refuse_next_sockets(-1)


def test_records_keep_the_cookie_out_of_their_repr() -> None:
    from slack_rtm.emulator import ConnectCall

    secret = "d=xoxd-SECRET%2Fx"
    upgrade = Upgrade("U1", "hello", False, secret, ORIGIN, UA)
    call = ConnectCall("U1", 200, True, None, {"x": "1"}, secret, UA)
    for record in (upgrade, call):
        text = repr(record)
        assert "SECRET" not in text
        assert "cookie=<redacted>" in text
        assert UA in text
    assert "cookie=None" in repr(Upgrade(None, "expired"))
    assert "cookie=None" in repr(ConnectCall(None, 200, False))
