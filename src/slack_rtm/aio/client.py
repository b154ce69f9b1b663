"""The asyncio RTM client: :class:`RtmClient`, a thin driver around the I/O-free session core.

Everything about the protocol (ids, replies, keepalive, reconnects, limits) is decided by
:class:`~slack_rtm.session.core.SessionCore`; :class:`~slack_rtm.aio.driver.Driver` does the
I/O it asks for and delivers events. This module is the public face: argument checks,
handlers, lifecycle (``async with``, :meth:`RtmClient.run`), iteration and sends.
"""

from __future__ import annotations

import logging
import os
import ssl as ssl_module
from collections.abc import Iterable
from typing import Any

from slack_rtm.aio.base import BaseClient, check_int, check_number, check_user_agent
from slack_rtm.aio.transport import check_http_url
from slack_rtm.api.client import DEFAULT_BASE_URL
from slack_rtm.api.models import RtmConnectSelf, RtmConnectTeam
from slack_rtm.backoff import Backoff
from slack_rtm.cookies import CookieInput, SessionCookie
from slack_rtm.cursors import CursorStore, open_cursor_store
from slack_rtm.errors import StateError
from slack_rtm.redact import redact_token, redact_url
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.core import SessionCore
from slack_rtm.session.events import Reply

__all__ = ["RtmClient", "check_user_agent"]

_log = logging.getLogger("slack_rtm.aio")


class RtmClient(BaseClient[SessionCore]):
    """A Slack RTM session on asyncio: typed events, acked sends, keepalive, lossless reconnects.

    Args:
        token: a bot (``xoxb-``) or user (``xoxp-``) token with the ``rtm:stream`` scope.
        base_url: the Web API root, e.g. the emulator's ``api_url``.
        ping_interval: seconds without traffic before a JSON ping.
        ping_timeout: seconds without a reply after a ping before the link counts as dead.
        reconnect: the backoff between failed connection attempts (full jitter).
        batch_presence_aware: ask for ``presence_change`` events with a ``users`` list.
        presence_sub: only receive presence events for subscribed users.
        proxy: an ``http://``, ``https://``, ``socks4://`` or ``socks5://`` proxy URL, used for
            both ``rtm.connect`` and the WebSocket.
        ssl: the TLS context for both (default: the system's, with verification).
        allow_insecure: accept ``http://`` / ``ws://`` to hosts other than loopback.
        logger: where the client logs (default ``slack_rtm.aio``).
        timeout: seconds for one ``rtm.connect`` call.
        max_queue: events buffered before reading pauses (back-pressure).
        send_rate: sustained sends per second (Slack allows about 1).
        send_burst: sends allowed back to back.
        max_attempts: give up after this many failed connection attempts in a row (None: never).
        config: every session setting at once (a
            :class:`~slack_rtm.session.config.SessionConfig`); the arguments above that are also
            session settings must then be left unset.
        read_buffer_size: the WebSocket read buffer's initial size, in bytes (picows doubles it
            whenever a read fills it, so a small start costs idle sessions little and bursts
            nothing).
        close_timeout: seconds :meth:`close` waits for the server to close before dropping.
        cookie: the browser session's cookie, for an ``xoxc-`` token (PROTOCOL.md §7): the
            ``d`` value alone (``"xoxd-..."``), a cookie string (``"d=...; d-s=..."``) or a
            mapping (``{"d": ..., "d-s": ...}``). Sent as ``Cookie`` on ``rtm.connect`` and on
            the WebSocket upgrade (with ``Origin: https://app.slack.com``), each value
            URL-encoded exactly once. A credential: never logged or shown.
        user_agent: the ``User-Agent`` on both legs (default: ``slack-rtm/<version> ...``).
            A browser session may be logged out for a tool-like one: pass the browser's.
        catch_up: after every reconnect that may have lost events, and at start with stored
            cursors, fetch the messages missed from history and deliver them (marked
            ``backfilled``) in order, each once (see the README, "Never missing a message").
        state: where catch-up keeps its cursors across runs: a file path (SQLite) or a
            :class:`~slack_rtm.cursors.CursorStore`; None keeps them in memory only.

    Raises:
        TypeError, ValueError: an argument is of the wrong type or out of range (checked here,
            before any I/O).
    """

    __slots__ = ()

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        reconnect: Backoff | None = None,
        batch_presence_aware: bool = False,
        presence_sub: bool = False,
        proxy: str | None = None,
        ssl: ssl_module.SSLContext | None = None,
        allow_insecure: bool = False,
        logger: logging.Logger | None = None,
        timeout: float = 30.0,
        max_queue: int = 10_000,
        send_rate: float | None = None,
        send_burst: int | None = None,
        max_attempts: int | None = None,
        config: SessionConfig | None = None,
        read_buffer_size: int = 1024,
        close_timeout: float = 2.0,
        cookie: CookieInput | None = None,
        user_agent: str | None = None,
        catch_up: bool = False,
        state: str | os.PathLike[str] | CursorStore | None = None,
    ) -> None:
        if not isinstance(token, str):
            raise TypeError(f"token must be a str, got {type(token).__name__}")
        if not token or token != token.strip() or any(c in token for c in "\r\n\t "):
            raise ValueError("token must be a non-empty string without whitespace")
        if not isinstance(base_url, str):
            raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
        for name, flag in (("batch_presence_aware", batch_presence_aware),
                           ("presence_sub", presence_sub), ("allow_insecure", allow_insecure),
                           ("catch_up", catch_up)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
        check_http_url(base_url, allow_insecure)
        if state is not None and not catch_up:
            raise ValueError("state is where catch-up keeps its cursors: pass catch_up=True too")
        if proxy is not None and not isinstance(proxy, str):
            raise TypeError(f"proxy must be a URL string or None, got {type(proxy).__name__}")
        if ssl is not None and not isinstance(ssl, ssl_module.SSLContext):
            raise TypeError(f"ssl must be an ssl.SSLContext or None, got {type(ssl).__name__}")
        if logger is not None and not isinstance(logger, logging.Logger):
            raise TypeError(f"logger must be a logging.Logger, got {type(logger).__name__}")
        overrides: dict[str, Any] = {}
        for name, value in (("ping_interval", ping_interval), ("ping_timeout", ping_timeout),
                            ("backoff", reconnect), ("send_rate", send_rate),
                            ("send_burst", send_burst), ("max_attempts", max_attempts)):
            if value is not None:
                overrides[name] = value
        if config is not None:
            if not isinstance(config, SessionConfig):
                raise TypeError(f"config must be a SessionConfig, got {type(config).__name__}")
            if overrides:
                raise ValueError(
                    f"pass {', '.join(sorted(overrides))} inside config, not next to it"
                )
            session_config = config
        else:
            session_config = SessionConfig(**overrides)  # validates each value
        checked_timeout = check_number("timeout", timeout)
        checked_max_queue = check_int("max_queue", max_queue, 2)
        checked_buffer = check_int("read_buffer_size", read_buffer_size, 1024)
        checked_close = check_number("close_timeout", close_timeout)
        session_cookie = None if cookie is None else SessionCookie.parse(cookie, name="cookie")
        agent = None if user_agent is None else check_user_agent(user_agent)
        store = open_cursor_store(state)  # last: nothing can fail after it opens a file
        super().__init__(
            token=token, base_url=base_url, config=session_config,
            batch_presence_aware=batch_presence_aware, presence_sub=presence_sub, proxy=proxy,
            ssl=ssl, allow_insecure=allow_insecure,
            logger=logger if logger is not None else _log,
            timeout=checked_timeout, max_queue=checked_max_queue,
            read_buffer_size=checked_buffer, close_timeout=checked_close,
            cookie=session_cookie, user_agent=agent,
            catch_up=catch_up, state=store, owns_state=store is not None and store is not state,
        )

    def __repr__(self) -> str:
        return (f"RtmClient(token={redact_token(self._token)!r}, "
                f"base_url={redact_url(self._base_url)!r}, state={self.state})")

    # ------------------------------------------------------------------ properties

    @property
    def self(self) -> RtmConnectSelf:
        """Who we are connected as (``id``, ``name``), from ``rtm.connect``.

        Raises:
            StateError: ``rtm.connect`` has not succeeded yet.
        """
        if self._self is None:
            raise StateError("not connected yet: rtm.self is known after connect()")
        return self._self

    @property
    def team(self) -> RtmConnectTeam:
        """The workspace (``id``, ``name``, ``domain``), from ``rtm.connect``.

        Raises:
            StateError: ``rtm.connect`` has not succeeded yet.
        """
        if self._team is None:
            raise StateError("not connected yet: rtm.team is known after connect()")
        return self._team

    @property
    def last_received(self) -> float:
        """When the session last read a frame (any: events, replies, pongs), on the event
        loop's clock (``loop.time()``, ``time.monotonic()`` on the default loop); 0.0 before
        the first. A live link is never silent longer than the keepalive lets it be."""
        return self._core.last_received

    # ------------------------------------------------------------------ sends

    async def send_message(self, channel: str, text: str, *, thread_ts: str | None = None,
                           reply_broadcast: bool | None = None) -> Reply:
        """Post ``text`` to ``channel`` (optionally in a thread) and wait for Slack's ack.

        Returns:
            The ack: ``.ts`` is the message's id, ``.text`` the text as Slack stored it.

        Raises:
            TypeError, ValueError: a bad argument (before anything is sent).
            FrameTooLargeError: text over 4,000 characters or the frame over 16 KB.
            SendQueueFullError: too many sends waiting.
            SendError: Slack refused it (``.code``, ``.msg``).
            SendOutcomeUnknownError: the link died before the ack: it may have been posted.
            ConnectionClosedError: the session closed first.
            StateError: not connected yet.
        """
        send = self._core.send_message(channel, text, self._now(), thread_ts=thread_ts,
                                       reply_broadcast=reply_broadcast)
        result = await self._future_for(send)
        assert isinstance(result, Reply)
        book = self._book
        if book is not None and result.ts is not None:
            book.note_own(channel, result.ts)
        return result

    async def send_typing(self, channel: str) -> None:
        """Show "typing…" in ``channel`` (no ack from Slack; done once written).

        Raises:
            As :meth:`send_message`.
        """
        await self._future_for(self._core.send_typing(channel, self._now()))

    async def subscribe_presence(self, user_ids: Iterable[str]) -> None:
        """Replace the presence subscription with ``user_ids``; re-sent after every reconnect.

        Raises:
            As :meth:`send_message`.
        """
        await self._future_for(self._core.subscribe_presence(user_ids, self._now()))

    async def query_presence(self, user_ids: Iterable[str]) -> None:
        """Ask for the presence of up to 500 users (answered by ``presence_change`` events).

        Raises:
            As :meth:`send_message`.
        """
        await self._future_for(self._core.query_presence(user_ids, self._now()))

    async def ping(self) -> float:
        """Send a JSON ping and wait for the pong.

        Returns:
            The round trip in seconds.

        Raises:
            SendOutcomeUnknownError, ConnectionClosedError, StateError: as :meth:`send_message`.
        """
        result = await self._future_for(self._core.ping(self._now()))
        assert isinstance(result, float)
        return result

