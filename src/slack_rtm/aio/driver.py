"""The I/O half of :class:`~slack_rtm.aio.RtmClient`: actions, timer, sockets, delivery.

:class:`Driver` carries out what :class:`~slack_rtm.session.core.SessionCore` asks for
(``rtm.connect`` over :mod:`slack_rtm.api`, WebSockets over picows, one timer) and delivers the
events to ``async for`` and to handlers. :mod:`slack_rtm.aio.client` adds the public API.

Delivery: each read buffer's frames go to the core in one call and its events to one bounded
queue (no task or future per event; ordinary messages are decoded only when delivered). When
the queue is full, reading pauses (back-pressure: nothing is dropped) and the keepalive deadline
is suspended; reading resumes at half full.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import ssl as ssl_module
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar, cast

from msgspec.structs import force_setattr
from multidict import CIMultiDict, CIMultiDictProxy
from picows import WSCloseCode, WSMsgType, WSTransport

from slack_rtm.aio.catchup import CatchUpRunner
from slack_rtm.aio.handlers import Entry, HandlerRegistry, event_subtype, handler_name
from slack_rtm.aio.transport import (
    RtmListener,
    check_ws_url,
    open_websocket,
    send_text_frames,
)
from slack_rtm.aio.wheel import TimerWheel, timer_wheel
from slack_rtm.api import AsyncClient, AsyncRtmApi, RequestOptions, RetryConfig
from slack_rtm.api.client import default_user_agent
from slack_rtm.api.models import RtmConnectSelf, RtmConnectTeam
from slack_rtm.cookies import SessionCookie
from slack_rtm.cursors import CursorStore
from slack_rtm.errors import ConnectionClosedError, SlackRtmError, TransportError
from slack_rtm.redact import redact_url
from slack_rtm.session.actions import (
    Action,
    CallConnect,
    CatchUpNeeded,
    CloseSocket,
    OpenSocket,
    Send,
    SendDone,
    SendFrame,
    SendFrames,
    SendPing,
    Stop,
)
from slack_rtm.session.catchup import CatchUpBook
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.core import SessionCore
from slack_rtm.session.events import (
    Event,
    HandlerError,
    Message,
    decode_kept,
    decode_wire_event,
)
from slack_rtm.session.socket_mode_config import SocketModeConfig
from slack_rtm.session.state import State

__all__ = ["Driver", "DriverCore"]

_TEXT = WSMsgType.TEXT

BROWSER_ORIGIN = "https://app.slack.com"
"""The ``Origin`` of Slack's web client, sent on the upgrade with a session cookie."""


class DriverCore(Protocol):
    """What the driver needs of a Sans-I/O core: :class:`~slack_rtm.session.core.SessionCore`
    (RTM) and :class:`~slack_rtm.session.socket_mode.SocketModeCore` (Socket Mode) both have it
    (STYLE.md §13: a second protocol gets a second core, driven by the same driver)."""

    events: list[Event | bytes]
    timers_dirty: bool
    error: BaseException | None

    @property
    def state(self) -> State: ...
    @property
    def has_actions(self) -> bool: ...
    def take_actions(self) -> list[Action]: ...
    def take_raw(self) -> list[Event | bytes]: ...
    def next_deadline(self) -> float | None: ...
    def tick(self, now: float) -> None: ...
    ping_lead: float
    def start(self, now: float) -> None: ...
    def close(self, now: float, reason: str = ...) -> None: ...
    def fail(self, error: BaseException, now: float) -> None: ...
    def connect_succeeded(self, url: str, now: float) -> int | None: ...
    def connect_failed(self, error: BaseException, now: float) -> None: ...
    def socket_opened(self, conn_id: int, now: float) -> None: ...
    def socket_failed(self, conn_id: int, error: BaseException, now: float) -> None: ...
    def socket_closed(self, conn_id: int, now: float, code: int | None = ...,
                      reason: str = ...) -> None: ...
    def receive_many(self, conn_id: int, frames: Iterable[bytes | memoryview | str],
                     now: float) -> None: ...
    def receive_messages(self, conn_id: int, frames: list[bytes], now: float) -> None: ...
    def receive_reply(self, conn_id: int, data: bytes, now: float) -> Send | None: ...
    def set_reading_paused(self, paused: bool, now: float) -> None: ...


C = TypeVar("C", bound=DriverCore)


class Driver(Generic[C]):
    """The machinery under :class:`~slack_rtm.aio.RtmClient` and
    :class:`~slack_rtm.aio.SocketModeClient` (which validate the arguments), around either core.

    Slotted, like the core and its parts: an idle session is mostly these objects, and a
    ``__dict__`` per object costs more than the slots at 10,000 sessions in one process.
    """

    __slots__ = (
        "__weakref__", "_allow_insecure", "_base_url", "_batch_presence_aware", "_book",
        "_catchup", "_close_timeout", "_closed", "_config", "_cookie", "_core", "_dispatcher",
        "_finalize_task", "_finalized", "_handlers", "_has_handlers", "_http", "_iterators",
        "_keeping", "_kept", "_listeners", "_log", "_loop", "_max_queue", "_now", "_open_tasks",
        "_paused", "_presence_sub", "_proxy", "_queue", "_read_buffer_size", "_self", "_slot",
        "_ssl", "_stopped", "_tasks", "_team", "_timeout", "_timer", "_timer_at", "_token",
        "_user_agent", "_waiter", "_wheel", "_ws_headers",
    )

    def __init__(
        self,
        *,
        token: str,
        base_url: str,
        config: SessionConfig | SocketModeConfig,
        batch_presence_aware: bool,
        presence_sub: bool,
        proxy: str | None,
        ssl: ssl_module.SSLContext | None,
        allow_insecure: bool,
        logger: logging.Logger,
        timeout: float,
        max_queue: int,
        read_buffer_size: int,
        close_timeout: float,
        cookie: SessionCookie | None = None,
        user_agent: str | None = None,
        catch_up: bool = False,
        state: CursorStore | None = None,
        owns_state: bool = False,
        core: C | None = None,
    ) -> None:
        self._config = config
        self._cookie = cookie
        self._user_agent = user_agent if user_agent is not None else default_user_agent()
        # The WebSocket upgrade carries what the Web API call carries (PROTOCOL.md §7): the
        # session cookie and, with it, the web client's Origin; the User-Agent always. The
        # usual case, no cookie and the default User-Agent, shares one tuple (density).
        if cookie is None and user_agent is None:
            self._ws_headers = _default_ws_headers()
        else:
            headers = [("User-Agent", self._user_agent)]
            if cookie is not None:
                headers += [("Cookie", cookie.header), ("Origin", BROWSER_ORIGIN)]
            self._ws_headers = tuple(headers)
        self._timeout = timeout
        self._close_timeout = close_timeout
        self._max_queue = max_queue
        self._read_buffer_size = read_buffer_size
        self._token = token
        self._base_url = base_url
        self._batch_presence_aware = batch_presence_aware
        self._presence_sub = presence_sub
        self._proxy = proxy
        self._ssl = ssl
        self._allow_insecure = allow_insecure
        self._log = logger
        self._handlers = HandlerRegistry()
        self._has_handlers = False
        if core is None:  # RTM's, unless the client brings another (Socket Mode)
            assert isinstance(config, SessionConfig)
            core = cast("C", SessionCore(config, logger=self._log))
        self._core: C = core
        self._self: RtmConnectSelf | None = None
        self._team: RtmConnectTeam | None = None
        # I/O state, created by connect()
        self._loop: asyncio.AbstractEventLoop | None = None
        # The loop's clock once connect() has run; 0.0 before (the core refuses commands
        # before start() with StateError, whatever the time).
        self._now: Callable[[], float] = _before_start
        self._http: AsyncClient | None = None  # only while rtm.connect is in flight
        self._listeners: dict[int, RtmListener] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._open_tasks: dict[int, asyncio.Task[Any]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        # The loop's shared coarse timer, for far deadlines (None: precise timers only), and
        # the slot this client waits in there.
        self._wheel: TimerWheel | None = None
        self._slot: int | None = None
        self._queue: deque[Event | bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._iterators = 0
        # Events the background dispatcher handled before anyone iterated, kept so that an
        # `async for` begun after `async with` still sees every event. The list is made on the
        # first event kept: an idle session pays nothing for it.
        self._keeping = False
        self._kept: list[Event] | None = None
        self._stopped = False
        self._closed: asyncio.Future[None] | None = None
        self._finalized: asyncio.Future[None] | None = None  # set once _finalize is done
        self._dispatcher: asyncio.Task[None] | None = None
        self._finalize_task: asyncio.Task[None] | None = None
        # catch-up (None when off): the bookkeeping and its I/O half
        self._book: CatchUpBook | None = None
        self._catchup: tuple[CatchUpRunner, bool] | None = None
        if catch_up:
            self._book = CatchUpBook()
            runner = CatchUpRunner(
                book=self._book, store=state, token=token, make_http=self._web_client,
                deliver_front=self._deliver_front, emit=self._emit, logger=self._log,
            )
            self._catchup = (runner, owns_state)

    async def _await_end(self) -> None:
        """Wait until everything is stopped; raise the error that stopped the session, if any."""
        if self._finalized is not None:
            await asyncio.wait([self._finalized])  # not cancelled with the waiting task
        if self._core.error is not None:
            raise self._core.error

    def _bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run on ``loop`` from now on (called once, by connect())."""
        self._loop = loop
        self._now = _fast_clock(loop)
        wheel = timer_wheel(loop)
        if wheel is not None and self._config.ping_interval >= wheel.min_interval:
            self._wheel = wheel
            self._core.ping_lead = wheel.lead  # the wheel may run the keepalive a tick late

    def _future_for(self, send: Send) -> asyncio.Future[object]:
        """Write what ``send`` needs; the future settles with its outcome (a plain function, not
        a coroutine: the caller awaits the future itself, one coroutine fewer per send)."""
        loop = self._loop
        assert loop is not None
        future: asyncio.Future[object] = loop.create_future()
        send.waiter = future
        self._process(self._core.timers_dirty)
        if send.done:
            _settle(send)
        return future

    # ------------------------------------------------------------------ the driver loop

    def _process(self, arm: bool = True) -> None:
        """Carry out the core's actions, deliver its events, re-arm the timer (unless ``arm``
        is False: the core said no deadline moved earlier).

        Writes and settled sends, the actions of every send and reply, are done here inline;
        the rest (connecting, opening, closing, stopping) in :meth:`_do`.
        """
        core = self._core
        actions = core.take_actions()
        while actions:
            for action in actions:
                if isinstance(action, SendFrame):
                    listener = self._listeners.get(action.conn_id)
                    transport = listener.transport if listener is not None else None
                    if transport is not None:
                        transport.send(_TEXT, action.data)
                    else:
                        self._log.debug("frame for socket %d dropped: not open", action.conn_id)
                elif isinstance(action, SendDone):
                    _settle(action.send)
                elif isinstance(action, SendFrames):
                    listener = self._listeners.get(action.conn_id)
                    transport = listener.transport if listener is not None else None
                    if transport is not None:
                        send_text_frames(transport, action.frames)
                else:
                    self._do(action)
            actions = core.take_actions()
        if core.events:
            self._deliver()
        if arm:
            self._arm_timer()

    def _do(self, action: object) -> None:
        kind = type(action)
        if kind is CallConnect:
            assert isinstance(action, CallConnect)
            self._spawn(self._call_connect(action.attempt))
        elif kind is OpenSocket:
            assert isinstance(action, OpenSocket)
            task = self._spawn(self._open(action.conn_id, action.url))
            self._open_tasks[action.conn_id] = task
        elif kind is CloseSocket:
            assert isinstance(action, CloseSocket)
            self._close_socket(action)
        elif kind is SendPing:
            assert isinstance(action, SendPing)
            listener = self._listeners.get(action.conn_id)
            if listener is not None and listener.transport is not None:
                listener.transport.send_ping()
        elif kind is CatchUpNeeded:
            if self._catchup is not None:
                self._catchup[0].start()
        elif kind is Stop:
            self._stopped = True
            self._leave_wheel()
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

    def _deliver_front(self, events: list[Event]) -> None:
        """Put ``events`` at the head of the delivery queue, in order (catch-up's merged
        history: older than anything queued for their conversation)."""
        self._queue.extendleft(reversed(events))
        if len(self._queue) >= self._max_queue and not self._paused:
            self._set_paused(True)
        self._wake()

    def _emit(self, event: Event) -> None:
        """Queue an event the client makes itself (a lifecycle event) at the tail."""
        self._queue.append(event)
        self._wake()

    def _web_client(self) -> AsyncClient:
        """A fresh Web API client with the session's settings (base URL, proxy, TLS, cookie,
        User-Agent) and no retries: the core retries rtm.connect, catch-up its history calls."""
        return AsyncClient(
            base_url=self._base_url, timeout=self._timeout, retry=RetryConfig.none(),
            proxy=self._proxy, verify=self._tls_context(), user_agent=self._user_agent,
            cookie=self._cookie,  # parsed once, by RtmClient
        )

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
            self._process(core.timers_dirty)

    def _receive_reply(self, conn_id: int, data: bytes) -> None:
        """An ack (most likely) read on its own: settle its send here, without the action list;
        anything else went through the core's general path and is handled by _batch_done."""
        send = self._core.receive_reply(conn_id, data, self._now())
        if send is not None:
            _settle(send)

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
        wheel = self._wheel
        if wheel is not None:
            # Far deadlines (the keepalive, reply timeouts, long backoffs) wait in the loop's
            # wheel, run up to one tick late; moving between its slots is two dict operations,
            # so the slot always follows the deadline (no timer fires for nothing after a pong).
            slot = self._slot
            if deadline is not None and deadline - self._now() >= wheel.coarse_after:
                # (a precise timer armed before would fire for nothing: it goes, cheaper)
                if slot is not None:
                    if wheel.slot_of(deadline) == slot:
                        return
                    wheel.discard(self, slot)
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                    self._timer_at = None
                self._slot = wheel.add(self, deadline)
                return
            if slot is not None:
                wheel.discard(self, slot)
                self._slot = None
        armed = self._timer_at
        if deadline is not None and armed is not None and armed <= deadline:
            return  # the armed timer fires first; _on_timer then re-arms for what is due
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

    def _on_wheel(self, slot: int) -> None:
        """The loop's wheel ran our slot (see :mod:`slack_rtm.aio.wheel`)."""
        if slot != self._slot:
            return  # moved or left after the wheel took the slot out to run
        self._slot = None
        loop = self._loop
        if loop is None or self._stopped:
            return
        self._core.tick(loop.time())
        self._process()

    def _leave_wheel(self) -> None:
        wheel, slot = self._wheel, self._slot
        if wheel is not None and slot is not None:
            wheel.discard(self, slot)
        self._slot = None

    def _tls_context(self) -> ssl_module.SSLContext:
        return self._ssl if self._ssl is not None else _shared_tls_context()

    def _state(self) -> State:
        return self._core.state

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _call_connect(self, attempt: int) -> None:
        assert self._loop is not None
        self._log.debug("calling rtm.connect (attempt %d)", attempt)
        # A fresh HTTP client per call, closed right after: an idle session holds no pool.
        http = self._http = self._web_client()
        try:
            response = await AsyncRtmApi(http).rtm_connect(
                self._token,
                batch_presence_aware=self._batch_presence_aware or None,
                presence_sub=self._presence_sub or None,
                request_options=RequestOptions(retry=RetryConfig.none()),
            )
        except Exception as exc:
            self._log.info("rtm.connect failed: %s", exc)
            self._core.connect_failed(exc, self._loop.time())
            self._process()
            return
        finally:
            self._http = None
            await http.aclose()
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
        if self._catchup is not None and self._catchup[0].scope is None:
            try:
                await self._catchup[0].load(f"{result.team.id}:{result.self_.id}")
            except Exception as exc:
                self._log.error("loading the catch-up cursors failed: %s", exc)
                error = SlackRtmError(f"loading the catch-up cursors failed: {exc}")
                self._core.fail(error, self._loop.time())
                self._process()
                return
        self._core.connect_succeeded(result.url, self._loop.time())
        self._process()

    async def _open(self, conn_id: int, url: str) -> None:
        loop = self._loop
        assert loop is not None
        listener = self._make_listener(conn_id)
        self._listeners[conn_id] = listener
        self._log.debug("opening WebSocket %d to %s", conn_id, redact_url(url))
        cookie = self._cookie
        try:
            # rtm.connect's URL was checked on arrival; a reconnect_url comes from the socket.
            check_ws_url(url, self._allow_insecure)
            await open_websocket(listener, url, ssl=self._tls_context(), proxy=self._proxy,
                                 timeout=self._config.hello_timeout,
                                 read_buffer_size=self._read_buffer_size, logger=self._log,
                                 headers=self._ws_headers,
                                 secrets=cookie.secrets if cookie is not None else ())
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

    def _after_yield(self) -> Callable[[Event], None] | None:
        """What to call with each event once an iteration has consumed it (None: nothing;
        Socket Mode acks there what waits for its consumer). Asked once per iteration."""
        return None

    def _make_listener(self, conn_id: int) -> RtmListener:
        """The listener that feeds socket ``conn_id``'s frames to the core."""
        return RtmListener(conn_id, self._core.receive_many, self._core.receive_messages,
                           self._receive_reply, self._batch_done,
                           self._on_socket_connected, self._on_socket_closed, self._now)

    def _on_socket_connected(self, conn_id: int, transport: WSTransport) -> None:
        _shed_handshake(transport)
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
        """Stop everything that is still running (runs once).

        The I/O tasks are cancelled first; the handlers then get the last events (``closed``
        among them) for up to ``close_timeout`` before the dispatcher is cancelled too.
        """
        assert self._finalized is not None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._leave_wheel()
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current and not t.done()]
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
        if self._catchup is not None:
            runner, owned = self._catchup
            try:
                await runner.aclose(close_store=owned)
            except Exception as exc:
                self._log.error("closing the catch-up cursor store failed: %s", exc)
        self._stopped = True
        self._deliver()
        self._wake()
        dispatcher = self._dispatcher
        if dispatcher is not None and not dispatcher.done():
            await asyncio.wait([dispatcher], timeout=self._close_timeout)
            if not dispatcher.done():
                self._log.warning("handlers still busy %s s after close: cancelling them",
                                  self._close_timeout)
                dispatcher.cancel()
                await asyncio.wait([dispatcher], timeout=self._close_timeout)
        if not self._finalized.done():
            self._finalized.set_result(None)

    # ------------------------------------------------------------------ handlers

    def _ensure_dispatcher(self) -> None:
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.ensure_future(self._dispatch_loop())

    async def _dispatch_loop(self) -> None:
        """Runs the handlers while nobody iterates (sync handlers without an await)."""
        queue = self._queue
        popleft = queue.popleft
        handle = self._handle
        cache_get = self._handlers.cache.get  # the cache is cleared in place, never replaced
        low = self._max_queue // 2
        book = self._book
        latest = book.latest if book is not None else {}
        while True:
            while queue and self._iterators == 0 and self._has_handlers:
                item = popleft()
                if isinstance(item, bytes):  # decode_kept, inlined (see its docstring)
                    try:
                        event = decode_wire_event(item)
                        force_setattr(event, "_frame", item)
                    except Exception:
                        event = decode_kept(item)
                else:
                    event = item
                if self._paused and len(queue) <= low:
                    self._set_paused(False)
                if book is not None and type(event) is Message:  # book.track, inlined (see it)
                    if book.filtering and book.intercept(event):
                        continue
                    latest[event.channel] = event.ts
                    if event.thread_ts is not None:
                        book.note_thread(event.channel, event.thread_ts)
                if self._keeping:
                    self._keep(event)
                found = cache_get(event.type)
                sole = found[2] if found is not None else None
                if sole is None:
                    pending = handle(event)
                    if pending is not None:
                        await pending
                    continue
                # The short way for the usual setup, one plain sync handler for the type:
                # _handle's loop for that one entry, without the call (bench_delivery.py: the
                # dispatcher then costs what async for does).
                try:
                    result = sole[1](event)
                except Exception as exc:
                    self._handler_failed(event, sole, exc)
                    continue
                if result is not None and inspect.isawaitable(result):
                    await self._handle_async(event, (sole,), sole, result)
            if self._stopped and not queue:
                return
            await self._wait_wake()

    def _keep(self, event: Event) -> None:
        """Keep a handled event for the first iteration, up to ``max_queue`` of them: past
        that, nobody is iterating, and keeping stops for good (freed, and logged)."""
        kept = self._kept
        if kept is None:
            kept = self._kept = []
        kept.append(event)
        if len(kept) >= self._max_queue:
            self._log.info(
                "%d events went to handlers with nobody iterating: no longer keeping them for a "
                "later `async for` (call wait_closed() or run() when handlers are all you use)",
                len(kept))
            self._stop_keeping()

    def _stop_keeping(self) -> None:
        self._keeping = False
        self._kept = None

    def _take_kept(self) -> list[Event]:
        """For an iteration that begins: the events handled before it (oldest first); keeping
        stops."""
        kept = self._kept or []
        self._stop_keeping()
        return kept

    def _handle(self, event: Event) -> Awaitable[None] | None:
        """Run the handlers for ``event``: sync ones now; returns what is left to await."""
        found = self._handlers.cache.get(event.type)
        entries, any_async, _ = found if found is not None else self._handlers.lookup(event.type)
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


_TLS: list[ssl_module.SSLContext] = []


def _shared_tls_context() -> ssl_module.SSLContext:
    """One default (verifying) TLS context for every client of the process.

    Building one loads the system's CA store (hundreds of KiB and milliseconds); sharing it is
    safe, and what makes thousands of sessions in one process affordable.
    """
    if not _TLS:
        _TLS.append(ssl_module.create_default_context())
    return _TLS[0]


_NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


def _shed_handshake(transport: WSTransport) -> None:
    """Drop the upgrade's headers once the socket is open.

    picows keeps the upgrade request and response on the transport for the connection's life,
    each with its headers in a ``CIMultiDict``; nothing reads them after the handshake (picows
    2.3). They are replaced by one shared, read-only, empty mapping: at 10,000 idle sessions
    in one process that took RSS from 15.1 to 12.1 KiB a session (bench/run.py --scenario
    density).
    """
    for message in (transport.request, transport.response):
        if message is not None and getattr(message, "headers", None) is not None:
            message.headers = cast("CIMultiDict[str]", _NO_HEADERS)  # read-only, never written


@functools.cache
def _default_ws_headers() -> tuple[tuple[str, str], ...]:
    return (("User-Agent", default_user_agent()),)


def _fast_clock(loop: asyncio.AbstractEventLoop) -> Callable[[], float]:
    """``loop.time`` itself, or ``time.monotonic`` when that is all it does (cheaper to call)."""
    if type(loop).time is asyncio.BaseEventLoop.time:
        return time.monotonic
    return loop.time


def _before_start() -> float:
    return 0.0


def _settle(send: Send) -> None:
    """Wake whoever waits for ``send`` (its future, if any and not settled yet) with its outcome."""
    future = send.waiter
    if future is None or future.done():
        return
    if send.error is not None:
        future.set_exception(send.error)
    else:
        future.set_result(send.result)
