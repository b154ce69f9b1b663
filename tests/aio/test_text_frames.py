"""Acks joined in one write: masked client text frames (RFC 6455 §5.2-5.3), checked by parsing
them here and by a real aiohttp WebSocket server over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import WSMsgType, web
from picows import WSListener, WSTransport, ws_connect

from slack_rtm.aio.transport import masked_text_frames, send_text_frames


def parse_client_frames(data: bytes) -> list[tuple[bytes, bytes]]:
    """(key, unmasked payload) of each frame in ``data``; asserts what RFC 6455 requires of a
    client's unfragmented text frame."""
    out = []
    at = 0
    while at < len(data):
        first, second = data[at], data[at + 1]
        assert first == 0x81  # FIN, text
        assert second & 0x80  # masked, as a client must
        size, at = second & 0x7F, at + 2
        if size == 126:
            size, at = int.from_bytes(data[at : at + 2], "big"), at + 2
        assert size < 126 or second & 0x7F == 126  # the shortest length encoding
        key, at = data[at : at + 4], at + 4
        masked, at = data[at : at + size], at + size
        out.append((key, bytes(b ^ key[i % 4] for i, b in enumerate(masked))))
    assert at == len(data)
    return out


def test_frames_of_every_length_class_unmask_to_the_payloads() -> None:
    payloads = [
        b"",
        b"{",
        b'{"envelope_id":"1d4f"}',
        b"x" * 125,
        b"y" * 126,
        b"z" * 300,
        b"w" * 65535,
    ]
    frames = parse_client_frames(masked_text_frames(payloads))
    assert [payload for _, payload in frames] == payloads


def test_each_frame_has_its_own_key() -> None:
    frames = parse_client_frames(masked_text_frames([b'{"envelope_id":"a"}'] * 50))
    assert len({key for key, _ in frames}) > 40  # 32 random bits each: repeats are rare


def test_a_payload_of_64_kib_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter than 65536"):
        masked_text_frames([b"ok", b"x" * 65536])
    assert masked_text_frames([]) == b""


class _Client(WSListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.transport: WSTransport | None = None

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport


@pytest.fixture
async def echo_server() -> AsyncIterator[tuple[str, asyncio.Queue[bytes | None]]]:
    """An aiohttp WebSocket server on 127.0.0.1 that queues every text message it gets."""
    got: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                got.put_nowait(msg.data.encode())
            else:
                break
        got.put_nowait(None)
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"ws://127.0.0.1:{port}/ws", got
    finally:
        await runner.cleanup()


async def _take(got: asyncio.Queue[bytes | None], n: int) -> list[bytes | None]:
    return [await asyncio.wait_for(got.get(), 5.0) for _ in range(n)]


async def test_a_server_reads_joined_frames_in_order(
    echo_server: tuple[str, asyncio.Queue[bytes | None]],
) -> None:
    url, got = echo_server
    transport, _ = await ws_connect(_Client, url)
    try:
        acks = [b'{"envelope_id":"e%d"}' % n for n in range(200)]
        send_text_frames(transport, acks)
        send_text_frames(transport, [b'{"envelope_id":"alone"}'])  # one: picows' own send
        big = b'{"text":"' + b"x" * 70_000 + b'"}'
        send_text_frames(transport, [b'{"before":1}', big, b'{"after":1}'])  # one too long
        received = await _take(got, 204)
        assert received == [*acks, b'{"envelope_id":"alone"}', b'{"before":1}', big, b'{"after":1}']
    finally:
        transport.disconnect()
        await transport.wait_disconnected()


async def test_nothing_is_sent_once_the_socket_is_closing(
    echo_server: tuple[str, asyncio.Queue[bytes | None]],
) -> None:
    url, got = echo_server
    transport, _ = await ws_connect(_Client, url)
    transport.send_close()
    send_text_frames(transport, [b"{}", b"{}"])  # after the close frame: dropped, no error
    transport.disconnect()
    await transport.wait_disconnected()
    send_text_frames(transport, [b"{}", b"{}"])  # gone: dropped, no error
    assert await _take(got, 1) == [None]
