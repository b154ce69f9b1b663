"""The asyncio driver: :class:`RtmClient` over picows, around the I/O-free session core.

Example::

    from slack_rtm.aio import RtmClient

    rtm = RtmClient(token)

    @rtm.on("message")
    async def greet(event):
        if event.text and "hello" in event.text.lower():
            await rtm.send_message(event.channel, f"Hello <@{event.user}>!")

    rtm.run()

A Socket Mode app runs the same code with ``SocketModeClient(app_token, bot_token=token)``.
"""

from __future__ import annotations

from slack_rtm.aio.client import RtmClient
from slack_rtm.aio.socket_mode import MessageAck, SocketModeClient
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.socket_mode_config import SocketModeConfig
from slack_rtm.session.state import State

__all__ = ["MessageAck", "RtmClient", "SessionConfig", "SocketModeClient", "SocketModeConfig",
           "State"]
