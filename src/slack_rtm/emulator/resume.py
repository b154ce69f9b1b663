"""``reconnect_url`` events and the resume tickets they carry (PROTOCOL §3.7).

On every live connection the emulator sends ``{"type": "reconnect_url", "url":
"ws://HOST:PORT/websocket/<ticket>"}`` about ``min(1.0, interval)`` seconds after ``hello``, then
every ``interval`` seconds, on the host the client used. The ticket is single-use, grants the
same user and options as the connection it came on (presence options, a browser session's
cookie requirement) and expires after ``reconnect_url_ttl`` seconds; opening it skips
``rtm.connect`` and its ``hello`` carries ``"fast_reconnect": true``. Only the
:data:`RECENT_KEPT` most recent tickets of a connection stay valid (a newer one supersedes the
oldest), so tickets in memory stay bounded by live connections plus those closed within the TTL.
An unknown, used, superseded or expired ticket gets the same code-1 ``Socket URL has expired``
error frame as an expired ``rtm.connect`` URL.

Cheap with many idle connections: one emulator-wide timer over a heap of ``(due, conn_id)``
(no task or timer per connection), frames written whole straight to the transport (they land
between the firehose's frame-aligned chunks, never inside a frame), and a prune of expired
tickets every ``max(1, ttl / 2)`` seconds. :class:`ResumeControls` is a mixin of
:class:`~slack_rtm.emulator.state.EmulatorState`, which calls
:meth:`ResumeControls._init_resume`.
"""

from __future__ import annotations

import asyncio
import heapq
import secrets
import time
from collections import deque
from typing import Any, Final

import msgspec

from slack_rtm.emulator.connection import Connection
from slack_rtm.emulator.firehose import frame
from slack_rtm.emulator.records import Grant
from slack_rtm.emulator.validate import check_number

__all__ = ["MIN_INTERVAL", "RECENT_KEPT", "ResumeControls"]

#: The shortest ``reconnect_url`` interval accepted, in seconds.
MIN_INTERVAL: Final = 0.01
#: How many of a connection's most recent resume tickets stay valid.
RECENT_KEPT: Final = 2
#: Most ``reconnect_url`` events sent in one timer callback before yielding to the loop.
_BATCH: Final = 500

_encode = msgspec.json.Encoder().encode


class _Live:
    """A live connection's resume bookkeeping."""

    __slots__ = ("conn", "grant", "host", "recent")

    def __init__(self, conn: Connection, grant: Grant, host: str) -> None:
        self.conn = conn
        self.grant = msgspec.structs.replace(grant, resume=True)
        self.host = host
        self.recent: deque[str] = deque()


class ResumeControls:
    """``reconnect_url`` events and resume tickets, mixed into the Emulator."""

    # State owned by the Emulator (see _init_resume).
    resumes: int
    reconnect_url_interval: float | None
    reconnect_url_ttl: float
    _resume_default_interval: float
    _resume_tickets: dict[str, Grant]
    _resume_live: dict[int, _Live]
    _resume_heap: list[tuple[float, int]]
    _resume_timer: asyncio.Handle | None
    _resume_timer_at: float
    _resume_loop: asyncio.AbstractEventLoop | None
    _resume_prune_at: float

    def _init_resume(self, interval: float | None, ttl: float) -> None:
        check_number("reconnect_url_interval", interval, minimum=MIN_INTERVAL, optional=True)
        check_number("reconnect_url_ttl", ttl)
        self.resumes = 0
        self.reconnect_url_interval = None if interval is None else float(interval)
        self.reconnect_url_ttl = float(ttl)
        self._resume_default_interval = 3.0 if interval is None else float(interval)
        self._resume_tickets = {}
        self._resume_live = {}
        self._resume_heap = []
        self._resume_timer = None
        self._resume_timer_at = 0.0
        self._resume_loop = None
        self._resume_prune_at = 0.0

    def _resume_start(self) -> None:
        self._resume_loop = asyncio.get_running_loop()
        self._resume_prune_at = time.monotonic() + self._prune_every()

    def _resume_stop(self) -> None:
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None
        self._resume_loop = None
        self._resume_heap.clear()
        self._resume_live.clear()

    # -- controls ----------------------------------------------------------------------------

    def set_reconnect_urls(self, enabled: bool, interval: float | None = None) -> None:
        """Send (``enabled``) or stop sending ``reconnect_url`` events; ``interval`` (seconds,
        >= 0.01) sets their period, otherwise the last one set (3.0 by default) applies. Every
        live connection gets its next one ``min(1.0, interval)`` seconds from now. Resume
        tickets already sent stay valid (see :meth:`expire_reconnect_urls`).

        Raises:
            TypeError: ``enabled`` is not a bool; ValueError: a bad ``interval``.
        """
        if not isinstance(enabled, bool):
            raise TypeError("enabled must be a bool")
        check_number("interval", interval, minimum=MIN_INTERVAL, optional=True)
        if interval is not None:
            self._resume_default_interval = float(interval)
        self.reconnect_url_interval = self._resume_default_interval if enabled else None
        self._resume_reschedule()

    def expire_reconnect_urls(self) -> int:
        """Expire every resume ticket handed out so far: opening one gets the code-1 ``error``
        frame and a close, as an expired ``rtm.connect`` URL does. Returns how many expired."""
        count = len(self._resume_tickets)
        self._resume_tickets.clear()
        for live in self._resume_live.values():
            live.recent.clear()
        return count

    # -- hooks for the WebSocket handler ---------------------------------------------------

    def connection_ready(self, conn: Connection, grant: Grant, host: str) -> None:
        """Schedule ``reconnect_url`` events for a connection that got its ``hello`` (and count
        it in :attr:`resumes` if it came by a resume ticket). ``host`` is ``HOST:PORT`` as the
        client reached us."""
        if grant.resume:
            self.resumes += 1
        self._resume_live[conn.id] = _Live(conn, grant, host)
        interval = self.reconnect_url_interval
        if interval is not None and self._resume_loop is not None:
            heapq.heappush(self._resume_heap, (time.monotonic() + min(1.0, interval), conn.id))
            self._resume_arm()

    def forget_connection(self, conn_id: int) -> None:
        """Stop sending ``reconnect_url`` events to a closed connection (its tickets stay)."""
        self._resume_live.pop(conn_id, None)

    def redeem_resume(self, ticket: str) -> Grant | None:
        """The grant of a valid resume ticket (now used up), or ``None``."""
        grant = self._resume_tickets.pop(ticket, None)
        if grant is None or time.monotonic() >= grant.expires:
            return None
        return grant

    def resume_state(self) -> dict[str, Any]:
        """The part of :meth:`Emulator.state` this mixin owns."""
        return {
            "reconnect_url_interval": self.reconnect_url_interval,
            "reconnect_url_ttl": self.reconnect_url_ttl,
            "reconnect_urls_outstanding": len(self._resume_tickets),
            "resumes": self.resumes,
        }

    # -- the scheduler -----------------------------------------------------------------------

    def _prune_every(self) -> float:
        return max(1.0, self.reconnect_url_ttl / 2)

    def _resume_reschedule(self) -> None:
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None
        interval = self.reconnect_url_interval
        if interval is None or self._resume_loop is None:
            self._resume_heap.clear()
            self._resume_prune(time.monotonic())
            return
        due = time.monotonic() + min(1.0, interval)
        self._resume_heap = [(due, cid) for cid in self._resume_live]  # sorted: a valid heap
        self._resume_arm()

    def _resume_arm(self) -> None:
        heap, loop = self._resume_heap, self._resume_loop
        if not heap or loop is None:
            return
        due = heap[0][0]
        if self._resume_timer is not None:
            if self._resume_timer_at <= due:
                return
            self._resume_timer.cancel()
        self._resume_timer = loop.call_later(max(0.0, due - time.monotonic()), self._resume_fire)
        self._resume_timer_at = due

    def _resume_fire(self) -> None:
        self._resume_timer = None
        interval = self.reconnect_url_interval
        if interval is None:
            return
        now = time.monotonic()
        heap, live_by_id = self._resume_heap, self._resume_live
        sent = 0
        while heap and heap[0][0] <= now and sent < _BATCH:
            due, cid = heapq.heappop(heap)
            live = live_by_id.get(cid)
            if live is None or live.conn.closed:
                continue  # gone: drop it from the schedule
            self._send_reconnect_url(live, now)
            sent += 1
            heapq.heappush(heap, (max(due + interval, now + interval / 2), cid))
        if now >= self._resume_prune_at:
            self._resume_prune(now)
        if heap and heap[0][0] <= now and self._resume_loop is not None:  # more due: yield first
            self._resume_timer = self._resume_loop.call_soon(self._resume_fire)
            self._resume_timer_at = now
        else:
            self._resume_arm()

    def _send_reconnect_url(self, live: _Live, now: float) -> None:
        ticket = secrets.token_urlsafe(24)
        tickets = self._resume_tickets
        tickets[ticket] = msgspec.structs.replace(live.grant, expires=now + self.reconnect_url_ttl)
        recent = live.recent
        if len(recent) >= RECENT_KEPT:
            tickets.pop(recent.popleft(), None)
        recent.append(ticket)
        url = f"ws://{live.host}/websocket/{ticket}"
        live.conn.transport.write(frame(_encode({"type": "reconnect_url", "url": url})))

    def _resume_prune(self, now: float) -> None:
        self._resume_prune_at = now + self._prune_every()
        tickets = self._resume_tickets
        expired = [t for t, g in tickets.items() if g.expires <= now]
        for ticket in expired:
            del tickets[ticket]
