"""What Socket Mode adds to the event model (PROTOCOL.md §9): envelopes, commands, interactions.

- :class:`Envelope`: the metadata of the envelope an event came in, reachable as
  :attr:`Event.envelope <slack_rtm.session.event_types.Event.envelope>` on every event delivered
  by :class:`~slack_rtm.aio.SocketModeClient` (``events_api`` events are the same typed classes
  as over RTM: :class:`~slack_rtm.session.event_types.Message`, ...).
- :class:`SlashCommand` (type ``"slash_command"``): a ``slash_commands`` envelope's payload.
- :class:`Interaction` (type ``"interactive"``): an ``interactive`` envelope's payload (button
  clicks, shortcuts, modal submissions); the payload's own ``type`` is
  :attr:`Interaction.interaction_type`.

Like every event, both are frozen ``gc=False`` structs whose fields all have defaults; what no
field declares stays in ``.raw``. ``response_url`` is a credential (anyone holding it can post
as the app for a while): reprs show it redacted.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from msgspec.structs import force_setattr

from slack_rtm.redact import redact_url
from slack_rtm.session.event_types import Event, decode_raw

__all__ = ["ENVELOPE_EVENTS", "Envelope", "EnvelopeIds", "Interaction", "SlashCommand"]


class _EnvelopeSlots:
    # ``_frame``: the envelope frame it was decoded from; ``_raw``: its dict, once read.
    __slots__ = ("_frame", "_raw")
    _frame: bytes | str
    _raw: dict[str, Any]


class EnvelopeIds(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The ids an envelope's ``payload`` carries at its top level (for ``events_api``, the
    Events API callback around the event). Read them through :class:`Envelope`."""

    event_id: str | None = None
    event_time: int | None = None
    team_id: str | None = None
    api_app_id: str | None = None
    event: msgspec.Raw = msgspec.Raw()  # the inner event, undecoded (events_api only)


_NO_IDS = EnvelopeIds()


class Envelope(
    _EnvelopeSlots, msgspec.Struct, frozen=True, kw_only=True, gc=False, repr_omit_defaults=True
):
    """The Socket Mode envelope an event came in.

    Decoded in the same pass as the frame (the hot path): ``ids`` holds the payload's ids;
    read them through the properties.

    Attributes:
        envelope_id: what the ack names; unique per delivery (a redelivery has its own).
        type: ``"events_api"``, ``"slash_commands"`` or ``"interactive"``.
        accepts_response_payload: the ack may carry an answer (commands, interactions): the
            handler's return value.
        retry_attempt: 0 for the first delivery, 1..3 for Slack's redeliveries.
        retry_reason: why it was redelivered (``"timeout"``, ...), ``""`` the first time.
        ids: the payload's ids (see :attr:`event_id`, :attr:`event_time`, :attr:`team_id`,
            :attr:`api_app_id`).
    """

    envelope_id: str = ""
    type: str = ""
    accepts_response_payload: bool = False
    retry_attempt: int = 0
    retry_reason: str = ""
    ids: EnvelopeIds = msgspec.field(default=_NO_IDS, name="payload")

    @property
    def event_id(self) -> str | None:
        """The Events API ``event_id`` (``"Ev..."``), the same on every redelivery; None for
        commands and interactions."""
        return self.ids.event_id

    @property
    def event_time(self) -> int | None:
        """The Events API ``event_time`` (Unix seconds), if any."""
        return self.ids.event_time

    @property
    def team_id(self) -> str | None:
        """The workspace, if the payload names it at its top level."""
        return self.ids.team_id

    @property
    def api_app_id(self) -> str | None:
        """The app, if the payload names it."""
        return self.ids.api_app_id

    @property
    def raw(self) -> dict[str, Any]:
        """The whole envelope as received (``payload`` included), decoded on first access."""
        try:
            return self._raw
        except AttributeError:
            pass
        try:
            frame = self._frame
        except AttributeError:
            raw: dict[str, Any] = {
                "envelope_id": self.envelope_id, "type": self.type,
                "accepts_response_payload": self.accepts_response_payload,
                "retry_attempt": self.retry_attempt, "retry_reason": self.retry_reason,
            }
        else:
            raw = decode_raw(frame)
        force_setattr(self, "_raw", raw)
        return raw

    def _event_text(self) -> bytes:
        """The inner event's JSON text as received (``payload.event``); b"" when there is none
        or the frame is not kept. For events decoded in the same pass as their envelope, which
        keep no text of their own: :attr:`Event.frame` and :attr:`Event.raw` read it here."""
        try:
            frame = self._frame
        except AttributeError:
            return b""
        try:
            return bytes(_decode_payload(frame).ids.event)
        except Exception:
            return b""

    def __repr__(self) -> str:
        return (f"Envelope(envelope_id={self.envelope_id!r}, type={self.type!r}, "
                f"event_id={self.event_id!r}, retry_attempt={self.retry_attempt}, "
                f"accepts_response_payload={self.accepts_response_payload})")


class _Payload(msgspec.Struct, gc=False):
    ids: EnvelopeIds = msgspec.field(default=_NO_IDS, name="payload")


_decode_payload = msgspec.json.Decoder(_Payload).decode


class SlashCommand(Event, frozen=True, kw_only=True):
    """A slash command (a ``slash_commands`` envelope); type ``"slash_command"``.

    Return a dict from a handler to answer it in the ack (e.g. ``{"text": "done"}``); see
    :class:`~slack_rtm.aio.SocketModeClient`.

    Attributes:
        command: the command, e.g. ``"/deploy"``.
        text: what followed the command.
        user_id, user_name: who ran it.
        channel_id, channel_name: where.
        team_id, team_domain: the workspace.
        response_url: where to post later answers (a credential; redacted in the repr).
        trigger_id: opens a modal within 3 seconds.
        api_app_id: the app.
    """

    type: ClassVar[str] = "slash_command"
    command: str | None = None
    text: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    channel_id: str | None = None
    channel_name: str | None = None
    team_id: str | None = None
    team_domain: str | None = None
    response_url: str | None = None
    trigger_id: str | None = None
    api_app_id: str | None = None

    def __repr__(self) -> str:
        return _repr(self, ("command", "text", "user_id", "channel_id", "team_id",
                            "response_url", "trigger_id"))


class Interaction(Event, frozen=True, kw_only=True):
    """An interaction (an ``interactive`` envelope): a click, a shortcut, a view submission.

    Attributes:
        interaction_type: the payload's ``type``: ``"block_actions"``, ``"shortcut"``,
            ``"message_action"``, ``"view_submission"``, ``"view_closed"``, ...
        trigger_id: opens a modal within 3 seconds.
        response_url: where to post answers, when there is one (a credential; redacted in the
            repr).
        callback_id: the shortcut's or view's callback id, if any.
        api_app_id: the app.
        user, team, channel: the payload's objects as dicts, when present.
        actions: the actions of a ``block_actions`` interaction.
        view: the view of a ``view_*`` interaction.
    """

    type: ClassVar[str] = "interactive"
    interaction_type: str | None = msgspec.field(default=None, name="type")
    trigger_id: str | None = None
    response_url: str | None = None
    callback_id: str | None = None
    api_app_id: str | None = None
    user: dict[str, Any] | None = None
    team: dict[str, Any] | None = None
    channel: dict[str, Any] | None = None
    actions: list[Any] | None = None
    view: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return _repr(self, ("interaction_type", "callback_id", "trigger_id", "response_url"))


def _repr(event: Event, names: tuple[str, ...]) -> str:
    parts = []
    for name in names:
        value = getattr(event, name)
        if value is None:
            continue
        if name == "response_url":
            value = redact_url(value)
        parts.append(f"{name}={value!r}")
    return f"{type(event).__name__}({', '.join(parts)})"


ENVELOPE_EVENTS: tuple[type[Event], ...] = (SlashCommand, Interaction)
"""The event classes only Socket Mode delivers (registered in
:data:`~slack_rtm.session.events.EVENT_TYPES`)."""
