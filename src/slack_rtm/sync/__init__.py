"""The synchronous front: the same names as :mod:`slack_rtm.aio`, without ``await``.

Example::

    from slack_rtm.sync import RtmClient

    rtm = RtmClient(token)

    @rtm.on("message")
    def greet(event):
        if event.text and "hello" in event.text.lower():
            rtm.send_message(event.channel, f"Hello <@{event.user}>!")

    rtm.run()

A Socket Mode app runs the same code with ``SocketModeClient(app_token, bot_token=token)``.

The sync ``rtm.connect`` call is here too: ``RtmApi(Client()).rtm_connect(token)``.
"""

from __future__ import annotations

from slack_rtm.api import Client, RtmApi
from slack_rtm.session.state import State
from slack_rtm.sync.client import RtmClient
from slack_rtm.sync.socket_mode import SocketModeClient

__all__ = ["Client", "RtmApi", "RtmClient", "SocketModeClient", "State"]
