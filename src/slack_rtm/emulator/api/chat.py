"""The emulator's ``chat.postMessage`` (PROTOCOL §9: how Socket Mode apps send).

Any token that authenticates (bot, user, or a browser session with its cookies) posts as its
user; the app-level token answers ``not_allowed_token_type``. Parameters: ``channel`` (an id, or
a channel name with or without ``#``), ``text``, ``thread_ts``, ``blocks`` (a JSON array, or its
JSON text in a form field). The message is stored in the history, sent to the channel's RTM
sockets (not the poster's own) and, when the app's bot is in the channel, to one Socket Mode
socket as an ``events_api`` envelope (the app's own posts included, with ``bot_id`` and
``app_id`` set, as Slack does).

=========================  ====================================================================
answer                      when
=========================  ====================================================================
``{ok, channel, ts,         posted; ``message`` is the stored message (``user``, ``type``,
message}``                  ``text``, ``ts``, ``team``, ``bot_id``/``app_id`` for a bot,
                            ``thread_ts``, ``blocks`` when given)
``channel_not_found``       no or unknown ``channel``, or a private channel or DM the poster is
                            not in
``not_in_channel``          a public channel the poster is not in
``no_text``                 neither ``text`` nor ``blocks``
``invalid_blocks``          ``blocks`` is not a JSON array of objects
``msg_too_long``            ``text`` over :data:`MAX_TEXT` characters
``rate_limited``            HTTP 429 with ``Retry-After``: over the per-channel limit
                            (``set_post_rate_limit``; 1 a second with a burst of 10 by default)
=========================  ====================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec
from aiohttp import web

from slack_rtm.emulator.api.common import authenticate, json_answer
from slack_rtm.emulator.workspace import Channel

if TYPE_CHECKING:
    from slack_rtm.emulator.state import EmulatorState

__all__ = ["MAX_TEXT", "chat_post_message"]

#: The longest ``text`` accepted, in characters (Slack truncates past 40,000: we refuse).
MAX_TEXT: Final = 40_000

_EVENT_ONLY = ("channel", "event_ts", "suppress_notification", "source_team", "user_team")


def _fail(error: str) -> web.Response:
    return json_answer({"ok": False, "error": error})


def _channel(emu: EmulatorState, value: str | None) -> Channel | None:
    if not value:
        return None
    ws = emu.workspace
    channel = ws.channels.get(value)
    if channel is not None:
        return channel
    try:
        return ws.channel_by_name(value.removeprefix("#"))
    except ValueError:
        return None


async def _blocks(request: web.Request, params: dict[str, str]) -> tuple[Any, bool]:
    """``(blocks or None, valid)``: from a JSON body as sent, or a form field's JSON text."""
    raw: Any = None
    if request.content_type == "application/json":
        try:
            data = msgspec.json.decode(await request.read())
        except (msgspec.DecodeError, RecursionError):
            data = None
        raw = data.get("blocks") if isinstance(data, dict) else None
    else:
        raw = params.get("blocks")
    if isinstance(raw, str):
        try:
            raw = msgspec.json.decode(raw)
        except (msgspec.DecodeError, RecursionError):
            return None, False
    if raw is None:
        return None, True
    valid = isinstance(raw, list) and all(isinstance(b, dict) for b in raw)
    return (raw if valid else None), valid


async def chat_post_message(emu: EmulatorState, request: web.Request) -> web.Response:
    """Answer ``chat.postMessage`` (see the module docstring)."""
    params, token, user, error = await authenticate(emu, request)
    if token is not None and token == emu.app_token:
        return _fail("not_allowed_token_type")
    if error is not None or user is None:
        return _fail(error or "invalid_auth")
    channel = _channel(emu, params.get("channel"))
    if channel is None:
        return _fail("channel_not_found")
    if not emu.workspace.is_member(channel.id, user.id):
        return _fail("not_in_channel" if channel.kind == "public" else "channel_not_found")
    blocks, valid = await _blocks(request, params)
    if not valid:
        return _fail("invalid_blocks")
    text = params.get("text", "")
    if not text and not blocks:
        return _fail("no_text")
    if len(text) > MAX_TEXT:
        return _fail("msg_too_long")
    wait = emu.post_allowed(user.id, channel.id)
    if wait is not None:
        return json_answer({"ok": False, "error": "rate_limited"}, 429, {"Retry-After": str(wait)})
    thread_ts = params.get("thread_ts") or None
    event = emu.make_message_event(user, channel.id, text, thread_ts)
    if user.id == emu.bot_user_id:
        event["app_id"] = emu.app_id
    if blocks:
        event["blocks"] = blocks
    message = {k: v for k, v in event.items() if k not in _EVENT_ONLY}
    await emu.deliver_to_channel(event, channel.id, exclude_user=user.id)
    return json_answer({"ok": True, "channel": channel.id, "ts": event["ts"], "message": message})
