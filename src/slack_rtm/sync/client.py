"""The synchronous RTM client: the asyncio ``RtmClient`` run on one background thread.

One implementation, two fronts (see :mod:`slack_rtm.sync.base`): the names and their order
mirror :mod:`slack_rtm.aio.client`; only the waiting differs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from slack_rtm.aio.client import RtmClient as AsyncRtmClient
from slack_rtm.session.events import Reply
from slack_rtm.sync.base import BaseSyncClient

__all__ = ["RtmClient"]


class RtmClient(BaseSyncClient[AsyncRtmClient]):
    """A Slack RTM session for plain synchronous code.

    Takes the same arguments as :class:`slack_rtm.aio.RtmClient` (token first, the rest by
    keyword) and has the same methods without ``await``::

        with RtmClient(token) as rtm:
            ack = rtm.send_message(channel, "hi")
            for event in rtm:
                ...

    Handlers registered with :meth:`on` are plain functions; they run one at a time, in order,
    on a handler thread of this client.

    Raises:
        TypeError, ValueError: as :class:`slack_rtm.aio.RtmClient`, before any I/O.
    """

    def __init__(self, token: str, **options: Any) -> None:
        super().__init__(AsyncRtmClient(token, **options))

    # ------------------------------------------------------------------ sends

    @property
    def last_received(self) -> float:
        """When the session last read a frame (any: events, replies, pongs), on its event loop's
        clock (``time.monotonic()``); 0.0 before the first."""
        return self._client.last_received

    def send_message(
        self,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        reply_broadcast: bool | None = None,
    ) -> Reply:
        """Post ``text`` to ``channel`` and wait for Slack's ack (``.ts``, ``.text``).

        Raises:
            As :meth:`slack_rtm.aio.RtmClient.send_message`.
        """
        return self._run(
            self._client.send_message(
                channel, text, thread_ts=thread_ts, reply_broadcast=reply_broadcast
            )
        )

    def send_typing(self, channel: str) -> None:
        """Show "typing…" in ``channel``."""
        self._run(self._client.send_typing(channel))

    def subscribe_presence(self, user_ids: Iterable[str]) -> None:
        """Replace the presence subscription with ``user_ids``; re-sent after every reconnect."""
        self._run(self._client.subscribe_presence(list(user_ids)))

    def query_presence(self, user_ids: Iterable[str]) -> None:
        """Ask for the presence of up to 500 users (answered by ``presence_change`` events)."""
        self._run(self._client.query_presence(list(user_ids)))

    def ping(self) -> float:
        """Send a JSON ping and return the round trip in seconds."""
        return self._run(self._client.ping())
