"""One client WebSocket connection as the emulator sees it: who it is, its options, its limits."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from slack_rtm.emulator.limits import TokenBucket
from slack_rtm.emulator.workspace import User

__all__ = ["Connection"]

_encode = msgspec.json.Encoder().encode


class Connection:
    """A live emulator-side WebSocket, authenticated as ``user``.

    Args:
        conn_id: the emulator's id for it (increasing from 1).
        user: the user its ``rtm.connect`` token belongs to.
        ws: the prepared aiohttp WebSocket.
        writer: the payload writer ``ws.prepare`` returned (used to wait for the socket to drain).
        transport: the asyncio transport under the WebSocket.
        batch_presence_aware: ``presence_change`` events use the ``users`` list shape.
        presence_sub: presence events only for subscribed users.
        bucket: the write limit, or ``None`` for no limit.
    """

    def __init__(
        self,
        conn_id: int,
        user: User,
        ws: web.WebSocketResponse,
        writer: AbstractStreamWriter,
        transport: asyncio.Transport,
        *,
        batch_presence_aware: bool,
        presence_sub: bool,
        bucket: TokenBucket | None,
    ) -> None:
        self.id = conn_id
        self.user = user
        self.ws = ws
        self.writer = writer
        self.transport = transport
        self.batch_presence_aware = batch_presence_aware
        self.presence_sub = presence_sub
        self.subscriptions: set[str] = set()
        self.bucket = bucket
        self.slow_downs = 0
        self.firehose_active = False

    def __repr__(self) -> str:
        return f"<Connection id={self.id} user={self.user.id}>"

    @property
    def closed(self) -> bool:
        """Whether the socket is closed or closing."""
        return self.ws.closed or self.transport.is_closing()

    async def send(self, event: dict[str, Any]) -> bool:
        """Send one JSON frame; returns False (and drops it) if the socket is gone."""
        return await self.send_text(_encode(event).decode())

    async def send_text(self, text: str) -> bool:
        """Send one text frame; returns False if the socket is gone."""
        if self.closed:
            return False
        try:
            await self.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return False
        return True

    async def close(self, code: int = 1000, message: bytes = b"") -> None:
        """Close with a close frame (waits briefly for the client's answer)."""
        with contextlib.suppress(ConnectionError, RuntimeError, asyncio.TimeoutError):
            await self.ws.close(code=code, message=message)

    def abort(self) -> None:
        """Drop the TCP connection at once: no close frame, a reset where the OS allows it."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its high-water mark."""
        await self.writer.drain()
