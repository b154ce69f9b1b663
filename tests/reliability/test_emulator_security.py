"""The emulator's security promises (issue 7 §5): loopback only by default, wrong tokens refused,
single-use and expiring WebSocket URLs, and no token or URL in its logs; plus its robustness to a
hostile frame.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest

from slack_rtm.emulator import Emulator
from slack_rtm.errors import RtmConnectErrorSchemaError

from .leakcheck import LeakCheck
from .twins import connect_async


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


async def _ws_url(emu: Emulator) -> str:
    outcome = await connect_async(emu.api_url, emu.bot_token)
    assert outcome.response is not None, outcome.error
    return outcome.response.result.url


async def _frames(url: str, send: str | None = None, count: int = 2) -> list[Any]:
    """Open ``url``, optionally send one text frame, and return what arrives (up to ``count``)."""
    got: list[Any] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        if send is not None:
            await ws.receive(timeout=2.0)  # hello
            await ws.send_str(send)
        for _ in range(count):
            msg = await ws.receive(timeout=2.0)
            if msg.type == aiohttp.WSMsgType.TEXT:
                got.append(json.loads(msg.data))
            else:
                got.append((msg.type, msg.data))
                break
    return got


async def test_binds_loopback_only_by_default(emu: Emulator) -> None:
    assert emu.host == "127.0.0.1"
    _reader, writer = await asyncio.open_connection("127.0.0.1", emu.port)
    writer.close()
    await writer.wait_closed()
    # Bound to 0.0.0.0 it would answer on every 127.x address too; bound to 127.0.0.1 it won't.
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.2", emu.port)


async def test_wrong_token_is_refused(emu: Emulator) -> None:
    for token in ("xoxb-0000-wrong", emu.bot_token + "x", emu.bot_token[:-1]):
        outcome = await connect_async(emu.api_url, token)
        assert isinstance(outcome.error, RtmConnectErrorSchemaError)
        assert outcome.error.error == "invalid_auth"
        assert outcome.error.fatal


async def test_missing_token_is_refused(emu: Emulator) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(emu.api_url + "/rtm.connect")
    body = response.json()
    assert body["ok"] is False
    assert body["error"] in ("not_authed", "invalid_auth")


async def test_websocket_url_is_single_use(emu: Emulator) -> None:
    url = await _ws_url(emu)
    assert (await _frames(url, count=1))[0] == {"type": "hello"}
    again = await _frames(url)
    assert again[0] == {"type": "error", "error": {"code": 1, "msg": "Socket URL has expired"}}
    assert again[1][0] == aiohttp.WSMsgType.CLOSE


async def test_websocket_url_expires() -> None:
    async with Emulator(url_ttl=0.2) as emu:
        url = await _ws_url(emu)
        await asyncio.sleep(0.3)
        assert (await _frames(url))[0]["type"] == "error"


async def test_unknown_websocket_path_is_refused(emu: Emulator) -> None:
    url = await _ws_url(emu)
    forged = url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")
    assert (await _frames(forged))[0]["type"] == "error"
    assert (await _frames(url, count=1))[0] == {"type": "hello"}  # the real one still works


async def test_no_token_or_url_in_the_emulator_logs(emu: Emulator, leakcheck: LeakCheck) -> None:
    leakcheck.add_secret(emu.bot_token)
    for token in emu.user_tokens.values():
        leakcheck.add_secret(token)
    url = await _ws_url(emu)
    leakcheck.add_secret(url.rsplit("/", 1)[1])
    pong = await _frames(url, send=json.dumps({"id": 1, "type": "ping"}), count=1)
    assert pong[0]["type"] == "pong"
    await _frames(url)  # reused URL
    await connect_async(emu.api_url, "xoxb-0000-wrong")
    emu.set_token_error(emu.bot_token, "token_revoked")
    outcome = await connect_async(emu.api_url, emu.bot_token)
    assert isinstance(outcome.error, RtmConnectErrorSchemaError)
    leakcheck.see(outcome.error, emu)
    assert leakcheck.record_count > 0
    leakcheck.assert_clean()


async def test_deeply_nested_frame_does_not_crash_the_handler(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    url = await _ws_url(emu)
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        assert json.loads((await ws.receive(timeout=2.0)).data) == {"type": "hello"}
        await ws.send_str("[" * 5000 + "]" * 5000)
        await ws.send_str(json.dumps({"id": 7, "type": "ping"}))
        pong = await ws.receive(timeout=2.0)  # the socket survived the hostile frame
        assert pong.type == aiohttp.WSMsgType.TEXT
        assert json.loads(pong.data)["reply_to"] == 7
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [], [r.getMessage() for r in errors]
