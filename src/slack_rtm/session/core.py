"""The RTM session without I/O: frames, commands and the time in; events and actions out.

:class:`SessionCore` owns everything about a real-time session that does not need a socket or a
clock: frame ids, pending replies, the keepalive schedule, the outgoing rate limiter, the queue of
sends made while reconnecting, presence subscriptions, the state machine
(:mod:`slack_rtm.session.state`) and every reconnect decision (PROTOCOL.md §3–5).

A driver (:mod:`slack_rtm.aio`, the sync twin) feeds it and carries out what it asks::

    core.start(now)                          # -> CallConnect
    core.connect_succeeded(url, now)         # -> OpenSocket(conn_id, url)
    core.receive(conn_id, frame_bytes, now)  # events appended to core.events
    core.send_message(channel, text, now)    # -> a Send; SendFrame when it may go out
    core.tick(now)                           # call at core.next_deadline()
    core.socket_closed(conn_id, now, code)   # -> reconnect decisions
    core.close(now)

After every call the driver drains :meth:`take_actions` (in order) and :meth:`take_events`.
Times are seconds on any monotonic clock, passed in; jitter comes from the ``rand`` callable.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from typing import Any, Final

from slack_rtm import codes
from slack_rtm.errors import (
    ConnectionClosedError,
    RtmConnectErrorSchemaError,
    SocketAuthError,
    StateError,
)
from slack_rtm.redact import redact_text
from slack_rtm.session.actions import (
    Action,
    CallConnect,
    CatchUpNeeded,
    CloseSocket,
    OpenSocket,
    Send,
    SendFrame,
    Stop,
)
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.events import (
    Closed,
    Connected,
    Connecting,
    Disconnected,
    ErrorEvent,
    Event,
    Goodbye,
    Hello,
    Pong,
    Reconnecting,
    ReconnectUrl,
    Reply,
    TeamMigrationStarted,
    decode_frame,
    decode_reply_frame,
)
from slack_rtm.session.limits import check_text
from slack_rtm.session.policy import Attempts, check_ping_lead, fatal_code, retry_after
from slack_rtm.session.policy import describe as _describe
from slack_rtm.session.sends import SendBook, check_ids, check_str, encode, reply_code_msg
from slack_rtm.session.state import State, StateMachine

__all__ = ["MESSAGE_PREFIX", "REPLY_PREFIX", "SessionCore"]

_log = logging.getLogger("slack_rtm.session")

_MAX_PRESENCE_IDS: Final = 500
MESSAGE_PREFIX: Final = b'{"type":"message",'
"""How Slack (and the emulator) start a ``message`` event. Such a frame is never a control frame,
so its decoding can wait until it is delivered (see :meth:`SessionCore.take_raw`)."""
_MESSAGE_PREFIX = MESSAGE_PREFIX
_MESSAGE_PREFIX_LEN: Final = len(MESSAGE_PREFIX)
REPLY_PREFIX: Final = b'{"ok":'
"""How Slack (and the emulator) start a reply to a sent frame (see
:meth:`SessionCore.receive_reply`)."""
_REPLY_PREFIX_LEN: Final = len(REPLY_PREFIX)

# Frames that steer the session rather than only being delivered.
_CONTROL: Final[frozenset[type]] = frozenset(
    {Reply, Pong, Hello, Goodbye, TeamMigrationStarted, ErrorEvent, ReconnectUrl}
)
_AUTH_REFUSED: Final = 401  # in-band error code: the socket refused the credentials (§7)

# Where a connection attempt is.
_WAIT: Final = "wait"  # waiting for the backoff delay
_API: Final = "api"  # waiting for rtm.connect
_SOCKET: Final = "socket"  # waiting for the WebSocket and its hello

_OPENING: Final = "opening"
_LIVE: Final = "live"
_DRAINING: Final = "draining"  # replaced after a goodbye; still read until it closes
_CLOSING: Final = "closing"


class _Conn:
    __slots__ = ("hello_at", "id", "role")

    def __init__(self, conn_id: int) -> None:
        self.id = conn_id
        self.role = _OPENING
        self.hello_at: float | None = None


def _dedup_key(item: Event, data: bytes | memoryview | str) -> object:
    """What identifies one event across two sockets (PROTOCOL.md §4.1)."""
    ts = getattr(item, "ts", None)
    channel = getattr(item, "channel", None)
    if isinstance(ts, str) and isinstance(channel, str):
        return (item.type, getattr(item, "subtype", None), channel, ts)
    event_ts = getattr(item, "event_ts", None)
    if isinstance(event_ts, str):
        return (item.type, event_ts)
    # No identity: the frame itself (the same event is serialised the same way).
    return data if isinstance(data, str) else bytes(data)


class SessionCore:
    """The session logic of one RTM client, without I/O.

    Args:
        config: keepalive, reconnect and rate settings (defaults when None).
        rand: a source of uniform numbers in ``[0, 1)`` for backoff jitter; pass a seeded one
            for reproducible behaviour.
        logger: where decisions are logged (transitions at DEBUG); ``slack_rtm.session`` by
            default.

    Attributes:
        events: events to deliver, in order (typed events and lifecycle events). Prefer
            :meth:`take_events`.
        error: the exception that ended the session, once closed because of one.
    """

    __slots__ = (
        "_actions", "_auth_refusals", "_closing_current", "_closing_reason",
        "_conn_seq", "_conns", "_current", "_dedup", "_dedup_until", "_gap",
        "_hello_deadline", "_last_rx", "_log", "_old", "_opening", "_paused", "_ping_after",
        "_ping_id", "_ping_sent_at", "_presence", "_rand", "_reported", "_resume", "_resuming",
        "_retry_at", "_sends", "_sm", "_step", "_tries", "config", "error", "events",
        "timers_dirty",
    )

    def __init__(
        self,
        config: SessionConfig | None = None,
        *,
        rand: Callable[[], float] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if config is not None and not isinstance(config, SessionConfig):
            raise TypeError(f"config must be a SessionConfig, got {type(config).__name__}")
        self.config = config if config is not None else SessionConfig()
        # The module's generator, shared: a Random of its own is 2.5 KiB per session.
        self._rand = rand if rand is not None else random.random
        self._log = logger if logger is not None else _log
        self._sm = StateMachine(self._log)
        self.events: list[Event | bytes] = []
        self._actions: list[Action] = []
        self.error: BaseException | None = None
        # connections
        self._conns: dict[int, _Conn] = {}
        self._conn_seq = 0
        self._current: int | None = None  # live, said hello
        self._opening: int | None = None  # asked for, no hello yet
        self._old: int | None = None  # replaced after goodbye, still open
        # connection attempts
        self._step: str | None = None
        self._retry_at: float | None = None
        self._hello_deadline: float | None = None
        self._tries = Attempts(self.config.backoff, self.config.max_attempts)  # policy.py
        self._auth_refusals = 0  # in-band 401s in a row
        self._gap: bool | None = None  # None: no hello yet; True: the live socket was lost
        # fast resume: the last reconnect_url of the live socket and when it came (§3.7)
        self._resume: tuple[str, float] | None = None
        self._resuming = False  # the attempt in progress opened a reconnect_url
        # sends
        self._sends = SendBook(self.config, self._actions)
        self._presence: list[str] | None = None
        # keepalive
        self._last_rx = 0.0
        self._ping_after = self.config.ping_interval  # ping_interval - ping_lead
        self._ping_id: int | None = None
        self._ping_sent_at = 0.0
        self._paused = False
        # de-duplication across a goodbye
        self._dedup: dict[object, None] | None = None
        self._dedup_until: float | None = None
        self._closing_reason = ""
        self._closing_current: int | None = None
        self.timers_dirty = False
        self._reported: float | None = None  # what next_deadline() last returned

    # ------------------------------------------------------------------ outputs

    @property
    def state(self) -> State:
        """The current :class:`~slack_rtm.session.state.State`."""
        return self._sm.state

    def take_events(self) -> list[Event]:
        """The events produced since the last call, in order, decoded; the driver delivers them.

        See :meth:`take_raw` for the faster form that leaves ordinary messages undecoded.
        """
        raw = self.take_raw()
        return [decode_frame(e) if isinstance(e, bytes) else e for e in raw]

    def take_raw(self) -> list[Event | bytes]:
        """Like :meth:`take_events`, but ``message`` events may still be their frame (``bytes``).

        Decode those with :func:`~slack_rtm.session.events.decode_frame` when delivering them:
        decoding each just before use, rather than a whole read buffer at once, keeps the
        working set small (many thousand events can arrive in one read). Such a frame is always
        an ordinary ``message`` event: never a control frame the session must act on.
        """
        events = self.events
        if events:
            self.events = []
        return events

    def take_actions(self) -> list[Action]:
        """The actions produced since the last call; carry them out in order."""
        actions = self._actions
        if not actions:
            return []
        taken = actions[:]
        actions.clear()  # the same list stays shared with the SendBook
        return taken

    @property
    def has_actions(self) -> bool:
        """True when :meth:`take_actions` would return something."""
        return bool(self._actions)

    @property
    def current_conn(self) -> int | None:
        """The id of the socket that said hello and carries sends, if any."""
        return self._current

    @property
    def pending_count(self) -> int:
        """Sends not resolved yet (queued or waiting for a reply)."""
        return self._sends.count

    @property
    def last_received(self) -> float:
        """The ``now`` of the last frame received on any socket (0.0 before the first)."""
        return self._last_rx

    @property
    def ping_lead(self) -> float:
        """How much earlier than ``ping_interval`` of silence a keepalive ping may go out
        (0 by default: exactly then).

        For a driver whose timer may fire late: one that runs every :meth:`tick` up to ``slack``
        seconds after the deadline asked for (a shared coarse timer) sets this to ``2 * slack``;
        a ping then goes out at most ``ping_interval - slack`` seconds after the last frame
        received, its timeout fires at most ``slack`` late, and a dead link is still noticed
        within ``ping_interval + ping_timeout`` of the last frame. :meth:`next_deadline`
        reports the keepalive that much earlier; the ping timeout itself is never shortened.

        Raises:
            TypeError: not a number.
            ValueError: negative, not finite, or not less than half of ``ping_interval``.
        """
        return self.config.ping_interval - self._ping_after

    @ping_lead.setter
    def ping_lead(self, seconds: float) -> None:
        lead = check_ping_lead(seconds, self.config.ping_interval)
        self._ping_after = self.config.ping_interval - lead
        self.timers_dirty = True

    def next_deadline(self) -> float | None:
        """When :meth:`tick` must next be called (None: nothing is scheduled).

        Ask again after every lifecycle call (start, close, socket and connect outcomes,
        :meth:`tick`, pausing), and after a command (sends, pings, presence) or :meth:`receive`
        whenever :attr:`timers_dirty` is set. A command leaves it unset when all it added is a
        reply deadline no earlier than the one this method last returned (a send written at
        once, the usual case); ordinary events only move the keepalive deadline later and
        replies only remove reply deadlines. In each case a timer armed for the deadline
        returned before fires first, and finds nothing to do or asks again.
        """
        # Called often (after lifecycle calls, many control frames, some sends): plain
        # comparisons, no list to build and min().
        sends = self._sends
        first = sends.earliest_deadline()
        if self._current is not None and not self._paused:
            cfg = self.config
            if self._ping_id is None:
                at = self._last_rx + self._ping_after
            else:
                at = self._ping_sent_at + cfg.ping_timeout
            if first is None or at < first:
                first = at
            if sends.outbox:
                at = sends.bucket.next_ready()
                if at < first:
                    first = at
        for other in (self._retry_at if self._step == _WAIT else None, self._hello_deadline,
                      self._dedup_until):
            if other is not None and (first is None or other < first):
                first = other
        self._reported = first
        return first

    # ------------------------------------------------------------------ lifecycle inputs

    def start(self, now: float) -> None:
        """Begin connecting (IDLE -> CONNECTING): emits :class:`CallConnect`.

        Raises:
            StateError: the session was already started.
        """
        if self._sm.state is not State.IDLE:
            raise StateError(f"the session is already {self._sm.state}; start() is called once")
        self._sm.to(State.CONNECTING, "start")
        self._sends.reset_rate(now)
        self._begin_attempt(now)

    def connect_succeeded(self, url: str, now: float) -> int | None:
        """``rtm.connect`` answered with ``url``: emits :class:`OpenSocket`.

        Returns:
            The new socket's id, or None when the answer came too late (closing) and is ignored.
        """
        if self._step != _API or not self._sm.is_open:
            return None
        return self._open_socket(url, now)

    def _open_socket(self, url: str, now: float) -> int:
        self._conn_seq += 1
        conn = _Conn(self._conn_seq)
        self._conns[conn.id] = conn
        self._opening = conn.id
        self._step = _SOCKET
        self._hello_deadline = now + self.config.hello_timeout
        self._actions.append(OpenSocket(conn.id, url))
        return conn.id

    def connect_failed(self, error: BaseException, now: float) -> None:
        """``rtm.connect`` failed with ``error``: retry with backoff, or stop if it is fatal.

        The next attempt is never sooner than the answer's ``Retry-After`` (an
        :class:`~slack_rtm.errors.ApiError`'s ``retry_after``), whatever its status: 429, 5xx
        or ``ok: false``.
        """
        if self._step != _API or not self._sm.is_open:
            return
        self._step = None
        fatal = fatal_code(error)
        if fatal is not None:
            self._log.error("rtm.connect failed with %r: not retrying", fatal)
            self._shutdown(now, f"rtm.connect failed: {fatal}", error)
            return
        extra = 0.0
        if isinstance(error, RtmConnectErrorSchemaError) and (
            error.error == codes.MIGRATION_IN_PROGRESS
        ):
            extra = self.config.migration_delay
        self._schedule_retry(now, f"rtm.connect failed: {_describe(error)}", error,
                             retry_after=retry_after(error), extra=extra)

    def socket_opened(self, conn_id: int, now: float) -> None:
        """The WebSocket handshake of ``conn_id`` completed (the hello may already be in)."""
        self._log.debug("socket %d open", conn_id)

    def socket_failed(self, conn_id: int, error: BaseException, now: float) -> None:
        """Opening socket ``conn_id`` failed: retry with backoff."""
        conn = self._conns.pop(conn_id, None)
        if conn is None:
            return
        if conn_id == self._opening:
            self._opening = None
            self._hello_deadline = None
            self._step = None
            if self._sm.is_open:
                self._attempt_failed(now, f"WebSocket failed: {_describe(error)}", error)
        self._maybe_closed(now)

    def socket_closed(self, conn_id: int, now: float, code: int | None = None,
                      reason: str = "") -> None:
        """Socket ``conn_id`` is closed (by either side, or lost). Decides what happens next."""
        conn = self._conns.pop(conn_id, None)
        if conn is None:
            return
        why = f"closed by the server (code {code})" if code is not None else "connection lost"
        if reason:
            why = f"{why}: {reason}"
        self._lost(conn, now, why, code)
        self._maybe_closed(now)

    def set_reading_paused(self, paused: bool, now: float) -> None:
        """The driver stopped (True) or resumed (False) reading because events back up.

        While paused no keepalive deadline runs: a reply cannot be seen while not reading.
        """
        if paused == self._paused:
            return
        self._paused = paused
        if not paused:
            self._last_rx = now
            if self._ping_id is not None:
                self._ping_sent_at = now

    def close(self, now: float, reason: str = "closed by the user") -> None:
        """Close the session: every send resolves with :class:`ConnectionClosedError`.

        Emits :class:`CloseSocket` for each open socket (then CLOSING until they report closed)
        or, with none open, goes straight to CLOSED. Calling it again does nothing.
        """
        if self._sm.state in (State.CLOSING, State.CLOSED):
            return
        self._shutdown(now, reason, None)

    def fail(self, error: BaseException, now: float) -> None:
        """Stop the session because of ``error`` (the driver refused something it cannot fix).

        Like :meth:`close`, but :attr:`error` is set and sends fail with it as the cause.
        """
        if self._sm.state in (State.CLOSING, State.CLOSED):
            return
        self._shutdown(now, f"stopped: {_describe(error)}", error)

    # ------------------------------------------------------------------ frames

    def receive(self, conn_id: int, data: bytes | memoryview | str, now: float) -> None:
        """A text frame arrived on socket ``conn_id``. Events go to :attr:`events`.

        Never raises for bad input: a malformed frame is delivered as an event.
        """
        self.receive_many(conn_id, (data,), now)

    def receive_many(self, conn_id: int, frames: Iterable[bytes | memoryview | str],
                     now: float) -> None:
        """Text frames that arrived together on socket ``conn_id`` (one read), in order.

        The hot path: one decode and one type check per frame for ordinary events.
        """
        self._last_rx = now
        control = _CONTROL
        prefix = _MESSAGE_PREFIX
        cut = _MESSAGE_PREFIX_LEN
        events = self.events
        append = events.append
        dedup = self._dedup is not None
        for data in frames:
            if data[:cut] == prefix and not dedup and isinstance(data, bytes):
                append(data)  # an ordinary message: decoded when delivered (see take_raw)
                continue
            if type(data) is bytes and data[:_REPLY_PREFIX_LEN] == REPLY_PREFIX:
                item = decode_reply_frame(data)  # an ack, most likely: decoded as one first
            else:
                item = decode_frame(data)
            kind = type(item)
            if kind in control:
                if kind is not Reply:  # a reply only settles a send: no deadline gets earlier
                    self.timers_dirty = True  # other control frames may move one earlier
                self._control(conn_id, item, now)
                dedup = self._dedup is not None
            elif not dedup or not self._is_dup(item, data):
                append(item)

    def receive_reply(self, conn_id: int, data: bytes, now: float) -> Send | None:
        """A frame that starts with :data:`REPLY_PREFIX`, alone: the send it answers, settled.

        The driver's short way for an ack: when ``data`` is a reply to a pending send, that
        send is resolved and returned *without* a :class:`SendDone` action (the caller wakes
        whoever waits for it). Anything else (an unknown id, an event after all, junk) is
        handled as :meth:`receive` would, and None is returned.
        """
        item = decode_reply_frame(data)
        if type(item) is Reply:
            self._last_rx = now
            send = self._sends.on_reply(item, announce=False)
            if send is not None:
                return send
        self.receive_many(conn_id, (data,), now)
        return None

    def receive_messages(self, conn_id: int, frames: list[bytes], now: float) -> None:
        """Like :meth:`receive_many` for frames that all start with :data:`MESSAGE_PREFIX`.

        The driver's fast path for a read buffer holding only ``message`` events: they are
        queued as they are (see :meth:`take_raw`) unless de-duplication needs them decoded.
        """
        if self._dedup is not None:
            self.receive_many(conn_id, frames, now)
            return
        self._last_rx = now
        self.events.extend(frames)

    def _is_dup(self, item: Event, data: bytes | memoryview | str) -> bool:
        seen = self._dedup
        assert seen is not None
        key = _dedup_key(item, data)
        if key in seen:
            self._log.debug("dropped a duplicate %s event seen on both sockets", item.type)
            return True
        seen[key] = None
        if len(seen) > self.config.dedup_capacity:
            del seen[next(iter(seen))]
        return False

    def _control(self, conn_id: int, item: object, now: float) -> None:
        if isinstance(item, Reply):
            self._on_reply(item, now)
        elif isinstance(item, Pong):
            self._on_pong(item, now)
        elif isinstance(item, Hello):
            if conn_id == self._opening:
                self._on_hello(conn_id, item, now)
            else:
                self._log.debug("ignored a hello on socket %d", conn_id)
        elif isinstance(item, Goodbye):
            self.events.append(item)
            if conn_id == self._current:
                self._on_goodbye(conn_id, now)
        elif isinstance(item, TeamMigrationStarted):
            self.events.append(item)
            if conn_id == self._current:
                self._actions.append(CloseSocket(conn_id, 1000, "team migration", abort=False))
                conn = self._conns.pop(conn_id)
                self._lost(conn, now, "team_migration_started", None)
        elif isinstance(item, ErrorEvent):
            if item.error is not None and item.error.code == _AUTH_REFUSED and (
                conn_id == self._opening or conn_id == self._current
            ):
                self.events.append(item)
                self._on_auth_refused(conn_id, item, now)
            elif conn_id == self._opening:
                self._on_error_before_hello(conn_id, item, now)
            else:
                self.events.append(item)
        elif isinstance(item, ReconnectUrl):
            self.events.append(item)
            if conn_id == self._current and self.config.fast_resume and item.url:
                self._resume = (item.url, now)

    def _on_reply(self, reply: Reply, now: float) -> None:
        if self._sends.on_reply(reply) is None:
            if reply.ok is False:
                code, msg = reply_code_msg(reply)
                self._log.warning("Slack refused frame %s: code %s: %s", reply.reply_to, code, msg)
            else:
                self._log.debug("reply to unknown frame %s", reply.reply_to)

    def _on_pong(self, pong: Pong, now: float) -> None:
        reply_to = pong.reply_to
        if reply_to is not None and reply_to == self._ping_id:
            self._ping_id = None
            return
        self._sends.on_pong(pong, now)

    def _on_hello(self, conn_id: int, hello: Hello, now: float) -> None:
        conn = self._conns[conn_id]
        conn.role = _LIVE
        conn.hello_at = now
        self._opening = None
        self._current = conn_id
        self._step = None
        self._hello_deadline = None
        self._resuming = False
        attempt = self._tries.succeeded()
        self._ping_id = None
        self._last_rx = now
        self._sm.to(State.CONNECTED, f"hello on socket {conn_id}")
        self.events.append(Connected(attempt=attempt))
        self.events.append(hello)
        if self._gap is not False:
            self._actions.append(CatchUpNeeded(first=self._gap is None))
            self._gap = False
        if self._old is not None:
            # make-before-break: the new socket is live, now retire the old one.
            old = self._conns.get(self._old)
            if old is not None:
                old.role = _CLOSING
                self._actions.append(CloseSocket(old.id, 1000, "replaced after goodbye"))
        self._sends.new_link(conn_id, now)
        if self._presence:
            self._sends.queue_first(
                Send("presence_sub", {"type": "presence_sub", "ids": list(self._presence)},
                     internal=True)
            )
        self._flush(now)

    def _on_goodbye(self, conn_id: int, now: float) -> None:
        self._log.info("goodbye from the server: connecting a new socket before closing this one")
        conn = self._conns[conn_id]
        conn.role = _DRAINING
        self._old = conn_id
        self._current = None
        self._ping_id = None
        self._auth_refusals = 0  # a socket that lived until goodbye was accepted
        self._resume = None  # make-before-break goes through rtm.connect
        if self._dedup is None:
            self._dedup = {}
        self._dedup_until = None
        self._sm.to(State.RECONNECTING, "goodbye")
        self.events.append(Reconnecting(delay=0.0, attempt=1, reason="goodbye"))
        self._begin_attempt(now)

    def _on_error_before_hello(self, conn_id: int, item: ErrorEvent, now: float) -> None:
        code, msg = _error_code_msg(item)
        why = "the socket URL expired" if code == 1 else f"error {code}: {msg}"
        self._log.info("socket %d refused before hello: %s; getting a new URL", conn_id, why)
        self._actions.append(CloseSocket(conn_id, 1000, "error before hello"))
        self._conns.pop(conn_id, None)
        self._opening = None
        self._hello_deadline = None
        self._step = None
        self._attempt_failed(now, why, None)

    def _on_auth_refused(self, conn_id: int, item: ErrorEvent, now: float) -> None:
        """An in-band error 401: the socket refused the token or the session cookie (§7).

        Counted; after ``max_auth_refusals`` in a row the session stops with
        :class:`SocketAuthError`. Before that the socket is closed and the session reconnects
        with backoff, through ``rtm.connect`` (never a ``reconnect_url``): never "connected"
        while refused.
        """
        _, msg = _error_code_msg(item)
        self._auth_refusals += 1
        refusals = self._auth_refusals
        limit = self.config.max_auth_refusals
        self._resume = None
        self._resuming = False
        self._log.warning("socket %d refused the credentials (in-band error 401, %d of %d in a "
                          "row)", conn_id, refusals, limit)
        if refusals >= limit:
            error = SocketAuthError(
                f"the WebSocket refused the credentials {refusals} times in a row (in-band "
                f"error 401: {redact_text(msg)!r}). Check that the token is valid; for a "
                "browser session (xoxc- token) that the d cookie (and d-s, if the workspace "
                "wants it) is current and passed as cookie=, and that user_agent is one Slack "
                "accepts",
                refusals=refusals,
            )
            self._shutdown(now, "the socket refused the credentials", error)
            return
        why = "the socket refused the credentials (in-band error 401)"
        self._actions.append(CloseSocket(conn_id, 1000, "credentials refused"))
        conn = self._conns.pop(conn_id)
        if conn_id == self._opening:
            self._opening = None
            self._hello_deadline = None
            self._step = None
            self._schedule_retry(now, why, None)
        else:
            self._lost(conn, now, why, None, refused=True)

    # ------------------------------------------------------------------ losing a socket

    def _lost(self, conn: _Conn, now: float, why: str, code: int | None, *,
              refused: bool = False) -> None:
        conn_id = conn.id
        self._sends.link_lost(conn_id, now)
        if conn_id == self._old:
            self._old = None
            if self._current is None:
                self._gap = True  # the old socket went before the new one said hello
            if self._dedup is not None:
                self._dedup_until = now + self.config.dedup_grace
            return
        if not self._sm.is_open:
            if conn_id == self._closing_current:
                self.events.append(Disconnected(reason=self._closing_reason, code=code))
            return
        if conn_id == self._opening:
            self._opening = None
            self._hello_deadline = None
            self._step = None
            self._attempt_failed(now, why, None)
            return
        if conn_id != self._current:
            return
        self._current = None
        self._ping_id = None
        self._gap = True  # events sent until the next hello are not replayed
        self.events.append(Disconnected(reason=why, code=code))
        healthy = (not refused and conn.hello_at is not None
                   and now - conn.hello_at >= self.config.healthy_after)
        self._sm.to(State.RECONNECTING, why)
        if healthy:
            self._tries.reset_backoff()
            self._auth_refusals = 0
            self.events.append(Reconnecting(delay=0.0, attempt=1, reason=why))
            self._begin_attempt(now)
        else:
            self._schedule_retry(now, why, None)

    def _attempt_failed(self, now: float, why: str, error: BaseException | None) -> None:
        """A connection attempt failed before ``hello``. A failed fast resume falls back to
        ``rtm.connect`` at once (its URL is used up); anything else backs off."""
        if self._resuming:
            self._resuming = False
            self._log.info("fast resume failed (%s): calling rtm.connect", why)
            attempt = self._tries.next_number
            self.events.append(Reconnecting(delay=0.0, attempt=attempt,
                                            reason=f"fast resume failed: {why}"))
            self._begin_attempt(now)
            return
        self._schedule_retry(now, why, error)

    def _schedule_retry(self, now: float, why: str, error: BaseException | None, *,
                        retry_after: float | None = None, extra: float = 0.0) -> None:
        tries = self._tries
        delay, gave_up = tries.failed(why, error, self._rand, retry_after, extra)
        if gave_up is not None:
            self._shutdown(now, f"gave up after {tries.attempts} attempts", gave_up)
            return
        attempt = tries.next_number
        if self._sm.state is State.CONNECTED:
            self._sm.to(State.RECONNECTING, why)
        self._log.info("reconnecting in %.3f s (attempt %d): %s", delay, attempt, why)
        self.events.append(Reconnecting(delay=delay, attempt=attempt, reason=why))
        if delay <= 0:
            self._begin_attempt(now)
        else:
            self._step = _WAIT
            self._retry_at = now + delay

    def _begin_attempt(self, now: float) -> None:
        self._retry_at = None
        attempt = self._tries.next_number
        resume = self._resume
        if resume is not None:
            self._resume = None  # single-use, whatever happens
            if now - resume[1] <= self.config.resume_max_age:
                self._resuming = True
                self._log.info("fast resume: opening the last reconnect_url (no rtm.connect)")
                self.events.append(Connecting(attempt=attempt, resume=True))
                self._open_socket(resume[0], now)
                return
        self._step = _API
        self.events.append(Connecting(attempt=attempt))
        self._actions.append(CallConnect(attempt))

    def _shutdown(self, now: float, reason: str, error: BaseException | None) -> None:
        if self._sm.state is State.CLOSED:
            return
        self.error = error
        self._closing_current = self._current
        self._step = None
        self._retry_at = None
        self._hello_deadline = None
        self._current = self._opening = self._old = None
        self._ping_id = None
        self._resume = None
        self._resuming = False
        self._dedup = None
        self._dedup_until = None
        closed = ConnectionClosedError(
            "the session was closed before this completed"
            if error is None else f"the session stopped: {reason}"
        )
        closed.__cause__ = error
        self._sends.fail_all(closed)
        for conn in self._conns.values():
            if conn.role != _CLOSING:
                conn.role = _CLOSING
                self._actions.append(CloseSocket(conn.id, 1000, "client closing"))
        self._closing_reason = reason
        if self._conns:
            if self._sm.state is not State.CLOSING:
                self._sm.to(State.CLOSING, reason)
        else:
            self._finish_close(reason)

    def _maybe_closed(self, now: float) -> None:
        if self._sm.state is State.CLOSING and not self._conns:
            self._finish_close(self._closing_reason)

    def _finish_close(self, reason: str) -> None:
        self._sm.to(State.CLOSED, reason)
        error = self.error
        self.events.append(Closed(reason=reason, error=None if error is None else _describe(error)))
        self._actions.append(Stop(self.error))

    # ------------------------------------------------------------------ timers

    def tick(self, now: float) -> None:
        """Run whatever is due at ``now``: reconnect, hello timeout, keepalive, sends, timeouts."""
        cfg = self.config
        if self._step == _WAIT and self._retry_at is not None and now >= self._retry_at:
            self._begin_attempt(now)
        if self._hello_deadline is not None and now >= self._hello_deadline:
            conn_id = self._opening
            self._hello_deadline = None
            if conn_id is not None:
                self._actions.append(CloseSocket(conn_id, 1000, "no hello", abort=True))
                conn = self._conns.pop(conn_id)
                self._lost(conn, now, f"no hello within {cfg.hello_timeout} s", None)
        current = self._current
        if current is not None and not self._paused:
            if self._ping_id is not None and self._last_rx > self._ping_sent_at:
                self._ping_id = None  # something arrived after the ping: the link is alive
            if self._ping_id is None:
                if now - self._last_rx >= self._ping_after:
                    self._send_keepalive(current, now)
            elif now - self._ping_sent_at >= cfg.ping_timeout:
                self._log.warning("no reply to ping within %s s: the link is dead",
                                  cfg.ping_timeout)
                self._actions.append(CloseSocket(current, 1000, "keepalive timeout", abort=True))
                conn = self._conns.pop(current)
                self._lost(conn, now, f"no pong within {cfg.ping_timeout} s", None)
        if self._sends.pending:
            self._sends.expire(now, self._current)
        if self._dedup_until is not None and now >= self._dedup_until:
            self._dedup = None
            self._dedup_until = None
        self._flush(now)
        self._maybe_closed(now)

    def _send_keepalive(self, conn_id: int, now: float) -> None:
        self._ping_id = self._sends.new_id()
        self._ping_sent_at = now
        frame = {"id": self._ping_id, "type": "ping", "time": int(now * 1000)}
        self._actions.append(SendFrame(conn_id, encode(frame)))

    # ------------------------------------------------------------------ commands

    def send_message(self, channel: str, text: str, now: float, *, thread_ts: str | None = None,
                     reply_broadcast: bool | None = None) -> Send:
        """Queue a message; it goes out when connected and the rate limiter allows.

        Returns:
            The :class:`Send`; resolved with the ack (``Reply``) or a :class:`SendError`.

        Raises:
            TypeError, ValueError: an argument is of the wrong type or empty.
            FrameTooLargeError: text over 4,000 characters or the frame over 16 KB.
            SendQueueFullError: too many sends already waiting.
            StateError: the session was never started.
            ConnectionClosedError: the session is closed.
        """
        check_str("channel", channel)
        check_str("text", text)
        if thread_ts is not None:
            check_str("thread_ts", thread_ts)
        if reply_broadcast is not None and not isinstance(reply_broadcast, bool):
            raise TypeError(f"reply_broadcast must be a bool, got {type(reply_broadcast).__name__}")
        check_text(text)
        payload: dict[str, Any] = {"type": "message", "channel": channel, "text": text}
        if thread_ts is not None:
            payload["thread_ts"] = thread_ts
        if reply_broadcast is not None:
            payload["reply_broadcast"] = reply_broadcast
        return self._submit("message", payload, now)

    def send_typing(self, channel: str, now: float) -> Send:
        """Queue a typing indicator for ``channel`` (resolved once written; Slack sends no ack).

        Raises:
            The same as :meth:`send_message`.
        """
        check_str("channel", channel)
        return self._submit("typing", {"type": "typing", "channel": channel}, now)

    def subscribe_presence(self, user_ids: Iterable[str], now: float) -> Send:
        """Replace the presence subscription with ``user_ids``; re-sent after every ``hello``.

        When not connected the list is only kept and the returned :class:`Send` is already done.

        Raises:
            The same as :meth:`send_message`.
        """
        ids = check_ids("user_ids", user_ids)
        payload = {"type": "presence_sub", "ids": ids}
        body = self._sends.encode_checked(payload)
        self._check_open()
        self._presence = ids
        if self._sm.state is State.CONNECTED:
            return self._submit("presence_sub", payload, now, body)
        send = Send("presence_sub", payload)
        self._sends.resolve(send, result=None)
        return send

    def query_presence(self, user_ids: Iterable[str], now: float) -> Send:
        """Ask for the presence of up to 500 users; answered by ``presence_change`` events.

        Raises:
            ValueError: no ids, or more than 500.
            The rest as :meth:`send_message`.
        """
        ids = check_ids("user_ids", user_ids)
        if not ids:
            raise ValueError("user_ids must not be empty")
        if len(ids) > _MAX_PRESENCE_IDS:
            raise ValueError(f"user_ids holds {len(ids)} ids; at most {_MAX_PRESENCE_IDS}")
        return self._submit("presence_query", {"type": "presence_query", "ids": ids}, now)

    def ping(self, now: float) -> Send:
        """Queue a JSON ping; resolved with the round trip in seconds when the pong arrives.

        Pings are not rate limited. While reconnecting they wait for the next ``hello``.

        Raises:
            SendQueueFullError, StateError, ConnectionClosedError: as :meth:`send_message`.
        """
        self._check_open()
        send = self._sends.queue_ping()
        self._flush(now)
        self._note_deadline(send)
        return send

    def _check_open(self) -> None:
        state = self._sm.state
        if state is State.IDLE:
            raise StateError("the session is not started: connect first")
        if state in (State.CLOSING, State.CLOSED):
            raise ConnectionClosedError(f"the session is {state}")

    def _submit(self, kind: str, payload: dict[str, Any], now: float,
                body: bytes | None = None) -> Send:
        if body is None:
            body = self._sends.encode_checked(payload)
        connected = self._sm.state is State.CONNECTED
        if not connected:
            self._check_open()
        send = self._sends.submit(kind, payload, body, self._current if connected else None, now)
        self._note_deadline(send)
        return send

    def _note_deadline(self, send: Send) -> None:
        """Set :attr:`timers_dirty` unless ``send`` was written with a reply deadline no earlier
        than the last one reported (queued or settled at once: set, to be safe)."""
        deadline = send.deadline
        reported = self._reported
        if deadline is None or reported is None or deadline < reported:
            self.timers_dirty = True

    def _flush(self, now: float) -> None:
        conn_id = self._current
        if conn_id is not None and self._sm.state is State.CONNECTED:
            self._sends.flush(conn_id, now)


def _error_code_msg(item: ErrorEvent) -> tuple[int | None, str]:
    err = item.error
    if err is None:
        return None, "no error detail"
    return err.code, err.msg
