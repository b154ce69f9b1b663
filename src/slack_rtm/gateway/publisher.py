"""Events into JetStream: :class:`EventPublisher`, the gateway's hot path.

Every event a held session receives goes through :meth:`EventPublisher.publish`: the payload is
the event's frame as received (:attr:`~slack_rtm.session.event_types.Event.frame`), the subject
:func:`~slack_rtm.gateway.contract.event_subject`, the headers
:func:`~slack_rtm.gateway.contract.event_headers` with the ``Nats-Msg-Id`` of
:func:`~slack_rtm.gateway.contract.message_id`. Types in
:data:`~slack_rtm.gateway.contract.NOT_PUBLISHED` are left out (counted).

**Pipelined.** Publishes go out with ``js.publish_async`` and are not awaited one by one: up to
``max_pending`` wait for their acknowledgement at once, and :meth:`~EventPublisher.publish`
awaits only when that many are pending (back-pressure on the sessions, which in turn stop
reading their sockets: nothing is dropped). Each acknowledgement is checked in a callback.

**Never lost silently.** A publish that fails (an error acknowledgement, no acknowledgement
within ``ack_timeout``, the connection lost) is sent again with the same ``Nats-Msg-Id`` (so
JetStream stores it once whatever happened to the first copy), up to ``max_attempts`` times with
a doubling delay; after that it is logged (subject and message id, never the payload) and
counted in :attr:`EventPublisher.failed`. :meth:`~EventPublisher.flush` waits until every
publish so far is acknowledged or given up on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import NotFoundError

from slack_rtm.gateway.contract import (
    EVENT_PREFIX,
    NOT_PUBLISHED,
    STREAM,
    event_headers,
    event_subject,
    message_id,
)
from slack_rtm.session.events import Event, Message

__all__ = ["EventPublisher", "PublishTimeoutError", "stream_config"]

_log = logging.getLogger("slack_rtm.gateway.publisher")

_SWEEP_EVERY = 0.25  # seconds between checks for acknowledgements that never came


class PublishTimeoutError(TimeoutError):
    """:meth:`EventPublisher.flush` ran out of time with publishes still unacknowledged."""


def stream_config(stream: str, *, max_age: float,
                  duplicate_window: float) -> js_api.StreamConfig:
    """The configuration the gateway creates the event stream with: limits retention, file
    storage, subjects ``slack.rtm.evt.>``, ``max_age`` and ``duplicate_window`` in seconds."""
    return js_api.StreamConfig(
        name=stream, subjects=[f"{EVENT_PREFIX}.>"], retention=js_api.RetentionPolicy.LIMITS,
        storage=js_api.StorageType.FILE, max_age=max_age, duplicate_window=duplicate_window,
    )


class _Pending:
    """One event on its way into the stream, across retries."""

    __slots__ = ("attempt", "headers", "payload", "session", "started", "subject")

    def __init__(self, subject: str, payload: bytes, headers: dict[str, str], session: str,
                 started: float) -> None:
        self.subject = subject
        self.payload = payload
        self.headers = headers
        self.session = session
        self.started = started
        self.attempt = 0


class EventPublisher:
    """Publishes the sessions' events to the JetStream stream, pipelined and checked.

    One per gateway process, shared by every :class:`~slack_rtm.gateway.bridge.SessionBridge`.

    Args:
        js: the JetStream context (its ``publish_async_max_pending`` should be at least
            ``max_pending``, or its own limit applies first).
        stream: the stream's name (it must capture ``slack.rtm.evt.>``).
        max_pending: publishes awaiting their acknowledgement before :meth:`publish` waits.
        ack_timeout: seconds to wait for an acknowledgement before sending again.
        max_attempts: sends of one event before giving up on it (logged and counted).
        retry_delay: the delay before the first resend; doubled each time, at most 2 s.
        observe_latency: called with each acknowledged publish's latency in seconds (first send
            to acknowledgement), e.g. a Prometheus histogram's ``observe``.

    Attributes:
        published: events stored by JetStream.
        duplicates: events JetStream acknowledged as duplicates (stored once before).
        failed: events given up on after ``max_attempts`` (each one logged).
        retries: resends.
        skipped: events not published by design (:data:`~slack_rtm.gateway.contract.NOT_PUBLISHED`).
        malformed: frames that were not JSON events (not published; logged without content).

    Raises:
        TypeError, ValueError: a bad argument.
    """

    def __init__(self, js: JetStreamContext, *, stream: str = STREAM, max_pending: int = 4096,
                 ack_timeout: float = 5.0, max_attempts: int = 5, retry_delay: float = 0.1,
                 observe_latency: Callable[[float], object] | None = None) -> None:
        if not isinstance(js, JetStreamContext):
            raise TypeError(f"js must be a nats JetStreamContext, got {type(js).__name__}")
        if not isinstance(stream, str) or not stream:
            raise ValueError("stream must be a non-empty string")
        for name, value in (("max_pending", max_pending), ("max_attempts", max_attempts)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        for name, number in (("ack_timeout", ack_timeout), ("retry_delay", retry_delay)):
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                raise TypeError(f"{name} must be a number, got {type(number).__name__}")
            if not number > 0:
                raise ValueError(f"{name} must be > 0, got {number!r}")
        if observe_latency is not None and not callable(observe_latency):
            raise TypeError("observe_latency must be callable or None")
        self._js = js
        self._stream = stream
        self._max_pending = max_pending
        self._ack_timeout = float(ack_timeout)
        self._max_attempts = max_attempts
        self._retry_delay = float(retry_delay)
        self._observe = observe_latency
        self.published = 0
        self.duplicates = 0
        self.failed = 0
        self.retries = 0
        self.skipped = 0
        self.malformed = 0
        self._in_flight = 0
        self._by_session: dict[str, int] = {}
        self._room: asyncio.Future[None] | None = None  # set when below max_pending again
        self._idle: list[tuple[str | None, asyncio.Future[None]]] = []  # flush() waiters
        self._watch: deque[tuple[float, asyncio.Future[Any]]] = deque()  # ack deadlines
        self._sweeper: asyncio.TimerHandle | None = None
        self._retrying: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return (f"<EventPublisher stream={self._stream!r} in_flight={self._in_flight} "
                f"published={self.published} failed={self.failed}>")

    @property
    def stream(self) -> str:
        """The stream's name."""
        return self._stream

    @property
    def in_flight(self) -> int:
        """Events handed to :meth:`publish` and not yet acknowledged or given up on."""
        return self._in_flight

    def pending(self, session: str) -> int:
        """Events of ``session`` (a registration id) not yet acknowledged or given up on."""
        return self._by_session.get(session, 0)

    # ------------------------------------------------------------------ the stream

    async def ensure_stream(self, *, max_age: float, duplicate_window: float) -> None:
        """Create the stream when it does not exist (:func:`stream_config`); leave an existing
        one alone, with a warning when its settings differ from these.

        Call it once when the process starts, before the first :meth:`publish`.

        Raises:
            TypeError, ValueError: a bad argument.
            nats.errors.Error: JetStream is unavailable or refused.
        """
        for name, value in (("max_age", max_age), ("duplicate_window", duplicate_window)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if duplicate_window > max_age:
            raise ValueError("duplicate_window must not exceed max_age")
        wanted = stream_config(self._stream, max_age=float(max_age),
                               duplicate_window=float(duplicate_window))
        try:
            info = await self._js.stream_info(self._stream)
        except NotFoundError:
            try:
                await self._js.add_stream(wanted)
                _log.info("created the event stream %s", self._stream)
                return
            except Exception:  # another process created it first: read it back
                info = await self._js.stream_info(self._stream)
        _check_stream(info.config, wanted)

    # ------------------------------------------------------------------ publishing

    async def publish(self, team_id: str, session: str, event: Event) -> None:
        """Send ``event`` (received by registration ``session`` of team ``team_id``) to the
        stream, unless its type is not published. Returns as soon as it is sent; waits only
        while ``max_pending`` publishes await their acknowledgement.

        Call it for every event a session delivers, in order.

        Raises:
            Nothing for the event's content; a failed publish is retried, then logged and
            counted (:attr:`failed`).
        """
        etype = event.type
        if etype in NOT_PUBLISHED:
            if etype == "malformed":
                self.malformed += 1
                _log.warning("a malformed frame (%d bytes) of session %s was not published",
                             len(event.frame), session)
            else:
                self.skipped += 1
            return
        payload = event.frame
        if type(event) is Message:
            channel: object = event.channel
            ts: object = event.ts
        else:
            raw = event.raw
            channel = raw.get("channel")
            ts = raw.get("ts")
        headers = event_headers(team_id, session, message_id(session, etype, channel, ts, payload),
                                backfilled=event.backfilled)
        while self._in_flight >= self._max_pending:
            room = self._room
            if room is None:
                room = self._room = asyncio.get_running_loop().create_future()
            await asyncio.shield(room)
        self._in_flight += 1
        by_session = self._by_session
        by_session[session] = by_session.get(session, 0) + 1
        await self._send(_Pending(event_subject(team_id, etype), payload, headers, session,
                                  time.monotonic()))

    async def flush(self, timeout: float = 5.0, *, session: str | None = None) -> None:
        """Wait until every publish so far (of ``session`` only, when given) is acknowledged
        or given up on.

        Raises:
            TypeError, ValueError: a bad argument.
            PublishTimeoutError: still some unacknowledged after ``timeout`` seconds.
        """
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"timeout must be a number, got {type(timeout).__name__}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout!r}")
        if session is not None and not isinstance(session, str):
            raise TypeError(f"session must be a str or None, got {type(session).__name__}")
        if self._count(session) == 0:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (session, waiter)
        self._idle.append(entry)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            raise PublishTimeoutError(
                f"{self._count(session)} publishes still unacknowledged after {timeout} s"
            ) from None
        finally:
            if entry in self._idle:
                self._idle.remove(entry)

    async def aclose(self, timeout: float = 5.0) -> None:
        """:meth:`flush`, then stop the retry timers (the NATS connection is not closed: it is
        shared). Publishes still unacknowledged after ``timeout`` are logged and counted as
        failed.
        """
        try:
            await self.flush(timeout)
        except PublishTimeoutError as exc:
            _log.error("closing the publisher: %s (counted as failed)", exc)
            self.failed += self._in_flight
        for task in list(self._retrying):
            task.cancel()
        if self._retrying:
            await asyncio.wait(list(self._retrying))
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    # ------------------------------------------------------------------ internals

    def _count(self, session: str | None) -> int:
        return self._in_flight if session is None else self._by_session.get(session, 0)

    async def _send(self, item: _Pending) -> None:
        item.attempt += 1
        try:
            future = await self._js.publish_async(item.subject, item.payload,
                                                  headers=item.headers)
        except Exception as exc:  # the connection closed, the outbound buffer is full, ...
            self._failed_attempt(item, exc)
            return
        future.add_done_callback(partial(self._on_ack, item))
        self._watch.append((time.monotonic() + self._ack_timeout, future))
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_later(_SWEEP_EVERY, self._sweep)

    def _on_ack(self, item: _Pending, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            self._failed_attempt(item, TimeoutError(f"no acknowledgement in {self._ack_timeout} s"))
            return
        exc = future.exception()
        if exc is not None:
            self._failed_attempt(item, exc)
            return
        if future.result().duplicate:
            self.duplicates += 1
        else:
            self.published += 1
        if self._observe is not None:
            self._observe(time.monotonic() - item.started)
        self._done(item)

    def _failed_attempt(self, item: _Pending, exc: BaseException) -> None:
        msg_id = item.headers.get("Nats-Msg-Id", "")
        if item.attempt >= self._max_attempts:
            self.failed += 1
            _log.error("gave up publishing %s (%s) after %d attempts: %s", item.subject, msg_id,
                       item.attempt, _describe(exc))
            self._done(item)
            return
        self.retries += 1
        delay = min(self._retry_delay * 2 ** (item.attempt - 1), 2.0)
        _log.warning("publishing %s (%s) failed (%s): again in %.2f s", item.subject, msg_id,
                     _describe(exc), delay)
        task = asyncio.ensure_future(self._resend(item, delay))
        self._retrying.add(task)
        task.add_done_callback(self._retrying.discard)

    async def _resend(self, item: _Pending, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._send(item)

    def _done(self, item: _Pending) -> None:
        self._in_flight -= 1
        by_session = self._by_session
        left = by_session[item.session] - 1
        if left:
            by_session[item.session] = left
        else:
            del by_session[item.session]
        room = self._room
        if room is not None and self._in_flight < self._max_pending:
            self._room = None
            if not room.done():
                room.set_result(None)
        if self._idle:
            for session, waiter in self._idle:
                if not waiter.done() and self._count(session) == 0:
                    waiter.set_result(None)

    def _sweep(self) -> None:
        """Every 0.25 s while publishes are out: give up waiting for acknowledgements older
        than ``ack_timeout`` (cancelling the future fails the attempt: it is sent again)."""
        self._sweeper = None
        watch = self._watch
        now = time.monotonic()
        while watch:
            deadline, future = watch[0]
            if future.done():
                watch.popleft()
            elif deadline <= now:
                watch.popleft()
                future.cancel()
            else:
                break
        if watch:
            self._sweeper = asyncio.get_running_loop().call_later(_SWEEP_EVERY, self._sweep)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _check_stream(have: js_api.StreamConfig, wanted: js_api.StreamConfig) -> None:
    differences = []
    for name in ("subjects", "retention", "storage", "max_age", "duplicate_window"):
        mine, theirs = getattr(wanted, name), getattr(have, name)
        if name == "subjects":
            covered = theirs and any(s in (f"{EVENT_PREFIX}.>", ">") for s in theirs)
            if not covered:
                differences.append(f"subjects {theirs} (wanted {mine})")
        elif isinstance(mine, float) and isinstance(theirs, (int, float)):
            if abs(mine - theirs) > 1e-3:
                differences.append(f"{name} {theirs} (wanted {mine})")
        elif mine != theirs:
            differences.append(f"{name} {theirs} (wanted {mine})")
    if differences:
        _log.warning("the event stream %s exists with other settings, left as they are: %s",
                     wanted.name, "; ".join(differences))
