"""reconnect_url events and resume tickets (PROTOCOL §3.7) over real sockets."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import aiohttp
import httpx
import pytest

from slack_rtm.emulator import Emulator, EmulatorThread
from slack_rtm.emulator.browser import UNAUTHORIZED_EVENT
from slack_rtm.emulator.resume import RECENT_KEPT

HELLO = {"type": "hello"}
RESUMED = {"type": "hello", "fast_reconnect": True}
EXPIRED = {"type": "error", "error": {"code": 1, "msg": "Socket URL has expired"}}
FAST = 0.05  # seconds between reconnect_url events in these tests


async def _connect(http: aiohttp.ClientSession, emu: Emulator, token: str, **params: str) -> str:
    async with http.post(
        emu.api_url + "/rtm.connect", headers={"Authorization": f"Bearer {token}"}, data=params
    ) as r:
        body = await r.json()
    assert body["ok"] is True, body
    url: str = body["url"]
    return url


async def _next_reconnect_url(ws: Any, timeout: float = 5.0) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        data = await ws.receive_json(timeout=max(0.01, deadline - loop.time()))
        if data.get("type") == "reconnect_url":
            assert set(data) == {"type", "url"}
            url: str = data["url"]
            return url


async def _frames_until_close(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[list[Any], Any]:
    frames: list[Any] = []
    async with http.ws_connect(url, headers=headers or {}) as ws:
        while True:
            msg = await ws.receive(timeout=5)
            if msg.type != aiohttp.WSMsgType.TEXT:
                return frames, msg.data
            frames.append(msg.json())


async def test_first_event_about_a_second_after_hello_by_default(
    http: aiohttp.ClientSession,
) -> None:
    async with Emulator() as emu:
        assert emu.state()["reconnect_url_interval"] == 3.0
        assert emu.state()["reconnect_url_ttl"] == 60.0
        url = await _connect(http, emu, emu.bot_token)
        async with http.ws_connect(url) as ws:
            assert await ws.receive_json(timeout=5) == HELLO
            start = time.monotonic()
            resume = await _next_reconnect_url(ws, 3.0)
            assert 0.8 <= time.monotonic() - start < 2.0
            assert resume.startswith(f"ws://127.0.0.1:{emu.port}/websocket/")
            assert resume != url


async def test_events_repeat_and_resume_skips_rtm_connect(http: aiohttp.ClientSession) -> None:
    async with Emulator(reconnect_url_interval=FAST) as emu:
        url = await _connect(http, emu, emu.bot_token)
        async with http.ws_connect(url) as ws:
            assert await ws.receive_json(timeout=5) == HELLO
            first = await _next_reconnect_url(ws)
            second = await _next_reconnect_url(ws)
            assert first != second
        assert emu.connect_calls == 1
        async with http.ws_connect(second) as ws:
            assert await ws.receive_json(timeout=5) == RESUMED
            await emu.wait_connections(1)
            assert emu.resumes == 1
            assert emu.state()["resumes"] == 1
            again = await _next_reconnect_url(ws)  # a resumed connection gets them too
        assert emu.connect_calls == 1
        assert (await _frames_until_close(http, second)) == ([EXPIRED], 1008)  # single use
        async with http.ws_connect(again) as ws:  # a resume of a resume
            assert await ws.receive_json(timeout=5) == RESUMED
        assert emu.resumes == 2
        assert emu.connect_calls == 1
        ups = emu.upgrades
        assert [(u.outcome, u.resume) for u in ups] == [
            ("hello", False), ("hello", True), ("expired", False), ("hello", True)
        ]  # fmt: skip


async def test_host_is_the_one_the_client_used(http: aiohttp.ClientSession) -> None:
    async with Emulator(reconnect_url_interval=FAST) as emu:
        url = await _connect(http, emu, emu.bot_token)
        async with http.ws_connect(url, headers={"Host": f"emulator.test:{emu.port}"}) as ws:
            assert await ws.receive_json(timeout=5) == HELLO
            resume = await _next_reconnect_url(ws)
            assert resume.startswith(f"ws://emulator.test:{emu.port}/websocket/")


async def test_resume_keeps_the_options(http: aiohttp.ClientSession) -> None:
    async with Emulator(reconnect_url_interval=FAST) as emu:
        alice = next(u for u in emu.workspace.people if u.name == "alice")
        url = await _connect(http, emu, alice.token, batch_presence_aware="1", presence_sub="1")
        async with http.ws_connect(url) as ws:
            assert await ws.receive_json(timeout=5) == HELLO
            resume = await _next_reconnect_url(ws)
        async with http.ws_connect(resume) as ws:
            assert await ws.receive_json(timeout=5) == RESUMED
            await emu.wait_connections(1)
            conn = emu.connections[0]
            assert (conn.user.id, conn.batch_presence_aware, conn.presence_sub) == (
                alice.id, True, True
            )  # fmt: skip
            await ws.send_json({"type": "presence_query", "ids": [emu.bot_user_id]})
            event = await ws.receive_json(timeout=5)
            while event["type"] == "reconnect_url":
                event = await ws.receive_json(timeout=5)
            assert event == {
                "type": "presence_change", "users": [emu.bot_user_id], "presence": "active"
            }  # fmt: skip


async def test_browser_session_resume_needs_the_cookie(http: aiohttp.ClientSession) -> None:
    async with Emulator(reconnect_url_interval=FAST) as emu:
        alice = next(u.id for u in emu.workspace.people if u.name == "alice")
        s = emu.browser_session(alice)
        cookie = {"Cookie": f"d={quote(s.cookie, safe='')}"}
        async with httpx.AsyncClient() as api:
            r = await api.post(
                emu.api_url + "/rtm.connect",
                headers={"Authorization": f"Bearer {s.token}", **cookie},
            )
        url = r.json()["url"]
        async with http.ws_connect(url, headers=cookie) as ws:
            assert await ws.receive_json(timeout=5) == HELLO
            first = await _next_reconnect_url(ws)
            second = await _next_reconnect_url(ws)
        assert await _frames_until_close(http, first) == ([UNAUTHORIZED_EVENT], 1008)
        async with http.ws_connect(second, headers=cookie) as ws:
            assert await ws.receive_json(timeout=5) == RESUMED
        assert emu.resumes == 1


async def test_expire_reconnect_urls(http: aiohttp.ClientSession) -> None:
    async with Emulator(reconnect_url_interval=FAST) as emu:
        url = await _connect(http, emu, emu.bot_token)
        async with http.ws_connect(url) as ws:
            assert await ws.receive_json(timeout=5) == HELLO
            resume = await _next_reconnect_url(ws)
            emu.set_reconnect_urls(False)
            assert emu.state()["reconnect_urls_outstanding"] >= 1
            assert emu.expire_reconnect_urls() >= 1
            assert emu.state()["reconnect_urls_outstanding"] == 0
            assert emu.expire_reconnect_urls() == 0
        assert await _frames_until_close(http, resume) == ([EXPIRED], 1008)
        assert emu.resumes == 0


async def test_resume_tickets_expire_after_the_ttl(http: aiohttp.ClientSession) -> None:
    async with Emulator(reconnect_url_interval=FAST, reconnect_url_ttl=0.1) as emu:
        url = await _connect(http, emu, emu.bot_token)
        async with http.ws_connect(url) as ws:
            assert await ws.receive_json(timeout=5) == HELLO
            resume = await _next_reconnect_url(ws)
            emu.set_reconnect_urls(False)
        await asyncio.sleep(0.15)
        assert emu.state()["reconnect_urls_outstanding"] >= 1
        emu.set_reconnect_urls(False)  # prunes the expired tickets
        assert emu.state()["reconnect_urls_outstanding"] == 0
        assert await _frames_until_close(http, resume) == ([EXPIRED], 1008)


async def test_a_newer_event_supersedes_the_oldest(http: aiohttp.ClientSession) -> None:
    async with Emulator(reconnect_url_interval=FAST) as emu:
        url = await _connect(http, emu, emu.bot_token)
        async with http.ws_connect(url) as ws:
            assert await ws.receive_json(timeout=5) == HELLO
            urls = [await _next_reconnect_url(ws) for _ in range(RECENT_KEPT + 1)]
            emu.set_reconnect_urls(False)
            assert emu.state()["reconnect_urls_outstanding"] <= RECENT_KEPT
        assert await _frames_until_close(http, urls[0]) == ([EXPIRED], 1008)
        async with http.ws_connect(urls[-2]) as ws:
            assert await ws.receive_json(timeout=5) == RESUMED


async def test_turning_them_off_and_on(emu: Emulator, open_rtm: Any) -> None:
    emu.set_reconnect_urls(True, FAST)
    rtm = await open_rtm(emu)
    assert (await rtm.recv())["type"] == "reconnect_url"
    emu.set_reconnect_urls(False)
    assert emu.state()["reconnect_url_interval"] is None
    while True:  # drain one that may have been written just before
        try:
            await rtm.recv(0.05)
        except asyncio.TimeoutError:
            break
    await rtm.expect_nothing(0.3)
    emu.set_reconnect_urls(True)  # the last interval set applies again
    assert emu.state()["reconnect_url_interval"] == FAST
    assert (await rtm.recv())["type"] == "reconnect_url"
    off = Emulator(reconnect_url_interval=None)
    assert off.state()["reconnect_url_interval"] is None


async def test_off_by_argument_sends_none(http: aiohttp.ClientSession) -> None:
    async with Emulator(reconnect_url_interval=None) as emu:
        url = await _connect(http, emu, emu.bot_token)
        async with http.ws_connect(url) as ws:
            assert await ws.receive_json(timeout=5) == HELLO
            with pytest.raises(asyncio.TimeoutError):
                await ws.receive(timeout=0.3)
        emu.set_reconnect_urls(True, FAST)  # with none given before, 3.0 would apply
        assert emu.state()["reconnect_url_interval"] == FAST


async def test_one_timer_for_many_connections(http: aiohttp.ClientSession) -> None:
    async with Emulator(reconnect_url_interval=None) as emu:
        sockets = []
        for _ in range(20):
            ws = await http.ws_connect(await _connect(http, emu, emu.bot_token))
            assert await ws.receive_json(timeout=5) == HELLO
            sockets.append(ws)
        tasks = len(asyncio.all_tasks())
        emu.set_reconnect_urls(True, FAST)
        for ws in sockets:
            await _next_reconnect_url(ws)
            await _next_reconnect_url(ws)
        assert len(asyncio.all_tasks()) == tasks  # no task per connection or per event
        assert len(emu._resume_heap) == len(sockets)  # one entry each, under one timer
        assert emu._resume_timer is not None
        assert emu.state()["reconnect_urls_outstanding"] <= RECENT_KEPT * len(sockets)
        for ws in sockets:
            await ws.close()
        await emu.wait_connections(0)
    assert emu._resume_timer is None
    assert emu._resume_heap == []


async def test_frames_keep_coming_during_a_firehose(emu: Emulator, open_rtm: Any) -> None:
    emu.set_reconnect_urls(True, 0.01)
    rtm = await open_rtm(emu)
    assert await emu.firehose(2000) == 2000
    types: dict[str, int] = {}
    while types.get("message", 0) < 2000:
        kind = (await rtm.recv())["type"]
        types[kind] = types.get(kind, 0) + 1
    assert set(types) <= {"message", "reconnect_url"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"reconnect_url_interval": 0}, "reconnect_url_interval"),
        ({"reconnect_url_interval": "3"}, "reconnect_url_interval"),
        ({"reconnect_url_ttl": -1}, "reconnect_url_ttl"),
        ({"reconnect_url_ttl": None}, "reconnect_url_ttl"),
    ],
)
def test_constructor_arguments_checked(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Emulator(**kwargs)


async def test_set_reconnect_urls_arguments_checked(emu: Emulator) -> None:
    with pytest.raises(TypeError, match="enabled"):
        emu.set_reconnect_urls(1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="interval"):
        emu.set_reconnect_urls(True, 0.001)
    assert emu.state()["reconnect_url_interval"] == 3.0


async def test_http_controls(http: aiohttp.ClientSession) -> None:
    async with Emulator() as emu:
        control = emu.control_url
        async with http.post(
            f"{control}/set_reconnect_urls", json={"enabled": True, "interval": FAST}
        ) as r:
            assert await r.json() == {"ok": True}
        url = await _connect(http, emu, emu.bot_token)
        async with http.ws_connect(url) as ws:
            assert await ws.receive_json(timeout=5) == HELLO
            resume = await _next_reconnect_url(ws)
            async with http.post(f"{control}/set_reconnect_urls", json={"enabled": False}) as r:
                assert await r.json() == {"ok": True}
            async with http.post(f"{control}/expire_reconnect_urls") as r:
                body = await r.json()
            assert body["ok"] is True
            assert body["expired"] >= 1
        assert await _frames_until_close(http, resume) == ([EXPIRED], 1008)
        async with http.get(f"{control}/state") as r:
            state = await r.json()
        assert (state["reconnect_url_interval"], state["resumes"]) == (None, 0)
        for bad in ({}, {"enabled": "yes"}, {"enabled": True, "interval": 0}):
            async with http.post(f"{control}/set_reconnect_urls", json=bad) as r:
                assert r.status == 400, bad


def test_thread_twins() -> None:
    with EmulatorThread(reconnect_url_interval=None) as emu:
        emu.set_reconnect_urls(True, FAST)
        assert emu.state()["reconnect_url_interval"] == FAST

        async def resume_once() -> None:
            async with aiohttp.ClientSession() as http:
                url = await _connect(http, emu.emulator, emu.bot_token)
                async with http.ws_connect(url) as ws:
                    assert await ws.receive_json(timeout=5) == HELLO
                    resume = await _next_reconnect_url(ws)
                async with http.ws_connect(resume) as ws:
                    assert await ws.receive_json(timeout=5) == RESUMED
                    resume = await _next_reconnect_url(ws)
                emu.set_reconnect_urls(False)
                assert emu.expire_reconnect_urls() >= 1
                assert (await _frames_until_close(http, resume))[0] == [EXPIRED]

        asyncio.run(resume_once())
        assert emu.resumes == 1
        assert [u.resume for u in emu.upgrades] == [False, True, False]


async def test_aio_twins() -> None:
    with EmulatorThread(reconnect_url_interval=None) as emu:
        await emu.aio.set_reconnect_urls(True, 1.5)
        assert emu.state()["reconnect_url_interval"] == 1.5
        await emu.aio.set_reconnect_urls(False)
        assert emu.state()["reconnect_url_interval"] is None
        assert await emu.aio.expire_reconnect_urls() == 0
        with pytest.raises(ValueError, match="interval"):
            await emu.aio.set_reconnect_urls(True, -1)
