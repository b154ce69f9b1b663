"""Ingest with bare WebSocket libraries: the loops a user could write by hand.

Each function connects to the URL ``rtm.connect`` returned, waits for ``hello``, calls
``on_hello()``, then decodes every frame fully (so no client does less work than ours) and calls
``count()`` for each, until ``count()`` returns True (the N-th event). ``bare picows + msgspec``
decodes into typed structs: it is the yardstick of the suite.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import msgspec

Count = Callable[[], bool]
OnHello = Callable[[], None]


class Hello(msgspec.Struct, tag_field="type", tag="hello"):
    """``{"type": "hello"}``."""


class Message(msgspec.Struct, tag_field="type", tag="message"):
    """A ``message`` event, the fields a bot reads, in the order Slack sends them."""

    channel: str = ""
    user: str = ""
    text: str = ""
    ts: str = ""
    event_ts: str = ""
    team: str = ""
    subtype: str | None = None
    thread_ts: str | None = None


async def picows_loop(url: str, on_hello: OnHello, count: Count, decode: Callable[[Any], Any],
                      check_hello: Callable[[Any], bool]) -> None:
    """One picows connection: decode each text frame straight from picows's buffer."""
    from picows import WSListener, WSMsgType, WSTransport, ws_connect

    done = asyncio.get_running_loop().create_future()
    text = WSMsgType.TEXT  # an enum member looked up once, compared by identity

    class Listener(WSListener):  # type: ignore[misc]
        hello = False

        def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
            if frame.msg_type is not text:
                return
            item = decode(frame.get_payload_as_memoryview())
            if not self.hello:
                if check_hello(item):
                    self.hello = True
                    on_hello()
                return
            if count() and not done.done():
                done.set_result(None)

        def on_ws_disconnected(self, transport: WSTransport) -> None:
            if not done.done():
                done.set_exception(ConnectionError("disconnected before the N-th event"))

    transport, _ = await ws_connect(Listener, url)
    try:
        await done
    finally:
        transport.disconnect()


async def picows_msgspec(url: str, on_hello: OnHello, count: Count) -> None:
    """Bare picows + msgspec decoding into a tagged union of typed structs (the yardstick)."""
    decoder = msgspec.json.Decoder(Hello | Message)
    await picows_loop(url, on_hello, count, decoder.decode, lambda ev: isinstance(ev, Hello))


async def picows_orjson(url: str, on_hello: OnHello, count: Count) -> None:
    """Bare picows + orjson into dicts."""
    import orjson

    def hello(ev: Any) -> bool:
        return isinstance(ev, dict) and ev.get("type") == "hello"

    await picows_loop(url, on_hello, count, orjson.loads, hello)


async def aiohttp_json(url: str, on_hello: OnHello, count: Count) -> None:
    """Bare aiohttp client WebSocket + the standard library's json."""
    import aiohttp

    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        first = json.loads(await ws.receive_str())
        if first.get("type") != "hello":
            raise RuntimeError(f"expected hello, got {first.get('type')!r}")
        on_hello()
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"unexpected frame {msg.type!r} before the N-th event")
            json.loads(msg.data)
            if count():
                return


async def websockets_json(url: str, on_hello: OnHello, count: Count) -> None:
    """Bare websockets (its asyncio client) + the standard library's json."""
    from websockets.asyncio.client import connect

    async with connect(url, max_size=None, compression=None) as ws:
        first = json.loads(await ws.recv())
        if first.get("type") != "hello":
            raise RuntimeError(f"expected hello, got {first.get('type')!r}")
        on_hello()
        async for data in ws:
            json.loads(data)
            if count():
                return


CLIENTS: dict[str, Callable[[str, OnHello, Count], Any]] = {
    "picows_msgspec": picows_msgspec,
    "picows_orjson": picows_orjson,
    "aiohttp_json": aiohttp_json,
    "websockets_json": websockets_json,
}
