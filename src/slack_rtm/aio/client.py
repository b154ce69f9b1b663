"""The asyncio RTM client: :class:`RtmClient`, a thin driver around the I/O-free session core.

Everything about the protocol (ids, replies, keepalive, reconnects, limits) is decided by
:class:`~slack_rtm.session.core.SessionCore`; this module only does the I/O it asks for:
``rtm.connect`` over :mod:`slack_rtm.api`, WebSockets over picows, one timer, and delivery of
events to ``async for`` and to handlers.

Delivery: frames are decoded in the read callback and appended to one bounded queue per read
buffer (no task or future per event). When the queue is full, reading pauses (back-pressure;
nothing is dropped) and the keepalive deadline is suspended; it resumes at half full.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
import ssl as ssl_module
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, TypeVar

from picows import WSCloseCode, WSMsgType, WSTransport

from slack_rtm.aio.handlers import Entry, Handler, HandlerRegistry, event_subtype, handler_name
from slack_rtm.aio.transport import (
    RtmListener,
    check_http_url,
    check_ws_url,
    open_websocket,
)
from slack_rtm.api import AsyncClient, AsyncRtmApi, RequestOptions, RetryConfig
from slack_rtm.api.client import DEFAULT_BASE_URL
from slack_rtm.api.models import RtmConnectSelf, RtmConnectTeam
from slack_rtm.backoff import Backoff
from slack_rtm.errors import (
    ConnectionClosedError,
    SlackRtmError,
    StateError,
    TransportError,
)
from slack_rtm.redact import redact_token, redact_url
from slack_rtm.session.actions import (
    CallConnect,
    CloseSocket,
    OpenSocket,
    Send,
    SendDone,
    SendFrame,
    Stop,
)
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.core import SessionCore
from slack_rtm.session.events import Event, HandlerError, Reply, decode_frame
from slack_rtm.session.state import State

__all__ = ["RtmClient"]

_log = logging.getLogger("slack_rtm.aio")
H = TypeVar("H", bound=Handler)
_TEXT = WSMsgType.TEXT


def _check_number(name: str, value: object, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not value > 0 if positive else not value >= 0:
        raise ValueError(f"{name} must be {'>' if positive else '>='} 0, got {value!r}")
    return float(value)


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


class RtmClient:
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
        read_buffer_size: the WebSocket read buffer's initial size, in bytes.
        close_timeout: seconds :meth:`close` waits for the server to close before dropping.

    Raises:
        TypeError, ValueError: an argument is of the wrong type or out of range (checked here,
            before any I/O).
    """

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
        read_buffer_size: int = 16 * 1024,
        close_timeout: float = 2.0,
    ) -> None:
        if not isinstance(token, str):
            raise TypeError(f"token must be a str, got {type(token).__name__}")
        if not token or token != token.strip() or any(c in token for c in "\r\n\t "):
            raise ValueError("token must be a non-empty string without whitespace")
        if not isinstance(base_url, str):
            raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
        for name, flag in (("batch_presence_aware", batch_presence_aware),
                           ("presence_sub", presence_sub), ("allow_insecure", allow_insecure)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
        check_http_url(base_url, allow_insecure)
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
            self._config = config
        else:
            self._config = SessionConfig(**overrides)  # validates each value
        self._timeout = _check_number("timeout", timeout)
        self._close_timeout = _check_number("close_timeout", close_timeout)
        self._max_queue = _check_int("max_queue", max_queue, 2)
        self._read_buffer_size = _check_int("read_buffer_size", read_buffer_size, 1024)
        self._token = token
        self._base_url = base_url
        self._batch_presence_aware = batch_presence_aware
        self._presence_sub = presence_sub
        self._proxy = proxy
        self._ssl = ssl
        self._allow_insecure = allow_insecure
        self._log = logger if logger is not None else _log
        self._handlers = HandlerRegistry()
        self._has_handlers = False
        self._core = SessionCore(self._config, logger=self._log)
        self._self: RtmConnectSelf | None = None
        self._team: RtmConnectTeam | None = None
        # I/O state, created by connect()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._http: AsyncClient | None = None
        self._api: AsyncRtmApi | None = None
        self._listeners: dict[int, RtmListener] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._open_tasks: dict[int, asyncio.Task[Any]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._queue: deque[Event | bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._iterators = 0
        self._stopped = False
        self._closed: asyncio.Future[None] | None = None
        self._finalized: asyncio.Event | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._finalize_task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return (f"RtmClient(token={redact_token(self._token)!r}, "
                f"base_url={redact_url(self._base_url)!r}, state={self.state})")

    # ------------------------------------------------------------------ properties

    @property
    def state(self) -> State:
        """Where the session is: idle, connecting, connected, reconnecting, closing, closed."""
        return self._core.state

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
    def error(self) -> BaseException | None:
        """The error that stopped the session (a fatal ``rtm.connect`` code, ...), if any."""
        return self._core.error

    # ------------------------------------------------------------------ handlers

    def on(self, event_type: str, subtype: str | None = None) -> Callable[[H], H]:
        """Decorator: call the function for each event of ``event_type`` (``"*"``: all).

        Handlers may be sync or async; async ones are awaited in order. An exception in a
        handler is logged and delivered as a :class:`HandlerError` event; it never ends the
        session. Handlers run in a background task, or, while you iterate with ``async for``,
        just before each event is yielded to you.

        Raises:
            TypeError, ValueError: a bad ``event_type`` or ``subtype``.
        """
        from slack_rtm.session.events import validate_type_name

        validate_type_name(event_type)
        if subtype is not None and (not isinstance(subtype, str) or not subtype):
            raise TypeError(f"subtype must be a non-empty str or None, got {subtype!r}")

        def register(func: H) -> H:
            self.add_handler(event_type, func, subtype=subtype)
            return func

        return register

    def add_handler(self, event_type: str, handler: Handler, *, subtype: str | None = None) -> None:
        """Register ``handler`` (see :meth:`on`).

        Raises:
            TypeError, ValueError: a bad argument.
        """
        self._handlers.add(event_type, handler, subtype)
        self._has_handlers = True
        if self._loop is not None and not self._stopped:
            self._ensure_dispatcher()
            self._wake()

    def remove_handler(self, handler: Handler) -> bool:
        """Unregister ``handler``; True if it was registered."""
        found = self._handlers.remove(handler)
        self._has_handlers = bool(self._handlers)
        return found

    # ------------------------------------------------------------------ lifecycle

    async def connect(self) -> RtmClient:
        """Call ``rtm.connect``, open the WebSocket and wait for ``hello``.

        Transient failures are retried with backoff (see ``max_attempts``).

        Raises:
            StateError: already started.
            RtmConnectErrorSchemaError: a fatal code such as ``invalid_auth``.
            SlackRtmError: the session stopped for another reason before ``hello``.
        """
        if self._core.state is not State.IDLE:
            raise StateError(f"connect() is called once; the client is {self.state}")
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._closed = loop.create_future()
        self._finalized = asyncio.Event()
        self._http = AsyncClient(
            base_url=self._base_url, timeout=self._timeout, retry=RetryConfig.none(),
            proxy=self._proxy, verify=self._ssl if self._ssl is not None else True,
        )
        self._api = AsyncRtmApi(self._http)
        self._core.start(loop.time())
        self._process()
        if self._has_handlers:
            self._ensure_dispatcher()
        try:
            while self._state() is State.CONNECTING:
                await self._wait_wake()
        except BaseException:
            await self.close()
            raise
        if self._state() is not State.CONNECTED and self._core.error is not None:
            await self.close()
            raise self._core.error
        if self._state() in (State.CLOSING, State.CLOSED):
            raise ConnectionClosedError("the client was closed while connecting")
        return self

    async def __aenter__(self) -> RtmClient:
        return await self.connect()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session: send a close frame, fail pending sends, stop every task.

        Pending and queued sends fail with :class:`ConnectionClosedError`. Returns promptly in
        every state (after at most ``close_timeout`` waiting for the server). Idempotent.
        """
        loop = self._loop
        if loop is None:
            if self._core.state is State.IDLE:
                self._core.close(0.0)
                self._core.take_actions()
            return
        if self._core.state not in (State.CLOSING, State.CLOSED):
            self._core.close(loop.time())
            self._process()
        assert self._closed is not None
        current = asyncio.current_task()
        if current is not None and (current is self._dispatcher or current in self._tasks):
            # Called from a handler or one of our tasks: those are cancelled by the clean-up,
            # so it cannot be awaited here. The session is already closing; it finishes alone.
            self._start_finalize()
            return
        if not self._closed.done():
            await asyncio.wait([self._closed], timeout=self._close_timeout)
        if not self._closed.done():
            # The server did not close in time: drop the sockets.
            for conn_id, listener in list(self._listeners.items()):
                if listener.transport is not None:
                    listener.transport.disconnect(graceful=False)
                self._core.socket_closed(conn_id, loop.time())
            for conn_id in list(self._open_tasks):
                self._core.socket_failed(conn_id, ConnectionClosedError("closed"), loop.time())
            self._process()
        await asyncio.shield(self._start_finalize())

    async def wait_closed(self) -> None:
        """Wait until the session ends.

        Raises:
            SlackRtmError: the error that stopped it (e.g. a fatal ``rtm.connect`` code).
        """
        if self._closed is None:
            raise StateError("the client is not started: connect first")
        await asyncio.shield(self._closed)
        assert self._finalized is not None
        await self._finalized.wait()
        if self._core.error is not None:
            raise self._core.error

    async def run_async(self) -> None:
        """Connect, dispatch events to handlers until closed, then close.

        Raises:
            SlackRtmError: the error that stopped the session.
        """
        try:
            if self._core.state is State.IDLE:
                await self.connect()
            await self.wait_closed()
        finally:
            await self.close()

    def run(self) -> None:
        """Blocking: connect and dispatch events to handlers until :meth:`close` or Ctrl-C.

        Ctrl-C (SIGINT) or SIGTERM closes the session cleanly and returns.

        Raises:
            SlackRtmError: the error that stopped the session (e.g. ``invalid_auth``).
        """

        async def main() -> None:
            loop = asyncio.get_running_loop()
            installed = []
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, self._request_close)
                    installed.append(sig)
                except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover
                    pass
            try:
                await self.run_async()
            finally:
                for sig in installed:
                    loop.remove_signal_handler(sig)

        try:
            asyncio.run(main())
        except KeyboardInterrupt:  # pragma: no cover - platforms without signal handlers
            self._log.info("interrupted")

    def _request_close(self) -> None:
        self._log.info("signal received: closing")
        self._spawn(self.close())

    # ------------------------------------------------------------------ events out

    def __aiter__(self) -> AsyncIterator[Event]:
        """Every event, in order, until the session ends.

        Ends normally after :meth:`close`; raises the error that stopped the session otherwise.
        While iterating, handlers run just before each event is yielded.
        """
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        if self._loop is None:
            raise StateError("connect first (async with rtm: async for event in rtm)")
        self._iterators += 1
        queue = self._queue
        try:
            while True:
                if not queue:
                    if self._stopped:
                        break
                    await self._wait_wake()
                    continue
                item = queue.popleft()
                event = decode_frame(item) if isinstance(item, bytes) else item
                if self._paused and len(queue) <= self._max_queue // 2:
                    self._set_paused(False)
                if self._has_handlers:
                    pending = self._handle(event)
                    if pending is not None:
                        await pending
                yield event
        finally:
            self._iterators -= 1
            self._wake()
        if self._finalized is not None:
            await self._finalized.wait()
        if self._core.error is not None:
            raise self._core.error

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
        result = await self._await(send)
        assert isinstance(result, Reply)
        return result

    async def send_typing(self, channel: str) -> None:
        """Show "typing…" in ``channel`` (no ack from Slack; done once written).

        Raises:
            As :meth:`send_message`.
        """
        await self._await(self._core.send_typing(channel, self._now()))

    async def subscribe_presence(self, user_ids: Iterable[str]) -> None:
        """Replace the presence subscription with ``user_ids``; re-sent after every reconnect.

        Raises:
            As :meth:`send_message`.
        """
        await self._await(self._core.subscribe_presence(user_ids, self._now()))

    async def query_presence(self, user_ids: Iterable[str]) -> None:
        """Ask for the presence of up to 500 users (answered by ``presence_change`` events).

        Raises:
            As :meth:`send_message`.
        """
        await self._await(self._core.query_presence(user_ids, self._now()))

    async def ping(self) -> float:
        """Send a JSON ping and wait for the pong.

        Returns:
            The round trip in seconds.

        Raises:
            SendOutcomeUnknownError, ConnectionClosedError, StateError: as :meth:`send_message`.
        """
        result = await self._await(self._core.ping(self._now()))
        assert isinstance(result, float)
        return result

    def _now(self) -> float:
        if self._loop is None:
            return 0.0  # the core refuses commands before start() with StateError
        return self._loop.time()

    async def _await(self, send: Send) -> object:
        loop = self._loop
        assert loop is not None
        future: asyncio.Future[object] = loop.create_future()
        send.waiter = future
        self._process()
        if send.done and not future.done():
            _settle(future, send)
        return await future

    # ------------------------------------------------------------------ the driver loop

    def _process(self) -> None:
        """Carry out the core's actions, deliver its events, re-arm the timer."""
        core = self._core
        for _ in range(100):
            actions = core.take_actions()
            if not actions:
                break
            for action in actions:
                self._do(action)
        self._deliver()
        self._arm_timer()

    def _do(self, action: object) -> None:
        kind = type(action)
        if kind is SendFrame:
            assert isinstance(action, SendFrame)
            listener = self._listeners.get(action.conn_id)
            if listener is not None and listener.transport is not None:
                listener.transport.send(_TEXT, action.data)
            else:
                self._log.debug("frame for socket %d dropped: not open", action.conn_id)
        elif kind is SendDone:
            assert isinstance(action, SendDone)
            future = action.send.waiter
            if future is not None and not future.done():
                _settle(future, action.send)
        elif kind is CallConnect:
            assert isinstance(action, CallConnect)
            self._spawn(self._call_connect(action.attempt))
        elif kind is OpenSocket:
            assert isinstance(action, OpenSocket)
            task = self._spawn(self._open(action.conn_id, action.url))
            self._open_tasks[action.conn_id] = task
        elif kind is CloseSocket:
            assert isinstance(action, CloseSocket)
            self._close_socket(action)
        elif kind is Stop:
            self._stopped = True
            if self._closed is not None and not self._closed.done():
                self._closed.set_result(None)
            self._start_finalize()
            self._wake()

    def _close_socket(self, action: CloseSocket) -> None:
        listener = self._listeners.get(action.conn_id)
        transport = listener.transport if listener is not None else None
        if transport is None:
            task = self._open_tasks.get(action.conn_id)
            if task is not None:
                task.cancel()
            return
        if action.abort:
            transport.disconnect(graceful=False)
            return
        if not transport.is_close_frame_sent:
            try:
                code = WSCloseCode(action.code)
            except ValueError:
                code = WSCloseCode.OK
            transport.send_close(code, action.reason.encode())
        transport.disconnect()

    def _deliver(self) -> None:
        events = self._core.take_raw()
        if events:
            self._queue.extend(events)
            if len(self._queue) >= self._max_queue and not self._paused:
                self._set_paused(True)
            self._wake()

    def _batch_done(self) -> None:
        """After each read buffer: hand the batch of events over, run any actions."""
        core = self._core
        events = core.events
        if events:
            core.events = []
            queue = self._queue
            queue.extend(events)
            if len(queue) >= self._max_queue and not self._paused:
                self._set_paused(True)
            waiter = self._waiter
            if waiter is not None:
                self._waiter = None
                if not waiter.done():
                    waiter.set_result(None)
        if core.has_actions or core.timers_dirty:
            self._process()

    def _set_paused(self, paused: bool) -> None:
        self._paused = paused
        loop = self._loop
        assert loop is not None
        self._core.set_reading_paused(paused, loop.time())
        for listener in self._listeners.values():
            transport = listener.transport
            if transport is None or transport.is_disconnected:
                continue
            underlying = transport.underlying_transport
            if paused:
                underlying.pause_reading()
            else:
                underlying.resume_reading()
        self._log.debug("reading %s (%d events queued)", "paused" if paused else "resumed",
                        len(self._queue))
        if not paused:
            self._arm_timer()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def _wait_wake(self) -> None:
        waiter = self._waiter
        if waiter is None:
            assert self._loop is not None
            waiter = self._waiter = self._loop.create_future()
        await waiter

    def _arm_timer(self) -> None:
        loop = self._loop
        if loop is None or self._stopped:
            return
        self._core.timers_dirty = False
        deadline = self._core.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        assert self._loop is not None
        self._core.tick(self._loop.time())
        self._process()

    def _state(self) -> State:
        return self._core.state

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _call_connect(self, attempt: int) -> None:
        assert self._api is not None
        assert self._loop is not None
        self._log.debug("calling rtm.connect (attempt %d)", attempt)
        try:
            response = await self._api.rtm_connect(
                self._token,
                batch_presence_aware=self._batch_presence_aware or None,
                presence_sub=self._presence_sub or None,
                request_options=RequestOptions(retry=RetryConfig.none()),
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._log.info("rtm.connect failed: %s", exc)
            self._core.connect_failed(exc, self._loop.time())
            self._process()
            return
        result = response.result
        try:
            check_ws_url(result.url, self._allow_insecure)
        except TransportError as exc:
            self._log.error("%s", exc)
            self._core.fail(exc, self._loop.time())
            self._process()
            return
        self._self = result.self_
        self._team = result.team
        self._core.connect_succeeded(result.url, self._loop.time())
        self._process()

    async def _open(self, conn_id: int, url: str) -> None:
        loop = self._loop
        assert loop is not None
        listener = RtmListener(conn_id, self._core.receive_many, self._batch_done,
                               self._on_socket_connected, self._on_socket_closed,
                               _fast_clock(loop))
        self._listeners[conn_id] = listener
        self._log.debug("opening WebSocket %d to %s", conn_id, redact_url(url))
        try:
            await open_websocket(listener, url, ssl=self._ssl, proxy=self._proxy,
                                 timeout=self._config.hello_timeout,
                                 read_buffer_size=self._read_buffer_size, logger=self._log)
        except asyncio.CancelledError:
            self._open_tasks.pop(conn_id, None)
            if listener.transport is None:
                self._listeners.pop(conn_id, None)
                self._core.socket_failed(conn_id, ConnectionClosedError("closed"), loop.time())
                self._process()
            raise
        except SlackRtmError as exc:
            self._open_tasks.pop(conn_id, None)
            self._listeners.pop(conn_id, None)
            self._log.info("WebSocket %d failed: %s", conn_id, exc)
            self._core.socket_failed(conn_id, exc, loop.time())
            self._process()
            return
        self._open_tasks.pop(conn_id, None)
        self._core.socket_opened(conn_id, loop.time())

    def _on_socket_connected(self, conn_id: int, transport: WSTransport) -> None:
        if self._paused:
            transport.underlying_transport.pause_reading()

    def _on_socket_closed(self, conn_id: int, code: int | None, reason: str) -> None:
        self._listeners.pop(conn_id, None)
        loop = self._loop
        assert loop is not None
        self._log.debug("WebSocket %d closed (code %s)", conn_id, code)
        self._core.socket_closed(conn_id, loop.time(), code, reason)
        self._process()

    def _start_finalize(self) -> asyncio.Task[None]:
        if self._finalize_task is None:
            self._finalize_task = asyncio.ensure_future(self._finalize())
        return self._finalize_task

    async def _finalize(self) -> None:
        """Stop everything that is still running (runs once)."""
        assert self._finalized is not None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current and not t.done()]
        if self._dispatcher is not None and self._dispatcher is not current:
            self._dispatcher.cancel()
            tasks.append(self._dispatcher)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=self._close_timeout)
        for listener in list(self._listeners.values()):
            if listener.transport is not None:
                listener.transport.disconnect(graceful=False)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(listener.transport.wait_disconnected(), 1.0)
        self._listeners.clear()
        if self._http is not None:
            await self._http.aclose()
        self._stopped = True
        self._deliver()
        self._wake()
        self._finalized.set()

    # ------------------------------------------------------------------ handlers

    def _ensure_dispatcher(self) -> None:
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.ensure_future(self._dispatch_loop())

    async def _dispatch_loop(self) -> None:
        queue = self._queue
        low = self._max_queue // 2
        while True:
            while queue and self._iterators == 0 and self._has_handlers:
                item = queue.popleft()
                event = decode_frame(item) if isinstance(item, bytes) else item
                if self._paused and len(queue) <= low:
                    self._set_paused(False)
                pending = self._handle(event)
                if pending is not None:
                    await pending
            if self._stopped and not queue:
                return
            await self._wait_wake()

    def _handle(self, event: Event) -> Awaitable[None] | None:
        """Run the handlers for ``event``: sync ones now; returns what is left to await."""
        found = self._handlers.cache.get(event.type)
        entries, any_async = found if found is not None else self._handlers.lookup(event.type)
        if not entries:
            return None
        if any_async:
            return self._handle_async(event, entries)
        for entry in entries:
            subtype = entry[0]
            if subtype is not None and subtype != event_subtype(event):
                continue
            try:
                result = entry[1](event)
            except Exception as exc:
                self._handler_failed(event, entry, exc)
                continue
            if result is not None and inspect.isawaitable(result):
                return self._handle_async(event, entries, entry, result)
        return None

    async def _handle_async(self, event: Event, entries: tuple[Entry, ...],
                            resume_after: Entry | None = None,
                            pending: Awaitable[Any] | None = None) -> None:
        """The general path: awaits async handlers in order (and one a sync handler returned)."""
        if pending is not None:
            try:
                await pending
            except Exception as exc:
                assert resume_after is not None
                self._handler_failed(event, resume_after, exc)
            entries = entries[entries.index(resume_after) + 1:]
        for entry in entries:
            subtype = entry[0]
            if subtype is not None and subtype != event_subtype(event):
                continue
            try:
                result = entry[1](event)
                if entry[2] or inspect.isawaitable(result):
                    await result
            except Exception as exc:
                self._handler_failed(event, entry, exc)

    def _handler_failed(self, event: Event, entry: Entry, exc: Exception) -> None:
        name = handler_name(entry[1])
        self._log.error("handler %s failed on a %s event", name, event.type, exc_info=exc)
        if not isinstance(event, HandlerError):
            self._queue.append(HandlerError(event_type=event.type, error=repr(exc), handler=name))
            self._wake()


def _fast_clock(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """``loop.time`` itself, or ``time.monotonic`` when that is all it does (cheaper to call)."""
    if type(loop).time is asyncio.BaseEventLoop.time:
        return time.monotonic
    return loop.time


def _settle(future: asyncio.Future[object], send: Send) -> None:
    if send.error is not None:
        future.set_exception(send.error)
    else:
        future.set_result(send.result)
