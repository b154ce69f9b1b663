"""expire_next_urls() and issued_urls over real sockets: Python, thread and .aio twins."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import aiohttp
import pytest

from slack_rtm.emulator import Emulator, EmulatorThread

EXPIRED = {"type": "error", "error": {"code": 1, "msg": "Socket URL has expired"}}


async def _open(http: aiohttp.ClientSession, url: str) -> tuple[Any, Any]:
    """The first frame and the next message of a WebSocket opened on ``url``."""
    async with http.ws_connect(url) as ws:
        first = await ws.receive_json(timeout=5)
        after = await ws.receive(timeout=5)
        return first, after


async def test_expire_next_urls_expires_exactly_n(
    emu: Emulator, http: aiohttp.ClientSession, rtm_connect: Any
) -> None:
    emu.expire_next_urls(2)
    emu.expire_next_urls(0)  # changes nothing
    assert emu.state()["expire_next_urls"] == 2
    for _ in range(2):
        body = await rtm_connect(emu, emu.bot_token)
        assert body["ok"] is True  # rtm.connect itself succeeds; the URL is dead on arrival
        first, after = await _open(http, body["url"])
        assert first == EXPIRED
        assert after.type == aiohttp.WSMsgType.CLOSE
        assert after.data == 1008
    assert emu.connection_count == 0
    body = await rtm_connect(emu, emu.bot_token)
    async with http.ws_connect(body["url"]) as ws:  # the third URL is fine again
        assert await ws.receive_json(timeout=5) == {"type": "hello"}
        await emu.wait_connections(1)
    assert emu.state()["expire_next_urls"] == 0


async def test_expire_default_is_one_and_failed_connects_do_not_count(
    emu: Emulator, http: aiohttp.ClientSession, rtm_connect: Any
) -> None:
    emu.fail_next_connects(1)
    emu.expire_next_urls()
    assert (await rtm_connect(emu, emu.bot_token))["ok"] is False  # no URL handed out
    assert (await rtm_connect(emu, "xoxb-wrong"))["error"] == "invalid_auth"
    body = await rtm_connect(emu, emu.bot_token)
    assert (await _open(http, body["url"]))[0] == EXPIRED
    body = await rtm_connect(emu, emu.bot_token)
    async with http.ws_connect(body["url"]) as ws:
        assert await ws.receive_json(timeout=5) == {"type": "hello"}


@pytest.mark.parametrize("n", [-1, 1.5, "1", True, None])
async def test_expire_next_urls_rejects_bad_n(emu: Emulator, n: Any) -> None:
    with pytest.raises(ValueError, match="n must be"):
        emu.expire_next_urls(n)
    assert emu.state()["expire_next_urls"] == 0


async def test_issued_urls_lists_every_url_handed_out(
    emu: Emulator, http: aiohttp.ClientSession, rtm_connect: Any
) -> None:
    assert emu.issued_urls == []
    first = await rtm_connect(emu, emu.bot_token)
    alice_token = next(iter(emu.user_tokens.values()))
    second = await rtm_connect(emu, alice_token, batch_presence_aware="1")
    await rtm_connect(emu, "xoxb-wrong")  # failed: no URL
    emu.fail_next_connects(1)
    await rtm_connect(emu, emu.bot_token)  # failed: no URL
    urls = emu.issued_urls
    assert urls == [first["url"], second["url"]]
    assert all(u.startswith(f"ws://127.0.0.1:{emu.port}/websocket/") for u in urls)
    urls.clear()  # a copy: the emulator's own record is untouched
    assert len(emu.issued_urls) == 2
    async with http.ws_connect(first["url"]) as ws:  # used URLs stay listed
        assert await ws.receive_json(timeout=5) == {"type": "hello"}
    assert emu.issued_urls[0] == first["url"]
    assert emu.state()["issued_url_count"] == 2


async def test_issued_urls_keeps_the_most_recent(
    emu: Emulator, rtm_connect: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emu, "_issued_urls", deque(maxlen=2))
    bodies = [await rtm_connect(emu, emu.bot_token) for _ in range(3)]
    assert emu.issued_urls == [bodies[1]["url"], bodies[2]["url"]]


def test_thread_twins() -> None:
    with EmulatorThread() as emu:
        headers = {"Authorization": f"Bearer {emu.bot_token}"}

        async def client() -> list[Any]:
            got = []
            async with aiohttp.ClientSession() as http:
                await emu.aio.expire_next_urls(1)
                for _ in range(2):
                    async with http.post(emu.api_url + "/rtm.connect", headers=headers) as r:
                        url = (await r.json())["url"]
                    async with http.ws_connect(url) as ws:
                        got.append(await ws.receive_json(timeout=5))
            return got

        emu.expire_next_urls(1)
        assert asyncio.run(client()) == [EXPIRED, EXPIRED]  # one from each twin
        assert asyncio.run(client()) == [EXPIRED, {"type": "hello"}]  # only the .aio one now
        assert len(emu.issued_urls) == 4
        with pytest.raises(ValueError, match="n must be"):
            emu.expire_next_urls(-1)


def test_aio_twins_of_the_connect_and_record_controls() -> None:
    with EmulatorThread() as emu:
        headers = {"Authorization": f"Bearer {emu.bot_token}"}

        async def scenario() -> list[Any]:
            out = []
            async with aiohttp.ClientSession() as http:

                async def connect() -> Any:
                    async with http.post(emu.api_url + "/rtm.connect", headers=headers) as r:
                        return r.status, (await r.json()).get("error")

                await emu.aio.fail_next_connects(1, "fatal_error")
                out.append(await connect())
                await emu.aio.rate_limit_next_connects(1, retry_after=3)
                out.append(await connect())
                await emu.aio.set_token_error(emu.bot_token, "account_inactive")
                out.append(await connect())
                await emu.aio.set_token_error(emu.bot_token, None)
                await emu.aio.set_connect_rate_limit(1, emu.bot_token)
                out.append(await connect())
                out.append(await connect())
                await emu.aio.set_connect_rate_limit(None, emu.bot_token)
                out.append(await connect())
                await emu.aio.set_pong(False)
                out.append(emu.emulator.pong_enabled)
                await emu.aio.set_pong(True)
                async with http.post(emu.api_url + "/rtm.connect", headers=headers) as r:
                    url = (await r.json())["url"]
                async with http.ws_connect(url) as ws:
                    await ws.receive_json(timeout=5)  # hello
                    await ws.send_json({"type": "ping", "id": 1})
                    await emu.aio.wait_for_frame(lambda f: f.data is not None)
                    out.append(len(emu.received))
                    await emu.aio.clear_received()
                    out.append(len(emu.received))
                    await emu.aio.prepare_firehose(2)
                    out.append(await emu.aio.firehose(2))
                with pytest.raises(ValueError, match="n must be"):
                    await emu.aio.prepare_firehose(-1)
            return out

        assert asyncio.run(scenario()) == [
            (200, "fatal_error"),
            (429, "ratelimited"),
            (200, "account_inactive"),
            (200, None),
            (429, "ratelimited"),
            (200, None),
            False,
            1,
            0,
            2,
        ]
        emu.wait_connections(0)
        emu.prepare_firehose(1)  # the blocking twin
        assert emu.firehose(1) == 0  # no socket is open any more
