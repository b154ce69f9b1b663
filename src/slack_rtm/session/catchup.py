"""Catch-up bookkeeping without I/O: cursors, held live messages, backfill merging, duplicates.

RTM never replays what was sent while no socket was open (PROTOCOL.md §5.4). With catch-up on,
the client keeps, per conversation, the ``ts`` of the newest message it has delivered (the
*cursor*). After a reconnect that may have lost events it fetches the history after each cursor
(``conversations.history``, ``conversations.replies``: the driver's job, :mod:`slack_rtm.aio`)
and :class:`CatchUpBook` decides what is delivered, in which order, and what is a duplicate:

- :meth:`~CatchUpBook.begin` marks the conversations being caught up. While one is, its live
  ``message`` events are *held* when they reach delivery (:meth:`~CatchUpBook.intercept`);
  every other event and conversation flows on.
- :meth:`~CatchUpBook.release` merges a conversation's fetched history with its held live
  messages: oldest first, each ``(channel, ts)`` once (a live copy wins over a fetched one), the
  fetched ones marked ``backfilled``. The driver delivers that list next.
- A live message whose ``(channel, ts)`` was already delivered from history (it arrived late on
  the socket) is dropped by :meth:`~CatchUpBook.intercept` until :meth:`~CatchUpBook.forget`.

The delivery loop calls :meth:`~CatchUpBook.track` for each ``message`` it is about to deliver:
it notes the message's ``ts`` as its conversation's latest (one dict store: the ingest path pays
little) and :meth:`~CatchUpBook.sync` folds those into :attr:`~CatchUpBook.cursors` (never
backwards) when they are needed: before a catch-up and before a save.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
from msgspec.structs import force_setattr

from slack_rtm.cursors import newer, ts_key
from slack_rtm.session.events import Event, Message, decode_frame

__all__ = ["OWN_KEPT", "CatchUpBook", "backfilled_message"]

OWN_KEPT = 1000
"""How many of its own acked messages a client remembers, to leave them out of catch-up."""

_encode = msgspec.json.encode


def backfilled_message(channel: str, item: Mapping[str, Any]) -> Event:
    """A history item (PROTOCOL.md §8) as the ``message`` event it was: ``"type": "message"``
    first and its ``"channel"`` added, decoded like a live frame, marked backfilled.

    Returns a :class:`~slack_rtm.session.events.Message` (or a ``MalformedFrame`` event for an
    item that does not decode as one; never raises).
    """
    body: dict[str, Any] = {"type": "message", "channel": channel}
    body.update((k, v) for k, v in item.items() if k not in ("type", "channel"))
    event = decode_frame(_encode(body))
    force_setattr(event, "_backfilled", True)
    return event


class CatchUpBook:
    """What catch-up has delivered, holds and still expects. Pure: no I/O, no clock.

    Args:
        cursors: stored cursors to start from (channel -> ts), e.g. from a
            :class:`~slack_rtm.cursors.CursorStore`.
        max_threads: threads remembered per conversation (the most recently active), whose new
            replies are fetched after a gap even when their parent is older than the cursor.

    Attributes:
        cursors: channel -> ts of the newest message delivered (or loaded).
        holding: the conversations whose live messages wait for their history.
        filtering: True while :meth:`intercept` has anything to do (holding, or duplicates to
            drop); the delivery loop skips the call when it is False.
    """

    __slots__ = ("_held", "_own", "_seen", "cursors", "filtering", "holding", "latest",
                 "max_threads", "threads")

    def __init__(self, cursors: Mapping[str, str] | None = None, *, max_threads: int = 20) -> None:
        if isinstance(max_threads, bool) or not isinstance(max_threads, int):
            raise TypeError(f"max_threads must be an int, got {type(max_threads).__name__}")
        if max_threads < 0:
            raise ValueError(f"max_threads must be >= 0, got {max_threads!r}")
        self.cursors: dict[str, str] = {}
        # What track() noted since the last sync(); cleared in place, never replaced (the
        # delivery loops hold it: they inline track()).
        self.latest: dict[str | None, str | None] = {}
        self.threads: dict[str, dict[str, None]] = {}
        self.max_threads = max_threads
        self.holding: set[str] = set()
        self.filtering = False
        self._held: dict[str, list[Event]] = {}
        self._seen: set[tuple[str, str]] = set()
        self._own: dict[tuple[str, str], None] = {}  # messages this client sent (acked)
        if cursors:
            self.merge(cursors)

    def merge(self, cursors: Mapping[str, str]) -> None:
        """Take stored cursors in; a cursor never moves backwards."""
        own = self.cursors
        for channel, ts in cursors.items():
            if newer(ts, own.get(channel)):
                own[channel] = ts

    def track(self, event: Message) -> bool:
        """The delivery loop is about to deliver ``event``: True to deliver it, False when it
        must not be delivered now (see :meth:`intercept`). Notes it for the cursors and, if in
        a thread, the thread.

        The driver's delivery loops inline these lines (a call costs ~50 ns a message, a third
        of what catch-up adds to the ingest path: bench/bench_resume_catchup.py); keep them
        the same.
        """
        if self.filtering and self.intercept(event):
            return False
        self.latest[event.channel] = event.ts
        if event.thread_ts is not None:
            self.note_thread(event.channel, event.thread_ts)
        return True

    def sync(self) -> dict[str, str]:
        """Fold what :meth:`track` noted into :attr:`cursors` (never backwards); returns them."""
        latest = self.latest
        if latest:
            noted = list(latest.items())
            latest.clear()
            own = self.cursors
            for channel, ts in noted:
                if channel is not None and ts is not None and newer_safe(ts, own.get(channel)):
                    own[channel] = ts
        return self.cursors

    def note_thread(self, channel: str | None, thread_ts: str) -> None:
        """A delivered message belongs to thread ``thread_ts``: remember the thread (the most
        recently active ``max_threads`` per conversation)."""
        if not self.max_threads or channel is None:
            return
        threads = self.threads.get(channel)
        if threads is None:
            threads = self.threads[channel] = {}
        threads.pop(thread_ts, None)
        threads[thread_ts] = None
        if len(threads) > self.max_threads:
            del threads[next(iter(threads))]

    def plan(self) -> list[tuple[str, str]]:
        """The conversations to catch up and their cursors, most recently active first."""
        return sorted(self.sync().items(), key=lambda item: _safe_key(item[1]), reverse=True)

    def begin(self, channels: Iterable[str]) -> None:
        """Hold live messages of ``channels`` until each is released."""
        self.holding.update(channels)
        self.filtering = True

    def intercept(self, event: Message) -> bool:
        """Called by the delivery loop for a live ``message`` while :attr:`filtering`: True when
        the event must not be delivered now (held for its conversation's history, or a late
        live copy of a message already delivered from history)."""
        channel = event.channel
        if channel is None:
            return False
        if channel in self.holding:
            held = self._held.get(channel)
            if held is None:
                held = self._held[channel] = []
            held.append(event)
            return True
        ts = event.ts
        return ts is not None and (channel, ts) in self._seen and not event.backfilled

    def release(self, channel: str, fetched: Iterable[Event], *,
                since: str | None = None) -> list[Event]:
        """End the hold on ``channel``: its history (``fetched``, any order) and held live
        messages, merged oldest first, each ``ts`` once; deliver the list next.

        Fetched messages at or before ``since`` (the cursor the catch-up began with; default:
        the conversation's cursor now) are dropped: they were delivered before the gap; so are
        fetched ones whose ``ts`` is not a Slack ts (when there is a cursor to compare with).
        """
        self.holding.discard(channel)
        held = self._held.pop(channel, [])
        cursor = since if since is not None else self.sync().get(channel)
        by_ts: dict[str, Event] = {}
        untimed: list[Event] = []
        for event in held:
            ts = getattr(event, "ts", None)
            if isinstance(ts, str):
                by_ts.setdefault(ts, event)
            else:
                untimed.append(event)
        seen = self._seen
        own = self._own
        for event in fetched:
            ts = getattr(event, "ts", None)
            if not isinstance(ts, str) or (cursor is not None and not newer_safe(ts, cursor)):
                continue  # delivered before the gap, or not a Slack ts: cannot be placed
            if (channel, ts) in own:
                continue  # sent by this client: never delivered live either
            if ts not in by_ts:
                by_ts[ts] = event
                seen.add((channel, ts))
        ordered = [by_ts[ts] for ts in sorted(by_ts, key=_safe_key)]
        self.filtering = bool(self.holding or self._seen)
        return ordered + untimed

    def note_own(self, channel: str, ts: str) -> None:
        """This client's message to ``channel`` was acked with ``ts``. Slack does not deliver
        one's own messages back on the socket, so history does not either (the last
        :data:`OWN_KEPT` are remembered)."""
        own = self._own
        own[(channel, ts)] = None
        if len(own) > OWN_KEPT:
            del own[next(iter(own))]

    def drop(self, channel: str) -> None:
        """Forget ``channel`` (it cannot be read any more: ``not_in_channel``, ...): no cursor,
        no threads; a later message there starts it again."""
        self.sync()
        self.cursors.pop(channel, None)
        self.threads.pop(channel, None)

    def forget(self) -> None:
        """Stop dropping late live copies of backfilled messages (a while after a catch-up)."""
        self._seen.clear()
        self.filtering = bool(self.holding)

    @property
    def held_count(self) -> int:
        """Live messages held right now."""
        return sum(len(v) for v in self._held.values())


def newer_safe(ts: str, cursor: str | None) -> bool:
    """:func:`~slack_rtm.cursors.newer`, with a ``ts`` that is not a Slack ts never newer."""
    try:
        return newer(ts, cursor)
    except ValueError:
        return False


def _safe_key(ts: str) -> tuple[int, int, str]:
    try:
        seconds, fraction = ts_key(ts)
    except ValueError:
        return (1 << 62, 0, ts)  # not a Slack ts: after every real one, in text order
    return (seconds, fraction, ts)
