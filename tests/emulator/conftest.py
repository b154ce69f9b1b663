"""Helpers for the emulator tests: a started Emulator and a raw aiohttp RTM client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from slack_rtm.emulator import Emulator

TIMEOUT = 5.0


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(write_rate=None) as e:
        yield e


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


class Rtm:
    """A bare RTM client over aiohttp: rtm.connect then the socket, with JSON helpers."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, body: dict[str, Any]) -> None:
        self.ws = ws
        self.body = body
        self._id = 0

    async def recv(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        msg = await asyncio.wait_for(self.ws.receive(), timeout)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data: dict[str, Any] = msg.json()
        return data

    async def recv_until(self, pred: Any, timeout: float = TIMEOUT) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            data = await self.recv(max(0.01, deadline - loop.time()))
            if pred(data):
                return data

    async def send(self, frame: dict[str, Any]) -> int:
        if "id" not in frame:
            self._id += 1
            frame = {"id": self._id, **frame}
        await self.ws.send_json(frame)
        return int(frame["id"])

    async def expect_nothing(self, wait: float = 0.2) -> None:
        try:
            data = await asyncio.wait_for(self.ws.receive(), wait)
        except asyncio.TimeoutError:
            return
        pytest.fail(f"unexpected frame {data}")


async def _rtm_connect(
    http: aiohttp.ClientSession, emu: Emulator, token: str, **params: str
) -> dict[str, Any]:
    async with http.post(
        emu.api_url + "/rtm.connect",
        headers={"Authorization": f"Bearer {token}"},
        data=params,
    ) as r:
        body: dict[str, Any] = await r.json()
        return body


async def _open_rtm(
    http: aiohttp.ClientSession, emu: Emulator, token: str | None = None, **params: str
) -> Rtm:
    body = await _rtm_connect(http, emu, token or emu.bot_token, **params)
    assert body["ok"] is True, body
    ws = await http.ws_connect(body["url"], autoping=False)
    rtm = Rtm(ws, body)
    assert await rtm.recv() == {"type": "hello"}
    return rtm


@pytest.fixture
def rtm_connect(http: aiohttp.ClientSession) -> Any:
    """``await rtm_connect(emu, token, **params)`` -> the rtm.connect JSON body."""

    async def call(emu: Emulator, token: str, **params: str) -> dict[str, Any]:
        return await _rtm_connect(http, emu, token, **params)

    return call


@pytest.fixture
def open_rtm(http: aiohttp.ClientSession) -> Any:
    """``await open_rtm(emu, token=None, **params)`` -> an Rtm past its hello."""

    async def call(emu: Emulator, token: str | None = None, **params: str) -> Rtm:
        return await _open_rtm(http, emu, token, **params)

    return call
