"""The asyncio Socket Mode client: :class:`SocketModeClient`, RtmClient's surface for today's apps.

The protocol (the socket pool, hand-overs, keepalive, reconnects, acks, de-duplication) is
decided by :class:`~slack_rtm.session.socket_mode.SocketModeCore`; the same
:class:`~slack_rtm.aio.driver.Driver` as RTM's does its I/O and delivers its events
(STYLE.md §13). This module adds what differs: ``apps.connections.open`` with the app token,
``auth.test`` and ``chat.postMessage`` with the bot token, and acks that wait for handlers.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import msgspec
from picows import WSFrame, WSTransport

from slack_rtm.aio.base import BaseClient, check_int, check_number, check_user_agent
from slack_rtm.aio.handlers import Entry, HandlerRegistry, event_subtype
from slack_rtm.aio.transport import RtmListener, check_http_url, check_ws_url
from slack_rtm.api import AsyncClient, AsyncWebApi, RequestOptions, RetryConfig
from slack_rtm.api.client import DEFAULT_BASE_URL
from slack_rtm.api.models import RtmConnectSelf, RtmConnectTeam
from slack_rtm.backoff import Backoff
from slack_rtm.errors import (
    ConnectionClosedError,
    NotSupportedError,
    ResponseValidationError,
    SendError,
    SlackApiError,
    StateError,
    TransportError,
)
from slack_rtm.redact import redact_token, redact_url
from slack_rtm.session.events import Event
from slack_rtm.session.pacing import ChannelPacer
from slack_rtm.session.policy import fatal_code
from slack_rtm.session.sends import check_str
from slack_rtm.session.socket_mode import SocketModeCore
from slack_rtm.session.socket_mode_config import SocketModeConfig
from slack_rtm.session.state import State

__all__ = ["MessageAck", "SocketModeClient", "check_app_token", "check_bot_token"]

_log = logging.getLogger("slack_rtm.socket_mode")

APPS_CONNECTIONS_OPEN = "apps.connections.open"
AUTH_TEST = "auth.test"
CHAT_POST_MESSAGE = "chat.postMessage"

_NO_RETRY = RequestOptions(retry=RetryConfig.none())


class MessageAck(msgspec.Struct, frozen=True, kw_only=True):
    """Slack's answer to a message posted through ``chat.postMessage``.

    Attributes:
        ok: True (a refusal raises :class:`~slack_rtm.errors.SendError` instead).
        ts: the message's timestamp, its id in the channel.
        channel: the conversation it went to (an id).
        text: the text as Slack stored it (links may be rewritten).
    """

    ok: bool = True
    ts: str | None = None
    channel: str | None = None
    text: str | None = None


def _check_token(name: str, value: object, prefixes: tuple[str, ...], kind: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value or not value.isascii() or not value.isprintable() or any(
            c.isspace() for c in value):
        raise ValueError(f"{name} must be a non-empty token without spaces or line breaks")
    if not value.startswith(prefixes):
        raise ValueError(f"{name} must be {kind} ({' or '.join(p + '...' for p in prefixes)})")
    return value


def check_app_token(value: object) -> str:
    """An app-level token (``xapp-...``, scope ``connections:write``).

    Raises:
        TypeError, ValueError: anything else (the token is never echoed).
    """
    return _check_token("app_token", value, ("xapp-",), "an app-level token")


def check_bot_token(value: object) -> str:
    """A bot (``xoxb-``) or user (``xoxp-``) token, for ``chat.postMessage`` and ``auth.test``.

    Raises:
        TypeError, ValueError: anything else (the token is never echoed).
    """
    return _check_token("bot_token", value, ("xoxb-", "xoxp-"), "a bot or user token")


class _Listener(RtmListener):
    """RtmListener for Socket Mode frames: no message or reply fast paths to try first (every
    frame is a JSON object for the core), pongs reported."""

    __slots__ = ()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.fin and self._parts is None:
            data = frame.get_payload_as_bytes()
            if data[:1] == b"{":
                self._frames.append(data)
            else:
                self._other(transport, frame, data)
        else:
            self._other(transport, frame, None)
        if frame.last_in_buffer:
            self.flush()


class SocketModeClient(BaseClient[SocketModeCore]):
    """A Slack Socket Mode session on asyncio, with :class:`~slack_rtm.aio.RtmClient`'s surface.

    ``@on(type)``, ``async with`` (returns after the first ``hello``), ``async for``,
    :meth:`run`, :meth:`close`, :attr:`self` / :attr:`team` and :meth:`send_message` mean what
    they mean on RtmClient; a bot moves from RTM by changing its tokens. Events from
    ``events_api`` envelopes are RTM's typed classes (``Message``, ``ReactionAdded``, ...,
    :class:`~slack_rtm.session.events.UnknownEvent`) with :attr:`Event.envelope` set; slash
    commands arrive as :class:`~slack_rtm.session.events.SlashCommand` (type
    ``"slash_command"``) and interactions as :class:`~slack_rtm.session.events.Interaction`
    (type ``"interactive"``).

    **Acks.** By default each envelope is acknowledged as soon as it is queued for delivery,
    whatever the handlers do (never late). With ``ack_after_handler=True`` it is acknowledged
    once all its handlers returned, and not at all when one raised: Slack redelivers it and it
    is delivered again (at-least-once; a redelivery that arrives while the handlers still run is
    acked with the original). Events consumed by ``async for`` without handlers are acked when
    the loop asks for the next event. A command or interaction is answered in its ack: the
    first handler that returns a dict gives the ack's ``payload``; after ``response_timeout``
    (2.5 s) the ack goes without one and a warning is logged. Redeliveries (``retry_attempt >
    0``) of an event already delivered are acked and dropped (by ``event_id``, the last 10,000).

    Args:
        app_token: the app-level token (``xapp-...``, scope ``connections:write``).
        bot_token: the bot token (``xoxb-...``; ``xoxp-`` works too) for :meth:`send_message`
            and :attr:`self` / :attr:`team` (``auth.test``); None if the app only listens.
        base_url: the Web API root, e.g. the emulator's ``api_url``.
        connections: sockets kept open at once (1 to 10; default 2).
        ping_interval: seconds a socket may be quiet before a WebSocket ping.
        ping_timeout: seconds without a pong after the ping before the socket counts as dead.
        reconnect: the backoff between failed connection attempts (full jitter).
        max_attempts: give up after this many failed connection attempts in a row (None: never).
        ack_after_handler: acknowledge after the handlers returned (see above).
        response_timeout: how long a command's or an interaction's ack waits for its answer
            (under 3 s).
        config: every session setting at once (a
            :class:`~slack_rtm.session.socket_mode_config.SocketModeConfig`); the arguments
            above that are session settings must then be left unset.
        proxy: an ``http://``, ``https://``, ``socks4://`` or ``socks5://`` proxy URL, used for
            the Web API and the WebSocket.
        ssl: the TLS context for both (default: the system's, with verification).
        allow_insecure: accept ``http://`` / ``ws://`` to hosts other than loopback.
        logger: where the client logs (default ``slack_rtm.socket_mode``).
        timeout: seconds for one Web API call.
        max_queue: events buffered before reading pauses (back-pressure; unread envelopes are
            not acked, so Slack redelivers them).
        read_buffer_size: the WebSocket read buffer's initial size, in bytes.
        close_timeout: seconds :meth:`close` waits for the server to close before dropping.
        user_agent: the ``User-Agent`` on every request.
        send_rate: sustained posts per second per channel (Slack allows about 1).
        send_burst: posts to a quiet channel allowed back to back.
        send_retry: retries of ``chat.postMessage`` (default: 429 after ``Retry-After``, 5xx,
            transient codes; see :class:`~slack_rtm.api.RetryConfig`).

    Raises:
        TypeError, ValueError: an argument is of the wrong type or out of range (checked here,
            before any I/O; tokens are never echoed).
    """

    __slots__ = ("_bot_token", "_pacer", "_send_http", "_send_retry")

    def __init__(
        self,
        app_token: str,
        *,
        bot_token: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        connections: int | None = None,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        reconnect: Backoff | None = None,
        max_attempts: int | None = None,
        ack_after_handler: bool | None = None,
        response_timeout: float | None = None,
        config: SocketModeConfig | None = None,
        proxy: str | None = None,
        ssl: ssl_module.SSLContext | None = None,
        allow_insecure: bool = False,
        logger: logging.Logger | None = None,
        timeout: float = 30.0,
        max_queue: int = 10_000,
        read_buffer_size: int = 1024,
        close_timeout: float = 2.0,
        user_agent: str | None = None,
        send_rate: float = 1.0,
        send_burst: int = 3,
        send_retry: RetryConfig | None = None,
    ) -> None:
        token = check_app_token(app_token)
        bot = None if bot_token is None else check_bot_token(bot_token)
        if not isinstance(base_url, str):
            raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
        if not isinstance(allow_insecure, bool):
            raise TypeError(f"allow_insecure must be a bool, got {type(allow_insecure).__name__}")
        check_http_url(base_url, allow_insecure)
        if proxy is not None and not isinstance(proxy, str):
            raise TypeError(f"proxy must be a URL string or None, got {type(proxy).__name__}")
        if ssl is not None and not isinstance(ssl, ssl_module.SSLContext):
            raise TypeError(f"ssl must be an ssl.SSLContext or None, got {type(ssl).__name__}")
        if logger is not None and not isinstance(logger, logging.Logger):
            raise TypeError(f"logger must be a logging.Logger, got {type(logger).__name__}")
        if send_retry is not None and not isinstance(send_retry, RetryConfig):
            raise TypeError(
                f"send_retry must be a RetryConfig or None, got {type(send_retry).__name__}")
        overrides: dict[str, Any] = {}
        for name, value in (("connections", connections), ("ping_interval", ping_interval),
                            ("ping_timeout", ping_timeout), ("backoff", reconnect),
                            ("max_attempts", max_attempts),
                            ("ack_after_handler", ack_after_handler),
                            ("response_timeout", response_timeout)):
            if value is not None:
                overrides[name] = value
        if config is not None:
            if not isinstance(config, SocketModeConfig):
                raise TypeError(
                    f"config must be a SocketModeConfig, got {type(config).__name__}")
            if overrides:
                raise ValueError(
                    f"pass {', '.join(sorted(overrides))} inside config, not next to it")
            session_config = config
        else:
            session_config = SocketModeConfig(**overrides)  # validates each value
        pacer = ChannelPacer(send_rate, send_burst)  # validates both
        log = logger if logger is not None else _log
        super().__init__(
            token=token, base_url=base_url, config=session_config,
            batch_presence_aware=False, presence_sub=False, proxy=proxy, ssl=ssl,
            allow_insecure=allow_insecure, logger=log,
            timeout=check_number("timeout", timeout),
            max_queue=check_int("max_queue", max_queue, 2),
            read_buffer_size=check_int("read_buffer_size", read_buffer_size, 1024),
            close_timeout=check_number("close_timeout", close_timeout),
            user_agent=None if user_agent is None else check_user_agent(user_agent),
            core=SocketModeCore(session_config, logger=log),
        )
        # Every event goes through _handle (its ack may wait for the handlers).
        self._handlers = HandlerRegistry(shortcut=False)
        self._bot_token = bot
        self._pacer = pacer
        self._send_retry = send_retry if send_retry is not None else RetryConfig()
        self._send_http: AsyncClient | None = None

    def __repr__(self) -> str:
        bot = "None" if self._bot_token is None else repr(redact_token(self._bot_token))
        return (f"SocketModeClient(app_token={redact_token(self._token)!r}, bot_token={bot}, "
                f"base_url={redact_url(self._base_url)!r}, state={self.state})")

    # ------------------------------------------------------------------ properties

    @property
    def self(self) -> RtmConnectSelf:
        """Who the bot is (``id``, ``name``), from ``auth.test`` with the bot token.

        Raises:
            StateError: no bot token was given, or ``auth.test`` has not answered yet.
        """
        if self._bot_token is None:
            raise StateError("self is known from auth.test with the bot token: pass bot_token=")
        if self._self is None:
            raise StateError("not known yet: self comes from auth.test, called by connect()")
        return self._self

    @property
    def team(self) -> RtmConnectTeam:
        """The workspace (``id``, ``name``, ``domain``), from ``auth.test`` with the bot token.

        Raises:
            StateError: no bot token was given, or ``auth.test`` has not answered yet.
        """
        if self._bot_token is None:
            raise StateError("team is known from auth.test with the bot token: pass bot_token=")
        if self._team is None:
            raise StateError("not known yet: team comes from auth.test, called by connect()")
        return self._team

    @property
    def connections(self) -> int:
        """Sockets open and live right now (that said ``hello`` and were not asked to go)."""
        return self._core.live_count

    # ------------------------------------------------------------------ the driver's hooks

    async def _call_connect(self, attempt: int) -> None:
        """``auth.test`` (once, with the bot token), then ``apps.connections.open``."""
        loop = self._loop
        assert loop is not None
        self._log.debug("calling apps.connections.open (attempt %d)", attempt)
        http = self._http = self._web_client()
        try:
            if (self._bot_token is not None and self._self is None
                    and not await self._auth_test(http)):
                return  # the bot token was refused: the session is stopping
            response = await AsyncWebApi(http).api_call(
                APPS_CONNECTIONS_OPEN, self._token, request_options=_NO_RETRY)
        except Exception as exc:
            self._log.info("apps.connections.open failed: %s", exc)
            self._core.connect_failed(exc, loop.time())
            self._process()
            return
        finally:
            self._http = None
            await http.aclose()
        url = response.result.data.get("url")
        try:
            if not isinstance(url, str) or not url:
                raise ResponseValidationError(
                    "apps.connections.open answered ok without a WebSocket url",
                    status_code=response.status_code, headers=response.headers, body="")
            check_ws_url(url, self._allow_insecure, APPS_CONNECTIONS_OPEN)
        except ResponseValidationError as exc:
            self._core.connect_failed(exc, loop.time())
            self._process()
            return
        except TransportError as exc:
            self._log.error("%s", exc)
            self._core.fail(exc, loop.time())
            self._process()
            return
        self._core.connect_succeeded(url, loop.time())
        self._process()

    async def _auth_test(self, http: AsyncClient) -> bool:
        """Learn :attr:`self` and :attr:`team`; False when the session was stopped (a fatal
        code: the bot token is refused). Other failures are logged and retried next time."""
        assert self._loop is not None
        assert self._bot_token is not None
        try:
            response = await AsyncWebApi(http).api_call(AUTH_TEST, self._bot_token,
                                                        request_options=_NO_RETRY)
        except Exception as exc:
            if fatal_code(exc) is None:
                self._log.warning("auth.test with the bot token failed (%s): retried with the "
                                  "next connection", exc)
                return True
            self._log.error("auth.test refused the bot token: %s", exc)
            self._core.fail(exc, self._loop.time())
            self._process()
            return False
        data = response.result.data
        user_id, team_id = data.get("user_id"), data.get("team_id")
        if isinstance(user_id, str) and isinstance(team_id, str):
            url = data.get("url")
            host = (urlsplit(url).hostname or "") if isinstance(url, str) else ""
            self._self = RtmConnectSelf(id=user_id, name=str(data.get("user") or ""))
            self._team = RtmConnectTeam(id=team_id, name=str(data.get("team") or ""),
                                        domain=host.split(".", 1)[0])
        return True

    def _make_listener(self, conn_id: int) -> RtmListener:
        core = self._core
        return _Listener(conn_id, core.receive_many, core.receive_many, self._receive_reply,
                         self._batch_done, self._on_socket_connected, self._on_socket_closed,
                         self._now, on_pong=self._on_pong)

    def _on_pong(self, conn_id: int) -> None:
        self._core.pong_received(conn_id, self._now())

    def _after_yield(self) -> Callable[[Event], None] | None:
        waiting = self._core.waiting  # live: empty unless some ack waits

        def ack_consumed(event: Event) -> None:
            """An iteration consumed ``event``: ack its envelope if that still waits (no
            handler acked it)."""
            if waiting:
                envelope = event.envelope
                if envelope is not None and envelope.envelope_id in waiting:
                    self._core.ack(envelope.envelope_id, self._now())
                    self._process(False)

        return ack_consumed

    def _handle(self, event: Event) -> Awaitable[None] | None:
        """Run the handlers for ``event``; then ack its envelope if the ack waited for them."""
        envelope = event.envelope
        if envelope is None or not self._core.awaits_ack(envelope.envelope_id):
            return super()._handle(event)
        entries = self._handlers.lookup(event.type)[0]
        answer: dict[str, Any] | None = None
        failed = False
        for index, entry in enumerate(entries):
            if entry[0] is not None and entry[0] != event_subtype(event):
                continue
            try:
                result = entry[1](event)
            except Exception as exc:
                self._handler_failed(event, entry, exc)
                failed = True
                continue
            if result is not None and inspect.isawaitable(result):
                return self._handle_rest(event, envelope.envelope_id, entries[index:], result,
                                         answer, failed)
            if answer is None and isinstance(result, dict):
                answer = result
        self._settle(envelope.envelope_id, answer, failed)
        return None

    async def _handle_rest(self, event: Event, envelope_id: str, entries: tuple[Entry, ...],
                           pending: Awaitable[Any] | None, answer: dict[str, Any] | None,
                           failed: bool) -> None:
        """:meth:`_handle` from the first handler that returned an awaitable (``pending``)."""
        for entry in entries:
            try:
                if pending is not None:
                    first, pending = pending, None
                    result = await first
                else:
                    if entry[0] is not None and entry[0] != event_subtype(event):
                        continue
                    result = entry[1](event)
                    if result is not None and inspect.isawaitable(result):
                        result = await result
            except Exception as exc:
                self._handler_failed(event, entry, exc)
                failed = True
                continue
            if answer is None and isinstance(result, dict):
                answer = result
        self._settle(envelope_id, answer, failed)

    def _settle(self, envelope_id: str, answer: dict[str, Any] | None, failed: bool) -> None:
        core = self._core
        now = self._now()
        if failed and core.config.ack_after_handler:
            core.release(envelope_id, now)
        elif not core.ack(envelope_id, now, answer) and answer is not None:
            self._log.warning("a handler answered envelope %s after it was acknowledged "
                              "(response_timeout %s s): the answer is dropped", envelope_id,
                              core.config.response_timeout)
        self._process(False)

    async def _finalize(self) -> None:
        http, self._send_http = self._send_http, None
        if http is not None:
            await http.aclose()
        await super()._finalize()

    # ------------------------------------------------------------------ sends

    async def send_message(self, channel: str, text: str, *,
                           thread_ts: str | None = None) -> MessageAck:
        """Post ``text`` to ``channel`` (optionally in a thread) with ``chat.postMessage``.

        Socket Mode has no sending over the socket: this is a Web API call with the bot token,
        paced per channel (``send_rate``, ``send_burst``) and retried on 429 (after
        ``Retry-After``), 5xx and transient codes (``send_retry``).

        Returns:
            The ack: ``.ts`` is the message's id, ``.channel``, ``.text`` as Slack stored it.

        Raises:
            TypeError, ValueError: a bad argument (before anything is sent).
            StateError: no bot token, or not connected yet.
            SendError: Slack refused it: ``.code`` is its error code (``"channel_not_found"``,
                ``"not_in_channel"``, ``"msg_too_long"``, ``"ratelimited"`` once retries are
                spent, ...).
            ConnectionClosedError: the client is closed.
            TransportError: the network failed (the message may or may not have been posted
                when it failed after sending).
            ApiError: another HTTP failure.
        """
        check_str("channel", channel)
        check_str("text", text)
        if thread_ts is not None:
            check_str("thread_ts", thread_ts)
        if self._bot_token is None:
            raise StateError("send_message posts with chat.postMessage and the bot token: pass "
                             "bot_token= (Socket Mode has no sending over the socket)")
        state = self._core.state
        if state is State.IDLE:
            raise StateError("the client is not started: connect first")
        if state in (State.CLOSING, State.CLOSED):
            raise ConnectionClosedError(f"the client is {state}")
        delay = self._pacer.reserve(channel, self._now())
        if delay > 0:
            await asyncio.sleep(delay)
        params: dict[str, object] = {"channel": channel, "text": text}
        if thread_ts is not None:
            params["thread_ts"] = thread_ts
        try:
            response = await AsyncWebApi(self._sender()).api_call(
                CHAT_POST_MESSAGE, self._bot_token, params)
        except SlackApiError as exc:
            raise SendError(exc.error, f"chat.postMessage answered {exc.error}") from exc
        data = response.result.data
        message = data.get("message")
        stored = message.get("text") if isinstance(message, dict) else None
        ts, where = data.get("ts"), data.get("channel")
        return MessageAck(ts=ts if isinstance(ts, str) else None,
                          channel=where if isinstance(where, str) else channel,
                          text=stored if isinstance(stored, str) else text)

    def _sender(self) -> AsyncClient:
        """The Web API client for posts, made on first use, kept until the session ends."""
        if self._stopped:
            raise ConnectionClosedError("the client is closed")
        http = self._send_http
        if http is None:
            http = self._send_http = AsyncClient(
                base_url=self._base_url, timeout=self._timeout, retry=self._send_retry,
                proxy=self._proxy, verify=self._tls_context(), user_agent=self._user_agent)
        return http

    async def send_typing(self, channel: str) -> None:
        """Not in Socket Mode: Slack has no typing indicator for apps.

        Raises:
            NotSupportedError: always.
        """
        raise NotSupportedError("Socket Mode has no typing indicator (only RTM has one)")

    async def subscribe_presence(self, user_ids: Iterable[str]) -> None:
        """Not in Socket Mode: presence events are RTM's.

        Raises:
            NotSupportedError: always.
        """
        raise NotSupportedError("Socket Mode has no presence subscription (only RTM has one)")

    async def query_presence(self, user_ids: Iterable[str]) -> None:
        """Not in Socket Mode: use the Web API's ``users.getPresence``.

        Raises:
            NotSupportedError: always.
        """
        raise NotSupportedError(
            "Socket Mode has no presence query (only RTM has one); call users.getPresence")
