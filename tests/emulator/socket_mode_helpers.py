"""A bare Socket Mode client over aiohttp for the emulator's Socket Mode tests."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from slack_rtm.emulator import Emulator

TIMEOUT = 5.0
ACK = 0.3  # the emulator's ack_timeout in these tests


async def connections_open(
    http: aiohttp.ClientSession, emu: Emulator, token: str | None = None, **params: str
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token or emu.app_token}"}
    async with http.post(emu.api_url + "/apps.connections.open", headers=headers, data=params) as r:
        body: dict[str, Any] = await r.json()
        return r.status, body


class Sm:
    """A bare Socket Mode client over aiohttp."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, hello: dict[str, Any]) -> None:
        self.ws = ws
        self.hello = hello

    async def recv(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        msg = await asyncio.wait_for(self.ws.receive(), timeout)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data: dict[str, Any] = msg.json()
        return data

    async def ack(self, envelope: dict[str, Any], payload: dict[str, Any] | None = None) -> None:
        frame: dict[str, Any] = {"envelope_id": envelope["envelope_id"]}
        if payload is not None:
            frame["payload"] = payload
        await self.ws.send_json(frame)

    async def expect_nothing(self, wait: float = 0.2) -> None:
        try:
            data = await asyncio.wait_for(self.ws.receive(), wait)
        except asyncio.TimeoutError:
            return
        pytest.fail(f"unexpected frame {data}")


async def open_sm(http: aiohttp.ClientSession, emu: Emulator, **kw: Any) -> Sm:
    status, body = await connections_open(http, emu)
    assert (status, body["ok"]) == (200, True), body
    ws = await http.ws_connect(body["url"], autoping=kw.get("autoping", True))
    sm = Sm(ws, {})
    sm.hello = await sm.recv()
    assert sm.hello["type"] == "hello"
    return sm
