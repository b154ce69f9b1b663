"""The asyncio driver: :class:`RtmClient` over picows, around the I/O-free session core.

Example::

    from slack_rtm.aio import RtmClient

    rtm = RtmClient(token)

    @rtm.on("message")
    async def greet(event):
        if event.text and "hello" in event.text.lower():
            await rtm.send_message(event.channel, f"Hello <@{event.user}>!")

    rtm.run()
"""

from __future__ import annotations

from slack_rtm.aio.client import RtmClient
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.state import State

__all__ = ["RtmClient", "SessionConfig", "State"]
