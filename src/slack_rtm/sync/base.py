"""What the synchronous clients share: an asyncio client run on one background thread.

:class:`BaseSyncClient` holds everything :class:`~slack_rtm.sync.RtmClient` and
:class:`~slack_rtm.sync.SocketModeClient` do alike (handlers, lifecycle, iteration, the
threads); each adds its constructor and sends. Every method submits the matching coroutine of
the asyncio client to a private event loop running on a background thread and waits for its
result. Iteration crosses threads once per batch of queued events, not once per event
(:class:`~slack_rtm.aio.batches.EventBatches`: same order, handlers and ending as ``async for``).

Threads: one event-loop thread while connected, plus one handler thread once a handler has run
(so a slow sync handler never blocks reading or keepalive). ``close()`` stops and joins both;
nothing is left behind.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar

from slack_rtm.aio.base import BaseClient
from slack_rtm.aio.batches import EventBatches
from slack_rtm.aio.handlers import Handler
from slack_rtm.api.models import RtmConnectSelf, RtmConnectTeam
from slack_rtm.errors import ConnectionClosedError, StateError
from slack_rtm.loop_thread import LoopThread
from slack_rtm.session.events import Event, validate_type_name
from slack_rtm.session.state import State

__all__ = ["BaseSyncClient"]

T = TypeVar("T")
H = TypeVar("H", bound=Handler)
A = TypeVar("A", bound="BaseClient[Any]")
S = TypeVar("S", bound="BaseSyncClient[Any]")


class BaseSyncClient(Generic[A]):
    """The surface both synchronous clients share, around the asyncio client ``client``."""

    def __init__(self, client: A) -> None:
        self._client = client
        self._loop_thread = LoopThread("slack-rtm-loop")
        self._started = False
        self._handler_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._wrapped: dict[Handler, Handler] = {}
        self._lock = threading.Lock()
        self._close_lock = threading.Lock()

    def __repr__(self) -> str:
        text = repr(self._client)
        return f"sync.{text}"

    # ------------------------------------------------------------------ properties

    @property
    def state(self) -> State:
        """Where the session is: idle, connecting, connected, reconnecting, closing, closed."""
        return self._client.state

    @property
    def self(self) -> RtmConnectSelf:
        """Who we are connected as (``id``, ``name``). Raises StateError before connect()."""
        return self._client.self

    @property
    def team(self) -> RtmConnectTeam:
        """The workspace (``id``, ``name``, ``domain``). Raises StateError before connect()."""
        return self._client.team

    @property
    def error(self) -> BaseException | None:
        """The error that stopped the session, if any."""
        return self._client.error

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        """The threads this client runs right now (for tests and diagnostics)."""
        found = [t for t in (self._loop_thread.thread,) if t is not None]
        pool = self._handler_pool
        if pool is not None:
            found.extend(t for t in getattr(pool, "_threads", ()) if t.is_alive())
        return tuple(found)

    # ------------------------------------------------------------------ handlers

    def on(self, event_type: str, subtype: str | None = None) -> Callable[[H], H]:
        """Decorator: call the function for each event of ``event_type`` (``"*"``: all).

        An exception in a handler is logged and delivered as a ``HandlerError`` event.

        Raises:
            TypeError, ValueError: a bad ``event_type`` or ``subtype``.
        """
        validate_type_name(event_type)
        if subtype is not None and (not isinstance(subtype, str) or not subtype):
            raise TypeError(f"subtype must be a non-empty str or None, got {subtype!r}")

        def register(func: H) -> H:
            self.add_handler(event_type, func, subtype=subtype)
            return func

        return register

    def add_handler(self, event_type: str, handler: Handler, *, subtype: str | None = None) -> None:
        """Register a plain function as a handler (see :meth:`on`).

        Raises:
            TypeError, ValueError: a bad argument.
        """
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {type(handler).__name__}")
        if asyncio.iscoroutinefunction(handler):
            raise TypeError("the sync client takes plain functions; use slack_rtm.aio for async")

        async def on_handler_thread(event: Event) -> Any:
            loop = asyncio.get_running_loop()
            # The return value goes back: a Socket Mode command's answer is its ack's payload.
            return await loop.run_in_executor(self._handlers_executor(), handler, event)

        on_handler_thread.__qualname__ = getattr(handler, "__qualname__", "handler")
        on_handler_thread.__module__ = getattr(handler, "__module__", __name__)
        self._wrapped[handler] = on_handler_thread
        self._call_soon(self._client.add_handler, event_type, on_handler_thread, subtype=subtype)

    def remove_handler(self, handler: Handler) -> bool:
        """Unregister ``handler``; True if it was registered."""
        wrapped = self._wrapped.pop(handler, None)
        return wrapped is not None and self._client.remove_handler(wrapped)

    # ------------------------------------------------------------------ lifecycle

    def connect(self: S) -> S:
        """Connect (``rtm.connect`` or ``apps.connections.open``, the WebSocket) and wait for
        ``hello``.

        Raises:
            StateError: already started.
            SlackRtmError: as :meth:`slack_rtm.aio.RtmClient.connect`.
        """
        with self._lock:
            if self._started:
                raise StateError(f"connect() is called once; the client is {self.state}")
            self._started = True
            self._loop_thread.start()
        try:
            self._run(self._client.connect())
        except BaseException:
            self._stop_threads()
            raise
        return self

    def __enter__(self: S) -> S:
        return self.connect()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the session and stop this client's threads. Idempotent; safe in every state.

        Pending sends fail with ``ConnectionClosedError``.
        """
        with self._close_lock:  # a second caller waits for the first, then finds it done
            if not self._started:
                asyncio.run(self._client.close())
                return
            try:
                if self._loop_thread.running:
                    self._run(self._client.close())
            finally:
                self._stop_threads()

    def wait_closed(self, timeout: float | None = None) -> None:
        """Block until the session ends (by :meth:`close` from another thread, or an error).

        Raises:
            SlackRtmError: the error that stopped the session.
            TimeoutError: ``timeout`` seconds passed first.
        """
        if not self._started:
            raise StateError("the client is not started: connect first")
        self._run_unless_closed(self._client.wait_closed(), timeout)

    def run(self) -> None:
        """Blocking: connect and dispatch events to handlers until :meth:`close` or Ctrl-C.

        Raises:
            SlackRtmError: the error that stopped the session (e.g. ``invalid_auth``).
        """
        try:
            if not self._started:
                self.connect()
            self.wait_closed()
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    # ------------------------------------------------------------------ events out

    def __iter__(self) -> Iterator[Event]:
        """Every event, in order, until the session ends (handlers run before each is yielded).

        Raises:
            StateError: not connected.
            SlackRtmError: the error that stopped the session.
        """
        if not self._loop_thread.running:
            raise StateError("connect first (with rtm: for event in rtm)")
        # One thread hand-off per batch of queued events, not per event (see EventBatches:
        # same order, handlers before their event, same back-pressure and ending).
        batches = EventBatches(self._client)
        buffer: deque[Event] = deque()
        popleft = buffer.popleft
        try:
            while True:
                batch = self._run_unless_closed(batches.take())
                if not batch:
                    return
                buffer.extend(batch)
                while buffer:
                    yield popleft()
        finally:
            if self._loop_thread.running:
                self._run_unless_closed(batches.aclose(buffer))

    # ------------------------------------------------------------------ the thread

    def _handlers_executor(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._handler_pool is None:
                self._handler_pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="slack-rtm-handlers"
                )
            return self._handler_pool

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        try:
            return self._loop_thread.run(coro, timeout)
        except RuntimeError as exc:
            if self._loop_thread.running:
                raise  # the coroutine's own RuntimeError
            raise StateError("the client is not connected: call connect() first") from exc
        except concurrent.futures.CancelledError:
            # close() from another thread stopped the loop while this call waited.
            raise ConnectionClosedError("the client was closed while this call waited") from None

    def _run_unless_closed(
        self, coro: Coroutine[Any, Any, T], timeout: float | None = None
    ) -> T | None:
        """:meth:`_run`, for waits that a :meth:`close` on another thread may cut short.

        Returns None when the session was closed meanwhile without an error; raises the error
        that stopped it otherwise.
        """
        try:
            return self._run(coro, timeout)
        except (ConnectionClosedError, StateError):
            if self.state is not State.CLOSED:
                raise
            if self._client.error is not None:
                raise self._client.error from None
            return None

    def _call_soon(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if self._loop_thread.running:

            async def call() -> None:
                func(*args, **kwargs)

            self._run(call())
        else:
            func(*args, **kwargs)

    def _stop_threads(self) -> None:
        self._loop_thread.stop()
        pool, self._handler_pool = self._handler_pool, None
        if pool is not None:
            pool.shutdown(wait=True)
