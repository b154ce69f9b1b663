"""The Socket Mode session without I/O: envelopes in; events, acks and socket decisions out.

:class:`SocketModeCore` is the second protocol core beside
:class:`~slack_rtm.session.core.SessionCore` (PROTOCOL.md §9), with the same driver-facing
surface, so the same asyncio driver runs either. It owns:

- a **pool of sockets** (``SocketModeConfig.connections``, default 2, at most 10), each got
  through ``apps.connections.open`` (:class:`CallConnect`), one connection attempt at a time;
- **make-before-break**: ``disconnect`` ``warning`` / ``refresh_requested`` retires a socket
  only after its replacement said ``hello`` (envelopes still arriving on it are processed and
  acked on it); ``link_disabled`` stops the session with
  :class:`~slack_rtm.errors.SocketModeDisabledError`;
- **keepalive**: a WebSocket ping (:class:`SendPing`) on a socket quiet for ``ping_interval``;
  no pong within ``ping_timeout`` and the socket is dropped and replaced;
- **reconnects** with the RTM policy (:mod:`slack_rtm.session.policy`): backoff with full jitter,
  ``Retry-After`` as a floor, fatal codes (``invalid_auth``, ``not_allowed_token_type``, ...)
  stop at once;
- **acks** (:class:`SendFrame`, :class:`SendFrames` ``{"envelope_id": ...}``): at once when the
  envelope is queued, or, with ``ack_after_handler`` and for envelopes that accept a response
  payload, when the driver says the handlers returned (:meth:`SocketModeCore.ack`,
  :meth:`SocketModeCore.release`); a payload envelope is acked without one after
  ``response_timeout`` at the latest;
- **de-duplication** of redeliveries by ``event_id`` (bounded): a redelivery is acked and not
  delivered again.

A driver uses it like SessionCore::

    core.start(now)                          # -> CallConnect (apps.connections.open)
    core.connect_succeeded(url, now)         # -> OpenSocket(conn_id, url)
    core.receive(conn_id, frame_bytes, now)  # events appended to core.events; acks as actions
    core.pong_received(conn_id, now)         # a WebSocket pong arrived
    core.ack(envelope_id, now, payload)      # the handlers returned (see ack_after_handler)
    core.tick(now)                           # call at core.next_deadline()
    core.socket_closed(conn_id, now, code)
    core.close(now)
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable, Iterable, KeysView
from typing import Any, Final

import msgspec
from msgspec.structs import force_setattr

from slack_rtm.errors import SocketModeDisabledError, StateError
from slack_rtm.redact import redact_text
from slack_rtm.session.actions import (
    Action,
    CallConnect,
    CloseSocket,
    OpenSocket,
    Send,
    SendFrame,
    SendFrames,
    SendPing,
    Stop,
)
from slack_rtm.session.envelope_types import Envelope, EnvelopeIds, Interaction, SlashCommand
from slack_rtm.session.events import (
    MALFORMED_TEXT_LIMIT,
    Closed,
    Connected,
    Connecting,
    Disconnected,
    Event,
    MalformedFrame,
    Reconnecting,
    UnknownEvent,
    decode_frame,
    decode_kept,
    decode_unknown,
    decode_wire_event,
    wire_event_union,
)
from slack_rtm.session.policy import (
    Attempts,
    check_ping_lead,
    describe,
    fatal_code,
    retry_after,
)
from slack_rtm.session.socket_mode_config import SocketModeConfig
from slack_rtm.session.state import State, StateMachine

__all__ = ["SocketModeCore"]

_log = logging.getLogger("slack_rtm.socket_mode")

# Where the connection attempt is (one at a time).
_WAIT: Final = "wait"  # waiting for the backoff delay
_API: Final = "api"  # waiting for apps.connections.open
_SOCKET: Final = "socket"  # waiting for the WebSocket and its hello

# A socket's role in the pool.
_OPENING: Final = "opening"
_LIVE: Final = "live"
_DRAINING: Final = "draining"  # asked to go (warning / refresh_requested); still read and acked
_CLOSING: Final = "closing"

_REFRESH_REASONS: Final = frozenset({"warning", "refresh_requested"})
_LINK_DISABLED: Final = "link_disabled"


class _Conn:
    __slots__ = ("hello_at", "id", "last_rx", "owed", "ping_at", "retire_at", "role")

    def __init__(self, conn_id: int, now: float) -> None:
        self.id = conn_id
        self.role = _OPENING
        self.hello_at: float | None = None
        self.last_rx = now
        self.ping_at: float | None = None  # when the unanswered ping went out
        self.owed = 0  # acks waiting for handlers, to be written on this socket
        self.retire_at: float | None = None  # draining and replaced: close by then


class _Pending:
    """An envelope whose ack waits for its handlers (and maybe their answer)."""

    __slots__ = ("conn_id", "deadline", "envelope_id", "key", "later", "payload_ok")

    def __init__(self, envelope_id: str, conn_id: int, key: str, payload_ok: bool,
                 deadline: float | None) -> None:
        self.envelope_id = envelope_id
        self.conn_id = conn_id
        self.key = key
        self.payload_ok = payload_ok
        self.deadline = deadline
        self.later: list[tuple[str, int]] = []  # redeliveries meanwhile: acked with it


class _Frame(msgspec.Struct, gc=False):
    # Every frame Socket Mode sends: an envelope, ``hello`` or ``disconnect``.
    type: str | None = None
    envelope_id: str | None = None
    payload: msgspec.Raw = msgspec.Raw()
    accepts_response_payload: bool = False
    retry_attempt: int = 0
    retry_reason: str | None = None
    reason: str | None = None


_WIRE_EVENT: Any = wire_event_union()


class _Ack(msgspec.Struct, gc=False):
    envelope_id: str


class _EventsApiIds(EnvelopeIds, frozen=True, kw_only=True, gc=False):
    # The hot path's payload: the event decoded with its envelope, in the same pass (then
    # taken out, so that the event and its envelope do not point at each other).
    event: _WIRE_EVENT | None = None  # type: ignore[assignment]


class _EventsApiEnvelope(Envelope, frozen=True, kw_only=True, gc=False,
                         repr_omit_defaults=True):
    # An Envelope (the same fields, properties and repr) decoded with its event.
    ids: _EventsApiIds = msgspec.field(default=_EventsApiIds(), name="payload")


# The hot path: an events_api envelope and its event (a known type) in one typed pass.
_decode_events_api = msgspec.json.Decoder(_EventsApiEnvelope).decode
_decode_envelope = msgspec.json.Decoder(Envelope).decode  # the rest of events_api: two passes
_decode_frame_struct = msgspec.json.Decoder(_Frame).decode  # the rest, and what that refused
_decode_ids = msgspec.json.Decoder(EnvelopeIds).decode
_decode_wire = decode_wire_event
_decode_command = msgspec.json.Decoder(SlashCommand).decode
_decode_interaction = msgspec.json.Decoder(Interaction).decode
_encode = msgspec.json.Encoder().encode


class SocketModeCore:
    """The session logic of one Socket Mode client, without I/O.

    Args:
        config: the pool, keepalive, reconnect and ack settings (defaults when None).
        rand: uniform numbers in ``[0, 1)`` for backoff jitter; pass a seeded one for
            reproducible behaviour.
        logger: where decisions are logged (transitions at DEBUG); ``slack_rtm.socket_mode``
            by default.

    Attributes:
        events: events to deliver, in order (typed events and lifecycle events). Prefer
            :meth:`take_events`.
        error: the exception that ended the session, once closed because of one.
        timers_dirty: set when :meth:`next_deadline` may have moved earlier (ask again).
    """

    __slots__ = (
        "_actions", "_by_key", "_closing_reason", "_conn_seq", "_conns", "_dedup_capacity",
        "_hello_deadline", "_log", "_opening", "_paused", "_pending", "_ping_after", "_rand",
        "_retry_at", "_seen", "_seen_order", "_sm", "_step", "_timed", "_tries",
        "_wait_handlers", "_was_up", "config", "error", "events", "timers_dirty",
    )

    def __init__(
        self,
        config: SocketModeConfig | None = None,
        *,
        rand: Callable[[], float] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if config is not None and not isinstance(config, SocketModeConfig):
            raise TypeError(f"config must be a SocketModeConfig, got {type(config).__name__}")
        if rand is not None and not callable(rand):
            raise TypeError(f"rand must be callable, got {type(rand).__name__}")
        if logger is not None and not isinstance(logger, logging.Logger):
            raise TypeError(f"logger must be a logging.Logger, got {type(logger).__name__}")
        self.config = config if config is not None else SocketModeConfig()
        self._rand = rand if rand is not None else random.random
        self._log = logger if logger is not None else _log
        self._sm = StateMachine(self._log)
        self.events: list[Event | bytes] = []
        self._actions: list[Action] = []
        self.error: BaseException | None = None
        self.timers_dirty = False
        self._ping_after = self.config.ping_interval  # ping_interval - ping_lead
        self._conns: dict[int, _Conn] = {}
        self._conn_seq = 0
        self._step: str | None = None
        self._opening: int | None = None
        self._retry_at: float | None = None
        self._hello_deadline: float | None = None
        self._tries = Attempts(self.config.backoff, self.config.max_attempts)
        # Delivered keys (event_id, else envelope_id), and the same keys oldest first: the
        # oldest is forgotten past dedup_capacity. A dict and a deque cost less per envelope
        # than an OrderedDict (and popping a plain dict's first key again and again gets
        # slower with every deleted slot).
        self._seen: dict[str, None] = {}
        self._seen_order: deque[str] = deque()
        self._dedup_capacity = self.config.dedup_capacity
        self._wait_handlers = self.config.ack_after_handler
        self._pending: dict[str, _Pending] = {}  # envelope_id -> ack waiting for handlers
        self._by_key: dict[str, _Pending] = {}
        self._timed: dict[str, _Pending] = {}  # those with a deadline, earliest first
        self._paused = False
        self._was_up = False  # some socket said hello since the last Disconnected
        self._closing_reason = ""

    # ------------------------------------------------------------------ outputs

    @property
    def state(self) -> State:
        """The current :class:`~slack_rtm.session.state.State` (CONNECTED while any socket that
        said ``hello`` is open)."""
        return self._sm.state

    def take_events(self) -> list[Event]:
        """The events produced since the last call, in order; the driver delivers them."""
        events = self.events
        if events:
            self.events = []
        return [decode_frame(e) if isinstance(e, bytes) else e for e in events]

    def take_raw(self) -> list[Event | bytes]:
        """The same as :meth:`take_events` (this core never leaves a frame undecoded); the
        driver-facing name SessionCore also has."""
        events = self.events
        if events:
            self.events = []
        return events

    def take_actions(self) -> list[Action]:
        """The actions produced since the last call; carry them out in order."""
        actions = self._actions
        if not actions:
            return []
        self._actions = []
        return actions

    @property
    def has_actions(self) -> bool:
        """True when :meth:`take_actions` would return something."""
        return bool(self._actions)

    @property
    def live_count(self) -> int:
        """Sockets that said ``hello`` and are neither retiring nor closing."""
        return sum(1 for c in self._conns.values() if c.role == _LIVE)

    @property
    def open_count(self) -> int:
        """Sockets that said ``hello`` and still deliver (live or retiring)."""
        return sum(1 for c in self._conns.values() if c.role in (_LIVE, _DRAINING))

    @property
    def pending_acks(self) -> int:
        """Envelopes delivered whose ack waits for their handlers."""
        return len(self._pending)

    @property
    def ping_lead(self) -> float:
        """How much earlier than ``ping_interval`` of silence a keepalive ping may go out (0 by
        default), for a driver whose shared coarse timer may run :meth:`tick` late; see
        :attr:`slack_rtm.session.core.SessionCore.ping_lead`. The pong timeout is never
        shortened, so a dead link is still noticed within ``ping_interval + ping_timeout``.

        Raises:
            TypeError, ValueError: see :func:`~slack_rtm.session.policy.check_ping_lead`.
        """
        return self.config.ping_interval - self._ping_after

    @ping_lead.setter
    def ping_lead(self, seconds: float) -> None:
        lead = check_ping_lead(seconds, self.config.ping_interval)
        self._ping_after = self.config.ping_interval - lead
        self.timers_dirty = True

    def next_deadline(self) -> float | None:
        """When :meth:`tick` must next be called (None: nothing is scheduled).

        Ask again after every call that may move a deadline earlier: lifecycle calls, control
        frames and envelopes whose ack waits (:attr:`timers_dirty` says so after
        :meth:`receive_many`); ordinary envelopes only move keepalive deadlines later.
        """
        first: float | None = None
        cfg = self.config
        if not self._paused:
            for conn in self._conns.values():
                if conn.role != _LIVE and conn.role != _DRAINING:
                    continue
                at = (conn.last_rx + self._ping_after if conn.ping_at is None
                      else conn.ping_at + cfg.ping_timeout)
                if first is None or at < first:
                    first = at
        others = [c.retire_at for c in self._conns.values() if c.role == _DRAINING]
        if self._timed:
            others.append(next(iter(self._timed.values())).deadline)
        others += (self._retry_at if self._step == _WAIT else None, self._hello_deadline)
        for other in others:
            if other is not None and (first is None or other < first):
                first = other
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
        self._begin_attempt(now)

    def connect_succeeded(self, url: str, now: float) -> int | None:
        """``apps.connections.open`` answered with ``url``: emits :class:`OpenSocket`.

        Returns:
            The new socket's id, or None when the answer is not awaited (closing) and ignored.
        """
        if self._step != _API or not self._sm.is_open:
            return None
        self._conn_seq += 1
        conn = _Conn(self._conn_seq, now)
        self._conns[conn.id] = conn
        self._opening = conn.id
        self._step = _SOCKET
        self._hello_deadline = now + self.config.hello_timeout
        self._actions.append(OpenSocket(conn.id, url))
        return conn.id

    def connect_failed(self, error: BaseException, now: float) -> None:
        """``apps.connections.open`` failed with ``error``: retry with backoff (never sooner
        than its ``Retry-After``), or stop if its code is fatal (``invalid_auth``,
        ``not_allowed_token_type`` for a token of the wrong kind, ...)."""
        if self._step != _API or not self._sm.is_open:
            return
        self._step = None
        fatal = fatal_code(error)
        if fatal is not None:
            self._log.error("apps.connections.open failed with %r: not retrying", fatal)
            self._shutdown(f"apps.connections.open failed: {fatal}", error)
            return
        self._attempt_failed(now, f"apps.connections.open failed: {describe(error)}", error,
                             retry_after(error))

    def socket_opened(self, conn_id: int, now: float) -> None:
        """The WebSocket handshake of ``conn_id`` completed (its hello may already be in)."""
        self._log.debug("socket %d open", conn_id)

    def socket_failed(self, conn_id: int, error: BaseException, now: float) -> None:
        """Opening socket ``conn_id`` failed: retry with backoff."""
        conn = self._conns.pop(conn_id, None)
        if conn is None:
            return
        if conn_id == self._opening:
            self._end_attempt()
            if self._sm.is_open:
                self._attempt_failed(now, f"WebSocket failed: {describe(error)}", error)
        self._maybe_closed()

    def socket_closed(self, conn_id: int, now: float, code: int | None = None,
                      reason: str = "") -> None:
        """Socket ``conn_id`` is closed (by either side, or lost): replace it if needed."""
        conn = self._conns.pop(conn_id, None)
        if conn is None:
            return
        why = f"closed by the server (code {code})" if code is not None else "connection lost"
        if reason:
            why = f"{why}: {redact_text(reason)}"
        self._lost(conn, now, why, code)
        self._maybe_closed()

    def pong_received(self, conn_id: int, now: float) -> None:
        """A WebSocket pong arrived on ``conn_id``: the socket is alive."""
        conn = self._conns.get(conn_id)
        if conn is not None:
            conn.last_rx = now
            conn.ping_at = None

    def set_reading_paused(self, paused: bool, now: float) -> None:
        """The driver stopped (True) or resumed (False) reading because events back up.

        While paused no keepalive deadline runs: a pong cannot be seen while not reading.
        """
        if paused == self._paused:
            return
        self._paused = paused
        if not paused:
            for conn in self._conns.values():
                conn.last_rx = now
                if conn.ping_at is not None:
                    conn.ping_at = now
            self.timers_dirty = True

    def close(self, now: float, reason: str = "closed by the user") -> None:
        """Close the session: emits :class:`CloseSocket` for each socket (then CLOSING until they
        report closed) or, with none open, goes straight to CLOSED. Idempotent.

        Envelopes whose ack still waits for their handlers are not acked: Slack redelivers them
        (to another client of the app, if any).
        """
        if self._sm.state in (State.CLOSING, State.CLOSED):
            return
        self._shutdown(reason, None)

    def fail(self, error: BaseException, now: float) -> None:
        """Stop the session because of ``error`` (the driver met something it cannot fix)."""
        if self._sm.state in (State.CLOSING, State.CLOSED):
            return
        self._shutdown(f"stopped: {describe(error)}", error)

    # ------------------------------------------------------------------ frames

    def receive(self, conn_id: int, data: bytes | memoryview | str, now: float) -> None:
        """A text frame arrived on socket ``conn_id``. Never raises for bad input: a malformed
        frame is delivered as a :class:`~slack_rtm.session.events.MalformedFrame`."""
        self.receive_many(conn_id, (data,), now)

    def receive_many(self, conn_id: int, frames: Iterable[bytes | memoryview | str],
                     now: float) -> None:
        """Text frames that arrived together on socket ``conn_id`` (one read), in order.

        Each envelope's event goes to :attr:`events` and, unless its ack waits for the
        handlers, its ack to the actions at once.
        """
        conn = self._conns.get(conn_id)
        if conn is None:
            return  # a socket already given up: its envelopes will be redelivered
        conn.last_rx = now
        conn.ping_at = None
        # The hot path, inlined: an events_api envelope and its event decoded in one typed pass,
        # delivered, acked at once on this socket (its ack one of this read's SendFrames).
        conn_id = conn.id
        events_append = self.events.append
        actions_append = self._actions.append
        seen = self._seen
        seen_order = self._seen_order
        capacity = self._dedup_capacity
        fast = not self._wait_handlers
        by_key = self._by_key  # acks waiting for handlers, by event: cleared in place, not replaced
        acks: list[bytes] | None = None  # this read's immediate acks, one action
        for data in frames:
            frame_bytes = data if type(data) is bytes or isinstance(data, str) else bytes(data)
            envelope: Envelope | None
            try:
                envelope = hot = _decode_events_api(frame_bytes)
                event = hot.ids.event
            except msgspec.ValidationError as exc:
                envelope, event = _events_api_two_passes(
                    frame_bytes, str(exc).endswith(_UNKNOWN_EVENT_TYPE))
            except Exception:
                envelope, event = _events_api_two_passes(frame_bytes, False)
            if envelope is not None and envelope.type == "events_api" and envelope.envelope_id:
                force_setattr(envelope, "_frame", frame_bytes)
                ids = envelope.ids
                if event is None:
                    event = _malformed(frame_bytes, "events_api envelope without an event",
                                       "events_api")
                elif type(ids) is _EventsApiIds:
                    # Decoded with the envelope: its text is cut from the envelope's when .raw
                    # or .frame asks (Event._text); no cycle between the two.
                    force_setattr(ids, "event", None)
                key = ids.event_id or envelope.envelope_id
                if not fast or envelope.accepts_response_payload or key in seen or by_key:
                    self._deliver(conn, envelope, event, key, now)
                    continue
                force_setattr(event, "_envelope", envelope)
                seen[key] = None
                seen_order.append(key)
                if len(seen_order) > capacity:
                    seen.pop(seen_order.popleft(), None)
                events_append(event)
                if acks is None:
                    acks = []
                    actions_append(SendFrames(conn_id, acks))  # filled as the loop goes
                acks.append(b'{"envelope_id":' + _encode(envelope.envelope_id) + b"}")
                continue
            try:
                frame = _decode_frame_struct(frame_bytes)
            except Exception:
                self.events.append(_malformed(frame_bytes, _why_undecodable(frame_bytes)))
                continue
            if frame.envelope_id is not None:
                self._on_envelope(conn, frame, frame_bytes, now)
            elif frame.type == "hello":
                self.timers_dirty = True
                self._on_hello(conn, frame_bytes, now)
            elif frame.type == "disconnect":
                self.timers_dirty = True
                self._on_disconnect(conn, frame, frame_bytes, now)
            else:
                self.events.append(decode_frame(frame_bytes))

    # The driver-facing names SessionCore has for its fast paths (no such paths here).
    receive_messages = receive_many

    def receive_reply(self, conn_id: int, data: bytes, now: float) -> Send | None:
        """Handled as :meth:`receive` (Socket Mode has no replies); always None."""
        self.receive_many(conn_id, (data,), now)
        return None

    # ------------------------------------------------------------------ acks

    @property
    def waiting(self) -> KeysView[str]:
        """The envelope ids whose ack waits for their handlers (a live view: empty in the
        usual case, so checking it costs nothing per event)."""
        return self._pending.keys()

    def awaits_ack(self, envelope_id: str) -> bool:
        """True while the ack of envelope ``envelope_id`` waits for its handlers (call
        :meth:`ack` or :meth:`release` when they are done)."""
        return envelope_id in self._pending

    def ack(self, envelope_id: str, now: float, payload: dict[str, Any] | None = None) -> bool:
        """The handlers of the event from envelope ``envelope_id`` returned: send its ack.

        ``payload`` (the handler's answer) goes in the ack when the envelope accepts one.
        Redeliveries received meanwhile are acked too.

        Returns:
            True when the ack was sent now; False when it was not waiting (already acked at
            once or after ``response_timeout``, or unknown).

        Raises:
            TypeError: ``envelope_id`` is not a str or ``payload`` not a dict or None.
        """
        if not isinstance(envelope_id, str):
            raise TypeError(f"envelope_id must be a str, got {type(envelope_id).__name__}")
        if payload is not None and not isinstance(payload, dict):
            raise TypeError(f"payload must be a dict or None, got {type(payload).__name__}")
        pending = self._take_pending(envelope_id)
        if pending is None:
            return False
        self._write_ack(pending.conn_id, envelope_id, payload if pending.payload_ok else None)
        for later_id, later_conn in pending.later:
            self._write_ack(later_conn, later_id, None)
        self._owed_paid(pending.conn_id)
        return True

    def release(self, envelope_id: str, now: float) -> bool:
        """A handler of the event from envelope ``envelope_id`` failed (``ack_after_handler``):
        leave it unacked so that Slack redelivers it, and forget it so the redelivery is
        delivered again (at-least-once).

        Returns:
            True when it was waiting; False otherwise (nothing done).
        """
        if not isinstance(envelope_id, str):
            raise TypeError(f"envelope_id must be a str, got {type(envelope_id).__name__}")
        pending = self._take_pending(envelope_id)
        if pending is None:
            return False
        self._seen.pop(pending.key, None)
        self._log.warning("a handler failed: envelope %s is not acknowledged, Slack will "
                          "redeliver it", envelope_id)
        self._owed_paid(pending.conn_id)
        return True

    def _take_pending(self, envelope_id: str) -> _Pending | None:
        pending = self._pending.pop(envelope_id, None)
        if pending is not None:
            self._by_key.pop(pending.key, None)
            self._timed.pop(envelope_id, None)
        return pending

    def _write_ack(self, conn_id: int, envelope_id: str, payload: dict[str, Any] | None) -> None:
        conn = self._conns.get(conn_id)
        if conn is None or conn.role == _CLOSING:
            conn = next((c for c in self._conns.values() if c.role == _LIVE), None)
            if conn is None:
                self._log.debug("no socket for the ack of envelope %s: Slack will redeliver it",
                                envelope_id)
                return
        if payload is None:
            self._actions.append(SendFrame(conn.id, _encode(_Ack(envelope_id))))
            return
        try:
            data = _encode({"envelope_id": envelope_id, "payload": payload})
        except (TypeError, ValueError, OverflowError) as exc:
            self._log.error("the response payload for envelope %s cannot be encoded as JSON "
                            "(%s): acknowledged without it", envelope_id, type(exc).__name__)
            data = _encode({"envelope_id": envelope_id})
        self._actions.append(SendFrame(conn.id, data))

    def _owed_paid(self, conn_id: int) -> None:
        conn = self._conns.get(conn_id)
        if conn is None:
            return
        conn.owed -= 1
        if conn.owed <= 0 and conn.role == _DRAINING and conn.retire_at is not None:
            self._retire(conn, "replaced, acks written")

    # ------------------------------------------------------------------ envelopes

    def _on_envelope(self, conn: _Conn, frame: _Frame, data: bytes | str, now: float) -> None:
        """Any other envelope (commands, interactions, new kinds, odd fields)."""
        envelope_id = frame.envelope_id
        assert envelope_id is not None
        kind = frame.type or ""
        event, ids = _payload_event(kind, frame.payload, data)
        envelope = Envelope(
            envelope_id=envelope_id, type=kind,
            accepts_response_payload=frame.accepts_response_payload,
            retry_attempt=frame.retry_attempt, retry_reason=frame.retry_reason or "", ids=ids,
        )
        force_setattr(envelope, "_frame", data)
        self._deliver(conn, envelope, event, ids.event_id or envelope_id, now)

    def _deliver(self, conn: _Conn, envelope: Envelope, event: Event, key: str,
                 now: float) -> None:
        """Queue ``event`` (from ``envelope``) unless it is a redelivery; ack it now or later."""
        force_setattr(event, "_envelope", envelope)
        envelope_id = envelope.envelope_id
        running = self._by_key.get(key) if self._by_key else None
        if running is not None:
            # The same event while its handlers still run: acked with it, not delivered twice.
            running.later.append((envelope_id, conn.id))
            self._log.debug("redelivery %s of an event being handled: acked with it",
                            envelope_id)
            return
        seen = self._seen
        if key in seen:
            self._write_ack(conn.id, envelope_id, None)
            self._log.debug("dropped redelivered envelope %s (retry %d, %s): already delivered",
                            envelope_id, envelope.retry_attempt,
                            envelope.retry_reason or "no reason")
            return
        seen[key] = None
        self._seen_order.append(key)
        if len(self._seen_order) > self._dedup_capacity:
            seen.pop(self._seen_order.popleft(), None)
        self.events.append(event)
        payload_ok = envelope.accepts_response_payload
        if not payload_ok and not self._wait_handlers:
            # Queued for delivery: acked now, on the socket it came on.
            self._actions.append(SendFrame(conn.id, _encode(_Ack(envelope_id))))
            return
        deadline = now + self.config.response_timeout if payload_ok else None
        pending = _Pending(envelope_id, conn.id, key, payload_ok, deadline)
        self._pending[envelope_id] = pending
        self._by_key[key] = pending
        if deadline is not None:
            self._timed[envelope_id] = pending
            self.timers_dirty = True
        conn.owed += 1

    # ------------------------------------------------------------------ control frames

    def _on_hello(self, conn: _Conn, data: bytes | str, now: float) -> None:
        if conn.id != self._opening:
            self._log.debug("ignored a hello on socket %d", conn.id)
            return
        conn.role = _LIVE
        conn.hello_at = now
        self._end_attempt()
        attempt = self._tries.succeeded()
        self._log.info("socket %d said hello (%d of %d live)", conn.id, self.live_count,
                       self.config.connections)
        if self._sm.state is not State.CONNECTED:
            self._sm.to(State.CONNECTED, f"hello on socket {conn.id}")
            self.events.append(Connected(attempt=attempt))
        self._was_up = True
        self.events.append(decode_frame(data))
        # make-before-break: a socket asked to go may now go, once its acks are written.
        for other in self._conns.values():
            if other.role == _DRAINING and other.retire_at is None:
                other.retire_at = now + self.config.drain_timeout
                if other.owed <= 0:
                    self._retire(other, "replaced after its disconnect")
                break
        self._top_up(now)

    def _on_disconnect(self, conn: _Conn, frame: _Frame, data: bytes | str,
                       now: float) -> None:
        reason = frame.reason or ""
        self.events.append(decode_frame(data))
        if reason == _LINK_DISABLED:
            self._log.error("Slack disabled Socket Mode for the app (disconnect link_disabled)")
            self._shutdown("Socket Mode was disabled for the app", SocketModeDisabledError(
                "Slack turned Socket Mode off for this app (disconnect: link_disabled). Turn "
                "it back on in the app's settings (Socket Mode) before connecting again"))
            return
        if conn.role != _LIVE:
            return
        if reason not in _REFRESH_REASONS:
            self._log.info("disconnect %r on socket %d: replacing it", redact_text(reason),
                           conn.id)
        else:
            self._log.info("disconnect %s on socket %d: opening its replacement first",
                           reason, conn.id)
        conn.role = _DRAINING
        self._top_up(now)

    # ------------------------------------------------------------------ the pool

    def _top_up(self, now: float) -> None:
        """Begin an attempt now if the pool is short and none is under way."""
        if self._step is None and self._sm.is_open and self.live_count < self.config.connections:
            self._begin_attempt(now)

    def _begin_attempt(self, now: float) -> None:
        self._retry_at = None
        self._step = _API
        attempt = self._tries.next_number
        if self._sm.state is not State.CONNECTED:
            self.events.append(Connecting(attempt=attempt))
        self._actions.append(CallConnect(attempt))

    def _end_attempt(self) -> None:
        self._opening = None
        self._hello_deadline = None
        self._step = None

    def _attempt_failed(self, now: float, why: str, error: BaseException | None,
                        retry_after: float | None = None) -> None:
        delay, gave_up = self._tries.failed(why, error, self._rand, retry_after)
        if gave_up is not None:
            self._shutdown(f"gave up after {self._tries.attempts} attempts", gave_up)
            return
        self._log.info("connecting again in %.3f s (attempt %d): %s", delay,
                       self._tries.next_number, why)
        if self._sm.state is not State.CONNECTED:
            self.events.append(Reconnecting(delay=delay, attempt=self._tries.next_number,
                                            reason=why))
        if delay <= 0:
            self._begin_attempt(now)
        else:
            self._step = _WAIT
            self._retry_at = now + delay

    def _lost(self, conn: _Conn, now: float, why: str, code: int | None) -> None:
        if self._pending:
            self._forget_owed(conn.id)
        if not self._sm.is_open:
            return  # closing: Disconnected and Closed come when the last socket is gone
        if conn.id == self._opening:
            self._end_attempt()
            self._attempt_failed(now, why, None)
            return
        if conn.role not in (_LIVE, _DRAINING):
            return  # retired by us
        was_live = conn.role == _LIVE
        self._log.info("socket %d lost: %s", conn.id, why)
        if self.open_count == 0:
            self._was_up = False
            self.events.append(Disconnected(reason=why, code=code))
            if self._sm.state is State.CONNECTED:
                self._sm.to(State.RECONNECTING, why)
        if not was_live or self._step is not None:
            self._top_up(now)
            return
        healthy = conn.hello_at is not None and now - conn.hello_at >= self.config.healthy_after
        if healthy:
            self._tries.reset_backoff()
            self._top_up(now)
        else:
            self._attempt_failed(now, why, None)

    def _forget_owed(self, conn_id: int) -> None:
        """Acks owed on a lost socket go on another one when their handlers return."""
        replacement = next((c for c in self._conns.values() if c.role == _LIVE), None)
        for pending in self._pending.values():
            if pending.conn_id == conn_id and replacement is not None:
                pending.conn_id = replacement.id
                replacement.owed += 1

    def _retire(self, conn: _Conn, why: str) -> None:
        conn.role = _CLOSING
        conn.retire_at = None
        self._actions.append(CloseSocket(conn.id, 1000, why))

    def _shutdown(self, reason: str, error: BaseException | None) -> None:
        if self._sm.state is State.CLOSED:
            return
        self.error = error
        self._end_attempt()
        self._retry_at = None
        self._pending.clear()
        self._by_key.clear()
        self._timed.clear()
        self._closing_reason = reason
        for conn in self._conns.values():
            if conn.role != _CLOSING:
                conn.role = _CLOSING
                self._actions.append(CloseSocket(conn.id, 1000, "client closing"))
        if self._conns:
            if self._sm.state is not State.CLOSING:
                self._sm.to(State.CLOSING, reason)
        else:
            self._finish_close()

    def _maybe_closed(self) -> None:
        if self._sm.state is State.CLOSING and not self._conns:
            self._finish_close()

    def _finish_close(self) -> None:
        reason = self._closing_reason
        if self._was_up:
            self._was_up = False
            self.events.append(Disconnected(reason=reason))
        self._sm.to(State.CLOSED, reason)
        error = self.error
        self.events.append(Closed(reason=reason, error=None if error is None else describe(error)))
        self._actions.append(Stop(error))

    # ------------------------------------------------------------------ timers

    def tick(self, now: float) -> None:
        """Run whatever is due at ``now``: reconnect, hello timeout, keepalive, ack deadlines,
        retiring replaced sockets."""
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
        while self._timed:
            pending = next(iter(self._timed.values()))
            if pending.deadline is None or pending.deadline > now:
                break
            self._log.warning(
                "no answer from the handlers within %s s: acknowledged envelope %s without a "
                "response payload (Slack's deadline is 3 s)", cfg.response_timeout,
                pending.envelope_id)
            self.ack(pending.envelope_id, now)
        for conn in list(self._conns.values()):
            if conn.role == _DRAINING and conn.retire_at is not None and now >= conn.retire_at:
                self._retire(conn, "replaced")
                continue
            if self._paused or (conn.role != _LIVE and conn.role != _DRAINING):
                continue
            if conn.ping_at is None:
                if now - conn.last_rx >= self._ping_after:
                    conn.ping_at = now
                    self._actions.append(SendPing(conn.id))
            elif now - conn.ping_at >= cfg.ping_timeout:
                self._log.warning("no pong on socket %d within %s s: the link is dead", conn.id,
                                  cfg.ping_timeout)
                self._actions.append(CloseSocket(conn.id, 1000, "keepalive timeout", abort=True))
                del self._conns[conn.id]
                self._lost(conn, now, f"no pong within {cfg.ping_timeout} s", None)
        self._maybe_closed()


_NO_IDS = EnvelopeIds()


# The end of msgspec's message when the one-pass decode refused an event type that has no class
# of its own (``app_mention``, ...: common in the Events API). Its event then goes straight to
# decode_unknown instead of failing a second typed decode (~1 µs less an envelope).
_UNKNOWN_EVENT_TYPE: Final = "at `$.payload.event.type`"


def _events_api_two_passes(data: bytes | str, unknown_type: bool,
                           ) -> tuple[Envelope | None, Event | None]:
    """An envelope the one-pass decode refused (an event type with no class of its own, odd
    fields, or not an envelope at all), decoded in two passes: the envelope, then its event
    (None: not an envelope, or no event); ``unknown_type``: the refusal named the event's
    ``type``. Never raises."""
    try:
        envelope = _decode_envelope(data)
    except Exception:
        return None, None
    inner = bytes(envelope.ids.event)
    if not inner or inner == b"null":
        return envelope, None
    if unknown_type:
        return envelope, decode_unknown(inner)
    try:
        event = _decode_wire(inner)
    except Exception:
        return envelope, decode_kept(inner)
    force_setattr(event, "_frame", inner)
    return envelope, event


def _payload_event(kind: str, payload: msgspec.Raw, data: bytes | str,
                   ) -> tuple[Event, EnvelopeIds]:
    """The event an envelope's payload holds, and the payload's ids. Never raises."""
    body = bytes(payload)
    try:
        ids = _decode_ids(body)
    except Exception as exc:
        return _malformed(data, f"invalid {kind or 'envelope'} payload: {exc}", kind), _NO_IDS
    if kind == "events_api":
        inner = bytes(ids.event)
        if not inner or inner == b"null":
            return _malformed(data, "events_api envelope without an event", kind), ids
        return decode_kept(inner), ids
    if kind in ("slash_commands", "interactive"):
        decode = _decode_command if kind == "slash_commands" else _decode_interaction
        try:
            event: Event = decode(body)
        except Exception as exc:
            return _malformed(data, f"invalid {kind} payload: {exc}", kind), _NO_IDS
        force_setattr(event, "_frame", body)
        return event, ids
    event = UnknownEvent(type=kind or "envelope")
    force_setattr(event, "_frame", body if body and body != b"null" else data)
    return event, ids


def _why_undecodable(data: bytes | str) -> str:
    event = decode_frame(data)
    if isinstance(event, MalformedFrame):
        return event.error
    return "not a Socket Mode frame (a field has the wrong type)"


def _malformed(data: bytes | str, error: str, kind: str | None = None) -> MalformedFrame:
    head = data[:MALFORMED_TEXT_LIMIT]
    text = head if isinstance(head, str) else head.decode("utf-8", "replace")
    event = MalformedFrame(error=redact_text(error), text=redact_text(text), event_type=kind)
    force_setattr(event, "_frame", data)
    return event
