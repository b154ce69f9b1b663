"""The typed events Slack sends over RTM (PROTOCOL §4), and the :class:`Event` base they share.

Every model is a frozen :class:`msgspec.Struct`. Slack omits fields freely, so every field has a
default (``None``, ``False`` or empty); ids and timestamps stay strings. Fields not declared here
are skipped while decoding and stay reachable through :attr:`Event.raw`.

The wire events (:class:`WireEvent` subclasses, here and in
:mod:`slack_rtm.session.channel_events`) carry a ``type`` tag and are decoded in one pass by
:func:`slack_rtm.session.events.decode_frame` as members of a tagged union. Their ``type`` is a
class constant, so reading it costs nothing per event.

Events are ``gc=False`` structs: they are never tracked by the garbage collector, which makes
decoding bursts cheaper. They hold only decoded JSON (trees, no cycles); do not store an event
inside one of its own lists or dicts.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
from msgspec.structs import force_setattr

from slack_rtm.redact import redact_url

if TYPE_CHECKING:
    from slack_rtm.session.envelope_types import Envelope

__all__ = [
    "Edited",
    "ErrorEvent",
    "ErrorInfo",
    "Event",
    "Goodbye",
    "Hello",
    "ManualPresenceChange",
    "Message",
    "MessageBody",
    "Pong",
    "PresenceChange",
    "ReconnectUrl",
    "TeamJoin",
    "TeamMigrationStarted",
    "UserChange",
    "UserInfo",
    "UserProfile",
    "UserTyping",
    "WireEvent",
    "decode_raw",
]

# Decodes the whole frame for ``.raw``; built once.
_decode_any = msgspec.json.Decoder().decode
_encode_json = msgspec.json.Encoder().encode


def _tolerant_int(digits: str) -> int | float:
    # The stdlib refuses to convert integers longer than its digit limit (CVE-2020-10735).
    limit = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0
    if limit and len(digits) > limit:
        return float(digits)
    return int(digits)


def decode_raw(frame: bytes | str) -> dict[str, Any]:
    """The JSON object in ``frame`` as a ``dict``, as best it can; never raises.

    msgspec first (fast, exact). When that fails on something a typed decode skipped — a very
    long integer, invalid UTF-8 in an ignored field — the stdlib decoder, with U+FFFD for invalid
    bytes and integers longer than the stdlib's digit limit (4,300) as floats. An empty dict if
    the frame is not a JSON object at all.
    """
    try:
        value = _decode_any(frame)
    except Exception:
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        try:
            value = json.loads(text, parse_int=_tolerant_int)
        except Exception:
            return {}
    return value if isinstance(value, dict) else {}


class _FrameSlots:
    # Not struct fields: never decoded from, encoded to or compared in JSON. ``_frame`` is the
    # frame text the event came from; ``_raw`` caches its decoded dict once ``.raw`` is read;
    # ``_backfilled`` is set (True) only on messages fetched from history by catch-up;
    # ``_envelope`` only on events that came in a Socket Mode envelope. An event decoded in the
    # same pass as its envelope has no ``_frame`` until ``.raw`` or ``.frame`` needs it: its
    # text is then cut from the envelope's (``_text``).
    __slots__ = ("_backfilled", "_envelope", "_frame", "_raw")
    _backfilled: bool
    _envelope: Any  # an Envelope (msgspec resolves these annotations: no forward reference)
    _frame: bytes | str
    _raw: dict[str, Any]


class Event(
    _FrameSlots,
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    gc=False,
    omit_defaults=True,
    repr_omit_defaults=True,
):
    """Base of every event: what Slack sent, what the client itself reports, and replies.

    Attributes:
        type: the event's ``type`` string (``"message"``, ``"reply"``, ``"connected"``, ...).
        raw: the JSON object as received (see :attr:`raw`).
    """

    @property
    def type(self) -> str:
        """The event's type name; every concrete event class overrides it."""
        return ""

    @property
    def backfilled(self) -> bool:
        """True for a message that catch-up fetched from history after a gap; False for
        everything that came over the socket (and for every other event)."""
        return getattr(self, "_backfilled", False)

    @property
    def frame(self) -> bytes:
        """The event's JSON text as received, byte for byte, to pass on unchanged (a gateway, an
        archive). For a message catch-up fetched, the history item with ``"type": "message"``
        first and its ``"channel"`` added; for an event built in Python, its JSON encoding."""
        frame = self._text()
        if frame is None:
            return _encode_json(self.raw)
        return frame if isinstance(frame, bytes) else frame.encode()

    @property
    def envelope(self) -> Envelope | None:
        """The Socket Mode envelope this event came in (``envelope_id``, ``event_id``,
        ``retry_attempt``, ...); None for RTM events and events the client makes itself."""
        return getattr(self, "_envelope", None)

    @property
    def raw(self) -> dict[str, Any]:
        """The JSON object as received, keys Slack sent that no field declares included.

        Decoded from the kept frame text on first access, then cached: the hot path never pays
        for it. Treat it as read-only. For an event built in Python (not decoded from a frame),
        its fields as JSON-ready builtins.
        """
        try:
            return self._raw
        except AttributeError:
            pass
        frame = self._text()
        raw: dict[str, Any] = msgspec.to_builtins(self) if frame is None else decode_raw(frame)
        force_setattr(self, "_raw", raw)
        return raw

    def _text(self) -> bytes | str | None:
        """The frame text kept for :attr:`raw` and :attr:`frame`; None for an event built in
        Python. An event from a Socket Mode envelope decoded in one pass gets it from the
        envelope's frame on first use (then kept)."""
        try:
            return self._frame
        except AttributeError:
            pass
        envelope = getattr(self, "_envelope", None)
        if envelope is None:
            return None
        text: bytes = envelope._event_text()
        if not text:
            return None
        force_setattr(self, "_frame", text)
        return text


class _Model(msgspec.Struct, frozen=True, kw_only=True, gc=False, repr_omit_defaults=True):
    """Base of the nested objects (channel, user, item, ...)."""


class WireEvent(Event, frozen=True, tag_field="type"):
    """Base of the events Slack sends, decoded by their ``type`` tag in one pass."""


# --- nested objects -----------------------------------------------------------------------------


class ErrorInfo(_Model, frozen=True):
    """The ``error`` object of an ``error`` event or a failed reply.

    Attributes:
        code: Slack's numeric code (``1`` "Socket URL has expired", ``2`` "message text is
            missing", ``-1`` "slow down"...), or ``None`` if absent.
        msg: the human-readable message.
    """

    code: int | None = None
    msg: str = ""


class Edited(_Model, frozen=True):
    """``edited`` on a message: who edited it and when."""

    user: str | None = None
    ts: str | None = None


class MessageBody(_Model, frozen=True):
    """A message nested in another: ``message`` / ``previous_message`` / ``root``."""

    type: str | None = None
    subtype: str | None = None
    user: str | None = None
    text: str | None = None
    ts: str | None = None
    thread_ts: str | None = None
    edited: Edited | None = None
    bot_id: str | None = None
    username: str | None = None
    team: str | None = None
    client_msg_id: str | None = None
    parent_user_id: str | None = None
    reply_count: int | None = None
    blocks: list[Any] | None = None
    attachments: list[Any] | None = None
    files: list[Any] | None = None


class UserProfile(_Model, frozen=True):
    """The parts of a user's ``profile`` that are almost always present."""

    real_name: str | None = None
    display_name: str | None = None
    email: str | None = None
    status_text: str | None = None
    status_emoji: str | None = None
    team: str | None = None


class UserInfo(_Model, frozen=True):
    """A user as a full object (``team_join``, ``user_change``)."""

    id: str | None = None
    team_id: str | None = None
    name: str | None = None
    real_name: str | None = None
    deleted: bool = False
    is_bot: bool = False
    is_admin: bool = False
    is_owner: bool = False
    tz: str | None = None
    tz_offset: int | None = None
    profile: UserProfile | None = None


class Hello(WireEvent, frozen=True, tag="hello"):
    """The first frame of a working session (PROTOCOL §3.1)."""

    type: ClassVar[str] = "hello"


class Goodbye(WireEvent, frozen=True, tag="goodbye"):
    """The server will close this socket soon: reconnect (PROTOCOL §3.7)."""

    type: ClassVar[str] = "goodbye"


class TeamMigrationStarted(WireEvent, frozen=True, tag="team_migration_started"):
    """The workspace is migrating; the socket closes now (PROTOCOL §3.7)."""

    type: ClassVar[str] = "team_migration_started"


class ReconnectUrl(WireEvent, frozen=True, tag="reconnect_url"):
    """Experimental, unsupported by Slack: never depend on it (PROTOCOL §3.7).

    ``url`` is a credential: it is kept out of the repr.
    """

    type: ClassVar[str] = "reconnect_url"
    url: str | None = None

    def __repr__(self) -> str:
        return f"ReconnectUrl(url={redact_url(self.url)!r})" if self.url else "ReconnectUrl()"


class Pong(WireEvent, frozen=True, tag="pong"):
    """The answer to a ``ping``; ``time`` echoes the ping's (PROTOCOL §3.5)."""

    type: ClassVar[str] = "pong"
    reply_to: int | None = None
    time: int | float | None = None


class ErrorEvent(WireEvent, frozen=True, tag="error"):
    """A session-level error, e.g. ``code`` 1 "Socket URL has expired" (PROTOCOL §3.1)."""

    type: ClassVar[str] = "error"
    error: ErrorInfo | None = None


# --- messages -----------------------------------------------------------------------------------


class Message(WireEvent, frozen=True, kw_only=True, tag="message"):
    """A ``message`` and all its subtypes (PROTOCOL §4.1, §4.3).

    ``subtype`` is ``None`` for a plain user message. ``message`` / ``previous_message`` hold the
    new and old versions for ``message_changed``; ``deleted_ts`` the deleted message for
    ``message_deleted``; ``root`` the thread's parent for ``thread_broadcast``. ``reply_to`` is
    set when Slack echoes a message this client sent (PROTOCOL §3.2). Use
    :meth:`has_subtype` to test the subtype.
    """

    # The fields come in the order Slack sends them (PROTOCOL §4.3): msgspec looks for each key
    # first at the field after the last one it matched, so a frame in declaration order is
    # decoded without searching (~10% of a plain message's decode; bench/bench_decode.py).
    type: ClassVar[str] = "message"
    subtype: str | None = None
    hidden: bool = False
    channel: str | None = None
    user: str | None = None
    text: str | None = None
    ts: str | None = None
    event_ts: str | None = None
    team: str | None = None
    client_msg_id: str | None = None
    suppress_notification: bool = False
    source_team: str | None = None
    user_team: str | None = None
    thread_ts: str | None = None
    bot_id: str | None = None
    bot_profile: dict[str, Any] | None = None
    username: str | None = None
    edited: Edited | None = None
    message: MessageBody | None = None
    previous_message: MessageBody | None = None
    root: MessageBody | None = None
    deleted_ts: str | None = None
    reply_to: int | None = None
    parent_user_id: str | None = None
    reply_count: int | None = None
    blocks: list[Any] | None = None
    attachments: list[Any] | None = None
    files: list[Any] | None = None
    topic: str | None = None
    purpose: str | None = None
    name: str | None = None
    old_name: str | None = None
    inviter: str | None = None

    def has_subtype(self, *subtypes: str | None) -> bool:
        """Whether this message's ``subtype`` is one of ``subtypes`` (``None``: a plain message)."""
        return self.subtype in subtypes


# --- typing and presence ------------------------------------------------------------------------


class UserTyping(WireEvent, frozen=True, tag="user_typing"):
    """Someone is typing in ``channel``."""

    type: ClassVar[str] = "user_typing"
    channel: str | None = None
    user: str | None = None
    thread_ts: str | None = None


class PresenceChange(WireEvent, frozen=True, tag="presence_change"):
    """``presence`` (``active``/``away``) of one or more users (PROTOCOL §3.6).

    Slack sends either ``user`` (one id) or, with ``batch_presence_aware``, ``users`` (a list).
    ``users`` is always filled: ``(user,)`` for the single shape.
    """

    type: ClassVar[str] = "presence_change"
    presence: str | None = None
    user: str | None = None
    users: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.users and self.user is not None:
            force_setattr(self, "users", (self.user,))


class ManualPresenceChange(WireEvent, frozen=True, tag="manual_presence_change"):
    """You set your own presence (sent to your own sockets)."""

    type: ClassVar[str] = "manual_presence_change"
    presence: str | None = None


# --- users --------------------------------------------------------------------------------------


class TeamJoin(WireEvent, frozen=True, tag="team_join"):
    """A new member joined the workspace; ``user`` is an object."""

    type: ClassVar[str] = "team_join"
    user: UserInfo | None = None
    event_ts: str | None = None


class UserChange(WireEvent, frozen=True, tag="user_change"):
    """A member's data changed; ``user`` is an object."""

    type: ClassVar[str] = "user_change"
    user: UserInfo | None = None
    event_ts: str | None = None
