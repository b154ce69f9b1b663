"""What the asyncio clients share: handlers, lifecycle, iteration (:class:`BaseClient`).

:class:`~slack_rtm.aio.RtmClient` and :class:`~slack_rtm.aio.SocketModeClient` are this surface
over the same :class:`~slack_rtm.aio.driver.Driver`, each around its own Sans-I/O core
(STYLE.md §13); each adds its constructor, identity and sends.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, TypeVar

from msgspec.structs import force_setattr

from slack_rtm.aio.driver import C, Driver
from slack_rtm.aio.handlers import Handler
from slack_rtm.api.models import RtmConnectSelf, RtmConnectTeam
from slack_rtm.errors import ConnectionClosedError, StateError
from slack_rtm.session.events import (
    Event,
    Message,
    decode_kept,
    decode_wire_event,
    validate_type_name,
)
from slack_rtm.session.state import State

__all__ = ["BaseClient", "check_int", "check_number", "check_user_agent"]

H = TypeVar("H", bound=Handler)
B = TypeVar("B", bound="BaseClient[Any]")


def check_number(name: str, value: object, *, positive: bool = True) -> float:
    """``value`` as a float, > 0 (or >= 0 when not ``positive``).

    Raises:
        TypeError, ValueError: anything else (the message names ``name``).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not value > 0 if positive else not value >= 0:
        raise ValueError(f"{name} must be {'>' if positive else '>='} 0, got {value!r}")
    return float(value)


def check_user_agent(value: object) -> str:
    """A ``User-Agent`` value: a non-empty single line of printable text.

    Raises:
        TypeError, ValueError: anything else.
    """
    if not isinstance(value, str):
        raise TypeError(f"user_agent must be a str, got {type(value).__name__}")
    if not value.strip() or not value.isprintable():
        raise ValueError("user_agent must be a non-empty single line of printable text")
    return value


def check_int(name: str, value: object, minimum: int) -> int:
    """``value`` as an int >= ``minimum``.

    Raises:
        TypeError, ValueError: anything else (the message names ``name``).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


class BaseClient(Driver[C]):
    """The surface both asyncio clients share (see :class:`~slack_rtm.aio.RtmClient`)."""

    __slots__ = ()

    # ------------------------------------------------------------------ properties

    @property
    def state(self) -> State:
        """Where the session is: idle, connecting, connected, reconnecting, closing, closed."""
        return self._core.state

    @property
    def self(self) -> RtmConnectSelf:
        """Who we are connected as (``id``, ``name``).

        Raises:
            StateError: not known yet.
        """
        if self._self is None:
            raise StateError("not connected yet: self is known after connect()")
        return self._self

    @property
    def team(self) -> RtmConnectTeam:
        """The workspace (``id``, ``name``, ``domain``).

        Raises:
            StateError: not known yet.
        """
        if self._team is None:
            raise StateError("not connected yet: team is known after connect()")
        return self._team

    @property
    def error(self) -> BaseException | None:
        """The error that stopped the session (a fatal Slack code, ...), if any."""
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
        validate_type_name(event_type)
        if subtype is not None:
            if not isinstance(subtype, str):
                raise TypeError(f"subtype must be a str or None, got {type(subtype).__name__}")
            if not subtype:
                raise ValueError("subtype must not be empty (use None for any subtype)")

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

    async def connect(self: B) -> B:
        """Call ``rtm.connect`` (Socket Mode: ``apps.connections.open``), open the WebSocket
        and wait for ``hello``.

        Transient failures are retried with backoff (see ``max_attempts``).

        Raises:
            StateError: already started.
            RtmConnectErrorSchemaError: a fatal code such as ``invalid_auth``.
            SlackRtmError: the session stopped for another reason before ``hello``.
        """
        if self._core.state is not State.IDLE:
            raise StateError(f"connect() is called once; the client is {self.state}")
        loop = asyncio.get_running_loop()
        self._bind_loop(loop)
        self._closed = loop.create_future()
        self._finalized = loop.create_future()
        self._core.start(loop.time())
        self._keeping = True  # until someone iterates, or says they will not (wait_closed)
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

    async def __aenter__(self: B) -> B:
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
            SlackRtmError: the error that stopped it (e.g. a fatal Slack code).
        """
        if self._closed is None:
            raise StateError("the client is not started: connect first")
        self._stop_keeping()  # handlers only: nothing to keep for an iteration
        await asyncio.shield(self._closed)
        await self._await_end()

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
        popleft = queue.popleft
        low = self._max_queue // 2
        book = self._book
        latest = book.latest if book is not None else {}
        after = self._after_yield()  # None for RTM
        try:
            for event in self._take_kept():  # handled in the background before this began
                yield event
                if after is not None:
                    after(event)
            while True:
                while queue:  # the hot loop: one event per turn, no await unless handlers
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
                    if self._has_handlers:
                        pending = self._handle(event)
                        if pending is not None:
                            await pending
                    yield event
                    if after is not None:
                        after(event)
                if self._stopped:
                    break
                await self._wait_wake()
        finally:
            self._iterators -= 1
            self._wake()
        await self._await_end()
