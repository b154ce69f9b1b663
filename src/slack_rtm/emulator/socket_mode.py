"""Socket Mode (PROTOCOL §9): the app, its tickets and sockets, envelopes, acks and redelivery.

:class:`SocketModeControls` is a mixin of :class:`~slack_rtm.emulator.state.EmulatorState`, which
calls :meth:`SocketModeControls._init_socket_mode`. It holds the emulated app (``app_token``
``xapp-1-...`` and ``app_id``), the single-use tickets ``apps.connections.open`` hands out, the
live Socket Mode sockets, and every envelope sent and acknowledgement received.

- **Who gets what.** A ``message`` event delivered to a channel the app's bot user is in (posted
  by :meth:`post_message`, over RTM, or by ``chat.postMessage``, the bot's own posts included:
  Slack delivers them too, with ``bot_id`` set, and real bots filter on it) and every
  :meth:`inject_event` without a ``user_id`` (or with the bot's) become one ``events_api``
  envelope, sent to ONE live socket, round robin, while at least one is open; with no socket
  open the event is not queued (as over RTM). RTM-only types (``hello``, ``user_typing``,
  ``presence_change``, ... :data:`RTM_ONLY_TYPES`) never become envelopes. RTM sockets keep
  getting their events: a bot may run both.
- **Acks and redelivery.** An envelope not acknowledged within ``ack_timeout`` seconds (Slack:
  3) is redelivered to a live socket as a NEW envelope (new ``envelope_id``, same ``event_id``
  and payload) with ``retry_attempt`` 1, 2, 3 and ``retry_reason: "timeout"``, one
  ``ack_timeout`` after the other; after the third it is given up and recorded in
  :attr:`socket_mode_unacked`. Acknowledging any envelope of the chain stops it. A redelivery
  due while no socket is open counts as an attempt. Commands and interactions
  (:meth:`send_slash_command`, :meth:`send_interaction`) are tracked even when no socket is
  open: the first redelivery finds the one that opened meanwhile.
- **Records.** :attr:`socket_mode_envelopes` (every envelope sent,
  :class:`~slack_rtm.emulator.records.SocketModeEnvelope`), :attr:`socket_mode_acks` (every ack,
  duplicates included: :class:`~slack_rtm.emulator.records.SocketModeAck`),
  :attr:`socket_mode_unacked`. The firehose's envelopes are not tracked (no redelivery) and
  their acks are only counted (:attr:`socket_mode_firehose_acks`).
- **Disconnects.** :meth:`socket_mode_disconnect` sends ``{"type": "disconnect", "reason",
  "debug_info": {"host"}}``: ``warning`` only warns; ``refresh_requested`` closes the socket
  (1001) ``close_after`` seconds later (default :data:`REFRESH_CLOSE_AFTER`); ``link_disabled``
  goes to every socket, closes them all, and from then on ``apps.connections.open`` answers
  :data:`LINK_DISABLED_ERROR` and upgrades are refused until :meth:`enable_socket_mode`. A socket
  told to refresh or disabled gets no new envelope while another one is open.
- **Sending.** ``chat.postMessage`` is limited to ``per_second`` messages a second per (poster,
  channel) with a burst (:meth:`set_post_rate_limit`; default :data:`POST_RATE` /
  :data:`POST_BURST`).
"""

from __future__ import annotations

import asyncio
import secrets
import string
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import msgspec
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from slack_rtm.emulator.connection import Connection
from slack_rtm.emulator.firehose import Chunk, encode_payloads, frame
from slack_rtm.emulator.limits import TokenBucket, TsClock
from slack_rtm.emulator.records import SocketModeAck, SocketModeEnvelope
from slack_rtm.emulator.validate import check_count, check_number
from slack_rtm.emulator.workspace import User, Workspace

if TYPE_CHECKING:
    from collections import deque

__all__ = [
    "ACK_TIMEOUT",
    "DEBUG_HOST",
    "DISCONNECT_REASONS",
    "LINK_DISABLED_ERROR",
    "MAX_RETRIES",
    "MAX_SOCKET_MODE_CONNECTIONS",
    "POST_BURST",
    "POST_RATE",
    "REFRESH_CLOSE_AFTER",
    "RESPONSE_PAYLOAD_INTERACTIONS",
    "RTM_ONLY_TYPES",
    "SocketModeControls",
]

#: Seconds Slack waits for an ack before redelivering (the emulator's default).
ACK_TIMEOUT: Final = 3.0
#: Redeliveries of an unacknowledged envelope before it is given up.
MAX_RETRIES: Final = 3
#: Live Socket Mode sockets an app may hold; the next upgrade is refused (close 1008).
MAX_SOCKET_MODE_CONNECTIONS: Final = 10
#: The ``disconnect`` reasons :meth:`SocketModeControls.socket_mode_disconnect` sends.
DISCONNECT_REASONS: Final = ("warning", "refresh_requested", "link_disabled")
#: Seconds after ``refresh_requested`` before the emulator closes the socket (by default).
REFRESH_CLOSE_AFTER: Final = 1.0
#: ``apps.connections.open``'s answer once Socket Mode is disabled (fatal: :mod:`slack_rtm.codes`).
LINK_DISABLED_ERROR: Final = "no_permission"
#: ``debug_info.host`` of ``hello`` and ``disconnect``.
DEBUG_HOST: Final = "applink-emu-1"
#: ``chat.postMessage`` messages a second per poster and channel, and the burst allowed.
POST_RATE: Final = 1.0
POST_BURST: Final = 10
#: Interaction payload types whose envelope accepts a response payload (the rest: false).
RESPONSE_PAYLOAD_INTERACTIONS: Final = frozenset({"block_suggestion", "view_submission"})
#: Event types that exist only over RTM and never become ``events_api`` envelopes.
RTM_ONLY_TYPES: Final = frozenset({
    "hello", "goodbye", "pong", "error", "reconnect_url", "user_typing", "presence_change",
    "manual_presence_change", "team_migration_started",
})  # fmt: skip

_encode = msgspec.json.Encoder().encode
_ALNUM = string.ascii_uppercase + string.digits
_CHAINS_KEPT = 20_000  # acknowledged chains remembered (to time duplicate acks)


def _alnum(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def new_app_token(app_id: str) -> str:
    """A fresh app-level token ``xapp-1-<app_id>-<13 digits>-<64 hex>``."""
    digits = "".join(secrets.choice(string.digits) for _ in range(13))
    return f"xapp-1-{app_id}-{digits}-{secrets.token_hex(32)}"


class _Chain:
    """One event, command or interaction and its envelopes (first delivery and retries)."""

    __slots__ = (
        "accepts",
        "attempt",
        "done",
        "event_id",
        "first",
        "ids",
        "kind",
        "last",
        "payload",
        "timer",
    )

    def __init__(
        self, kind: str, payload: dict[str, Any], accepts: bool, event_id: str | None
    ) -> None:
        self.kind = kind
        self.payload = payload
        self.accepts = accepts
        self.event_id = event_id
        self.first = time.monotonic()
        self.attempt = 0
        self.ids: dict[str, int] = {}  # envelope_id -> retry_attempt
        self.done = False
        self.timer: asyncio.TimerHandle | None = None
        self.last: SocketModeEnvelope | None = None


class SocketModeControls:
    """Socket Mode: the app, tickets, sockets, envelopes and acks, mixed into the Emulator."""

    # State owned by the Emulator (declared for the type checker; see _init_socket_mode).
    workspace: Workspace
    url_ttl: float
    pong_enabled: bool
    _next_conn_id: int
    _issued_urls: deque[str]
    _expire_next: int
    _changed: asyncio.Event | None
    _clock: TsClock

    if TYPE_CHECKING:

        def _notify(self) -> None: ...  # the Emulator's

        @property
        def bot(self) -> User: ...  # the Emulator's

        @property
        def base_url(self) -> str: ...  # the Emulator's

        async def _wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any: ...

        def _spawn(self, coro: Any) -> None: ...  # FaultControls'

    def _init_socket_mode(self, app_token: str | None, ack_timeout: float) -> None:
        """Create the state of this mixin (called by the Emulator's constructor).

        Raises:
            TypeError, ValueError: a bad ``app_token`` or ``ack_timeout``.
        """
        check_number("ack_timeout", ack_timeout, minimum=0.001)
        self.app_id = "A" + _alnum(10)
        if app_token is None:
            app_token = new_app_token(self.app_id)
        elif not isinstance(app_token, str):
            raise TypeError("app_token must be a str or None")
        elif not app_token.startswith("xapp-") or any(c.isspace() for c in app_token):
            raise ValueError("app_token must start with 'xapp-' and hold no spaces")
        self.app_token = app_token
        self.ack_timeout = float(ack_timeout)
        self.socket_mode_enabled = True
        self.socket_mode_envelopes: list[SocketModeEnvelope] = []
        self.socket_mode_acks: list[SocketModeAck] = []
        self.socket_mode_unacked: list[SocketModeEnvelope] = []
        self._sm_verification = _alnum(24)
        self._sm_conns: dict[int, Connection] = {}
        self._sm_draining: set[int] = set()
        self._sm_rr = 0
        self._sm_tickets: dict[str, float] = {}
        self._sm_chains: dict[str, _Chain] = {}
        self._sm_prepared: dict[int, list[Chunk]] = {}
        #: Acks of firehose envelopes: counted only (see :meth:`socket_mode_firehose`).
        self.socket_mode_firehose_acks = 0
        self._sm_marker = uuid.uuid4().hex[:8] + "-0000-4000-8000-"
        self._sm_ack_waiters = 0
        self._post_rate: float | None = POST_RATE
        self._post_burst = POST_BURST
        self._post_buckets: dict[tuple[str, str], TokenBucket] = {}

    # -- read-only state ---------------------------------------------------------------------

    @property
    def socket_mode_connections(self) -> int:
        """How many Socket Mode sockets are open."""
        return len(self._sm_conns)

    @property
    def socket_mode_connection_ids(self) -> list[int]:
        """The ids of the open Socket Mode sockets, oldest first (for ``connection=``)."""
        return list(self._sm_conns)

    def socket_mode_state(self) -> dict[str, Any]:
        """The part of :meth:`Emulator.state` this mixin owns."""
        return {
            "app_id": self.app_id,
            "app_token": self.app_token,
            "socket_mode_enabled": self.socket_mode_enabled,
            "socket_mode_connections": len(self._sm_conns),
            "socket_mode_connection_ids": list(self._sm_conns),
            "socket_mode_envelope_count": len(self.socket_mode_envelopes),
            "socket_mode_ack_count": len(self.socket_mode_acks),
            "socket_mode_unacked_count": len(self.socket_mode_unacked),
            "ack_timeout": self.ack_timeout,
        }

    # -- hooks for the handlers --------------------------------------------------------------

    def issue_socket_mode_url(self, host: str) -> str:
        """A fresh single-use Socket Mode URL on ``host`` (recorded in ``issued_urls``), for a
        successful ``apps.connections.open``; it expires after ``url_ttl`` seconds."""
        now = time.monotonic()
        if len(self._sm_tickets) > 10_000:
            self._sm_tickets = {t: e for t, e in self._sm_tickets.items() if e > now}
        ticket = secrets.token_urlsafe(24)
        if self._expire_next > 0:  # expire_next_urls() applies to every connect call
            self._expire_next -= 1
            self._sm_tickets[ticket] = float("-inf")
        else:
            self._sm_tickets[ticket] = now + self.url_ttl
        url = f"ws://{host}/socket-mode/{ticket}?app_id={self.app_id}"
        self._issued_urls.append(url)
        return url

    def redeem_socket_mode_ticket(self, ticket: str) -> bool:
        """Whether ``ticket`` is a valid Socket Mode ticket (now used up)."""
        expires = self._sm_tickets.pop(ticket, None)
        return expires is not None and time.monotonic() < expires

    def open_socket_mode_connection(
        self, ws: web.WebSocketResponse, writer: AbstractStreamWriter, transport: asyncio.Transport
    ) -> Connection:
        """Register a new Socket Mode socket (it acts as the app's bot user)."""
        conn = Connection(
            self._next_conn_id,
            self.bot,
            ws,
            writer,
            transport,
            batch_presence_aware=False,
            presence_sub=False,
            bucket=None,
        )
        self._next_conn_id += 1
        self._sm_conns[conn.id] = conn
        self._notify()
        return conn

    def close_socket_mode_connection(self, conn: Connection) -> None:
        """Forget a Socket Mode socket whose handler ended."""
        self._sm_draining.discard(conn.id)
        if self._sm_conns.pop(conn.id, None) is not None:
            self._notify()

    @property
    def socket_mode_ack_count(self) -> int:
        """Acks received in all: those recorded plus the firehose's (counted only)."""
        return len(self.socket_mode_acks) + self.socket_mode_firehose_acks

    def firehose_ack(self, text: str) -> bool:
        """Whether a client frame acks a firehose envelope; then it is only counted (the
        firehose's acks are not recorded, so that reading them costs the emulator little)."""
        if self._sm_marker not in text:
            return False
        self.socket_mode_firehose_acks += 1
        if self._sm_ack_waiters:
            self._notify()
        return True

    def record_socket_mode_ack(self, conn: Connection, data: dict[str, Any]) -> bool:
        """Record a client frame that is an ack (``envelope_id`` a str): stops the redelivery
        of its chain. Returns whether it was an ack."""
        envelope_id = data.get("envelope_id")
        if not isinstance(envelope_id, str):
            return False
        payload = data.get("payload")
        chain = self._sm_chains.get(envelope_id)
        if chain is None:
            seconds, attempt = None, None
        else:
            seconds, attempt = time.monotonic() - chain.first, chain.ids[envelope_id]
            if not chain.done:
                self._finish(chain)
        self.socket_mode_acks.append(
            SocketModeAck(
                envelope_id,
                payload if isinstance(payload, dict) else None,
                seconds,
                attempt,
                conn.id,
            )
        )
        self._notify()
        return True

    def hello_socket_mode(self, num_connections: int) -> str:
        """The ``hello`` frame of a new Socket Mode socket."""
        return _encode(
            {
                "type": "hello",
                "num_connections": num_connections,
                "debug_info": {
                    "host": DEBUG_HOST,
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
        ).decode()

    def socket_mode_event(self, event: dict[str, Any], channel_id: str | None) -> None:
        """Turn an event into an ``events_api`` envelope for one live socket, if any is open
        and the app gets it (``channel_id``: the app's bot must be a member). Called by the
        Emulator for every event it delivers."""
        if not self._sm_conns or event.get("type") in RTM_ONLY_TYPES:
            return
        if channel_id is not None and not self.workspace.is_member(channel_id, self.bot.id):
            return
        self._start(_Chain("events_api", self._event_payload(event), False, "Ev" + _alnum(10)))

    def post_allowed(self, user_id: str, channel_id: str) -> int | None:
        """Count one ``chat.postMessage`` by ``user_id`` to ``channel_id``; ``None`` if allowed,
        else the seconds for ``Retry-After``."""
        if self._post_rate is None:
            return None
        now = time.monotonic()
        key = (user_id, channel_id)
        bucket = self._post_buckets.get(key)
        if bucket is None:
            bucket = self._post_buckets[key] = TokenBucket(self._post_rate, self._post_burst, now)
        return None if bucket.take(now) else bucket.wait()

    def _socket_mode_stop(self) -> None:
        """Cancel the redelivery timers and drop every Socket Mode socket (server stop)."""
        for chain in self._sm_chains.values():
            if chain.timer is not None:
                chain.timer.cancel()
                chain.timer = None
        for conn in list(self._sm_conns.values()):
            conn.abort()

    # -- envelopes ---------------------------------------------------------------------------

    def _event_payload(self, event: dict[str, Any]) -> dict[str, Any]:
        team = self.workspace.team.id
        ts = event.get("event_ts") or event.get("ts")
        try:
            event_time = int(float(ts)) if isinstance(ts, str) else int(time.time())
        except ValueError:
            event_time = int(time.time())
        return {
            "token": self._sm_verification,
            "team_id": team,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": "",  # set per chain
            "event_time": event_time,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team,
                    "user_id": self.bot.id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }

    def _start(self, chain: _Chain) -> str:
        if chain.event_id is not None:
            chain.payload["event_id"] = chain.event_id
        envelope_id = self._send(chain, "")
        self._arm(chain)
        if len(self._sm_chains) > _CHAINS_KEPT:
            for key in list(self._sm_chains)[: _CHAINS_KEPT // 2]:
                if self._sm_chains[key].done:
                    del self._sm_chains[key]
        return envelope_id

    def _pick(self) -> Connection | None:
        conns = [c for c in self._sm_conns.values() if not c.closed]
        fresh = [c for c in conns if c.id not in self._sm_draining]
        pool = fresh or conns
        if not pool:
            return None
        self._sm_rr += 1
        return pool[self._sm_rr % len(pool)]

    def _send(self, chain: _Chain, reason: str) -> str:
        """Send the chain's next envelope (attempt ``chain.attempt``) to one live socket."""
        envelope_id = str(uuid.uuid4())
        chain.ids[envelope_id] = chain.attempt
        self._sm_chains[envelope_id] = chain
        conn = self._pick()
        record = SocketModeEnvelope(
            envelope_id,
            chain.kind,
            chain.payload,
            chain.accepts,
            chain.attempt,
            reason,
            None if conn is None else conn.id,
            chain.event_id,
        )
        chain.last = record
        if conn is not None:
            envelope = {
                "envelope_id": envelope_id,
                "type": chain.kind,
                "accepts_response_payload": chain.accepts,
                "retry_attempt": chain.attempt,
                "retry_reason": reason,
                "payload": chain.payload,
            }
            # Whole frames straight to the transport, like reconnect_url events: they land
            # between any other frames, never inside one.
            conn.transport.write(frame(_encode(envelope)))
            self.socket_mode_envelopes.append(record)
            self._notify()
        return envelope_id

    def _arm(self, chain: _Chain) -> None:
        loop = asyncio.get_running_loop()
        chain.timer = loop.call_later(self.ack_timeout, self._timed_out, chain)

    def _timed_out(self, chain: _Chain) -> None:
        chain.timer = None
        if chain.done:
            return
        if chain.attempt >= MAX_RETRIES:
            chain.done = True
            if chain.last is not None:
                self.socket_mode_unacked.append(chain.last)
            self._notify()
            return
        chain.attempt += 1
        self._send(chain, "timeout")
        self._arm(chain)

    def _finish(self, chain: _Chain) -> None:
        chain.done = True
        if chain.timer is not None:
            chain.timer.cancel()
            chain.timer = None

    # -- Python control API ------------------------------------------------------------------

    async def send_slash_command(
        self,
        command: str = "/cmd",
        text: str = "",
        user_id: str | None = None,
        channel_id: str | None = None,
    ) -> str:
        """Send a ``slash_commands`` envelope (``accepts_response_payload: true``) as person
        ``user_id`` (default: the first person) typed ``command text`` in ``channel_id``
        (default: ``#general``). Tracked and redelivered like events even if no socket is open.
        Returns its ``envelope_id``.

        Raises:
            TypeError, ValueError: a bad argument (named), an unknown user or channel.
        """
        if not isinstance(command, str) or not command.startswith("/") or len(command) < 2:
            raise ValueError("command must be a str like '/cmd'")
        if not isinstance(text, str):
            raise TypeError("text must be a str")
        ws = self.workspace
        user = ws.user(user_id) if user_id is not None else ws.people[0]
        channel = ws.channel(channel_id if channel_id is not None else self._general())
        team = ws.team
        trigger = f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**13)}.{secrets.token_hex(16)}"
        payload = {
            "token": self._sm_verification,
            "team_id": team.id,
            "team_domain": team.domain,
            "channel_id": channel.id,
            "channel_name": channel.name,
            "user_id": user.id,
            "user_name": user.name,
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": f"{self.base_url}/commands/{team.id}/{secrets.token_hex(8)}",
            "trigger_id": trigger,
        }
        return self._start(_Chain("slash_commands", payload, True, None))

    async def send_interaction(self, payload: dict[str, Any] | None = None) -> str:
        """Send an ``interactive`` envelope carrying ``payload`` (default: a ``block_actions``
        click of a button by the first person in ``#general``). ``accepts_response_payload``
        is true for the types of :data:`RESPONSE_PAYLOAD_INTERACTIONS` (``block_suggestion``,
        ``view_submission``), false otherwise. Tracked like commands. Returns its
        ``envelope_id``.

        Raises:
            TypeError: ``payload`` is neither a dict nor ``None``.
        """
        if payload is None:
            payload = self._default_interaction()
        elif not isinstance(payload, dict):
            raise TypeError("payload must be a dict or None")
        accepts = payload.get("type") in RESPONSE_PAYLOAD_INTERACTIONS
        return self._start(_Chain("interactive", dict(payload), accepts, None))

    def _general(self) -> str:
        for ch in self.workspace.channels.values():
            if ch.name == "general" or ch.kind == "public":
                return ch.id
        raise LookupError("the workspace has no public channel")

    def _default_interaction(self) -> dict[str, Any]:
        ws = self.workspace
        user, team = ws.people[0], ws.team
        channel = ws.channel(self._general())
        return {
            "type": "block_actions",
            "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": team.id},
            "api_app_id": self.app_id,
            "token": self._sm_verification,
            "container": {"type": "message", "channel_id": channel.id},
            "trigger_id": f"{secrets.randbelow(10**13)}.{secrets.token_hex(16)}",
            "team": {"id": team.id, "domain": team.domain},
            "channel": {"id": channel.id, "name": channel.name},
            "response_url": f"{self.base_url}/actions/{team.id}/{secrets.token_hex(8)}",
            "actions": [
                {
                    "type": "button",
                    "action_id": "button-1",
                    "block_id": "block-1",
                    "value": "clicked",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }

    async def socket_mode_disconnect(
        self, reason: str, *, close_after: float | None = None, connection: int | None = None
    ) -> int:
        """Send ``{"type": "disconnect", "reason": reason, ...}`` to every Socket Mode socket
        (or only the one whose id is ``connection``). ``warning``: the frame only.
        ``refresh_requested``: then the emulator closes the socket (1001) after
        ``close_after`` seconds (default 1.0). ``link_disabled`` (every socket: no
        ``connection``): then every socket is closed (1001) at once (or after
        ``close_after``) and Socket Mode stays disabled (``apps.connections.open`` answers
        ``no_permission``, upgrades are refused) until :meth:`enable_socket_mode`. Returns
        sockets reached.

        Raises:
            ValueError: an unknown ``reason`` or ``connection``, a bad ``close_after``, or a
                ``connection`` with ``link_disabled``.
        """
        if reason not in DISCONNECT_REASONS:
            raise ValueError(f"reason must be one of {', '.join(DISCONNECT_REASONS)}")
        check_number("close_after", close_after, optional=True)
        if connection is not None:
            if reason == "link_disabled":
                raise ValueError("connection: link_disabled applies to every socket")
            if (
                not isinstance(connection, int)
                or isinstance(connection, bool)
                or connection not in self._sm_conns
            ):
                raise ValueError(f"connection: no open Socket Mode socket {connection!r}")
            conns = [self._sm_conns[connection]]
        else:
            conns = list(self._sm_conns.values())
        text = frame(
            _encode({"type": "disconnect", "reason": reason, "debug_info": {"host": DEBUG_HOST}})
        )
        reached = 0
        for conn in conns:
            if not conn.closed:
                conn.transport.write(text)
                reached += 1
        if reason == "warning":
            return reached
        self._sm_draining.update(c.id for c in conns)
        if reason == "link_disabled":
            self.socket_mode_enabled = False
        delay = (
            close_after
            if close_after is not None
            else (REFRESH_CLOSE_AFTER if reason == "refresh_requested" else 0.0)
        )
        self._spawn(self._close_after(conns, delay))
        return reached

    async def _close_after(self, conns: list[Connection], delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        await asyncio.gather(*(c.close(1001, b"going away") for c in conns))

    def enable_socket_mode(self) -> None:
        """Turn Socket Mode back on after ``socket_mode_disconnect("link_disabled")``."""
        self.socket_mode_enabled = True

    async def wait_socket_mode_connections(self, n: int, timeout: float = 5.0) -> None:
        """Wait until exactly ``n`` Socket Mode sockets are open.

        Raises:
            TimeoutError: the count was not reached in time; ValueError: a bad argument.
        """
        check_count("n", n)
        await self._wait(lambda: len(self._sm_conns) == n, timeout, f"{n} Socket Mode connections")

    async def wait_socket_mode_acks(self, n: int, timeout: float = 5.0) -> None:
        """Wait until at least ``n`` acks came in all (:attr:`socket_mode_ack_count`).

        Raises:
            TimeoutError: not in time; ValueError: a bad argument.
        """
        check_count("n", n)
        self._sm_ack_waiters += 1
        try:
            await self._wait(lambda: self.socket_mode_ack_count >= n, timeout, f"{n} acks")
        finally:
            self._sm_ack_waiters -= 1

    def set_post_rate_limit(self, per_second: float | None, burst: int = POST_BURST) -> None:
        """Allow ``chat.postMessage`` ``per_second`` messages a second per poster and channel,
        with bursts of ``burst`` (``per_second=None`` lifts the limit). Over it: HTTP 429,
        ``Retry-After`` and ``{"ok": false, "error": "rate_limited"}``.

        Raises:
            ValueError: a bad argument (named).
        """
        check_number("per_second", per_second, minimum=1e-9, optional=True)
        check_count("burst", burst, 1)
        self._post_rate = None if per_second is None else float(per_second)
        self._post_burst = burst
        self._post_buckets.clear()

    def prepare_socket_mode_firehose(self, n: int) -> None:
        """Encode the next :meth:`socket_mode_firehose` of ``n`` envelopes now (benchmarks call
        this before they start the clock); used once by the next call with the same ``n``.

        Raises:
            ValueError: ``n`` is not an int >= 0.
        """
        check_count("n", n)
        self._sm_prepared[n] = self._encode_envelopes(n)

    async def socket_mode_firehose(self, n: int) -> int:
        """Stream ``n`` pre-encoded ``events_api`` envelopes (each a ~300-byte ``message``
        event) at ONE live Socket Mode socket as fast as it takes them, honouring flow control.
        The envelopes are not tracked (no redelivery) and their acks are only counted
        (:attr:`socket_mode_firehose_acks`, not in ``socket_mode_acks`` or ``received``), so
        that reading them costs the emulator little. Returns the envelopes sent (0 with no
        socket open).

        Raises:
            ValueError: ``n`` is not an int >= 0.
        """
        check_count("n", n)
        chunks = self._sm_prepared.pop(n, None)
        if chunks is None:
            chunks = self._encode_envelopes(n)
        conn = self._pick()
        if conn is None or n == 0:
            return 0
        sent = 0
        for data, count in chunks:
            if conn.closed:
                break
            conn.transport.write(data)
            sent += count
            try:
                await conn.drain()
            except ConnectionError:
                break
        return sent

    def _encode_envelopes(self, n: int) -> list[Chunk]:
        """``n`` envelopes as frame-aligned chunks. Every call gets fresh envelope ids (the
        ack marker, a per-call run, the index), ``event_id`` values and strictly increasing
        ``ts`` (from the emulator's clock), so that clients that de-duplicate see no repeat."""
        ws = self.workspace
        team = ws.team.id
        pairs = [(ch.id, uid) for ch in ws.channels.values() for uid in sorted(ws.members(ch.id))]
        pairs = pairs or [("C0000000000", self.bot.id)]
        auth = _encode([{"enterprise_id": None, "team_id": team, "user_id": self.bot.id,
                         "is_bot": True, "is_enterprise_install": False}]).decode()
        head = (f'","type":"events_api","accepts_response_payload":false,"retry_attempt":0,'
                f'"retry_reason":"","payload":{{"token":"{self._sm_verification}",'
                f'"team_id":"{team}","api_app_id":"{self.app_id}","event":')
        tail = f',"authorizations":{auth},"is_ext_shared_channel":false}}}}'
        marker, run = self._sm_marker, secrets.token_hex(2)
        first_us = self._clock.reserve(n, time.time())
        frames: list[bytes] = []
        for i in range(n):
            cid, uid = pairs[i % len(pairs)]
            sec, micros = divmod(first_us + i, 1_000_000)
            ts = f"{sec}.{micros:06d}"
            event = (f'{{"type":"message","channel":"{cid}","user":"{uid}","text":"Event {i} '
                     f'of the Socket Mode firehose","ts":"{ts}","event_ts":"{ts}",'
                     f'"team":"{team}","channel_type":"channel"}}')
            frames.append(
                f'{{"envelope_id":"{marker}{run}{i:08d}{head}{event},"type":"event_callback",'
                f'"event_id":"Ev{run.upper()}{i:08d}","event_time":{sec}{tail}'.encode()
            )
        return encode_payloads(frames)
