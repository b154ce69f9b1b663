"""The emulator's records: what it records for assertions (frames clients sent, ``rtm.connect``
calls) and what it hands out (browser sessions, the grants behind WebSocket tickets).

A bottom layer: it imports only :mod:`.workspace` from the emulator.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from slack_rtm.emulator.workspace import User

__all__ = [
    "BrowserSession",
    "ConnectCall",
    "Grant",
    "ReceivedFrame",
    "SocketModeAck",
    "SocketModeEnvelope",
    "TokenOverlap",
]


class ReceivedFrame(msgspec.Struct, frozen=True):
    """One WebSocket frame a client sent, recorded before the emulator acts on it.

    Attributes:
        user_id: the user the connection authenticated as.
        conn_id: the emulator's id for the connection (1, 2, ... in connection order).
        data: the decoded JSON object, or ``None`` if the frame was not a JSON object.
        text: the raw frame text (binary frames are decoded as UTF-8 with replacement).
    """

    user_id: str
    conn_id: int
    data: dict[str, Any] | None
    text: str


class ConnectCall(msgspec.Struct, frozen=True):
    """One answered connect call: ``rtm.connect`` or ``apps.connections.open``.

    Attributes:
        user_id: the user the token belongs to, or ``None`` (missing or unknown token).
        status: the HTTP status answered.
        ok: whether it succeeded.
        error: the ``error`` code when it failed.
        params: the parameters received, the token removed.
        cookie: the ``Cookie`` header as received, or ``None``.
        user_agent: the ``User-Agent`` header as received, or ``None``.
        method: the method called: ``rtm.connect``, or ``apps.connections.open`` (Socket
            Mode's connect call, whose ``user_id`` is the app's bot user).
    """

    user_id: str | None
    status: int
    ok: bool
    error: str | None = None
    params: dict[str, str] = msgspec.field(default_factory=dict)
    cookie: str | None = None
    user_agent: str | None = None
    method: str = "rtm.connect"

    def __repr__(self) -> str:
        # The cookie is a person's login: never in a repr.
        cookie = None if self.cookie is None else "<redacted>"
        return (
            f"ConnectCall(user_id={self.user_id!r}, status={self.status!r}, ok={self.ok!r}, "
            f"error={self.error!r}, params={self.params!r}, cookie={cookie}, "
            f"user_agent={self.user_agent!r}, method={self.method!r})"
        )


class BrowserSession(msgspec.Struct, frozen=True):
    """A person's browser session: the ``xoxc-`` token and the cookie(s) it needs.

    Attributes:
        user_id: the person it authenticates as.
        token: the ``xoxc-...`` token.
        cookie: the raw (not encoded) ``d`` cookie value: starts ``xoxd-`` and holds ``/``,
            ``+`` and ``=``, so a client must URL-encode it once.
        d_s: the ``d-s`` cookie value that must come too, or ``None`` if not required.
    """

    user_id: str
    token: str
    cookie: str
    d_s: str | None = None

    def __repr__(self) -> str:
        # The token and the cookie are a person's login: never in a repr.
        return f"BrowserSession(user_id={self.user_id!r})"


class Grant(msgspec.Struct, frozen=True):
    """What a ticket grants: the user and the connection's presence options; ``session`` is the
    browser session whose cookies the upgrade must carry, ``resume`` marks a ticket sent in a
    ``reconnect_url`` event."""

    user: User
    expires: float
    batch_presence_aware: bool
    presence_sub: bool
    session: BrowserSession | None = None
    resume: bool = False


class SocketModeEnvelope(msgspec.Struct, frozen=True):
    """One Socket Mode envelope the emulator sent (or, in ``socket_mode_unacked``, gave up on).

    Attributes:
        envelope_id: the envelope's id (a new one for every redelivery).
        type: ``events_api``, ``slash_commands`` or ``interactive``.
        payload: the envelope's ``payload`` object.
        accepts_response_payload: whether the ack may carry a ``payload``.
        retry_attempt: 0 for the first delivery, 1..3 for redeliveries.
        retry_reason: ``""`` or ``"timeout"``.
        conn_id: the Socket Mode connection it went to (``None``: no live socket then).
        event_id: the ``Ev...`` id of an ``events_api`` payload (kept across redeliveries),
            else ``None``.
    """

    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    retry_attempt: int
    retry_reason: str
    conn_id: int | None
    event_id: str | None = None


class SocketModeAck(msgspec.Struct, frozen=True):
    """One acknowledgement a Socket Mode client sent (``{"envelope_id": ...}``).

    Attributes:
        envelope_id: the envelope acknowledged.
        payload: the ack's ``payload`` object, or ``None``.
        seconds: from the first delivery of the envelope's event (or command) to this ack;
            ``None`` for an envelope the emulator does not track (unknown, or a firehose's).
        retry_attempt: the ``retry_attempt`` of the envelope acknowledged (``None`` if
            untracked).
        conn_id: the connection the ack came on.
    """

    envelope_id: str
    payload: dict[str, Any] | None
    seconds: float | None
    retry_attempt: int | None
    conn_id: int


class TokenOverlap(msgspec.Struct, frozen=True):
    """A stretch of time during which two or more sockets of one token were live at once.

    Attributes:
        token_key: the token as ``<prefix>:<user id>`` (``xoxb:U0BOT``, ``xoxp:U01``,
            ``xoxc:U01`` for a browser session): never the token itself.
        user_id: the user the token belongs to.
        start: ``time.monotonic()`` when the second socket went live.
        end: ``time.monotonic()`` when fewer than two were left, or ``None`` while it lasts.
        most: the most sockets live at once during it.
        conn_ids: the connections involved (the emulator's ids), in order of opening.
    """

    token_key: str
    user_id: str
    start: float
    end: float | None = None
    most: int = 2
    conn_ids: tuple[int, ...] = ()

    def duration(self, now: float | None = None) -> float:
        """Its length in seconds (up to ``now``, default the current time, while it lasts)."""
        if self.end is not None:
            return self.end - self.start
        return (time.monotonic() if now is None else now) - self.start
