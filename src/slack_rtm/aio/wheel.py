"""One coarse timer per event loop for the far deadlines of every client on it.

An idle session's only deadline is its keepalive: a ping after ``ping_interval`` of silence,
then the ping's timeout. With one ``loop.call_at`` per session, 10,000 idle sessions keep
10,000 timer handles in the loop's heap (every push and pop a dozen Python-level comparisons),
re-armed after every pong, each firing on its own loop iteration. :class:`TimerWheel` instead
keeps the clients in slots of :attr:`~TimerWheel.tick` seconds (a ``dict`` per slot) and asks
the loop for one timer: the next non-empty slot. The clients due in a slot run in one callback,
so their pings go out, and their pongs come back, together.

Deadlines are run up to one tick late, so only deadlines at least
:attr:`~TimerWheel.coarse_after` seconds away go to the wheel (a keepalive, a reply timeout, a
long backoff); nearer ones (the send rate limiter, short backoffs) keep a precise
``call_at``. To keep "a dead link is noticed within ``ping_interval + ping_timeout``" true, a
client on the wheel sets its core's
:attr:`~slack_rtm.session.core.SessionCore.ping_lead` to two ticks: its pings go out up to
that much early (never the ping timeout).

The wheel is per loop (:func:`timer_wheel`); :func:`set_timer_wheel` changes its tick, or turns
it off (``None``: every client on that loop uses precise timers), for clients connected after
the call. A client uses the wheel only when its ``ping_interval`` is at least
:attr:`~TimerWheel.min_interval` (10 ticks: 2.5 s by default).
"""

from __future__ import annotations

import asyncio
import math
import weakref
from typing import Final, Protocol

__all__ = ["DEFAULT_TICK", "Member", "TimerWheel", "set_timer_wheel", "timer_wheel"]

DEFAULT_TICK: Final = 0.25
"""Seconds per slot of a loop's wheel unless :func:`set_timer_wheel` says otherwise."""


class Member(Protocol):
    """What sits in a wheel: called once when its slot is due (then it is out of the wheel).

    The slot is passed: a member that moved to another slot (or left) after this one was
    taken out to run ignores the call.
    """

    def _on_wheel(self, slot: int) -> None: ...


class TimerWheel:
    """Slots of ``tick`` seconds on one event loop; one ``call_at`` for the earliest.

    A member is in at most one slot; :meth:`add` returns the slot, which the member keeps to
    :meth:`discard` itself or move. Slot ``k`` runs at loop time ``k * tick`` (or a little
    after), so a deadline ``d`` put in slot ``ceil(d / tick)`` runs at ``d`` or up to one tick
    later, never earlier.

    Args:
        loop: the event loop (held weakly).
        tick: seconds per slot.

    Raises:
        TypeError, ValueError: ``tick`` is not a positive finite number.
    """

    __slots__ = ("__weakref__", "_handle", "_handle_slot", "_loop", "_slots", "coarse_after",
                 "lead", "min_interval", "tick")

    def __init__(self, loop: asyncio.AbstractEventLoop, tick: float = DEFAULT_TICK) -> None:
        _check_tick(tick)
        self._loop = weakref.ref(loop)
        self.tick = float(tick)
        self.lead = 2 * self.tick
        """The ``ping_lead`` a client on this wheel gives its core."""
        self.coarse_after = 6 * self.tick
        """Deadlines at least this many seconds away may go to the wheel."""
        self.min_interval = 10 * self.tick
        """The shortest ``ping_interval`` of a client that uses the wheel (its keepalive is
        then at least ``min_interval - lead`` away after each frame: past ``coarse_after``)."""
        self._slots: dict[int, dict[Member, None]] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._handle_slot: int | None = None

    def __len__(self) -> int:
        """How many members wait in the wheel."""
        return sum(len(bucket) for bucket in self._slots.values())

    @property
    def armed(self) -> bool:
        """True while the wheel has a loop timer (it has members)."""
        return self._handle is not None

    def slot_of(self, deadline: float) -> int:
        """The slot that runs ``deadline`` (at it or up to one tick later)."""
        return math.ceil(deadline / self.tick)

    def add(self, member: Member, deadline: float) -> int:
        """Run ``member._on_wheel(slot)`` at ``deadline`` or up to one tick later; the slot."""
        slot = math.ceil(deadline / self.tick)
        bucket = self._slots.get(slot)
        if bucket is None:
            bucket = self._slots[slot] = {}
        bucket[member] = None
        if self._handle_slot is None or slot < self._handle_slot:
            self._arm(slot)
        return slot

    def discard(self, member: Member, slot: int) -> None:
        """Take ``member`` out of ``slot`` (nothing happens if it is not there)."""
        bucket = self._slots.get(slot)
        if bucket is None or member not in bucket:
            return
        del bucket[member]
        if not bucket:
            del self._slots[slot]
            if not self._slots and self._handle is not None:
                self._handle.cancel()
                self._handle = None
                self._handle_slot = None

    def _arm(self, slot: int) -> None:
        loop = self._loop()
        if loop is None:  # pragma: no cover - the loop is gone; nothing can run any more
            return
        if self._handle is not None:
            self._handle.cancel()
        self._handle_slot = slot
        self._handle = loop.call_at(slot * self.tick, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._handle_slot = None
        loop = self._loop()
        if loop is None:  # pragma: no cover
            return
        now = loop.time()
        slots = self._slots
        # Few keys (about ping_interval / tick): a scan is cheaper than keeping them sorted.
        due = sorted(slot for slot in slots if slot * self.tick <= now)
        for slot in due:
            bucket = slots.pop(slot)
            for member in bucket:
                member._on_wheel(slot)  # may add itself again (always to a later slot)
        # The members re-added themselves (which armed the timer for the first of them), and
        # earlier slots may wait: the timer goes to the earliest.
        if slots:
            first = min(slots)
            if first != self._handle_slot:
                self._arm(first)


_WHEELS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TimerWheel | None] = (
    weakref.WeakKeyDictionary()
)


def timer_wheel(loop: asyncio.AbstractEventLoop) -> TimerWheel | None:
    """The wheel of ``loop`` (made with :data:`DEFAULT_TICK` on first use), or None when
    :func:`set_timer_wheel` turned it off or the loop cannot be referenced weakly."""
    try:
        return _WHEELS[loop]
    except KeyError:
        wheel = _WHEELS[loop] = TimerWheel(loop)
        return wheel
    except TypeError:  # pragma: no cover - a loop type without weak references
        return None


def set_timer_wheel(loop: asyncio.AbstractEventLoop, tick: float | None) -> TimerWheel | None:
    """Give ``loop`` a wheel of ``tick`` seconds (None: no wheel, precise timers only), for
    the clients that connect on it from now on; clients already connected keep theirs.

    Raises:
        TypeError: ``loop`` is not an event loop, or ``tick`` not a number or None.
        ValueError: ``tick`` is not positive and finite.
    """
    if not isinstance(loop, asyncio.AbstractEventLoop):
        raise TypeError(f"loop must be an asyncio event loop, got {type(loop).__name__}")
    wheel = None if tick is None else TimerWheel(loop, tick)
    _WHEELS[loop] = wheel
    return wheel


def _check_tick(tick: object) -> None:
    if isinstance(tick, bool) or not isinstance(tick, (int, float)):
        raise TypeError(f"tick must be a number, got {type(tick).__name__}")
    if not math.isfinite(tick) or tick <= 0:
        raise ValueError(f"tick must be a finite number > 0, got {tick!r}")

