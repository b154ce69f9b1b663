"""The emulator's Socket Mode WebSocket: ``/socket-mode/<ticket>?app_id=...`` (PROTOCOL §9).

The upgrade is refused with HTTP 401 for an unknown, used or expired ticket and with HTTP 403
while Socket Mode is disabled (``link_disabled``). Past
:data:`~slack_rtm.emulator.socket_mode.MAX_SOCKET_MODE_CONNECTIONS` (10) open sockets the
upgrade completes but the socket is closed at once with code 1008 and the reason
``too_many_websockets`` (no ``hello``; the ticket is used up). Otherwise the socket gets::

    {"type": "hello", "num_connections": N, "debug_info": {"host": "applink-emu-1",
     "build_number": 1, "approximate_connection_time": 18060},
     "connection_info": {"app_id": "A..."}}

then envelopes (:mod:`.socket_mode`). Every frame the client sends is recorded in ``received``
(as the app's bot user); a JSON object with a string ``envelope_id`` is an ack (recorded in
``socket_mode_acks``, with its ``payload`` object if any); anything else is ignored. Acks of the
firehose's envelopes are only counted (``socket_mode_firehose_acks``). There is no JSON ping:
WebSocket pings get pongs unless ``set_pong(False)`` (aiohttp's automatic pong is off for these
sockets, so that clients can test their dead-link detection).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec
from aiohttp import WSMsgType, web

from slack_rtm.emulator.connection import Connection
from slack_rtm.emulator.firehose import frame
from slack_rtm.emulator.records import ReceivedFrame
from slack_rtm.emulator.socket_mode import MAX_SOCKET_MODE_CONNECTIONS

if TYPE_CHECKING:
    from slack_rtm.emulator.state import EmulatorState

__all__ = ["TOO_MANY_CLOSE_CODE", "TOO_MANY_REASON", "handle_socket_mode"]

#: The close code and reason of an upgrade past the cap of open sockets.
TOO_MANY_CLOSE_CODE: Final = 1008
TOO_MANY_REASON: Final = b"too_many_websockets"

_decode = msgspec.json.Decoder().decode
_MAX_AIOHTTP_MSG = 4 * 1024 * 1024


async def handle_socket_mode(emu: EmulatorState, request: web.Request) -> web.StreamResponse:
    """Run one Socket Mode WebSocket from handshake to close."""
    if not emu.redeem_socket_mode_ticket(request.match_info["ticket"]):
        return web.Response(status=401, text="invalid or expired ticket")
    if not emu.socket_mode_enabled:
        return web.Response(status=403, text="socket mode is disabled for this app")
    ws = web.WebSocketResponse(
        autoping=False, compress=False, max_msg_size=_MAX_AIOHTTP_MSG, timeout=2.0
    )
    writer = await ws.prepare(request)
    transport = request.transport
    if transport is None:
        return ws
    if emu.socket_mode_connections >= MAX_SOCKET_MODE_CONNECTIONS:
        await ws.close(code=TOO_MANY_CLOSE_CODE, message=TOO_MANY_REASON)
        return ws

    conn = emu.open_socket_mode_connection(ws, writer, transport)
    # Written at once, with no await since the registration: no envelope can come first.
    transport.write(frame(emu.hello_socket_mode(emu.socket_mode_connections).encode()))
    try:
        async for msg in ws:
            if msg.type == WSMsgType.PING:
                if emu.pong_enabled and not conn.closed:
                    await ws.pong(msg.data)
            elif msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                raw: str | bytes = msg.data
                text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
                if not emu.firehose_ack(text):
                    _on_frame(emu, conn, text)
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        emu.close_socket_mode_connection(conn)
    return ws


def _on_frame(emu: EmulatorState, conn: Connection, text: str) -> None:
    try:
        data = _decode(text)
    except (msgspec.DecodeError, RecursionError):  # deep nesting: RecursionError
        data = None
    if not isinstance(data, dict):
        data = None
    emu.record_frame(ReceivedFrame(conn.user.id, conn.id, data, text))
    if data is not None:
        emu.record_socket_mode_ack(conn, data)
