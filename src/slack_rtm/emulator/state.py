"""The emulator's state and Python controls (:class:`EmulatorState`), without the server.

:class:`EmulatorState` holds everything the emulator knows (the workspace, tickets and URLs
handed out, live connections, records, fault settings, history) and every Python control;
the mixins :mod:`.faults`, :mod:`.browser`, :mod:`.resume`, :mod:`.history_controls` and
:mod:`.socket_mode` each bring one family of controls. The handlers (:mod:`.api`,
:mod:`.websocket`, :mod:`.socket_mode_ws`, :mod:`.control`) work on it;
:class:`~slack_rtm.emulator.server.Emulator` adds the aiohttp server on top. This module imports
nothing from the emulator above it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from slack_rtm.emulator import firehose as _firehose
from slack_rtm.emulator.browser import BrowserControls
from slack_rtm.emulator.connection import Connection
from slack_rtm.emulator.faults import FaultControls, ForcedAnswer
from slack_rtm.emulator.history import HISTORY_LIMIT
from slack_rtm.emulator.history_controls import HistoryControls
from slack_rtm.emulator.limits import TokenBucket, TsClock, WindowLimiter
from slack_rtm.emulator.records import (
    BrowserSession,
    ConnectCall,
    Grant,
    ReceivedFrame,
    TokenOverlap,
)
from slack_rtm.emulator.resume import ResumeControls
from slack_rtm.emulator.socket_mode import ACK_TIMEOUT, SocketModeControls
from slack_rtm.emulator.validate import check_count, check_number
from slack_rtm.emulator.workspace import Presence, User, Workspace

__all__ = ["ISSUED_URLS_KEPT", "EmulatorState"]

#: How many of the most recent WebSocket URLs :attr:`EmulatorState.issued_urls` remembers.
ISSUED_URLS_KEPT = 10_000


class EmulatorState(
    FaultControls, BrowserControls, ResumeControls, HistoryControls, SocketModeControls
):
    """The emulator's state and Python controls: what the handlers and the controls share.

    It takes the constructor arguments documented on
    :class:`~slack_rtm.emulator.server.Emulator`, which adds the server (``start``/``stop``).
    Not started, it listens nowhere: :attr:`port` is 0 and the waits time out at once.

    Raises:
        TypeError, ValueError: on a bad argument.
    """

    def __init__(
        self,
        workspace: Workspace | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        url_ttl: float = 30.0,
        reject_query_tokens: bool = False,
        connect_rate_limit: int | None = None,
        write_rate: float | None = 1.0,
        write_burst: int = 20,
        write_abuse_limit: int = 10,
        max_frame_bytes: int = 16 * 1024,
        echo_own_messages: bool = False,
        control_api: bool = True,
        reconnect_url_interval: float | None = 3.0,
        reconnect_url_ttl: float = 60.0,
        history_limit: int = HISTORY_LIMIT,
        app_token: str | None = None,
        ack_timeout: float = ACK_TIMEOUT,
    ) -> None:
        if workspace is not None and not isinstance(workspace, Workspace):
            raise TypeError("workspace must be a Workspace")
        if not isinstance(host, str) or not host:
            raise TypeError("host must be a non-empty str")
        check_count("port", port)
        if port > 65535:
            raise ValueError("port must be <= 65535")
        check_number("url_ttl", url_ttl)
        if connect_rate_limit is not None:
            check_count("connect_rate_limit", connect_rate_limit, 1)
        check_number("write_rate", write_rate, minimum=1e-9, optional=True)
        check_count("write_burst", write_burst, 1)
        check_count("write_abuse_limit", write_abuse_limit)
        check_count("max_frame_bytes", max_frame_bytes, 1)
        self.workspace = workspace if workspace is not None else Workspace.default()
        if not self.workspace.bots:
            self.workspace.add_user("rtmbot", bot=True)
        self.host = host
        self._requested_port = port
        self.url_ttl = float(url_ttl)
        self.reject_query_tokens = bool(reject_query_tokens)
        self.connect_rate_limit = connect_rate_limit
        self.write_rate = write_rate
        self.write_burst = write_burst
        self.write_abuse_limit = write_abuse_limit
        self.max_frame_bytes = max_frame_bytes
        self.echo_own_messages = bool(echo_own_messages)
        self.control_api = bool(control_api)
        self._init_browser()
        self._init_resume(reconnect_url_interval, reconnect_url_ttl)

        self.received: list[ReceivedFrame] = []
        self.connect_calls = 0
        self.connect_log: list[ConnectCall] = []
        self.token_errors: dict[str, str] = {}
        self.pong_enabled = True
        self._conns: dict[int, Connection] = {}
        self._conn_tokens: dict[int, str] = {}  # conn id -> token key (never the token)
        self._token_conns: dict[str, list[int]] = {}  # token key -> live conn ids
        self._overlaps: list[TokenOverlap] = []
        self._open_overlap: dict[str, int] = {}  # token key -> index in _overlaps
        self._next_conn_id = 1
        self._tickets: dict[str, Grant | None] = {}
        self._issued_urls: deque[str] = deque(maxlen=ISSUED_URLS_KEPT)
        self._expire_next = 0
        self._forced: list[ForcedAnswer] = []
        self._migrating_until = 0.0
        self._connect_limiters: dict[str, WindowLimiter] = {}
        self._token_rate_limits: dict[str, int | None] = {}
        self._clock = TsClock()
        self._port = 0
        self._changed: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._prepared: dict[int, list[_firehose.Chunk]] = {}
        self._init_history(history_limit)
        self._init_socket_mode(app_token, ack_timeout)

    # -- addresses and defaults --------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port listened on (0 before :meth:`start`)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        host = self.host if ":" not in self.host else f"[{self.host}]"
        if self.host in ("0.0.0.0", "::", ""):  # wildcard: reach it over loopback
            host = "127.0.0.1"
        return f"http://{host}:{self._port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL, e.g. ``http://127.0.0.1:PORT/api``."""
        return f"{self.base_url}/api"

    @property
    def control_url(self) -> str:
        """The HTTP control API base URL, e.g. ``http://127.0.0.1:PORT/_emulator``."""
        return f"{self.base_url}/_emulator"

    @property
    def team_id(self) -> str:
        """The workspace's team id."""
        return self.workspace.team.id

    @property
    def bot(self) -> User:
        """The default bot (the workspace's first bot user)."""
        return self.workspace.bots[0]

    @property
    def bot_token(self) -> str:
        """The default bot's token (``xoxb-...``)."""
        return self.bot.token

    @property
    def bot_user_id(self) -> str:
        """The default bot's user id."""
        return self.bot.id

    @property
    def user_tokens(self) -> dict[str, str]:
        """The people's tokens by user id (``xoxp-...``), to speak as a person over RTM."""
        return {u.id: u.token for u in self.workspace.people}

    @property
    def general_channel_id(self) -> str:
        """A public channel everyone is in: ``#general`` if present, else the first public one."""
        ws = self.workspace
        for ch in ws.channels.values():
            if ch.name == "general":
                return ch.id
        for ch in ws.channels.values():
            if ch.kind == "public":
                return ch.id
        raise LookupError("the workspace has no public channel")

    @property
    def connections(self) -> list[Connection]:
        """The live connections, oldest first."""
        return list(self._conns.values())

    @property
    def connection_count(self) -> int:
        """How many WebSockets are open."""
        return len(self._conns)

    # -- internal hooks for the handlers -----------------------------------------------------

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def record_frame(self, frame: ReceivedFrame) -> None:
        """Record a frame a client sent (called by the WebSocket handler)."""
        self.received.append(frame)
        self._notify()

    def record_connect_call(self, call: ConnectCall) -> None:
        """Record an answered ``rtm.connect`` call (called by the Web API handler)."""
        self.connect_calls += 1
        self.connect_log.append(call)
        self._notify()

    def issue_url(
        self,
        host: str,
        user: User,
        *,
        batch_presence_aware: bool,
        presence_sub: bool,
        session: BrowserSession | None = None,
    ) -> str:
        """A fresh single-use WebSocket URL on ``host`` (``HOST:PORT`` as the client reached
        us) whose path holds a new ticket; it is recorded in :attr:`issued_urls`. Called by the
        Web API handler for each successful ``rtm.connect``; ``session``: the browser session
        whose cookies the upgrade must carry."""
        now = time.monotonic()
        if len(self._tickets) > 10_000:
            self._tickets = {
                t: g for t, g in self._tickets.items() if g is not None and g.expires > now
            }
        ticket = secrets.token_urlsafe(24)
        if self._expire_next > 0:  # expire_next_urls(): born expired
            self._expire_next -= 1
            expires = float("-inf")
        else:
            expires = now + self.url_ttl
        self._tickets[ticket] = Grant(user, expires, batch_presence_aware, presence_sub, session)
        url = f"ws://{host}/websocket/{ticket}"
        self._issued_urls.append(url)
        return url

    @property
    def issued_urls(self) -> list[str]:
        """A copy of the WebSocket URLs ``rtm.connect`` handed out, oldest first (the most
        recent :data:`ISSUED_URLS_KEPT`), used or not. They are credentials: tests use them to
        check that no URL leaks into logs, reprs or errors. The ticket, the secret part, is the
        URL's last path segment."""
        return list(self._issued_urls)

    def redeem_ticket(self, ticket: str) -> Grant | None:
        """The grant of a valid ticket (now used up), or ``None`` if unknown, used or expired.
        Resume tickets (:mod:`.resume`) count too."""
        grant = self._tickets.get(ticket)
        if grant is None:
            return self.redeem_resume(ticket)
        self._tickets[ticket] = None
        return grant if time.monotonic() < grant.expires else None

    def open_connection(
        self,
        grant: Grant,
        ws: web.WebSocketResponse,
        writer: AbstractStreamWriter,
        transport: asyncio.Transport,
    ) -> Connection:
        """Register a new authenticated connection."""
        bucket = (
            TokenBucket(self.write_rate, self.write_burst, time.monotonic())
            if self.write_rate is not None
            else None
        )
        conn = Connection(
            self._next_conn_id,
            grant.user,
            ws,
            writer,
            transport,
            batch_presence_aware=grant.batch_presence_aware,
            presence_sub=grant.presence_sub,
            bucket=bucket,
        )
        self._next_conn_id += 1
        self._conns[conn.id] = conn
        self._token_opened(conn.id, grant)
        self._notify()
        return conn

    def close_connection(self, conn: Connection) -> None:
        """Forget a connection whose handler ended."""
        self.forget_connection(conn.id)
        self._token_closed(conn.id)
        if self._conns.pop(conn.id, None) is not None:
            self._notify()

    # -- live sockets per token (two holders of one token: TokenOverlap) ----------------------

    def _token_opened(self, conn_id: int, grant: Grant) -> None:
        token = grant.session.token if grant.session is not None else grant.user.token
        key = f"{token[:4]}:{grant.user.id}"
        self._conn_tokens[conn_id] = key
        live = self._token_conns.setdefault(key, [])
        live.append(conn_id)
        if len(live) < 2:
            return
        index = self._open_overlap.get(key)
        if index is None:
            self._open_overlap[key] = len(self._overlaps)
            self._overlaps.append(TokenOverlap(key, grant.user.id, time.monotonic(),
                                               most=len(live), conn_ids=tuple(live)))
        else:
            old = self._overlaps[index]
            self._overlaps[index] = msgspec.structs.replace(
                old, most=max(old.most, len(live)), conn_ids=(*old.conn_ids, conn_id))

    def _token_closed(self, conn_id: int) -> None:
        key = self._conn_tokens.pop(conn_id, None)
        if key is None:
            return
        live = self._token_conns.get(key, [])
        if conn_id in live:
            live.remove(conn_id)
        if not live:
            self._token_conns.pop(key, None)
        index = self._open_overlap.get(key)
        if index is not None and len(live) < 2:
            del self._open_overlap[key]
            self._overlaps[index] = msgspec.structs.replace(self._overlaps[index],
                                                            end=time.monotonic())

    def live_sockets_by_token(self) -> dict[str, int]:
        """How many sockets are live per token, keyed ``<prefix>:<user id>`` (``xoxb:U0BOT``;
        never the token itself); tokens without a live socket are left out."""
        return {key: len(conns) for key, conns in self._token_conns.items()}

    @property
    def token_overlaps(self) -> list[TokenOverlap]:
        """A copy of every stretch during which two or more sockets of one token were live at
        once (:class:`~slack_rtm.emulator.records.TokenOverlap`), oldest first; the last of a
        token has ``end=None`` while it lasts."""
        return list(self._overlaps)

    def take_write(self, conn: Connection) -> bool:
        """Whether the connection may send one more message now (spends from its bucket)."""
        return conn.bucket is None or conn.bucket.take(time.monotonic())

    def next_ts(self) -> str:
        """A fresh message timestamp, strictly greater than every earlier one."""
        return self._clock.next(time.time())

    def make_message_event(
        self, user: User, channel_id: str, text: str, thread_ts: str | None
    ) -> dict[str, Any]:
        """A ``message`` event as Slack delivers it (keys in PROTOCOL §4.3's order), with a fresh
        ``ts``."""
        ts = self.next_ts()
        team = self.workspace.team.id
        event: dict[str, Any] = {
            "type": "message",
            "channel": channel_id,
            "user": user.id,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "team": team,
            "suppress_notification": False,
            "source_team": team,
            "user_team": team,
        }
        if user.bot_id is not None:
            event["bot_id"] = user.bot_id
        if thread_ts is not None:
            event["thread_ts"] = thread_ts
        return event

    async def deliver_to_channel(
        self, event: dict[str, Any], channel_id: str, *, exclude_user: str | None = None
    ) -> int:
        """Send an event to every RTM socket of the channel's members; returns sockets reached.
        A ``message`` event is recorded in :attr:`history` first; if the app's bot is a member,
        the event also goes to one Socket Mode socket (:mod:`.socket_mode`)."""
        self.workspace.channel(channel_id)  # raises for an unknown channel, as members() did
        if event.get("type") == "message":
            self.record_message(event)
        is_member = self.workspace.is_member
        if self._sm_conns:  # Socket Mode: one envelope for the app (its own posts included)
            self.socket_mode_event(event, channel_id)
        skip = None if self.echo_own_messages else exclude_user
        targets = [c for c in self._conns.values()
                   if c.user.id != skip and is_member(channel_id, c.user.id)]
        if not targets:
            return 0  # the usual case after a bot's own message: nothing to encode
        return await self._send_all(targets, event)

    def _presence_events(self, conn: Connection, user_ids: Sequence[str]) -> list[dict[str, Any]]:
        known = [u for u in dict.fromkeys(user_ids) if u in self.workspace.users]
        if conn.batch_presence_aware:
            events = []
            for state in ("active", "away"):
                users = [u for u in known if self.workspace.presence[u] == state]
                if users:
                    events.append({"type": "presence_change", "users": users, "presence": state})
            return events
        return [
            {"type": "presence_change", "user": u, "presence": self.workspace.presence[u]}
            for u in known
        ]

    async def send_presence_state(self, conn: Connection, user_ids: Sequence[str]) -> None:
        """Send the current presence of ``user_ids`` to one connection, in its shape."""
        for event in self._presence_events(conn, user_ids):
            await conn.send(event)

    async def _wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        check_number("timeout", timeout)
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result is not None and result is not False:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._changed is None:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    # -- Python control API ------------------------------------------------------------------

    async def post_message(
        self, user_id: str, channel_id: str, text: str, thread_ts: str | None = None
    ) -> str:
        """Post ``text`` as ``user_id`` (a member of ``channel_id``); every member's sockets get
        the ``message`` event. Returns the message ``ts``.

        Raises:
            TypeError, ValueError: unknown user or channel, not a member, or empty text.
        """
        user = self.workspace.user(user_id)
        self.workspace.channel(channel_id)
        if not self.workspace.is_member(channel_id, user_id):
            raise ValueError(f"user_id: {user_id!r} is not a member of {channel_id!r}")
        if not isinstance(text, str):
            raise TypeError("text must be a str")
        if thread_ts is not None and not isinstance(thread_ts, str):
            raise TypeError("thread_ts must be a str or None")
        event = self.make_message_event(user, channel_id, text, thread_ts)
        await self.deliver_to_channel(event, channel_id)
        return str(event["ts"])

    async def inject_event(self, event: dict[str, Any], user_id: str | None = None) -> int:
        """Send any event to every RTM socket (or only ``user_id``'s); returns RTM sockets
        reached. Without ``user_id`` (or with the app's bot's) it also goes to one Socket Mode
        socket as an ``events_api`` envelope (:mod:`.socket_mode`).
        A ``message`` event of a known ``channel`` with a valid ``ts`` is also recorded in
        :attr:`history` (``message_changed``/``message_deleted`` edit or remove a stored one).

        Raises:
            TypeError: ``event`` is not a dict; ValueError: unknown ``user_id``.
        """
        if not isinstance(event, dict):
            raise TypeError("event must be a dict")
        if user_id is not None:
            self.workspace.user(user_id)
        self.record_message(event)
        if self._sm_conns and (user_id is None or user_id == self.bot.id):
            self.socket_mode_event(event, None)
        return await self._send_all(self._targets(user_id), event)

    async def set_presence(self, user_id: str, presence: Presence) -> int:
        """Change a user's presence and send ``presence_change`` to the sockets that follow it
        (subscribed to it, or not in ``presence_sub`` mode). Returns sockets reached."""
        self.workspace.set_presence(user_id, presence)
        reached = 0
        for conn in list(self._conns.values()):
            if user_id in conn.subscriptions or not conn.presence_sub:
                for event in self._presence_events(conn, [user_id]):
                    reached += await conn.send(event)
        return reached

    def clear_received(self) -> None:
        """Forget the recorded frames."""
        self.received.clear()

    async def wait_for_frame(
        self, predicate: Callable[[ReceivedFrame], bool], timeout: float = 5.0
    ) -> ReceivedFrame:
        """The first recorded frame (already received or arriving later) matching ``predicate``.

        Raises:
            TimeoutError: none arrived within ``timeout`` seconds.
        """
        if not callable(predicate):
            raise TypeError("predicate must be callable")
        seen = 0

        def check() -> ReceivedFrame | None:
            nonlocal seen
            frames = self.received
            for frame in frames[seen:]:
                if predicate(frame):
                    return frame
            seen = len(frames)
            return None

        result: ReceivedFrame = await self._wait(check, timeout, "a matching frame")
        return result

    async def wait_connections(self, n: int, timeout: float = 5.0) -> None:
        """Wait until exactly ``n`` WebSockets are open.

        Raises:
            TimeoutError: the count was not reached in time.
        """
        check_count("n", n)
        await self._wait(lambda: len(self._conns) == n, timeout, f"{n} connections")

    def prepare_firehose(self, n: int) -> None:
        """Encode the next :meth:`firehose` of ``n`` events now, so that the firehose itself
        only writes (benchmarks call this before they start the clock). The prepared events
        are used by the next ``firehose(n)`` with the same ``n``, once."""
        check_count("n", n)
        first_us = self._clock.reserve(n, time.time())
        self._prepared[n] = _firehose.encode_messages(self.workspace, n, first_us)

    async def firehose(self, n: int, user_id: str | None = None) -> int:
        """Stream ``n`` pre-encoded realistic ``message`` events (``ts`` strictly increasing)
        to every socket (or ``user_id``'s) as fast as each socket takes them, honouring flow
        control. Returns the events sent, summed over the sockets. Firehose messages are not
        recorded in :attr:`history`, so that it costs the firehose nothing.

        Raises:
            ValueError: ``n`` is negative or ``user_id`` is unknown.
        """
        check_count("n", n)
        if user_id is not None:
            self.workspace.user(user_id)
        chunks = self._prepared.pop(n, None)
        if chunks is None:
            first_us = self._clock.reserve(n, time.time())
            chunks = _firehose.encode_messages(self.workspace, n, first_us)
        return await _firehose.stream(self._targets(user_id), chunks, n)

    async def firehose_payloads(
        self, payloads: Sequence[bytes | str | dict[str, Any]], user_id: str | None = None
    ) -> int:
        """Stream the caller's events (JSON text, bytes or dicts) like :meth:`firehose`."""
        if user_id is not None:
            self.workspace.user(user_id)
        chunks = _firehose.encode_payloads(payloads)
        return await _firehose.stream(self._targets(user_id), chunks, len(payloads))

    def state(self) -> dict[str, Any]:
        """A JSON-ready snapshot: addresses, counters, connections and the workspace."""
        return {
            "api_url": self.api_url,
            "team_id": self.team_id,
            "bot_token": self.bot_token,
            "bot_user_id": self.bot_user_id,
            "user_tokens": self.user_tokens,
            "general_channel_id": self.general_channel_id,
            "connection_count": self.connection_count,
            "connections": [
                {
                    "conn_id": c.id,
                    "user_id": c.user.id,
                    "batch_presence_aware": c.batch_presence_aware,
                    "presence_sub": c.presence_sub,
                }
                for c in self._conns.values()
            ],
            "connect_calls": self.connect_calls,
            "live_sockets_by_token": self.live_sockets_by_token(),
            "token_overlap_count": len(self._overlaps),
            "issued_url_count": len(self._issued_urls),
            "expire_next_urls": self._expire_next,
            "received_count": len(self.received),
            "pong_enabled": self.pong_enabled,
            "migrating": self.migrating,
            "process_cpu_seconds": time.process_time(),
            **self.browser_state(),
            **self.resume_state(),
            **self.socket_mode_state(),
            "workspace": self.workspace.to_dict(),
        }
