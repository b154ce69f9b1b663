"""Fuzz the real asyncio RtmClient with hostile WebSocket frames over a loopback socket.

A fake RTM server (aiohttp, on its own event loop in a thread, together with the client) says
``hello`` and then sends whatever hypothesis draws: random JSON, known event types with fields of
the wrong type, replies to ids never sent, huge numbers, deep nesting, invalid UTF-8 in text
frames, binary frames, giant frames. After each one the server sends a valid ``message`` as a
sentinel on the client's current socket. The client must never crash, raise, hang or leave the
session: the sentinel always arrives (after a clean reconnect if the frame warranted one), no
handler sees an error, and asyncio's exception handler never fires.

About 100 examples in the normal run; ``SLACK_RTM_FUZZ_EXAMPLES`` raises it (half of it is used
here, the rest by ``test_fuzz_api.py``'s count).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from aiohttp import WSMsgType, web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slack_rtm import Backoff
from slack_rtm.aio import RtmClient
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.events import Event, HandlerError, Message
from slack_rtm.session.state import State

EXAMPLES = max(100, int(os.environ.get("SLACK_RTM_FUZZ_EXAMPLES", "200")) // 2)
T = TypeVar("T")

HELLO = json.dumps({"type": "hello"})
SELF = {"id": "U0BOT", "name": "bot"}
TEAM = {"id": "T0TEAM", "name": "Team", "domain": "team"}


class FakeRtm:
    """A fake Slack: ``rtm.connect`` plus a WebSocket whose frames the test chooses."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.loop_errors: list[dict[str, Any]] = []
        self.sockets: list[web.WebSocketResponse] = []
        self.sentinels: set[str] = set()
        self.handler_errors: list[HandlerError] = []
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.rtm: RtmClient | None = None

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self.loop.set_exception_handler(lambda _loop, context: self.loop_errors.append(context))
        self.thread.start()
        self.call(self._start())

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/rtm.connect", self._connect)
        app.router.add_get("/ws", self._socket)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        config = SessionConfig(
            backoff=Backoff(0.01, 0.05), ping_interval=5.0, ping_timeout=5.0, hello_timeout=2.0,
            migration_delay=0.1,
        )
        self.rtm = RtmClient(
            "xoxb-FUZZ-frames", base_url=f"http://127.0.0.1:{self.port}/api", config=config
        )
        self.rtm.on("*")(self._on_event)
        await self.rtm.connect()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Message) and event.text and event.text.startswith("sentinel-"):
            self.sentinels.add(event.text)
        elif isinstance(event, HandlerError):
            self.handler_errors.append(event)

    async def _connect(self, request: web.Request) -> web.Response:
        url = f"ws://127.0.0.1:{self.port}/ws"
        return web.json_response({"ok": True, "url": url, "self": SELF, "team": TEAM})

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        await ws.send_str(HELLO)
        self.sockets.append(ws)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                frame = json.loads(msg.data)
                if frame.get("type") == "ping":
                    await ws.send_str(json.dumps({"type": "pong", "reply_to": frame.get("id")}))
        return ws

    async def push(self, opcode: WSMsgType, payload: bytes, sentinel: str) -> None:
        """Send the fuzz frame, then make sure the sentinel gets through on a live socket."""
        live = [ws for ws in self.sockets if not ws.closed]
        if live:
            with contextlib.suppress(ConnectionError):  # the client may have hung up: fine
                await live[-1].send_frame(payload, opcode)
        deadline = time.monotonic() + 5.0
        # A distinct ts for each sentinel: the client drops (channel, ts) duplicates.
        ts = f"{sentinel.rsplit('-', 1)[1]}.000100"
        event = {"type": "message", "channel": "C1", "user": "U1", "text": sentinel, "ts": ts}
        while sentinel not in self.sentinels:
            assert self.rtm is not None
            assert time.monotonic() < deadline, f"sentinel lost; state {self.rtm.state}"
            live = [ws for ws in self.sockets if not ws.closed]
            if live and self.rtm.state is State.CONNECTED:
                with contextlib.suppress(ConnectionError):
                    await live[-1].send_str(json.dumps(event))
            await asyncio.sleep(0.05 if self.rtm.state is not State.CONNECTED else 0.02)

    async def _stop(self) -> None:
        if self.rtm is not None:
            await self.rtm.close()
        for ws in self.sockets:
            await ws.close()
        if self.runner is not None:
            await self.runner.cleanup()

    def stop(self) -> None:
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5.0)
            self.loop.close()


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeRtm]:
    server = FakeRtm()
    server.start()
    try:
        yield server
    finally:
        server.stop()


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)
types = st.sampled_from(
    ["message", "hello", "pong", "error", "presence_change", "user_typing", "reaction_added",
     "channel_created", "team_join", "reconnect_url", "goodbye", "team_migration_started",
     "no_such_type", ""]
)  # fmt: skip
fields = st.sampled_from(
    ["type", "reply_to", "ok", "ts", "text", "channel", "user", "users", "subtype", "error",
     "event_ts", "thread_ts", "presence", "url", "time"]
)  # fmt: skip


@st.composite
def frames(draw: st.DrawFn) -> tuple[WSMsgType, bytes]:
    kind = draw(
        st.sampled_from(
            ["event", "event", "reply", "json", "text", "utf8", "binary", "deep", "giant"]
        )
    )
    if kind == "event":
        obj = {"type": draw(types), **draw(st.dictionaries(fields, json_values, max_size=5))}
        return WSMsgType.TEXT, json.dumps(obj).encode()
    if kind == "reply":
        obj = {"reply_to": draw(json_values), "ok": draw(json_values), "ts": draw(json_values)}
        return WSMsgType.TEXT, json.dumps(obj).encode()
    if kind == "json":
        return WSMsgType.TEXT, json.dumps(draw(json_values)).encode()
    if kind == "text":
        return WSMsgType.TEXT, draw(st.text(max_size=100)).encode("utf-8", "surrogatepass")
    if kind == "utf8":
        raw = draw(st.binary(max_size=20))
        return WSMsgType.TEXT, b'{"type": "message", "text": "' + raw + b'"}'
    if kind == "binary":
        return WSMsgType.BINARY, draw(st.binary(max_size=100))
    if kind == "deep":
        depth = draw(st.integers(500, 20_000))
        return WSMsgType.TEXT, b'{"type": "message", "x": ' + b"[" * depth + b"]" * depth + b"}"
    size = draw(st.sampled_from([100_000, 2_000_000]))
    return WSMsgType.TEXT, json.dumps({"type": "message", "text": "g" * size}).encode()


COUNTER = iter(range(10**9))


@pytest.mark.timeout(60 + EXAMPLES // 5)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(frame=frames())
def test_hostile_frames_never_break_the_client(
    fake: FakeRtm, frame: tuple[WSMsgType, bytes]
) -> None:
    opcode, payload = frame
    sentinel = f"sentinel-{next(COUNTER)}"
    fake.call(fake.push(opcode, payload, sentinel), timeout=10.0)
    assert fake.rtm is not None
    assert fake.rtm.state in (State.CONNECTED, State.RECONNECTING, State.CONNECTING)
    assert fake.rtm.error is None
    assert fake.handler_errors == []
    assert fake.loop_errors == [], fake.loop_errors


@pytest.mark.parametrize(
    ("opcode", "payload", "reconnects"),
    [
        (WSMsgType.TEXT, b'{"type": "message", "text": "\xff\xfe"}', None),  # invalid UTF-8
        (WSMsgType.BINARY, b"\x00\x01binary", None),
        (WSMsgType.TEXT, b"[" * 100_000 + b"]" * 100_000, None),
        (WSMsgType.TEXT, json.dumps({"type": "message", "text": "g" * 4_000_000}).encode(), None),
        (WSMsgType.TEXT, b'{"reply_to": 999999, "ok": true, "ts": "1.0"}', None),
        (WSMsgType.TEXT, b'{"reply_to": -1, "ok": "yes", "error": {"code": "x"}}', None),
        (WSMsgType.TEXT, b'{"type": "hello"}', None),
        (WSMsgType.TEXT, b'{"type": "error", "error": {"code": 1, "msg": "expired"}}', None),
        (WSMsgType.TEXT, b'{"type": "goodbye"}', True),
        (WSMsgType.TEXT, b'{"type": "team_migration_started"}', True),
    ],
    ids=["invalid-utf8", "binary", "deep", "4MB", "unknown-reply", "bad-reply", "hello-again",
         "error-event", "goodbye", "migration"],
)
def test_known_hostile_frames(
    fake: FakeRtm, opcode: WSMsgType, payload: bytes, reconnects: bool | None
) -> None:
    sockets = len(fake.sockets)
    fake.call(fake.push(opcode, payload, f"sentinel-{next(COUNTER)}"), timeout=10.0)
    assert fake.rtm is not None
    assert fake.rtm.error is None
    assert fake.loop_errors == []
    if reconnects:  # the sentinel may beat the reconnect (same read buffer): wait for it
        deadline = time.monotonic() + 3.0
        while len(fake.sockets) <= sockets and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(fake.sockets) > sockets, "the frame should have made the client reconnect"
