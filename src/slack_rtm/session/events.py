"""Decoding RTM frames into typed events: :func:`decode_frame`, the hot path of the SDK.

One WebSocket text frame in, one :class:`~slack_rtm.session.event_types.Event` out:

- a typed wire event (:class:`Message`, :class:`PresenceChange`, ... see
  :mod:`slack_rtm.session.event_types`) when ``type`` is one this module knows;
- :class:`UnknownEvent` for any other ``type`` (PROTOCOL §4.1: tolerate and pass on);
- :class:`Reply` for a frame with ``reply_to`` and no ``type``: Slack's answer to a frame we sent
  (PROTOCOL §3.2). A ``message`` carrying ``reply_to`` is a :class:`Message` echo, not a reply;
- :class:`MalformedFrame` for everything else. :func:`decode_frame` never raises on network input.

**Fields that do not fit.** A frame whose ``type`` is known but whose fields have the wrong JSON
type (``"text": 123``) becomes a :class:`MalformedFrame` naming the field, with ``event_type``
set and ``.raw`` available — never a half-typed event, so a handler registered for ``"message"``
always receives a :class:`Message` whose fields have their declared types.

**Speed.** The common case is one msgspec pass over a tagged union of the wire events, straight
from the frame buffer, plus keeping a reference to the frame so that ``.raw`` can be decoded
later, on first access. Anything that fails that pass takes a slower path that works out why.

It also holds the events the client reports about itself (:class:`Connecting`,
:class:`Connected`, :class:`Reconnecting`, :class:`Disconnected`, :class:`Closed`,
:class:`HandlerError`) and the registry of type names (:func:`event_type_names`,
:func:`event_class`, :func:`matches`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Union

import msgspec
from msgspec.structs import force_setattr

from slack_rtm.redact import redact_text
from slack_rtm.session import channel_events as _channel_events
from slack_rtm.session import event_types as _event_types
from slack_rtm.session.channel_events import *  # noqa: F403 - re-exported, see __all__
from slack_rtm.session.envelope_types import ENVELOPE_EVENTS, Envelope, Interaction, SlashCommand
from slack_rtm.session.event_types import *  # noqa: F403 - re-exported, see __all__
from slack_rtm.session.event_types import ErrorInfo, Event, WireEvent, decode_raw

__all__ = [
    *_event_types.__all__,
    *_channel_events.__all__,
    "DOCUMENTED_TYPES",
    "ENVELOPE_EVENTS",
    "EVENT_TYPES",
    "Envelope",
    "Interaction",
    "SlashCommand",
    "LIFECYCLE_EVENTS",
    "MALFORMED_TEXT_LIMIT",
    "MESSAGE_SUBTYPES",
    "CatchUp",
    "Closed",
    "Connected",
    "Connecting",
    "Disconnected",
    "HandlerError",
    "LifecycleEvent",
    "MalformedFrame",
    "Reconnecting",
    "Reply",
    "ReplyError",
    "UnknownEvent",
    "WIRE_EVENTS",
    "decode_frame",
    "decode_kept",
    "decode_reply_frame",
    "decode_unknown",
    "decode_wire_event",
    "event_class",
    "event_type_names",
    "matches",
    "validate_type_name",
    "wire_event_union",
]

MALFORMED_TEXT_LIMIT = 1024
"""How much of a malformed frame :attr:`MalformedFrame.text` keeps (characters)."""

ReplyError = ErrorInfo
"""The ``error`` object of a failed :class:`Reply`: ``code`` and ``msg``."""


# --- replies, unknown and malformed frames -------------------------------------------------------


class Reply(Event, frozen=True, kw_only=True):
    """Slack's answer to a frame this client sent: ``reply_to`` is that frame's ``id``.

    Replies have no ``type`` on the wire; :attr:`type` is ``"reply"`` so consumers can switch on
    it. A reply without ``ok`` counts as a failure: delivery is never assumed.

    Attributes:
        reply_to: the ``id`` of the frame answered.
        ok: whether Slack accepted it.
        ts: for an accepted message, its timestamp (the message's identity in the channel).
        text: for an accepted message, the text as Slack stored it (links may be rewritten).
        error: for a refused frame, Slack's ``code`` and ``msg``.
    """

    # In the order Slack sends them (PROTOCOL §3.2), so msgspec finds each key where it looks
    # first (see Message).
    type: ClassVar[str] = "reply"
    ok: bool = False
    reply_to: int
    ts: str | None = None
    text: str | None = None
    error: ErrorInfo | None = None


class UnknownEvent(Event, frozen=True):
    """An event whose ``type`` has no typed class here; everything Slack sent is in ``.raw``."""

    type: str = ""


class MalformedFrame(Event, frozen=True):
    """A frame that is not a usable event or reply; :attr:`type` is ``"malformed"``.

    Attributes:
        error: what is wrong, e.g. ``invalid JSON: ...``, ``expected a JSON object, got
            array``, ``invalid `message` event: Expected `str`, got `int` - at `$.text```.
        text: the start of the frame (at most :data:`MALFORMED_TEXT_LIMIT` characters, invalid
            UTF-8 replaced by U+FFFD, anything that looks like a token redacted).
        event_type: the frame's ``type`` when it had a string one, else ``None``.

    ``.raw`` is the JSON object when the frame was one, else ``{}``.
    """

    type: ClassVar[str] = "malformed"
    error: str = ""
    text: str = ""
    event_type: str | None = None


# --- events the client reports about itself ------------------------------------------------------


class LifecycleEvent(Event, frozen=True, tag_field="type"):
    """Base of the events the client emits itself (not from the wire); ``.raw`` is the fields."""


class Connecting(LifecycleEvent, frozen=True, tag="connecting"):
    """Calling ``rtm.connect`` and opening the WebSocket; ``attempt`` counts from 1.

    ``resume`` is True when the attempt opens the last ``reconnect_url`` instead (a fast
    resume after an abrupt drop: no ``rtm.connect`` call).
    """

    type: ClassVar[str] = "connecting"
    attempt: int = 1
    resume: bool = False


class Connected(LifecycleEvent, frozen=True, tag="connected"):
    """``hello`` received: the session is live."""

    type: ClassVar[str] = "connected"
    attempt: int = 1


class Reconnecting(LifecycleEvent, frozen=True, tag="reconnecting"):
    """The link ended; the next attempt starts in ``delay`` seconds."""

    type: ClassVar[str] = "reconnecting"
    delay: float = 0.0
    attempt: int = 1
    reason: str = ""


class Disconnected(LifecycleEvent, frozen=True, tag="disconnected"):
    """The WebSocket closed; ``code`` is the close code when there was one."""

    type: ClassVar[str] = "disconnected"
    reason: str = ""
    code: int | None = None


class Closed(LifecycleEvent, frozen=True, tag="closed"):
    """The client stopped for good; ``error`` is the repr of the fatal error, if any."""

    type: ClassVar[str] = "closed"
    reason: str = ""
    error: str | None = None


class HandlerError(LifecycleEvent, frozen=True, tag="handler_error"):
    """A handler raised while handling an event of type ``event_type``.

    Attributes:
        event_type: the type of the event being handled.
        error: the repr of the exception.
        handler: the handler's qualified name.
    """

    type: ClassVar[str] = "handler_error"
    event_type: str = ""
    error: str = ""
    handler: str = ""


class CatchUp(LifecycleEvent, frozen=True, tag="catch_up"):
    """Catch-up after a gap (``catch_up=True``): ``phase`` ``"started"``, then ``"done"``.

    Attributes:
        phase: ``"started"`` or ``"done"``.
        conversations: conversations being (or that were) caught up.
        messages: on ``done``, messages delivered from history (marked ``backfilled``).
        calls: on ``done``, history calls made (``conversations.history`` and ``.replies``).
        failed: on ``done``, conversations whose history could not be read (e.g.
            ``not_in_channel``); the others were caught up all the same.
        seconds: on ``done``, how long it took from the ``hello`` that began it.
    """

    type: ClassVar[str] = "catch_up"
    phase: str = "started"
    conversations: int = 0
    messages: int = 0
    calls: int = 0
    failed: int = 0
    seconds: float = 0.0


LIFECYCLE_EVENTS: tuple[type[LifecycleEvent], ...] = (
    Connecting,
    Connected,
    Reconnecting,
    Disconnected,
    Closed,
    HandlerError,
    CatchUp,
)


WIRE_EVENTS: tuple[type[WireEvent], ...] = tuple(
    cls
    for module in (_event_types, _channel_events)
    for cls in vars(module).values()
    if isinstance(cls, type) and issubclass(cls, WireEvent) and "type" in vars(cls)
)
"""Every typed wire event class: the members of the tagged union :func:`decode_frame` decodes."""

# --- the registry --------------------------------------------------------------------------------


def _type_name(cls: type[Event]) -> str:
    name = vars(cls)["type"]  # the class constant (``Event.type`` is only a property)
    assert isinstance(name, str)
    return name


_TYPED: tuple[type[Event], ...] = (*WIRE_EVENTS, *LIFECYCLE_EVENTS, *ENVELOPE_EVENTS, Reply,
                                   MalformedFrame)

EVENT_TYPES: Mapping[str, type[Event]] = MappingProxyType({_type_name(c): c for c in _TYPED})
"""Type name -> the class events of that type are. Other names become :class:`UnknownEvent`."""

_WIRE_BY_TYPE: Mapping[str, type[Event]] = {_type_name(cls): cls for cls in WIRE_EVENTS}

DOCUMENTED_TYPES = frozenset(
    """hello goodbye team_migration_started reconnect_url pong error message user_typing
    presence_change manual_presence_change channel_created channel_joined channel_left
    channel_deleted channel_rename channel_archive channel_unarchive channel_marked
    channel_history_changed member_joined_channel member_left_channel group_joined group_left
    group_open group_close group_rename group_archive group_unarchive group_marked mpim_joined
    mpim_open mpim_close im_created im_open im_close im_marked reaction_added reaction_removed
    pin_added pin_removed star_added star_removed file_created file_shared file_public
    file_change file_deleted team_join user_change user_status_changed dnd_updated
    dnd_updated_user team_rename team_domain_change team_pref_change emoji_changed
    commands_changed bot_added bot_changed subteam_created subteam_updated pref_change""".split()  # noqa: SIM905
)
"""Every wire event type PROTOCOL §4.2 documents, typed here or not."""

MESSAGE_SUBTYPES = frozenset(
    """bot_message me_message message_changed message_deleted message_replied thread_broadcast
    channel_join channel_leave channel_topic channel_purpose channel_name channel_archive
    channel_unarchive group_join group_leave group_topic group_purpose group_name group_archive
    group_unarchive file_share file_comment file_mention pinned_item unpinned_item
    reminder_add""".split()  # noqa: SIM905
)
"""Documented ``message`` subtypes (Slack adds more; any string may arrive)."""

_TYPE_NAME_RE = re.compile(r"[a-z0-9_]+")


def event_type_names() -> frozenset[str]:
    """Every type name this SDK knows: typed, documented, lifecycle, ``reply``, ``malformed``."""
    return DOCUMENTED_TYPES | EVENT_TYPES.keys()


def event_class(type_name: str) -> type[Event]:
    """The class that events of ``type_name`` decode to (:class:`UnknownEvent` if untyped)."""
    return EVENT_TYPES.get(type_name, UnknownEvent)


def validate_type_name(type_name: object, *, argument: str = "event_type") -> str:
    """``type_name`` if it can name an event type: ``"*"`` or lowercase ``snake_case``.

    Unknown names are allowed (Slack sends undocumented types); compare with
    :func:`event_type_names` to warn about likely typos.

    Raises:
        TypeError: ``type_name`` is not a ``str`` (the message names ``argument``).
        ValueError: it is empty or not ``[a-z0-9_]+``.
    """
    if not isinstance(type_name, str):
        raise TypeError(f"{argument} must be a str, got {type(type_name).__name__}")
    if type_name != "*" and not _TYPE_NAME_RE.fullmatch(type_name):
        raise ValueError(
            f"{argument} must be '*' or a lowercase event type like 'message', got {type_name!r}"
        )
    return type_name


def matches(event: Event, type_name: str, subtype: str | None = None) -> bool:
    """Whether ``event`` is of ``type_name`` (``"*"``: any) and, if given, of ``subtype``.

    ``subtype`` is compared with the event's ``subtype`` (a :class:`Message`'s, or the ``raw``
    one of an :class:`UnknownEvent`); ``None`` accepts any subtype.
    """
    if type_name != "*" and event.type != type_name:
        return False
    if subtype is None:
        return True
    if isinstance(event, UnknownEvent):
        return event.raw.get("subtype") == subtype
    return getattr(event, "subtype", None) == subtype


# --- decoding ------------------------------------------------------------------------------------

_WIRE_UNION: Any = Union.__getitem__(WIRE_EVENTS)  # one tagged union of every wire event
_decode_wire: Callable[[bytes | str], Event] = msgspec.json.Decoder(_WIRE_UNION).decode
decode_wire_event = _decode_wire
"""The one-pass typed decode :func:`decode_frame` tries first (raises on anything else).

Hot loops that hold ``bytes`` call :func:`decode_kept`, which wraps it with the fallback and
keeps the frame for ``.raw``."""
_decode_any: Callable[[bytes | str], Any] = msgspec.json.Decoder().decode


def wire_event_union() -> Any:
    """The tagged union of every typed wire event (:data:`WIRE_EVENTS`), for a struct field that
    holds one (Socket Mode decodes an ``events_api`` envelope and its event in one pass)."""
    return _WIRE_UNION


def decode_frame(data: bytes | bytearray | memoryview | str) -> Event:
    """Decode one WebSocket text frame into an event, a reply or a :class:`MalformedFrame`.

    Call it for every text frame received. ``bytes`` and ``str`` are kept as they are for
    ``.raw``; a ``bytearray`` or ``memoryview`` (e.g. a reused read buffer) is copied first.

    Returns:
        A typed wire event, :class:`UnknownEvent`, :class:`Reply` or :class:`MalformedFrame`.

    Raises:
        TypeError: ``data`` is not ``bytes``, ``bytearray``, ``memoryview`` or ``str``. Nothing
            in the frame's content ever raises.
    """
    cls = type(data)
    frame: bytes | str
    if cls is bytes or cls is str:
        frame = data  # type: ignore[assignment]  # narrowed by the exact type check
    elif isinstance(data, (bytes, str)):
        frame = data
    elif isinstance(data, (bytearray, memoryview)):
        frame = bytes(data)  # the buffer may be reused for the next frame: keep a copy
    else:
        raise TypeError(f"data must be bytes, bytearray, memoryview or str, got {cls.__name__}")
    return decode_kept(frame)


def decode_kept(frame: bytes | str) -> Event:
    """:func:`decode_frame` without its argument check, for hot loops that hold ``bytes``.

    The frame is kept, as is, for a lazy ``.raw``. Never raises for any content. The two
    delivery loops of the asyncio client (``async for`` and the handler dispatcher) inline its
    first two steps, ``decode_wire_event`` then ``force_setattr``, and call it only when those
    raise: the call alone is 3-5% of a bare delivery loop's per-event cost
    (``bench/bench_delivery.py``).
    """
    try:
        event = _decode_wire(frame)
    except Exception:
        return _decode_slow(frame)
    force_setattr(event, "_frame", frame)
    return event


def decode_reply_frame(data: bytes) -> Event:
    """:func:`decode_frame` for a frame that looks like a reply (``{"ok":...``): the same result,
    without first trying (and failing) the decode as an event.

    Raises:
        Nothing for any content (as :func:`decode_frame`).
    """
    # ``find``, not ``in``: on Python 3.11 ``bytes in bytes`` first tries the needle as an int
    # and raises and clears a TypeError (measured: ~250 ns a test, ``find`` ~110 ns).
    if data.find(b'"type"') >= 0 or data.find(b"\\u") >= 0:
        # Maybe an event after all (a frame with a ``type`` key is one): look before deciding.
        # With neither there is no ``type`` key: quotes inside strings are escaped, and only a
        # ``\\uXXXX`` escape could spell the key otherwise.
        try:
            probe = _decode_probe(data)
        except Exception:
            return decode_frame(data)
        if probe.type is not msgspec.UNSET or probe.reply_to is msgspec.UNSET:
            return decode_frame(data)
    try:
        event = _decode_reply(data)
    except Exception:
        return decode_frame(data)
    force_setattr(event, "_frame", data)
    return event


class _Probe(msgspec.Struct, gc=False):
    # The two keys that tell an event, a reply and junk apart; every other key is skipped.
    type: Any = msgspec.UNSET
    reply_to: Any = msgspec.UNSET


_decode_probe: Callable[[bytes | str], _Probe] = msgspec.json.Decoder(_Probe).decode
_decode_reply: Callable[[bytes | str], Reply] = msgspec.json.Decoder(Reply).decode


def decode_unknown(frame: bytes | str) -> Event:
    """:func:`decode_kept` for a frame whose ``type`` the one-pass decode already refused (no
    class of its own): the same result, without trying that decode again. Never raises."""
    return _decode_slow(frame)


def _decode_slow(frame: bytes | str) -> Event:
    # What the one-pass decode refused. Replies and unknown types, the common cases here, cost
    # one more typed pass each (their ``.raw`` stays lazy); the rest goes to ``_explain``.
    try:
        probe = _decode_probe(frame)
    except Exception:
        return _explain(frame)
    kind = probe.type
    event: Event
    if kind is msgspec.UNSET:
        if probe.reply_to is msgspec.UNSET:
            return _explain(frame)
        try:
            event = _decode_reply(frame)
        except Exception:
            return _explain(frame)
    elif type(kind) is str and kind and kind not in _WIRE_BY_TYPE:
        event = UnknownEvent(type=kind)
    else:
        return _explain(frame)
    force_setattr(event, "_frame", frame)
    return event


def _explain(frame: bytes | str) -> Event:
    # Decode generically to say precisely what is wrong (or, rarely, to recover the event).
    try:
        value = _decode_any(frame)
    except RecursionError:
        return _malformed(frame, "JSON nested too deeply")
    except UnicodeError as exc:
        return _malformed(frame, f"invalid text encoding: {exc}")
    except msgspec.ValidationError:
        # Valid JSON with a number msgspec cannot hold (an integer beyond 64 bits): the tolerant
        # fallback keeps the frame.
        value = decode_raw(frame) or None
        if value is None:
            return _malformed(frame, "JSON has a number out of range")
    except msgspec.DecodeError as exc:
        return _malformed(frame, f"invalid JSON: {exc}")
    except Exception as exc:  # pragma: no cover - defensive: msgspec documents no others
        return _malformed(frame, f"undecodable frame: {type(exc).__name__}")
    if not isinstance(value, dict):
        return _malformed(frame, f"expected a JSON object, got {_json_kind(value)}")
    if "type" not in value:
        if "reply_to" in value:
            return _convert(frame, value, Reply, "invalid reply", None)
        return _malformed(frame, "no `type` and no `reply_to`: neither an event nor a reply", value)
    kind = value["type"]
    if not isinstance(kind, str) or not kind:
        got = repr(kind) if kind == "" else _json_kind(kind)
        return _malformed(frame, f"`type` must be a non-empty string, got {got}", value)
    cls = _WIRE_BY_TYPE.get(kind, UnknownEvent)
    if cls is UnknownEvent:
        return _convert(frame, value, UnknownEvent, "invalid event", kind)
    return _convert(frame, value, cls, f"invalid `{kind}` event", kind)


def _convert(
    frame: bytes | str, value: dict[str, Any], cls: type[Event], what: str, kind: str | None
) -> Event:
    try:
        event = msgspec.convert(value, cls)
    except Exception as exc:
        return _malformed(frame, f"{what}: {exc}", value, kind)
    force_setattr(event, "_frame", frame)
    force_setattr(event, "_raw", value)
    return event


def _malformed(
    frame: bytes | str,
    error: str,
    value: dict[str, Any] | None = None,
    kind: str | None = None,
) -> MalformedFrame:
    head = frame[:MALFORMED_TEXT_LIMIT]
    if isinstance(head, str):  # lone surrogates would make the text unprintable
        text = head.encode("utf-8", "replace").decode("utf-8")
    else:
        text = head.decode("utf-8", "replace")
    event = MalformedFrame(error=redact_text(error), text=redact_text(text), event_type=kind)
    force_setattr(event, "_frame", frame)
    force_setattr(event, "_raw", value if value is not None else {})
    return event


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"  # pragma: no cover - callers handle dicts first
