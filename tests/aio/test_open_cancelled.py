"""A socket whose opening is cancelled during the handshake (the session closed meanwhile) is
dropped, never leaked: picows itself leaves the TCP connection open in that case."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest
from aiohttp import web

from slack_rtm.aio.transport import RtmListener, open_websocket


async def test_a_cancelled_opening_drops_the_connection_it_made() -> None:
    accepted = asyncio.Event()
    closed = asyncio.Event()
    heard: list[str] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        accepted.set()
        await asyncio.sleep(0.3)  # the handshake's answer comes late
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str('{"type":"hello"}')
        async for _ in ws:
            pass
        closed.set()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    listener = RtmListener(
        1, lambda *a: heard.append("frames"), lambda *a: heard.append("messages"),
        lambda *a: heard.append("reply"), lambda: None,
        lambda *a: heard.append("connected"), lambda *a: heard.append("disconnected"),
        asyncio.get_running_loop().time,
    )
    opening = asyncio.ensure_future(open_websocket(
        listener, f"ws://127.0.0.1:{port}/ws", ssl=None, proxy=None, timeout=5.0,
        read_buffer_size=1024, logger=logging.getLogger("tests.open_cancelled")))
    await asyncio.wait_for(accepted.wait(), 5)
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await opening
    await asyncio.wait_for(closed.wait(), 5)  # the server saw the connection go
    assert heard == []  # the abandoned listener told nobody
    gc.collect()  # an unclosed transport would warn here (warnings are errors)
    await runner.cleanup()
