"""Catch-up on asyncio: history calls, the cursor store, and handing backfilled events over.

:class:`CatchUpRunner` is the I/O half of catch-up for one client; the decisions (what is held,
merged, a duplicate) are :class:`~slack_rtm.session.catchup.CatchUpBook`'s. After every
``hello`` that follows a gap (the core's ``CatchUpNeeded`` action) it fetches, for each
conversation with a cursor, most recently active first:

- ``conversations.history`` after the cursor (``inclusive=false``, every page), and
- ``conversations.replies`` after the cursor for each thread active in that window (a parent in
  that history, or in the page of history just before the cursor, whose ``latest_reply`` is
  newer than the cursor) or recently active before it,

then hands the conversation's merged messages to the delivery queue, ahead of what is queued.
Live delivery never waits for it: only the live messages of a conversation whose history is
being fetched are held, until it is. History calls are paced (a burst, then ``rate`` a second),
``Retry-After`` is honoured however long, and a conversation that cannot be read
(``not_in_channel``, ``channel_not_found``, ...) is reported and skipped, never the others.

Cursors are loaded once the session's identity is known (``team:user``, from ``rtm.connect``)
and saved in batches, every ``save_interval`` seconds while they change, and on close. The
periodic saves of every client on an event loop are made by one :class:`CursorSaver` for that
loop (and that interval): one timer that, each ``save_interval``, asks every runner a cheap
synchronous question (did anything move since its last save?) and starts a save only for those
whose cursors moved. 10,000 idle sessions thus cost one callback a second, not 10,000 task
wake-ups; the delivery loops do no extra work per message for it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from functools import partial
from typing import Any, TypeVar

from slack_rtm import codes
from slack_rtm.api import AsyncClient
from slack_rtm.api.history_models import (
    ConversationsHistorySchema,
    ConversationsRepliesSchema,
    HistoryMessage,
)
from slack_rtm.api.response import ApiResponse
from slack_rtm.api.web import AsyncWebApi
from slack_rtm.cursors import CursorStore
from slack_rtm.errors import (
    ApiError,
    RateLimitedError,
    RtmConnectErrorSchemaError,
    SlackRtmError,
    TransportError,
)
from slack_rtm.session.catchup import CatchUpBook, backfilled_message, newer_safe
from slack_rtm.session.events import CatchUp, Event

__all__ = ["CatchUpRunner", "CursorSaver", "cursor_saver"]

T = TypeVar("T")
_Paged = TypeVar("_Paged", ConversationsHistorySchema, ConversationsRepliesSchema)

_GONE = frozenset({"channel_not_found", "not_in_channel", "is_archived", "missing_scope"})
"""Answers after which a conversation's cursor is dropped: it cannot be read any more."""


class CatchUpRunner:
    """Catch-up for one client (see the module docstring).

    Args:
        book: the pure bookkeeping.
        store: where cursors live across runs (None: memory only).
        token: the session's token (sent only in ``Authorization``).
        make_http: a new :class:`~slack_rtm.api.AsyncClient` (the session's base URL, proxy,
            TLS, cookie and User-Agent).
        deliver_front: put events at the head of the delivery queue, in the order given.
        emit: queue a lifecycle event at the tail.
        logger: where it logs.
        page_limit: ``limit`` per history call (Slack's maximum is 999; some apps get 15).
        rate: history calls a second after the first ``burst``.
        burst: history calls made back to back.
        save_interval: seconds between cursor saves while they change.
        forget_after: seconds after a catch-up during which a late live copy of a backfilled
            message is still dropped.
    """

    def __init__(
        self,
        *,
        book: CatchUpBook,
        store: CursorStore | None,
        token: str,
        make_http: Callable[[], AsyncClient],
        deliver_front: Callable[[list[Event]], None],
        emit: Callable[[Event], None],
        logger: logging.Logger,
        page_limit: int = 200,
        rate: float = 0.8,
        burst: int = 10,
        save_interval: float = 1.0,
        forget_after: float = 60.0,
    ) -> None:
        self.book = book
        self.store = store
        self.scope: str | None = None
        self._token = token
        self._make_http = make_http
        self._deliver_front = deliver_front
        self._emit = emit
        self._log = logger
        self._page_limit = page_limit
        self._rate = rate
        self._burst = burst
        self._save_interval = save_interval
        self._forget_after = forget_after
        self._saved: dict[str, str] = {}
        self._dirty = False  # cursors folded (book.sync) but not saved yet, or a save failed
        self._task: asyncio.Task[None] | None = None
        self._saver: CursorSaver | None = None
        self._saving: asyncio.Task[None] | None = None
        self._forget: asyncio.TimerHandle | None = None
        self._tokens = float(burst)
        self._refilled = time.monotonic()
        self.runs = 0

    # ------------------------------------------------------------------ cursors

    async def load(self, scope: str) -> None:
        """Load the stored cursors of ``scope`` (once, when ``rtm.connect`` first answers) and
        start saving them in batches."""
        if self.scope is not None:
            return
        self.scope = scope
        if self.store is not None:
            stored = await self.store.load(scope)
            self.book.merge(stored)
            self._saved = dict(stored)
            self._saver = cursor_saver(asyncio.get_running_loop(), self._save_interval)
            self._saver.add(self)

    def _unsaved(self) -> bool:
        """Whether a save may have something to write (cheap and synchronous: the loop-wide
        saver asks every runner this once per interval)."""
        return self._dirty or bool(self.book.latest)

    def _start_save(self) -> None:
        """Start a save in the background (the loop-wide saver's call), unless one runs."""
        saving = self._saving
        if saving is None or saving.done():
            self._saving = asyncio.ensure_future(self.save())

    async def save(self) -> None:
        """Save the cursors that moved since the last save (no-op without a store)."""
        store, scope = self.store, self.scope
        if store is None or scope is None:
            return
        saved = self._saved
        self._dirty = False
        changed = {ch: ts for ch, ts in self.book.sync().items() if saved.get(ch) != ts}
        if not changed:
            return
        try:
            await store.save(scope, changed)
        except BaseException as exc:
            self._dirty = True  # retried at the next interval (or on close)
            if not isinstance(exc, Exception):
                raise  # cancelled (closing): aclose saves once more
            # A full disk must not end the session.
            self._log.error("saving catch-up cursors failed: %s: %s", type(exc).__name__, exc)
            return
        saved.update(changed)

    async def aclose(self, *, close_store: bool) -> None:
        """Stop the running catch-up, leave the loop's saver (cancelling a save it started),
        save a last time, close an owned store."""
        if self._saver is not None:
            self._saver.discard(self)
            self._saver = None
        for task in (self._task, self._saving):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait([task])  # not `await task`: our own cancel must not be eaten
        if self._forget is not None:
            self._forget.cancel()
        await self.save()
        if close_store and self.store is not None:
            await self.store.aclose()

    # ------------------------------------------------------------------ catching up

    def start(self) -> None:
        """Catch up now (after a ``hello`` that followed a gap); a catch-up still running is
        cancelled first, and the new one begins once it has ended (its held messages
        released): the new one fetches again from the cursors, which only move on delivery."""
        self._task = asyncio.ensure_future(self._run(self._task))

    async def _run(self, previous: asyncio.Task[None] | None = None) -> None:
        if previous is not None and not previous.done():
            previous.cancel()
            await asyncio.wait([previous])  # its clean-up must not release our holds
        book = self.book
        plan = book.plan()  # folds the cursors: the next save must look at them
        self._dirty = True
        if not plan:
            return
        self.runs += 1
        started = time.monotonic()
        book.begin(channel for channel, _ in plan)
        self._emit(CatchUp(phase="started", conversations=len(plan)))
        self._log.info("catching up on %d conversations", len(plan))
        messages = calls = failed = 0
        http = self._make_http()
        api = AsyncWebApi(http)
        try:
            for channel, cursor in plan:
                fetched: list[Event] = []
                try:
                    fetched, made = await self._fetch(api, channel, cursor)
                    calls += made
                except RtmConnectErrorSchemaError as exc:
                    failed += 1
                    self._log.warning("catch-up skipped a conversation: Slack answered %r",
                                      exc.error)
                    if exc.error in _GONE:
                        book.drop(channel)
                except SlackRtmError as exc:
                    failed += 1
                    self._log.warning("catch-up skipped a conversation: %s", exc)
                released = book.release(channel, fetched, since=cursor)
                messages += sum(1 for e in released if e.backfilled)
                if released:
                    self._deliver_front(released)
        finally:
            for channel in list(book.holding):  # cancelled: nothing stays held
                released = book.release(channel, ())
                if released:
                    self._deliver_front(released)
            await http.aclose()
        seconds = time.monotonic() - started
        self._emit(CatchUp(phase="done", conversations=len(plan), messages=messages,
                           calls=calls, failed=failed, seconds=seconds))
        self._log.info("caught up: %d messages from %d conversations in %.3f s (%d calls, %d "
                       "failed)", messages, len(plan), seconds, calls, failed)
        if self._forget is not None:
            self._forget.cancel()
        self._forget = asyncio.get_running_loop().call_later(self._forget_after, book.forget)

    async def _fetch(self, api: AsyncWebApi, channel: str,
                     cursor: str) -> tuple[list[Event], int]:
        """The messages of ``channel`` after ``cursor`` (history, then active threads), and
        the number of calls made."""
        token, limit = self._token, self._page_limit
        calls = 0
        items: list[dict[str, Any]] = []
        threads: dict[str, None] = {}
        async for page in self._every_page(partial(
                api.conversations_history, token, channel, oldest=cursor, inclusive=False,
                limit=limit)):
            calls += 1
            items.extend(m.raw for m in page.result.messages)
            threads.update(_active_parents(page.result.messages, cursor))
        # A thread begun during the gap under a parent at or before the cursor: history after
        # the cursor does not show it (replies are not in history), but the parent's
        # latest_reply does. One page before the cursor finds the recent such parents.
        before = await self._call(partial(
            api.conversations_history, token, channel, latest=cursor, inclusive=True,
            limit=limit))
        calls += 1
        threads.update(_active_parents(before.result.messages, cursor))
        threads.update(dict.fromkeys(self.book.threads.get(channel, ())))
        for thread_ts in threads:
            try:
                async for replies in self._every_page(partial(
                        api.conversations_replies, token, channel, thread_ts, oldest=cursor,
                        inclusive=False, limit=limit)):
                    calls += 1
                    items.extend(m.raw for m in replies.result.messages if m.ts != thread_ts)
            except RtmConnectErrorSchemaError as exc:
                if exc.error != "thread_not_found":
                    raise
        return [backfilled_message(channel, item) for item in items], calls

    async def _every_page(
        self, fetch: Callable[..., Awaitable[ApiResponse[_Paged]]],
    ) -> AsyncIterator[ApiResponse[_Paged]]:
        """Every page of a paged method: ``fetch(cursor=...)`` through :meth:`_call`, following
        ``next_cursor``; a cursor Slack already returned ends it (logged), never a loop."""
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            page = await self._call(partial(fetch, cursor=cursor))
            yield page
            cursor = page.result.next_cursor
            if not cursor:
                return
            if cursor in seen:
                self._log.warning("catch-up: Slack returned a page cursor twice; stopping there")
                return
            seen.add(cursor)

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        """One history call, paced, retried until it answers: after ``Retry-After`` when rate
        limited (however long), with a growing wait after a network error, a 5xx or a
        transient Slack error (``service_unavailable``, ``internal_error``, ...: with HTTP 200
        too). Any other answer (a request error) is raised."""
        failures = 0
        while True:
            await self._pace()
            try:
                return await call()
            except RateLimitedError as exc:
                wait = exc.retry_after if exc.retry_after is not None else 60.0
                self._log.info("catch-up rate limited: waiting %g s (Retry-After)", wait)
            except (TransportError, ApiError) as exc:
                if isinstance(exc, ApiError) and exc.status_code < 500 and not (
                        isinstance(exc, RtmConnectErrorSchemaError)
                        and codes.is_transient(exc.error)):
                    raise  # a request error (not_in_channel, ...): the same answer again
                failures += 1
                wait = min(30.0, 0.5 * 2 ** min(failures, 6))
                if isinstance(exc, ApiError) and exc.retry_after is not None:
                    wait = max(wait, exc.retry_after)
                self._log.info("catch-up call failed (%s): retrying in %g s",
                               type(exc).__name__, wait)
            await asyncio.sleep(wait)

    async def _pace(self) -> None:
        """A token bucket: ``burst`` calls at once, then ``rate`` a second (Tier 3 is ~50 a
        minute per method; spreading the calls keeps clear of it)."""
        while True:
            now = time.monotonic()
            self._tokens = min(float(self._burst),
                               self._tokens + (now - self._refilled) * self._rate)
            self._refilled = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return
            await asyncio.sleep((1.0 - self._tokens) / self._rate)


class CursorSaver:
    """The periodic cursor saves of every :class:`CatchUpRunner` on one event loop with one
    ``interval``: one loop timer, armed while it has runners.

    Every ``interval`` seconds it asks each runner whether its cursors moved since its last
    save (a flag and a dict's truth value: no await, no allocation) and starts a save, in a
    task of that runner's, only for those that did and have no save running. A runner is thus
    saved within about ``interval`` (plus the store's time) of its cursors moving, and an idle
    one costs a few attribute reads per interval. Use :func:`cursor_saver` to get the loop's.

    Args:
        loop: the event loop (held weakly).
        interval: seconds between two rounds.

    Raises:
        TypeError, ValueError: ``interval`` is not a positive finite number.
    """

    __slots__ = ("__weakref__", "_handle", "_loop", "_runners", "interval", "rounds")

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        if isinstance(interval, bool) or not isinstance(interval, (int, float)):
            raise TypeError(f"interval must be a number, got {type(interval).__name__}")
        if not (math.isfinite(interval) and interval > 0):
            raise ValueError(f"interval must be a finite number > 0, got {interval!r}")
        self._loop = weakref.ref(loop)
        self.interval = float(interval)
        self._runners: dict[CatchUpRunner, None] = {}
        self._handle: asyncio.TimerHandle | None = None
        self.rounds = 0
        """Rounds run so far (for tests and benchmarks)."""

    def __len__(self) -> int:
        """How many runners it saves for."""
        return len(self._runners)

    def __contains__(self, runner: object) -> bool:
        return runner in self._runners

    @property
    def armed(self) -> bool:
        """True while it has a loop timer (it has runners)."""
        return self._handle is not None

    def add(self, runner: CatchUpRunner) -> None:
        """Save ``runner``'s moved cursors every interval from now on."""
        self._runners[runner] = None
        if self._handle is None:
            self._arm()

    def discard(self, runner: CatchUpRunner) -> None:
        """Stop saving for ``runner`` (nothing happens if it is not there); a save already
        started goes on (the runner's ``aclose`` cancels it)."""
        self._runners.pop(runner, None)
        if not self._runners and self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _arm(self) -> None:
        loop = self._loop()
        if loop is None:  # pragma: no cover - the loop is gone; nothing can run any more
            return
        self._handle = loop.call_later(self.interval, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self.rounds += 1
        for runner in [r for r in self._runners if r._unsaved()]:
            try:
                runner._start_save()
            except Exception:  # pragma: no cover - a bug must not stop the others' saves
                runner._log.exception("starting a cursor save failed")
        if self._runners:
            self._arm()


_SAVERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[float, CursorSaver]] = (
    weakref.WeakKeyDictionary()
)


def cursor_saver(loop: asyncio.AbstractEventLoop, interval: float) -> CursorSaver:
    """The :class:`CursorSaver` of ``loop`` for ``interval`` (made on first use).

    Raises:
        TypeError: ``loop`` is not an event loop, or ``interval`` not a number.
        ValueError: ``interval`` is not positive and finite.
    """
    if not isinstance(loop, asyncio.AbstractEventLoop):
        raise TypeError(f"loop must be an asyncio event loop, got {type(loop).__name__}")
    if isinstance(interval, bool) or not isinstance(interval, (int, float)):
        raise TypeError(f"interval must be a number, got {type(interval).__name__}")
    key = float(interval)
    try:
        savers = _SAVERS[loop]
    except KeyError:
        savers = _SAVERS[loop] = {}
    except TypeError:  # pragma: no cover - a loop type without weak references
        return CursorSaver(loop, key)
    saver = savers.get(key)
    if saver is None:
        saver = savers[key] = CursorSaver(loop, key)
    return saver


def _active_parents(messages: Iterable[HistoryMessage], cursor: str) -> dict[str, None]:
    """Thread parents among ``messages`` with a reply newer than ``cursor``."""
    return {m.ts: None for m in messages
            if m.thread_ts == m.ts and m.latest_reply is not None
            and newer_safe(m.latest_reply, cursor)}
