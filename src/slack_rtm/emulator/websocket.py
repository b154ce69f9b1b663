"""The emulator's RTM WebSocket: ``/websocket/<ticket>`` (PROTOCOL §3).

An unknown, used or expired ticket gets :data:`EXPIRED_EVENT` and a close; a browser session's
upgrade without its cookies, or one refused on purpose, gets the 401 ``error`` frame
(:mod:`.browser`). Once ``hello`` is sent (with ``"fast_reconnect": true`` on a resume ticket),
the connection gets ``reconnect_url`` events (:mod:`.resume`).

Every frame a client sends is recorded first, then acted on:

=====================  ==========================================================================
client frame            emulator answer
=====================  ==========================================================================
``ping``                ``pong`` with ``reply_to`` and the ping's other flat scalar fields
``message``             ack ``{"ok": true, "reply_to", "ts", "text"}``; ``message`` event to the
                        channel's other members
``typing``              ``user_typing`` to the channel's other members (no reply)
``presence_sub``        replaces the subscription list; new ids get ``presence_change``
``presence_query``      ``presence_change`` for each known id
anything else with id   failure reply, code 4 ``unsupported message type``
not a JSON object       recorded and ignored
=====================  ==========================================================================

Failure replies ``{"ok": false, "reply_to": id, "error": {"code", "msg"}}`` use the codes of
:data:`ERRORS`. A frame over ``max_frame_bytes`` (16 KB) closes the socket with code 1009; more
than ``write_abuse_limit`` refused writes in a row close it with code 1008.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec
from aiohttp import WSMsgType, web

from slack_rtm.emulator.browser import admit_upgrade, hello_text
from slack_rtm.emulator.connection import Connection
from slack_rtm.emulator.records import ReceivedFrame

if TYPE_CHECKING:
    from slack_rtm.emulator.state import EmulatorState

__all__ = [
    "CODE_INVALID_CHANNEL",
    "CODE_NOT_IN_CHANNEL",
    "CODE_NO_TEXT",
    "CODE_SLOW_DOWN",
    "CODE_UNSUPPORTED",
    "ERRORS",
    "EXPIRED_EVENT",
    "handle_websocket",
]

CODE_SLOW_DOWN: Final = -1
CODE_INVALID_CHANNEL: Final = 0
CODE_NO_TEXT: Final = 2
#: Emulator choice: Slack documents no code for posting to a channel you are not in.
CODE_NOT_IN_CHANNEL: Final = 3
#: Emulator choice: a frame whose ``type`` is missing or not understood.
CODE_UNSUPPORTED: Final = 4

#: Failure reply code -> message.
ERRORS: Final[dict[int, str]] = {
    CODE_SLOW_DOWN: "slow down, too many messages...",
    CODE_INVALID_CHANNEL: "invalid channel id",
    CODE_NO_TEXT: "message text is missing",
    CODE_NOT_IN_CHANNEL: "not in channel",
    CODE_UNSUPPORTED: "unsupported message type",
}

#: The event sent on an expired, reused or unknown ticket, before closing.
EXPIRED_EVENT: Final = {"type": "error", "error": {"code": 1, "msg": "Socket URL has expired"}}

_decode = msgspec.json.Decoder().decode
_MAX_AIOHTTP_MSG = 4 * 1024 * 1024


async def handle_websocket(emu: EmulatorState, request: web.Request) -> web.StreamResponse:
    """Run one client WebSocket from handshake to close."""
    if emu.upgrade_held(request.match_info["ticket"]):  # hold_reconnects(): refuse, keep ticket
        return web.Response(status=503, text="service unavailable")
    ws = web.WebSocketResponse(
        autoping=False, compress=False, max_msg_size=_MAX_AIOHTTP_MSG, timeout=2.0
    )
    writer = await ws.prepare(request)
    transport = request.transport
    grant = emu.redeem_ticket(request.match_info["ticket"])
    if grant is None or transport is None:
        emu.record_upgrade(request, None, "expired")
        await ws.send_str(msgspec.json.encode(EXPIRED_EVENT).decode())
        await ws.close(code=1008, message=b"socket URL has expired")
        return ws
    if not await admit_upgrade(emu, request, ws, grant):  # browser cookies, refuse_next_sockets
        return ws
    conn = emu.open_connection(grant, ws, writer, transport)
    try:
        await conn.send_text(hello_text(grant))
        emu.connection_ready(conn, grant, request.host)
        async for msg in ws:
            if msg.type == WSMsgType.PING:
                if emu.pong_enabled and not conn.closed:
                    await ws.pong(msg.data)
            elif msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                raw: str | bytes = msg.data
                text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
                size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "replace"))
                if not await _on_frame(emu, conn, text, size):
                    break
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        emu.close_connection(conn)
    return ws


async def _on_frame(emu: EmulatorState, conn: Connection, text: str, size: int) -> bool:
    """Record and act on one client frame; returns False once the socket is being closed."""
    try:
        data = _decode(text)
    except (msgspec.DecodeError, RecursionError):  # deep nesting: RecursionError
        data = None
    if not isinstance(data, dict):
        data = None
    emu.record_frame(ReceivedFrame(conn.user.id, conn.id, data, text))
    if size > emu.max_frame_bytes:
        await conn.close(1009, b"frame too large")
        return False
    if data is None:
        return True
    kind = data.get("type")
    fid = data.get("id")
    frame_id = fid if isinstance(fid, int) and not isinstance(fid, bool) and fid > 0 else None
    if kind == "ping":
        if emu.pong_enabled:
            await conn.send(_pong(data, frame_id))
    elif kind == "message":
        return await _on_message(emu, conn, data, frame_id)
    elif kind == "typing":
        await _on_typing(emu, conn, data, frame_id)
    elif kind in ("presence_sub", "presence_query"):
        ids = data.get("ids")
        if isinstance(ids, list):
            wanted = [i for i in ids if isinstance(i, str)]
            if kind == "presence_sub":
                new = [i for i in wanted if i not in conn.subscriptions]
                conn.subscriptions = set(wanted)
                await emu.send_presence_state(conn, new)
            else:
                await emu.send_presence_state(conn, wanted)
    elif frame_id is not None and kind != "pong":
        await _fail(conn, frame_id, CODE_UNSUPPORTED)
    return True


def _pong(ping: dict[str, Any], frame_id: int | None) -> dict[str, Any]:
    pong: dict[str, Any] = {"type": "pong"}
    if frame_id is not None:
        pong["reply_to"] = frame_id
    for key, value in ping.items():
        if key not in ("type", "id") and (value is None or isinstance(value, (str, int, float))):
            pong[key] = value
    return pong


async def _fail(conn: Connection, frame_id: int, code: int) -> None:
    await conn.send(
        {"ok": False, "reply_to": frame_id, "error": {"code": code, "msg": ERRORS[code]}}
    )


async def _on_message(
    emu: EmulatorState, conn: Connection, data: dict[str, Any], frame_id: int | None
) -> bool:
    if not emu.take_write(conn):
        conn.slow_downs += 1
        if frame_id is not None:
            await _fail(conn, frame_id, CODE_SLOW_DOWN)
        if conn.slow_downs > emu.write_abuse_limit:
            await conn.close(1008, b"too many messages")
            return False
        return True
    conn.slow_downs = 0
    if frame_id is None:
        return True
    channel = data.get("channel")
    text = data.get("text")
    if not isinstance(channel, str) or channel not in emu.workspace.channels:
        await _fail(conn, frame_id, CODE_INVALID_CHANNEL)
    elif not emu.workspace.is_member(channel, conn.user.id):
        await _fail(conn, frame_id, CODE_NOT_IN_CHANNEL)
    elif not isinstance(text, str) or not text:
        await _fail(conn, frame_id, CODE_NO_TEXT)
    else:
        thread_ts = data.get("thread_ts")
        event = emu.make_message_event(
            conn.user, channel, text, thread_ts if isinstance(thread_ts, str) else None
        )
        await conn.send({"ok": True, "reply_to": frame_id, "ts": event["ts"], "text": text})
        await emu.deliver_to_channel(event, channel, exclude_user=conn.user.id)
    return True


async def _on_typing(
    emu: EmulatorState, conn: Connection, data: dict[str, Any], frame_id: int | None
) -> None:
    channel = data.get("channel")
    if not isinstance(channel, str) or channel not in emu.workspace.channels:
        if frame_id is not None:
            await _fail(conn, frame_id, CODE_INVALID_CHANNEL)
    elif not emu.workspace.is_member(channel, conn.user.id):
        if frame_id is not None:
            await _fail(conn, frame_id, CODE_NOT_IN_CHANNEL)
    else:
        event = {"type": "user_typing", "channel": channel, "user": conn.user.id}
        await emu.deliver_to_channel(event, channel, exclude_user=conn.user.id)
