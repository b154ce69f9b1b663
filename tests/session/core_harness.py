"""A driver for SessionCore made of plain lists and a fake clock: no sockets, no asyncio."""

from __future__ import annotations

from typing import Any

import msgspec

from slack_rtm.backoff import Backoff
from slack_rtm.session.actions import (
    Action,
    CallConnect,
    CloseSocket,
    OpenSocket,
    SendDone,
    SendFrame,
    Stop,
)
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.core import SessionCore
from slack_rtm.session.events import Event

URL = "wss://wss-primary.slack.test/websocket/SECRETsessionCREDENTIAL"


class Harness:
    """Feeds a SessionCore and records everything it asks for."""

    def __init__(self, rand: float = 0.5, **config: Any) -> None:
        config.setdefault("backoff", Backoff(initial=1.0, maximum=30.0))
        self.config = SessionConfig(**config)
        self.now = 1000.0
        self.rand = rand
        self.core = SessionCore(self.config, rand=lambda: self.rand)
        self.actions: list[Action] = []
        self.events: list[Event] = []

    # ---- plumbing
    def pump(self) -> list[Action]:
        new = self.core.take_actions()
        self.actions.extend(new)
        self.events.extend(self.core.take_events())
        return new

    def of(self, kind: type) -> list[Any]:
        self.pump()
        return [a for a in self.actions if isinstance(a, kind)]

    def types(self) -> list[str]:
        self.pump()
        return [e.type for e in self.events]

    def frames(self, conn_id: int | None = None) -> list[dict[str, Any]]:
        return [
            msgspec.json.decode(a.data)
            for a in self.of(SendFrame)
            if conn_id is None or a.conn_id == conn_id
        ]

    def last_open(self) -> OpenSocket:
        opens = self.of(OpenSocket)
        assert opens, "no OpenSocket action yet"
        return opens[-1]

    # ---- inputs
    def start(self) -> None:
        self.core.start(self.now)
        self.pump()

    def answer_connect(self, url: str = URL) -> int:
        assert isinstance(self.actions[-1], CallConnect) or self.of(CallConnect)
        conn = self.core.connect_succeeded(url, self.now)
        assert conn is not None
        self.pump()
        return conn

    def recv(self, conn: int, frame: dict[str, Any] | str | bytes) -> None:
        if isinstance(frame, dict):
            frame = msgspec.json.encode(frame)
        self.core.receive(conn, frame, self.now)
        self.pump()

    def hello(self, conn: int) -> None:
        self.recv(conn, {"type": "hello"})

    def connect(self) -> int:
        """start + rtm.connect + hello: returns the live socket id."""
        self.start()
        conn = self.answer_connect()
        self.hello(conn)
        return conn

    def closed(self, conn: int, code: int | None = None, reason: str = "") -> None:
        self.core.socket_closed(conn, self.now, code, reason)
        self.pump()

    def advance(self, seconds: float) -> None:
        """Move the clock, running every timer that falls due on the way, in order."""
        end = self.now + seconds
        for _ in range(10_000):
            deadline = self.core.next_deadline()
            if deadline is None or deadline > end:
                break
            self.now = max(self.now, deadline)
            self.core.tick(self.now)
            self.pump()
        else:  # pragma: no cover - a timer that never moves forward
            raise AssertionError("timers did not settle")
        self.now = end
        self.core.tick(self.now)
        self.pump()

    def reply_ok(self, conn: int, frame_id: int, ts: str = "1.000001", text: str = "hi") -> None:
        self.recv(conn, {"ok": True, "reply_to": frame_id, "ts": ts, "text": text})

    def done(self) -> list[Any]:
        return [a.send for a in self.of(SendDone)]

    def stops(self) -> list[Stop]:
        return self.of(Stop)

    def closes(self, conn: int | None = None) -> list[CloseSocket]:
        return [a for a in self.of(CloseSocket) if conn is None or a.conn_id == conn]
