"""Helpers for the gateway data-plane tests: NATS connections, reading the stream back,
registrations and bridges against the emulator, and a loopback TCP relay that can swallow one
direction (a link that stops answering)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

from slack_rtm.backoff import Backoff
from slack_rtm.cursors import MemoryCursorStore
from slack_rtm.emulator import Emulator
from slack_rtm.gateway.bridge import SessionBridge
from slack_rtm.gateway.config import GatewayConfig
from slack_rtm.gateway.contract import STREAM, Kind, Registration
from slack_rtm.gateway.publisher import EventPublisher
from slack_rtm.session.config import SessionConfig

KEY = bytes(range(32))

FAST = SessionConfig(
    ping_interval=0.3,
    ping_timeout=0.5,
    hello_timeout=2.0,
    reply_timeout=3.0,
    reply_grace=0.5,
    backoff=Backoff(initial=0.05, maximum=0.2),
    healthy_after=0.2,
    migration_delay=0.3,
    send_rate=50.0,
    send_burst=20,
    dedup_grace=1.0,
)


async def connect(url: str) -> tuple[NatsClient, JetStreamContext]:
    nc = await nats.connect(
        url, reconnect_time_wait=0.1, max_reconnect_attempts=-1, connect_timeout=2
    )
    return nc, nc.jetstream()


async def stream_messages(js: JetStreamContext, stream: str = STREAM) -> list[RawStreamMsg]:
    """Every message stored in ``stream``, in order ([] when it does not exist)."""
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        return []
    state = info.state
    if not state.messages:
        return []
    return [await js.get_msg(stream, seq) for seq in range(state.first_seq, state.last_seq + 1)]


async def wait_stream(
    js: JetStreamContext, predicate: Callable[[list[RawStreamMsg]], bool], timeout: float = 5.0
) -> list[RawStreamMsg]:
    """Poll the stream until ``predicate(messages)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        messages = await stream_messages(js)
        if predicate(messages):
            return messages
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the stream never matched; it holds {len(messages)}: "
                f"{[m.subject for m in messages]}"
            )
        await asyncio.sleep(0.02)


def registration(
    emu: Emulator, user_id: str | None = None, kind: Kind = "bot", reg_id: str = "r0123456789abcdef"
) -> Registration:
    return Registration(
        id=reg_id,
        team_id=emu.team_id,
        user_id=user_id if user_id is not None else emu.bot_user_id,
        kind=kind,
        token="sealed-elsewhere",
    )


def gateway_config(url: str, emu: Emulator, **kwargs: Any) -> GatewayConfig:
    kwargs.setdefault("health_timeout", 5.0)
    kwargs.setdefault("api_url", emu.api_url)
    return GatewayConfig(nats_url=url, key=KEY, **kwargs)


def make_bridge(
    emu: Emulator,
    nc: NatsClient,
    publisher: EventPublisher,
    config: GatewayConfig,
    *,
    reg: Registration | None = None,
    token: str | None = None,
    cookie: str | None = None,
    cursors: MemoryCursorStore | None = None,
    session_config: SessionConfig | None = FAST,
) -> SessionBridge:
    return SessionBridge(
        reg if reg is not None else registration(emu),
        token if token is not None else emu.bot_token,
        cookie,
        nc=nc,
        publisher=publisher,
        cursors=cursors if cursors is not None else MemoryCursorStore(),
        config=config,
        session_config=session_config,
    )


class Relay:
    """A TCP relay on 127.0.0.1 to ``port``; ``swallow_down()`` stops passing what the server
    sends (the client's link goes silent, its frames still arrive upstream)."""

    def __init__(self, port: int) -> None:
        self._upstream = port
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self.down = True

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def swallow_down(self) -> None:
        self.down = False

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
        self._writers += [writer, up_writer]
        for task in (
            self._pipe(reader, up_writer, lambda: True),
            self._pipe(up_reader, writer, lambda: self.down),
        ):
            t = asyncio.ensure_future(task)
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        passing: Callable[[], bool],
    ) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                if passing():
                    writer.write(data)
                    await writer.drain()
        writer.close()
