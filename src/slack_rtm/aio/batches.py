"""Events in batches, for a consumer on another thread (the sync client's ``for event in rtm``).

Crossing threads costs tens of microseconds; crossing once per event made the sync client ~30
times slower than ``async for``. :class:`EventBatches` hands over, in one call, every event
already queued (up to a cap) once the first one is there, with the same guarantees as
``async for event in rtm``:

- the same events in the same order, decoded the same way;
- handlers run before their event is handed over, and never before the consumer has had every
  earlier event: an event that has handlers is always the *first* of its batch (the batch
  before it ends just ahead of it), so handlers and the consumer interleave exactly as with
  ``async for``;
- back-pressure: reading pauses and resumes on the same queue lengths; at most ``cap`` events
  wait in the consumer's hands on top of ``max_queue``;
- the end: an empty batch after the last event, once the session has finished; the error that
  stopped it is raised then;
- events the consumer did not take when it stops early go back to the front of the queue
  (:meth:`EventBatches.aclose`), as they would have stayed there with ``async for``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from slack_rtm.errors import StateError
from slack_rtm.session.events import Event, Message, decode_kept

if TYPE_CHECKING:
    from slack_rtm.aio.driver import Driver

__all__ = ["DEFAULT_BATCH", "EventBatches"]

DEFAULT_BATCH = 256
"""The most events one call hands over."""


class EventBatches:
    """The events of one client, a batch per call; the async side of a sync iteration.

    Every method runs on the client's event loop.

    Args:
        driver: the client.
        cap: the most events per batch (at least 1).

    Raises:
        ValueError: ``cap`` is below 1.
    """

    __slots__ = ("_after", "_cap", "_closed", "_driver", "_handed", "_started")

    def __init__(self, driver: Driver[Any], cap: int = DEFAULT_BATCH) -> None:
        if cap < 1:
            raise ValueError(f"cap must be >= 1, got {cap!r}")
        self._driver = driver
        self._cap = cap
        self._started = False
        self._closed = False
        self._after = driver._after_yield()  # None for RTM
        self._handed: list[Event] = []  # the last batch, once consumed: for _after

    async def take(self) -> list[Event]:
        """The next events, waiting for the first; an empty list once the session has ended.

        Raises:
            StateError: the client was never connected.
            SlackRtmError: the error that stopped the session (after the last event).
        """
        driver = self._driver
        after = self._after
        if after is not None and self._handed:
            handed, self._handed = self._handed, []
            for event in handed:  # the consumer asks for more: it is done with these
                after(event)
        if not self._started:
            if driver._loop is None:
                raise StateError("connect first (with rtm: for event in rtm)")
            if self._closed:
                return []
            self._started = True
            driver._iterators += 1
            kept = driver._take_kept()
            if kept:  # handled in the background before this iteration began
                if after is not None:
                    self._handed = kept
                return kept
        elif self._closed:
            return []
        queue = driver._queue
        popleft = queue.popleft
        cap = self._cap
        low = driver._max_queue // 2
        book = driver._book
        latest = book.latest if book is not None else {}
        batch: list[Event] = []
        while True:
            while queue and len(batch) < cap:
                item = popleft()
                event = decode_kept(item) if isinstance(item, bytes) else item
                if driver._paused and len(queue) <= low:
                    driver._set_paused(False)
                if book is not None and type(event) is Message:  # book.track, inlined (see it)
                    if book.filtering and book.intercept(event):
                        continue
                    latest[event.channel] = event.ts
                    if event.thread_ts is not None:
                        book.note_thread(event.channel, event.thread_ts)
                if driver._has_handlers:
                    found = driver._handlers.cache.get(event.type)
                    entries = (found if found is not None
                               else driver._handlers.lookup(event.type))[0]
                    if entries:
                        if batch:
                            # Its handlers must wait until the consumer has had the batch.
                            queue.appendleft(event)
                            if after is not None:
                                self._handed = batch
                            return batch
                        pending = driver._handle(event)
                        if pending is not None:
                            await pending
                batch.append(event)
            if batch:
                if after is not None:
                    self._handed = batch
                return batch
            if driver._stopped:
                break
            await driver._wait_wake()
        self._finish()
        await driver._await_end()
        return []

    async def aclose(self, untaken: Iterable[Event] = ()) -> None:
        """Stop iterating; ``untaken`` (handed over, never consumed) go back to the queue front.

        Idempotent: a second call pushes nothing back.
        """
        if self._closed:
            return
        rest = list(untaken)
        if rest:
            self._driver._queue.extendleft(reversed(rest))
        self._finish()

    def _finish(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._started:
            self._driver._iterators -= 1
            self._driver._wake()
