"""The gateway's wire contract: the one home of every name, header, payload and timing that other
programs code against (STYLE §15). ``docs/gateway.md`` mirrors this module; tests check this
module, never copies of its strings.

**Events.** One JetStream stream, :data:`STREAM` (``SLACK_RTM_EVENTS``), limits retention, file
storage, ``max_age`` :data:`DEFAULT_MAX_AGE` (24 h) and a duplicate window of
:data:`DEFAULT_DUPLICATE_WINDOW` (2 min) unless configured. Every event a held session receives
is published to ``slack.rtm.evt.<team_id>.<type>`` (:func:`event_subject`) with:

- payload: the event's JSON exactly as Slack sent it (the frame's bytes). A message catch-up
  fetched from history is published as a ``message`` event: the history item with
  ``"type": "message"`` first and its ``"channel"`` added;
- headers (:func:`event_headers`): ``Slack-Team`` (the team id), ``Slack-Session`` (the
  registration id), ``Slack-Backfilled: true`` on catch-up events only, and ``Nats-Msg-Id``
  (:func:`message_id`): ``<registration id>:<channel>:<ts>:<type>``; for an event without a
  string ``ts``, ``<registration id>:<channel>:#<hash>:<type>`` where ``<hash>`` is the first
  32 hex digits of the SHA-256 of the payload. ``<channel>`` is empty when the event has no
  string ``channel``. What one session publishes twice (a hand-over, a retry, a backfilled copy
  of a message already published live) is stored once; two registrations of one team (a bot
  and a person) each publish what they see.

**Sends.** A NATS request to ``slack.rtm.send.<team_id>`` (the team's bot registration) or
``slack.rtm.send.<team_id>.<user_id>`` (that person's session) (:func:`send_subject`) with the
JSON :class:`SendRequest` ``{"channel", "text", "thread_ts"?}``. The reply is Slack's ack JSON
as Slack sent it (``{"ok": true, "reply_to", "ts", "text"}`` or ``{"ok": false, "reply_to",
"error": {"code", "msg"}}``); when the outcome is unknown (no ack in time, the socket lost) it
is :func:`outcome_unknown_reply` ``{"ok": false, "error": {"code": -1, "msg": "outcome
unknown: ..."}}``; a request that is not a valid :class:`SendRequest` gets
:func:`bad_request_reply` (code :data:`BAD_REQUEST_CODE`); a send the session refused before
writing anything (its send queue full, or not live) gets :func:`not_sent_reply` (code
:data:`NOT_SENT_CODE`: nothing was posted, retry later). No holder: NATS "no responders", for
the caller to retry. Holders subscribe in the queue group :data:`SEND_QUEUE_GROUP`, so that of
two holders (a hand-over, two bots of one team) exactly one answers a request.

**Not published** (:data:`NOT_PUBLISHED`): protocol chatter and anything that may hold a
credential: ``hello``, ``goodbye``, ``pong``, ``reconnect_url`` (its URL is a credential),
``team_migration_started``, ``error`` (socket-level errors), replies (``reply``: acks of the
session's own sends), frames that are not JSON events (``malformed``), and the client's own
lifecycle events (``connecting``, ``connected``, ``reconnecting``, ``disconnected``,
``closed``, ``handler_error``, ``catch_up``).

**State in JetStream KV** (buckets created by the gateway when absent):

- :data:`REGISTRATIONS_BUCKET`: registration id → :class:`Registration` (secrets sealed with
  AES-GCM, never plaintext);
- :data:`PROCESSES_BUCKET`: process name → :class:`ProcessLease`, renewed every
  :attr:`LeaseTimings.renew_every` seconds by compare-and-set on its revision;
- :data:`ASSIGNMENTS_BUCKET`: registration id → :class:`Assignment` (who holds it), claimed
  and handed over by compare-and-set;
- :data:`CURSORS_BUCKET`: :func:`kv_key` of a catch-up scope → the scope's cursors (JSON
  object channel → ts), never moved backwards.

The lease protocol and its timings are :class:`LeaseTimings` (see ``docs/gateway.md``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

import msgspec

__all__ = [
    "ASSIGNMENTS_BUCKET",
    "BAD_REQUEST_CODE",
    "CURSORS_BUCKET",
    "DEFAULT_DUPLICATE_WINDOW",
    "DEFAULT_MAX_AGE",
    "EVENT_PREFIX",
    "HEADER_BACKFILLED",
    "HEADER_MSG_ID",
    "HEADER_SESSION",
    "HEADER_TEAM",
    "NOT_PUBLISHED",
    "NOT_SENT_CODE",
    "OUTCOME_UNKNOWN_CODE",
    "PROCESSES_BUCKET",
    "REGISTRATIONS_BUCKET",
    "SEND_PREFIX",
    "SEND_QUEUE_GROUP",
    "STREAM",
    "Assignment",
    "ContractError",
    "EventMeta",
    "Kind",
    "LeaseTimings",
    "ProcessLease",
    "Registration",
    "SendRequest",
    "bad_request_reply",
    "check_id",
    "decode_send_request",
    "event_filter",
    "event_headers",
    "event_subject",
    "kv_key",
    "message_id",
    "not_sent_reply",
    "outcome_unknown_reply",
    "parse_event_headers",
    "send_subject",
    "subject_token",
]

STREAM: Final = "SLACK_RTM_EVENTS"
"""The JetStream stream every event is stored in."""

EVENT_PREFIX: Final = "slack.rtm.evt"
"""Events are published to ``<EVENT_PREFIX>.<team_id>.<type>``."""

SEND_PREFIX: Final = "slack.rtm.send"
"""Send requests go to ``<SEND_PREFIX>.<team_id>`` or ``<SEND_PREFIX>.<team_id>.<user_id>``."""

HEADER_TEAM: Final = "Slack-Team"
HEADER_SESSION: Final = "Slack-Session"
HEADER_BACKFILLED: Final = "Slack-Backfilled"
HEADER_MSG_ID: Final = "Nats-Msg-Id"

DEFAULT_MAX_AGE: Final = 24 * 3600.0
"""Seconds an event stays in :data:`STREAM` by default."""

DEFAULT_DUPLICATE_WINDOW: Final = 120.0
"""Seconds JetStream remembers a ``Nats-Msg-Id`` to drop a second copy, by default."""

REGISTRATIONS_BUCKET: Final = "slack_rtm_registrations"
PROCESSES_BUCKET: Final = "slack_rtm_processes"
ASSIGNMENTS_BUCKET: Final = "slack_rtm_assignments"
CURSORS_BUCKET: Final = "slack_rtm_cursors"

OUTCOME_UNKNOWN_CODE: Final = -1
"""``error.code`` of a send reply whose outcome is unknown (it may have been posted)."""

BAD_REQUEST_CODE: Final = -2
"""``error.code`` of a send reply to a request that is not a valid :class:`SendRequest`."""

NOT_SENT_CODE: Final = -3
"""``error.code`` of a send reply when the session refused the send before writing it (its send
queue is full, or it is not live): nothing was posted; the caller may retry later."""

SEND_QUEUE_GROUP: Final = "slack_rtm_senders"
"""The NATS queue group every holder subscribes to the send subjects in: one request, one
answer, even while two holders overlap (make-before-break) or two bots share a team."""

NOT_PUBLISHED: Final = frozenset({
    "hello", "goodbye", "pong", "reconnect_url", "team_migration_started", "error",
    "reply", "malformed",
    "connecting", "connected", "reconnecting", "disconnected", "closed", "handler_error",
    "catch_up",
})
"""Event types a gateway never publishes: protocol chatter, replies to its own sends, frames
that are not events, the client's lifecycle events, and ``reconnect_url`` (its URL is a
credential). Everything else a session receives is published."""

Kind = Literal["bot", "user", "browser"]
"""What a registration logs in as: a bot token, a person's ``xoxp-`` token, or a browser
session (an ``xoxc-`` token with its ``d`` cookie)."""


class ContractError(ValueError):
    """Something that does not follow this contract: a bad id, subject token or payload."""


# --- subjects -------------------------------------------------------------------------------

# Slack ids: upper-case letters and digits (T0123, U0123, W0123, E0123 for enterprise).
_ID = re.compile(r"[A-Z0-9]{1,64}")
# A NATS subject token must not be empty nor hold '.', '*', '>' or whitespace; we keep event
# types to a conservative alphabet and replace anything else with '_'.
_TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


def check_id(value: object, name: str) -> str:
    """``value`` if it is a Slack id (``[A-Z0-9]{1,64}``).

    Raises:
        TypeError: not a string.
        ContractError: not a Slack id (the message names ``name``, never the value's secrets:
            an id is not a secret, but only its first 20 characters are shown).
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if _ID.fullmatch(value) is None:
        raise ContractError(f"{name} must be a Slack id like 'T0123ABCD', got {value[:20]!r}")
    return value


def subject_token(value: str) -> str:
    """``value`` as one NATS subject token: characters other than ``A-Za-z0-9_-`` become ``_``;
    an empty value becomes ``_``. Used for event types (Slack's are ``snake_case``)."""
    if not value:
        return "_"
    if value.isidentifier() and value.isascii():
        return value
    return _TOKEN_UNSAFE.sub("_", value)


def event_subject(team_id: str, event_type: str) -> str:
    """``slack.rtm.evt.<team_id>.<type>`` (the type made subject-safe by
    :func:`subject_token`)."""
    return f"{EVENT_PREFIX}.{team_id}.{subject_token(event_type)}"


def event_filter(team: str | None = None, event_type: str | None = None) -> str:
    """A subject filter over :func:`event_subject`: ``*`` for what is None.

    Raises:
        TypeError, ContractError: ``team`` is not a Slack id, or ``event_type`` not a string.
    """
    team_part = "*" if team is None else check_id(team, "team")
    if event_type is None:
        type_part = "*"
    elif not isinstance(event_type, str) or not event_type:
        raise TypeError("event types must be non-empty strings")
    else:
        type_part = subject_token(event_type)
    return f"{EVENT_PREFIX}.{team_part}.{type_part}"


def send_subject(team_id: str, user_id: str | None = None) -> str:
    """``slack.rtm.send.<team_id>`` (the team's bot) or ``slack.rtm.send.<team_id>.<user_id>``.

    Raises:
        TypeError, ContractError: an id is not a Slack id.
    """
    team = check_id(team_id, "team_id")
    if user_id is None:
        return f"{SEND_PREFIX}.{team}"
    return f"{SEND_PREFIX}.{team}.{check_id(user_id, 'user_id')}"


# --- event headers --------------------------------------------------------------------------


def message_id(session: str, event_type: str, channel: object, ts: object,
               payload: bytes) -> str:
    """The ``Nats-Msg-Id`` of an event (see the module docstring).

    Args:
        session: the registration id.
        event_type: the event's ``type``.
        channel: its top-level ``channel`` (used only when a string).
        ts: its top-level ``ts`` (used only when a string; else the payload's hash).
        payload: the bytes published.
    """
    chan = channel if isinstance(channel, str) else ""
    if isinstance(ts, str) and ts:
        return f"{session}:{chan}:{ts}:{event_type}"
    digest = hashlib.sha256(payload).hexdigest()[:32]
    return f"{session}:{chan}:#{digest}:{event_type}"


def event_headers(team_id: str, session: str, msg_id: str, *,
                  backfilled: bool = False) -> dict[str, str]:
    """The headers of a published event."""
    headers = {HEADER_TEAM: team_id, HEADER_SESSION: session, HEADER_MSG_ID: msg_id}
    if backfilled:
        headers[HEADER_BACKFILLED] = "true"
    return headers


@dataclass(frozen=True, slots=True)
class EventMeta:
    """What an event's headers say: its team, session (registration id), whether catch-up
    fetched it, and its ``Nats-Msg-Id``."""

    team: str
    session: str
    backfilled: bool
    msg_id: str


def parse_event_headers(headers: Mapping[str, str] | None) -> EventMeta:
    """Read :func:`event_headers` back.

    Raises:
        ContractError: ``Slack-Team`` or ``Slack-Session`` is missing.
    """
    headers = headers or {}
    team = headers.get(HEADER_TEAM)
    session = headers.get(HEADER_SESSION)
    if not team or not session:
        raise ContractError(f"an event must carry {HEADER_TEAM} and {HEADER_SESSION} headers")
    return EventMeta(team=team, session=session,
                     backfilled=headers.get(HEADER_BACKFILLED) == "true",
                     msg_id=headers.get(HEADER_MSG_ID, ""))


# --- sends ----------------------------------------------------------------------------------


class SendRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=False, omit_defaults=True):
    """The JSON body of a send request: ``{"channel", "text", "thread_ts"?}``."""

    channel: str
    text: str
    thread_ts: str | None = None


_send_decoder = msgspec.json.Decoder(SendRequest)
_encode = msgspec.json.Encoder().encode


def decode_send_request(data: bytes) -> SendRequest:
    """Parse and check a send request.

    Raises:
        ContractError: not JSON, not an object with string ``channel`` and ``text`` (non-empty),
            or ``thread_ts`` not a string.
    """
    try:
        request = _send_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ContractError(f"bad send request: {exc}") from None
    if not request.channel:
        raise ContractError("bad send request: channel is empty")
    if not request.text:
        raise ContractError("bad send request: text is empty")
    return request


def outcome_unknown_reply(reason: str) -> bytes:
    """The reply to a send whose outcome is unknown (``reason`` says why; never a secret)."""
    return _encode({"ok": False,
                    "error": {"code": OUTCOME_UNKNOWN_CODE, "msg": f"outcome unknown: {reason}"}})


def bad_request_reply(reason: str) -> bytes:
    """The reply to a send request that is not a valid :class:`SendRequest`."""
    return _encode({"ok": False, "error": {"code": BAD_REQUEST_CODE, "msg": reason}})


def not_sent_reply(reason: str) -> bytes:
    """The reply to a send the session refused before writing it (``reason``: never a secret)."""
    return _encode({"ok": False, "error": {"code": NOT_SENT_CODE, "msg": f"not sent: {reason}"}})


# --- KV records -----------------------------------------------------------------------------

_KV_SAFE = re.compile(r"[^A-Za-z0-9_\-]")


def kv_key(text: str) -> str:
    """``text`` as a KV key: characters other than ``A-Za-z0-9_-`` become ``=XX`` (their UTF-8
    bytes in upper-case hex), so that any scope maps to one key and back without clashes."""
    return _KV_SAFE.sub(lambda m: "".join(f"={b:02X}" for b in m.group().encode()), text)


class Registration(msgspec.Struct, frozen=True, kw_only=True):
    """A registered login (:data:`REGISTRATIONS_BUCKET`, key = ``id``).

    ``token`` and ``cookie`` are sealed (AES-GCM, base64 of nonce + ciphertext, the registration
    id as associated data): the KV never holds a secret in plaintext.
    """

    id: str
    team_id: str
    user_id: str
    kind: Kind
    token: str
    cookie: str | None = None
    created: float = 0.0


class ProcessLease(msgspec.Struct, frozen=True, kw_only=True):
    """A gateway process's lease (:data:`PROCESSES_BUCKET`, key = ``name``).

    ``renewed`` is the holder's wall clock at renewal, for people; other processes judge a lease
    by whether its *revision* changes (their own monotonic clock), never by clocks compared
    across machines.
    """

    name: str
    capacity: int
    held: int = 0
    draining: bool = False
    started: float = 0.0
    renewed: float = 0.0


class Assignment(msgspec.Struct, frozen=True, kw_only=True):
    """Who holds a registration (:data:`ASSIGNMENTS_BUCKET`, key = registration id).

    ``holder`` is the holding process's name; an empty ``holder`` with ``failed`` set marks a
    registration whose session ended by itself (a revoked token, ...): nobody holds it and no
    process opens it again until the registration changes (``failed`` is the registration's KV
    revision that failed).
    """

    holder: str
    since: float = 0.0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class LeaseTimings:
    """The lease protocol's timings, in seconds (see ``docs/gateway.md``).

    Attributes:
        renew_every: a process renews its lease this often (compare-and-set on the revision).
        fence_after: a process whose last successful renewal is this old closes every session it
            holds (it may have been cut off; others may take over).
        expire_after: another process counts a lease as dead when its revision has not changed
            for this long on that process's own clock. Greater than ``fence_after`` plus a
            renewal, so a cut-off holder has closed its sockets before anyone takes over.
        handover_timeout: the longest the old holder keeps its socket after the new holder's
            claim (make-before-break: it closes as soon as it sees the claim).
    """

    renew_every: float = 1.0
    fence_after: float = 3.5
    expire_after: float = 6.0
    handover_timeout: float = 5.0

    def __post_init__(self) -> None:
        for name in ("renew_every", "fence_after", "expire_after", "handover_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a number > 0, got {value!r}")
        if not self.renew_every < self.fence_after < self.expire_after:
            raise ValueError("lease timings need renew_every < fence_after < expire_after")
        if self.expire_after - self.fence_after < self.renew_every:
            raise ValueError("expire_after must exceed fence_after by at least renew_every")
