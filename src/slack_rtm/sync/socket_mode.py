"""The synchronous Socket Mode client: the asyncio ``SocketModeClient`` on one background thread.

The twin of :mod:`slack_rtm.aio.socket_mode`, as :mod:`slack_rtm.sync.client` is RtmClient's:
the same names in the same order, without ``await`` (see :mod:`slack_rtm.sync.base`). Handlers
are plain functions run on the client's handler thread; a command handler's return value (a
dict) is its ack's payload, as with the asyncio client.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from slack_rtm.aio.socket_mode import MessageAck
from slack_rtm.aio.socket_mode import SocketModeClient as AsyncSocketModeClient
from slack_rtm.sync.base import BaseSyncClient

__all__ = ["SocketModeClient"]


class SocketModeClient(BaseSyncClient[AsyncSocketModeClient]):
    """A Slack Socket Mode session for plain synchronous code.

    Takes the same arguments as :class:`slack_rtm.aio.SocketModeClient` (the app token first,
    the rest by keyword) and has the same methods without ``await``::

        with SocketModeClient(app_token, bot_token=bot_token) as app:
            for event in app:
                if event.type == "message" and event.text == "ping":
                    app.send_message(event.channel, "pong")

    Raises:
        TypeError, ValueError: as :class:`slack_rtm.aio.SocketModeClient`, before any I/O.
    """

    def __init__(self, app_token: str, **options: Any) -> None:
        super().__init__(AsyncSocketModeClient(app_token, **options))

    @property
    def connections(self) -> int:
        """Sockets open and live right now."""
        return self._client.connections

    # ------------------------------------------------------------------ sends

    def send_message(self, channel: str, text: str, *, thread_ts: str | None = None) -> MessageAck:
        """Post ``text`` to ``channel`` with ``chat.postMessage`` and the bot token.

        Raises:
            As :meth:`slack_rtm.aio.SocketModeClient.send_message`.
        """
        return self._run(self._client.send_message(channel, text, thread_ts=thread_ts))

    def send_typing(self, channel: str) -> None:
        """Not in Socket Mode. Raises NotSupportedError."""
        self._run(self._client.send_typing(channel))

    def subscribe_presence(self, user_ids: Iterable[str]) -> None:
        """Not in Socket Mode. Raises NotSupportedError."""
        self._run(self._client.subscribe_presence(list(user_ids)))

    def query_presence(self, user_ids: Iterable[str]) -> None:
        """Not in Socket Mode. Raises NotSupportedError."""
        self._run(self._client.query_presence(list(user_ids)))
