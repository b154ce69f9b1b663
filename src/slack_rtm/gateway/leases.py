"""The lease protocol over JetStream KV: who is alive, who holds which registration, fencing.

Three records of :mod:`.contract` in two buckets carry it:

- :data:`~.contract.PROCESSES_BUCKET`: one :class:`~.contract.ProcessLease` per process
  (:class:`OwnLease`), created at start and renewed every ``renew_every`` seconds by
  compare-and-set (``update(last=revision)``);
- :data:`~.contract.ASSIGNMENTS_BUCKET`: one :class:`~.contract.Assignment` per held
  registration, claimed by compare-and-set (:func:`claim`: ``create`` when absent, ``update``
  on the revision seen) and released by a compare-and-set delete (:func:`release`).

Every process follows both buckets with a watch (:class:`KvFollower`) into two tables:
:class:`ProcessTable` judges another process alive while its lease's *revision* keeps
changing, measured on this process's own monotonic clock (dead after ``expire_after`` seconds
without a change; a deleted lease is gone at once; never a wall clock compared across
machines), and :class:`AssignmentTable` says who holds what.

**The rules.**

1. A process claims a registration only while it holds its own lease and only *after* the new
   session is live (make-before-break). A failed claim closes the new session at once.
2. The holder of a session closes it as soon as the assignment names another process (its
   watch shows the change within milliseconds).
3. A process takes over from another holder only when that holder is dead (lease unchanged for
   ``expire_after``), draining (``draining: true``: "take my sessions"), or when placement moves
   the registration to it (rebalancing; the holder then closes by rule 2).
4. FENCE: a process whose last successful renewal is older than ``fence_after`` (NATS
   unreachable, or its lease rewritten by someone else) closes every session it holds at once
   and claims nothing until it holds its lease again.

**Timings** (:class:`~.contract.LeaseTimings`; defaults): ``renew_every`` 1 s, ``fence_after``
3.5 s, ``expire_after`` 6 s, ``handover_timeout`` 5 s; checked ``renew_every < fence_after <
expire_after`` and ``expire_after - fence_after >= renew_every``.

**Why two sockets of one token never live at once except during a hand-over, and never for
more than 5 s.** The KV names at most one holder per registration at any time (every write is
a compare-and-set). A socket without the name exists only between "the new session is live" and
"the claim is answered" (rule 1): one KV round trip, a few milliseconds. The old holder closes
when its watch shows the new name (rule 2): milliseconds again, and the process checks every
tick, so a hand-over's overlap is the claim's round trip plus the watch's delivery plus a close,
far below ``handover_timeout`` (5 s). If the old holder cannot see the claim because it is cut
off from NATS, it cannot renew either, and it fences (rule 4) at most ``fence_after`` (3.5 s)
after its last renewal. A takeover from a dead holder waits until its lease has not changed
for ``expire_after`` (6 s) on the taker's clock, so the holder's last renewal is at least that
old and it fenced ``expire_after - fence_after`` (>= ``renew_every``) *before* anyone opens a
new socket: a crash or a partition never makes two live sockets. (The argument assumes the
clocks' *rates* agree, not their readings, and that a process notices a failed renewal within
a tick: renewals have a timeout of ``renew_every``.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
import nats.errors
import nats.js.errors
from nats.js.kv import StopIterSentinel

from slack_rtm.gateway.contract import Assignment, LeaseTimings, ProcessLease

if TYPE_CHECKING:
    from nats.js.kv import KeyValue

__all__ = [
    "NATS_ERRORS",
    "AssignmentTable",
    "Held",
    "KvFollower",
    "LeaseError",
    "LeaseTakenError",
    "OwnLease",
    "ProcessTable",
    "claim",
    "release",
]

log = logging.getLogger(__name__)

NATS_ERRORS: tuple[type[BaseException], ...] = (nats.errors.Error, asyncio.TimeoutError, OSError)
"""What a KV call raises when NATS is unreachable or slow (a compare-and-set conflict is a
:class:`nats.js.errors.KeyWrongLastSequenceError`, one of them: catch it first)."""

_WRONG_LAST = (10071, 10164)  # JetStream's "wrong last sequence" error codes

_lease_decoder = msgspec.json.Decoder(ProcessLease)
_assignment_decoder = msgspec.json.Decoder(Assignment)
_encode = msgspec.json.Encoder().encode


class LeaseError(RuntimeError):
    """The lease protocol refused something."""


class LeaseTakenError(LeaseError):
    """Another live process holds this process's name: two processes must not share a name."""


def _is_conflict(exc: BaseException) -> bool:
    if isinstance(exc, nats.js.errors.KeyWrongLastSequenceError):
        return True
    return isinstance(exc, nats.js.errors.APIError) and exc.err_code in _WRONG_LAST


def _check_timings(timings: object) -> LeaseTimings:
    if not isinstance(timings, LeaseTimings):
        raise TypeError("timings must be a LeaseTimings")
    return timings


# --- this process's lease -------------------------------------------------------------------


class OwnLease:
    """This process's lease in the processes bucket.

    Args:
        bucket: the processes bucket (:data:`~.contract.PROCESSES_BUCKET`).
        name: this process's name (the key).
        capacity: its capacity (written into the lease for people and placement).
        timings: the lease timings.
        clock: the monotonic clock (seconds).

    Attributes:
        revision: the revision of the lease as this process last wrote it, or None while it
            does not hold it.
        last_ok: the clock reading of the last successful write (``-inf`` before the first).
        renewals: successful renewals so far; ``losses``: times the lease was lost.
    """

    def __init__(
        self,
        bucket: KeyValue,
        name: str,
        capacity: int,
        timings: LeaseTimings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError("name must be a non-empty str")
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise ValueError("capacity must be an int >= 0")
        self._bucket = bucket
        self.name = name
        self.capacity = capacity
        self.timings = _check_timings(timings)
        self._clock = clock
        self.started = time.time()
        self.revision: int | None = None
        self.last_ok = -math.inf
        self.renewals = 0
        self.losses = 0
        self._foreign: tuple[int, float] | None = None  # someone else's revision, first seen

    def __repr__(self) -> str:
        return f"<OwnLease {self.name!r} revision={self.revision}>"

    def record(self, *, held: int = 0, draining: bool = False) -> bytes:
        """The JSON of this process's :class:`~.contract.ProcessLease` now."""
        return _encode(
            ProcessLease(
                name=self.name,
                capacity=self.capacity,
                held=held,
                draining=draining,
                started=self.started,
                renewed=time.time(),
            )
        )

    def fenced(self, now: float | None = None) -> bool:
        """True while this process must hold no session: it does not hold its lease, or its
        last successful renewal is older than ``fence_after``."""
        now = self._clock() if now is None else now
        return self.revision is None or now - self.last_ok > self.timings.fence_after

    def _ok(self, revision: int) -> None:
        self.revision = revision
        self.last_ok = self._clock()
        self._foreign = None

    async def acquire(
        self, *, held: int = 0, draining: bool = False, poll: float | None = None
    ) -> None:
        """Create the lease; if one of this name exists, wait up to ``expire_after`` for its
        revision to change: if it does, a live process holds the name; if not, it is a dead
        process's, taken over by compare-and-set.

        Raises:
            LeaseTakenError: a live process holds the name.
            nats.errors.Error, asyncio.TimeoutError, OSError: NATS failed.
        """
        step = poll if poll is not None else min(0.25, self.timings.renew_every / 2)
        deadline = self._clock() + self.timings.expire_after + step
        while True:
            if await self._try_take(held=held, draining=draining, first=True):
                return
            if self._clock() > deadline:
                raise LeaseTakenError(
                    f"the lease {self.name!r} keeps being rewritten: another process uses this name"
                )
            await asyncio.sleep(step)

    async def _try_take(self, *, held: int, draining: bool, first: bool = False) -> bool:
        """One attempt at (re)taking the lease while not holding it; True when taken."""
        now = self._clock()
        try:
            entry = await self._bucket.get(self.name)
        except nats.js.errors.KeyNotFoundError:
            try:
                self._ok(
                    await self._bucket.create(self.name, self.record(held=held, draining=draining))
                )
            except nats.js.errors.KeyWrongLastSequenceError:
                return False  # someone created it just now: look again next time
            return True
        revision = entry.revision or 0
        mine = False
        with contextlib.suppress(msgspec.DecodeError):
            mine = _lease_decoder.decode(entry.value or b"").started == self.started
        if not mine:
            if self._foreign is None:
                self._foreign = (revision, now)
            elif self._foreign[0] != revision:
                if first:
                    raise LeaseTakenError(
                        f"another live process holds the name {self.name!r}: give each "
                        "process its own --name"
                    )
                self._foreign = (revision, now)
            if now - self._foreign[1] < self.timings.expire_after:
                return False
        try:
            self._ok(
                await self._bucket.update(
                    self.name, self.record(held=held, draining=draining), last=revision
                )
            )
        except nats.js.errors.KeyWrongLastSequenceError:
            return False
        return True

    async def renew(
        self, *, held: int = 0, draining: bool = False, timeout: float | None = None
    ) -> bool:
        """One renewal (compare-and-set on :attr:`revision`), or one attempt at taking the
        lease back while not holding it, given up after ``timeout`` seconds (default
        ``renew_every``). Never raises for NATS trouble: returns False.

        A conflict (the lease was rewritten by someone else) counts as a loss: from then on
        the lease is taken back only if it is absent, still this process's record, or
        unchanged for ``expire_after`` (a dead namesake's).
        """
        limit = self.timings.renew_every if timeout is None else timeout
        try:
            if self.revision is None:
                return await asyncio.wait_for(self._try_take(held=held, draining=draining), limit)
            revision = await asyncio.wait_for(
                self._bucket.update(
                    self.name, self.record(held=held, draining=draining), last=self.revision
                ),
                limit,
            )
        except NATS_ERRORS as exc:
            if _is_conflict(exc):
                log.warning("gateway %s: its lease was rewritten by someone else (lost)", self.name)
                self.revision = None
                self.losses += 1
            else:
                log.debug("gateway %s: lease renewal failed: %s", self.name, type(exc).__name__)
            return False
        self._ok(revision)
        self.renewals += 1
        return True

    async def release(self) -> bool:
        """Delete the lease (compare-and-set on :attr:`revision`); False if it was not ours or
        NATS failed."""
        revision, self.revision = self.revision, None
        if revision is None:
            return False
        try:
            await self._bucket.delete(self.name, last=revision)
        except NATS_ERRORS:
            return False
        return True


# --- what other processes look like ---------------------------------------------------------


@dataclass(slots=True)
class _Seen:
    lease: ProcessLease
    revision: int
    changed: float


class ProcessTable:
    """Every process's lease as the watch shows it, and when its revision last changed on this
    process's clock. Pure: fed by :meth:`apply`, asked with the current time."""

    def __init__(self, timings: LeaseTimings) -> None:
        self.timings = _check_timings(timings)
        self._seen: dict[str, _Seen] = {}

    def apply(self, key: str, value: bytes | None, revision: int, now: float) -> None:
        """One watched entry: a lease (a new revision counts as a sign of life), or None for a
        deleted one (gone at once). An undecodable value is ignored."""
        if value is None:
            self._seen.pop(key, None)
            return
        try:
            lease = _lease_decoder.decode(value)
        except msgspec.DecodeError:
            log.warning("processes bucket: the lease %r is not a ProcessLease; ignored", key)
            return
        old = self._seen.get(key)
        if old is not None and old.revision == revision:
            return
        self._seen[key] = _Seen(lease, revision, now)

    def retain(self, keys: Iterable[str]) -> None:
        """Forget the processes not among ``keys`` (after a fresh snapshot of the bucket)."""
        keep = set(keys)
        for name in [n for n in self._seen if n not in keep]:
            del self._seen[name]

    def refresh(self, now: float) -> None:
        """Count every known lease as just changed: after this process could not see changes
        (it was cut off), nobody is judged dead on that time."""
        for seen in self._seen.values():
            seen.changed = now

    def revision(self, name: str) -> int | None:
        """The last revision seen of ``name``'s lease."""
        seen = self._seen.get(name)
        return None if seen is None else seen.revision

    def lease(self, name: str) -> ProcessLease | None:
        """The last lease seen of ``name``."""
        seen = self._seen.get(name)
        return None if seen is None else seen.lease

    def is_live(self, name: str, now: float) -> bool:
        """Whether ``name``'s lease changed within the last ``expire_after`` seconds."""
        seen = self._seen.get(name)
        return seen is not None and now - seen.changed < self.timings.expire_after

    def live(self, now: float) -> dict[str, ProcessLease]:
        """The live processes' leases by name."""
        limit = self.timings.expire_after
        return {n: s.lease for n, s in self._seen.items() if now - s.changed < limit}

    def names(self) -> list[str]:
        """Every process with a lease in the bucket, live or not."""
        return list(self._seen)


# --- who holds what -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Held:
    """One registration's assignment as seen: the record, its revision, when it changed."""

    assignment: Assignment
    revision: int
    changed: float


class AssignmentTable:
    """The assignments bucket as the watch shows it. Pure: fed by :meth:`apply`."""

    def __init__(self) -> None:
        self._held: dict[str, Held] = {}

    def apply(self, key: str, value: bytes | None, revision: int, now: float) -> None:
        """One watched entry (None: deleted). An undecodable value counts as nobody's."""
        if value is None:
            self._held.pop(key, None)
            return
        old = self._held.get(key)
        if old is not None and old.revision >= revision:
            return  # our own write, already recorded by note()
        try:
            assignment = _assignment_decoder.decode(value)
        except msgspec.DecodeError:
            log.warning("assignments bucket: %r is not an Assignment; ignored", key)
            self._held.pop(key, None)
            return
        self._held[key] = Held(assignment, revision, now)

    def note(self, key: str, assignment: Assignment | None, revision: int, now: float) -> None:
        """Record this process's own successful write before the watch echoes it."""
        if assignment is None:
            self._held.pop(key, None)
        else:
            self._held[key] = Held(assignment, revision, now)

    def retain(self, keys: Iterable[str]) -> None:
        """Forget the assignments not among ``keys`` (after a fresh snapshot)."""
        keep = set(keys)
        for key in [k for k in self._held if k not in keep]:
            del self._held[key]

    def get(self, key: str) -> Held | None:
        """The assignment of registration ``key``, or None."""
        return self._held.get(key)

    def holder(self, key: str) -> str | None:
        """Who holds ``key`` (None: nobody, or a failed session's marker)."""
        held = self._held.get(key)
        if held is None or not held.assignment.holder:
            return None
        return held.assignment.holder

    def items(self) -> list[tuple[str, Held]]:
        """Every assignment."""
        return list(self._held.items())


async def claim(
    bucket: KeyValue, reg_id: str, assignment: Assignment, *, last: int | None
) -> int | None:
    """Write ``assignment`` for ``reg_id`` by compare-and-set: create it when ``last`` is None,
    else update on revision ``last``. Returns the new revision, or None on a conflict (someone
    wrote it since).

    Raises:
        nats.errors.Error, asyncio.TimeoutError, OSError: NATS failed (outcome unknown).
    """
    value = _encode(assignment)
    try:
        if last is None:
            return await bucket.create(reg_id, value)
        return await bucket.update(reg_id, value, last=last)
    except NATS_ERRORS as exc:
        if _is_conflict(exc):
            return None
        raise


async def release(bucket: KeyValue, reg_id: str, revision: int) -> bool:
    """Delete ``reg_id``'s assignment if it is still at ``revision`` (compare-and-set); False
    on a conflict or when NATS failed."""
    try:
        await bucket.delete(reg_id, last=revision)
    except NATS_ERRORS:
        return False
    return True


# --- following a bucket ---------------------------------------------------------------------

OnEntry = Callable[[str, "bytes | None", int], None]


class KvFollower:
    """Follows a KV bucket with a watch: every current entry, then every change, goes to
    ``on_entry(key, value or None when deleted, revision)``; after each snapshot (the start,
    every :meth:`restart`), ``on_snapshot(keys)`` gets the keys it held.

    Args:
        bucket: the bucket.
        on_entry, on_snapshot: the callbacks (plain functions, called on the event loop).
        name: for logs.
    """

    def __init__(
        self,
        bucket: KeyValue,
        on_entry: OnEntry,
        on_snapshot: Callable[[set[str]], None],
        *,
        name: str,
    ) -> None:
        self._bucket = bucket
        self._on_entry = on_entry
        self._on_snapshot = on_snapshot
        self.name = name
        self._task: asyncio.Task[None] | None = None
        self._watcher: Any = None
        self.ready = asyncio.Event()
        self.updates = 0

    async def start(self, timeout: float = 10.0) -> None:
        """Start the watch and wait for its first snapshot.

        Raises:
            nats.errors.Error, asyncio.TimeoutError, OSError: NATS failed.
        """
        await self.stop()
        self.ready = asyncio.Event()
        self._watcher = await self._bucket.watchall()
        self._task = asyncio.create_task(
            self._run(self._watcher, self.ready), name=f"slack-rtm-watch-{self.name}"
        )
        await asyncio.wait_for(self.ready.wait(), timeout)

    async def restart(self, timeout: float = 10.0) -> bool:
        """A fresh watch (and snapshot); False (logged) if NATS failed: try again later."""
        try:
            await self.start(timeout)
        except NATS_ERRORS as exc:
            log.info("watch of %s: restart failed: %s", self.name, type(exc).__name__)
            return False
        return True

    async def stop(self) -> None:
        """Stop following."""
        task, self._task = self._task, None
        watcher, self._watcher = self._watcher, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if watcher is not None:
            with contextlib.suppress(*NATS_ERRORS):
                await asyncio.wait_for(_maybe(watcher.stop()), 2.0)

    async def _run(self, watcher: Any, ready: asyncio.Event) -> None:
        snapshot: set[str] | None = set()
        while True:
            entry = await watcher.updates(timeout=None)
            if entry is None:  # the end of the initial values
                if snapshot is not None:
                    self._on_snapshot(snapshot)
                    snapshot = None
                    ready.set()
                continue
            if isinstance(entry, StopIterSentinel):
                return
            key = entry.key
            deleted = entry.operation in ("DEL", "PURGE")
            if snapshot is not None and not deleted:
                snapshot.add(key)
            self.updates += 1
            try:
                self._on_entry(key, None if deleted else (entry.value or b""), entry.revision or 0)
            except Exception:  # a callback's bug must not end the watch
                log.exception("watch of %s: the callback failed", self.name)


async def _maybe(value: Awaitable[Any] | None) -> None:
    if value is not None:
        await value
