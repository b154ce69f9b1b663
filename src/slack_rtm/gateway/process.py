"""One gateway process: :class:`Gateway` (``run`` / ``stop``) and :func:`serve` (with signals).

A process connects to NATS (reconnecting for ever), opens the KV buckets and the event stream,
takes its lease (:mod:`.leases`) and follows the registrations, processes and assignments
buckets. About four times a second it reconciles what changed (the steady state costs O(changes),
not O(sessions): the watches, a session ending and the clock mark what to look at; a full sweep
every :data:`SWEEP_EVERY` seconds is the safety net):

- *fenced* (no successful lease renewal for ``fence_after``: NATS unreachable, or its lease
  taken): it closes every session it holds at once and claims nothing until it has its lease
  again;
- *hand-over*: a held session whose assignment now names another process is closed at once
  (the watch triggers it; the tick checks again);
- *placement*: :func:`~.placement.place` over the registrations and the live, non-draining
  processes says where each registration belongs. A registration placed here and not held here
  is opened when it is unassigned, its holder is dead or draining (at ``takeover_rate``
  sessions a second), or its holder is live and placement moved it here (rebalancing, at
  ``connect_rate``: ``rtm.connect`` is Tier 1, never a stampede), never beyond ``capacity``.
  A registration unassigned (or held by a dead process) for ``2 × expire_after`` may be taken
  by any process with room: nothing stays orphaned when placement views differ.
- Opening is make-before-break: the new :class:`~.bridge.SessionBridge` is live first, then the
  assignment is claimed by compare-and-set; a lost claim closes the new session.
- A session that ends by itself (a revoked token) or is refused for good is released with a
  ``failed`` marker (logged once); no process opens it again until the registration changes.

:meth:`Gateway.stop` (SIGTERM, SIGINT under :func:`serve`) drains: the lease says
``draining: true``, the others take every session (make-before-break) within ``drain_timeout``,
what is left is closed, the assignments released, the lease deleted, and :meth:`Gateway.run`
returns 0. Alone in the cluster, it closes and releases at once.

Exit codes of :meth:`Gateway.run`: 0 after a drain; 1 when NATS or JetStream cannot be used at
start; 2 when another live process holds this process's name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client as NatsClient

from slack_rtm.gateway.bridge import SessionBridge, SessionStartError
from slack_rtm.gateway.config import GatewayConfig
from slack_rtm.gateway.contract import Assignment, Registration
from slack_rtm.gateway.cursor_store import KvCursorStore
from slack_rtm.gateway.kv import Buckets, NatsUnavailableError, connect, open_buckets
from slack_rtm.gateway.kv import public_nats_url as _public_url
from slack_rtm.gateway.leases import (
    NATS_ERRORS,
    AssignmentTable,
    KvFollower,
    LeaseTakenError,
    OwnLease,
    ProcessTable,
    claim,
    release,
)
from slack_rtm.gateway.metrics import GatewayMetrics, HealthServer
from slack_rtm.gateway.placement import place
from slack_rtm.gateway.publisher import EventPublisher
from slack_rtm.gateway.registry import Registry, decode_registration
from slack_rtm.gateway.secrets import GatewayKey

__all__ = ["EXIT_DRAINED", "EXIT_NAME_TAKEN", "EXIT_NATS", "Gateway", "serve"]

log = logging.getLogger(__name__)

EXIT_DRAINED = 0
EXIT_NATS = 1
EXIT_NAME_TAKEN = 2

TICK = 0.25
"""Seconds between two reconciliations."""

SWEEP_EVERY = 5.0
"""Seconds between two full reconciliations (every held session, every registration) whatever
the watches said: a safety net; in between only what changed is looked at."""

GAUGE_EVERY = 5.0
"""Seconds between two counts of the sessions by state for the metrics (also counted on every
``/metrics`` scrape)."""

LAG_LIMIT = 0.5
"""A tick this many seconds late means the event loop is saturated (opening thousands of
sessions on a loaded machine): no new session is opened on that tick, so the lease renewal and
the sessions already open get the loop back."""

START_TIMEOUT = 30.0
"""Seconds a new session may take to become live."""

_START_ERRORS: tuple[type[BaseException], ...] = (NatsUnavailableError, *NATS_ERRORS)

_RETRY_FIRST, _RETRY_MAX = 2.0, 60.0  # back-off of a registration whose start failed (not fatal)


class _Pace:
    """A token bucket: ``rate`` opens a second, bursts of ``max(1, rate / 4)``."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.burst = max(1.0, rate / 4)
        self.tokens = self.burst
        self.at = time.monotonic()

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass(slots=True)
class _Session:
    bridge: SessionBridge
    revision: int  # of our assignment
    reg_revision: int  # of the registration it was opened for


@dataclass(slots=True)
class _Retry:
    at: float
    delay: float
    reg_revision: int


@dataclass(slots=True)
class _Watches:
    registrations: KvFollower
    processes: KvFollower
    assignments: KvFollower
    all: list[KvFollower] = field(default_factory=list)


class Gateway:
    """One gateway process (see the module docstring).

    Args:
        config: the process's settings.

    Raises:
        TypeError: ``config`` is not a :class:`~.config.GatewayConfig`.
    """

    def __init__(self, config: GatewayConfig) -> None:
        if not isinstance(config, GatewayConfig):
            raise TypeError(f"config must be a GatewayConfig, got {type(config).__name__}")
        self.config = config
        self.name = config.name
        self._timings = config.lease
        self._stop = asyncio.Event()
        self._draining = False
        self._fenced = False
        self._nc: NatsClient | None = None
        self._buckets: Buckets | None = None
        self._lease: OwnLease | None = None
        self._registry: Registry | None = None
        self._publisher: EventPublisher | None = None
        self._cursors: KvCursorStore | None = None
        self._watches: _Watches | None = None
        self.metrics = GatewayMetrics()
        self.metrics.before_exposition = self._gauge
        self._health_server: HealthServer | None = None
        self._published = 0  # publisher.published already counted in the metrics
        self.metrics_port: int | None = None
        self._regs: dict[str, tuple[Registration, int]] = {}
        self._processes = ProcessTable(self._timings)
        self._assignments = AssignmentTable()
        self._sessions: dict[str, _Session] = {}
        self._opening: dict[str, asyncio.Task[None]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._retries: dict[str, _Retry] = {}
        self._orphans: dict[str, float] = {}
        self._takeover = _Pace(config.takeover_rate)
        self._rebalance = _Pace(config.connect_rate)
        self._placement_key: tuple[Any, ...] | None = None
        self._placement: dict[str, str] = {}
        self._started = math.inf
        self._restarting: asyncio.Task[None] | None = None
        self._expect: tuple[int, float] | None = None  # own lease revision to see, by when
        self._renewer: asyncio.Task[None] | None = None
        self._renew_lock = asyncio.Lock()
        self._released = asyncio.Event()  # set whenever a held session is closed
        self._check: set[str] = set()  # held sessions to look at on the next tick
        self._replace = True  # something changed: placement runs on the next tick
        self._place_at = math.inf  # when placement must run again (a retry, a pace, ...)
        self._live_key: frozenset[tuple[str, int, bool]] | None = None
        self._sweep_at = 0.0
        self._gauge_at = 0.0
        self.lagging = 0  # late ticks (by LAG_LIMIT): no session was opened on them
        self.fences = 0
        self.failovers = 0

    def __repr__(self) -> str:
        return (f"<Gateway {self.name} held={len(self._sessions)} fenced={self._fenced} "
                f"draining={self._draining}>")

    # -- what others read --------------------------------------------------------------------

    @property
    def held(self) -> frozenset[str]:
        """The registration ids whose sessions this process holds (live and claimed)."""
        return frozenset(self._sessions)

    @property
    def fenced(self) -> bool:
        """True while this process is fenced (holds no session, claims nothing)."""
        return self._fenced

    @property
    def draining(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._draining

    def health(self) -> list[str]:
        """What is wrong, for ``/healthz``: [] when healthy. Each held session's problem
        (reconnecting or silent for longer than ``health_timeout``), and ``fenced`` or ``NATS
        disconnected``. Never a secret."""
        problems: list[str] = []
        if self._fenced:
            problems.append("fenced: this process could not renew its lease")
        nc = self._nc
        if nc is not None and not nc.is_connected:
            problems.append("NATS disconnected")
        now = asyncio.get_running_loop().time()
        for session in list(self._sessions.values()):
            problem = session.bridge.health(now)
            if problem is not None:
                problems.append(problem)
        return problems

    def stop(self) -> None:
        """Begin the drain (what SIGTERM does); :meth:`run` returns once it is over."""
        self._stop.set()

    # -- the run -----------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until :meth:`stop` and the drain that follows; returns the exit code (0 after a
        drain, 1 when NATS cannot be used at start, 2 when the name is held by a live
        process)."""
        try:
            try:
                await self._setup()
            except LeaseTakenError as exc:
                log.error("gateway %s: %s", self.name, exc)
                return EXIT_NAME_TAKEN
            except _START_ERRORS as exc:
                log.error("gateway %s: cannot start: %s", self.name,
                          str(exc) or type(exc).__name__)
                return EXIT_NATS
            log.info("gateway %s: started (capacity %d)", self.name, self.config.capacity)
            ticker = asyncio.create_task(self._tick_loop(), name="slack-rtm-gateway-tick")
            try:
                await self._stop.wait()
                await self._drain()
            finally:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
            log.info("gateway %s: drained, exiting", self.name)
            return EXIT_DRAINED
        finally:
            await self._teardown()

    async def _setup(self) -> None:
        config = self.config
        key = GatewayKey(config.key)
        shown = _public_url(config.nats_url)

        async def on_disconnected() -> None:
            log.warning("gateway %s: NATS %s disconnected", self.name, shown)

        async def on_reconnected() -> None:
            log.info("gateway %s: NATS %s reconnected", self.name, shown)
            self._restart_watches()

        self._nc = await connect(config.nats_url, name=config.name, reconnect_time_wait=0.25,
                                 disconnected_cb=on_disconnected,
                                 reconnected_cb=on_reconnected, ping_interval=5,
                                 max_outstanding_pings=2)
        js = self._nc.jetstream()
        self._buckets = buckets = await open_buckets(js)
        self._publisher = EventPublisher(js, stream=config.stream,
                                         observe_latency=self.metrics.publish_latency.observe)
        await self._publisher.ensure_stream(max_age=config.max_age,
                                            duplicate_window=config.duplicate_window)
        self._registry = Registry(buckets.registrations, key)
        self._cursors = KvCursorStore(buckets.cursors)
        self._lease = OwnLease(buckets.processes, self.name, config.capacity, self._timings)
        await self._lease.acquire()
        self._started = time.monotonic()
        self._renewer = asyncio.create_task(self._renew_loop(), name="slack-rtm-gateway-lease")
        self._watches = self._make_watches(buckets)
        for follower in self._watches.all:
            await follower.start()
        if config.metrics_port is not None:
            self._health_server = HealthServer(
                self.metrics, self.health, host=config.metrics_host, port=config.metrics_port)
            self.metrics_port = await self._health_server.start()
            log.info("gateway %s: /metrics and /healthz on %s:%s", self.name,
                     config.metrics_host, self.metrics_port)

    def _make_watches(self, buckets: Buckets) -> _Watches:
        clock = time.monotonic

        def on_reg(key: str, value: bytes | None, revision: int) -> None:
            self._changed(key)
            if value is None:
                self._regs.pop(key, None)
                return
            try:
                reg = decode_registration(value)
            except ValueError:
                log.warning("registrations bucket: %r is not a registration; ignored", key)
                return
            self._regs[key] = (reg, revision)

        def on_regs_snapshot(keys: set[str]) -> None:
            for key in [k for k in self._regs if k not in keys]:
                del self._regs[key]
                self._changed(key)
            self._replace = True

        def on_assignment(key: str, value: bytes | None, revision: int) -> None:
            self._assignments.apply(key, value, revision, clock())
            self._changed(key)
            session = self._sessions.get(key)
            if session is not None and self._assignments.holder(key) != self.name:
                held = self._assignments.get(key)
                if held is not None and held.revision > session.revision:
                    self._close(key, "handed over to " + (held.assignment.holder or "nobody"),
                                handover=True)

        def on_process(key: str, value: bytes | None, revision: int) -> None:
            # A renewal is a revision: not a change for placement (the tick compares the set
            # of live processes, their capacities and drains).
            self._processes.apply(key, value, revision, clock())

        def after_snapshot(retain: Any) -> Any:
            def on_snapshot(keys: set[str]) -> None:
                retain(keys)
                self._sweep_at = 0.0  # a fresh snapshot: look at everything again
            return on_snapshot

        watches = _Watches(
            registrations=KvFollower(buckets.registrations, on_reg, on_regs_snapshot,
                                     name="registrations"),
            processes=KvFollower(buckets.processes, on_process,
                                 after_snapshot(self._processes.retain), name="processes"),
            assignments=KvFollower(buckets.assignments, on_assignment,
                                   after_snapshot(self._assignments.retain), name="assignments"),
        )
        watches.all = [watches.registrations, watches.processes, watches.assignments]
        return watches

    def _restart_watches(self) -> None:
        """Fresh watches (and snapshots) in the background; one restart at a time."""
        if self._watches is None or (self._restarting is not None
                                     and not self._restarting.done()):
            return

        async def restart(watches: _Watches) -> None:
            for follower in watches.all:
                await follower.restart()

        self._restarting = asyncio.create_task(restart(self._watches))

    async def _teardown(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        for task in self._opening.values():
            task.cancel()
        if self._opening:
            await asyncio.wait(list(self._opening.values()))
        for reg_id in list(self._sessions):
            self._close(reg_id, "process exiting")
        if self._closing:
            await asyncio.wait(list(self._closing))
        if self._restarting is not None:
            self._restarting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restarting
        if self._watches is not None:
            for follower in self._watches.all:
                await follower.stop()
        if self._health_server is not None:
            with contextlib.suppress(Exception):
                await self._health_server.stop()
        if self._publisher is not None:
            with contextlib.suppress(Exception):
                await self._publisher.aclose()
        if self._cursors is not None:
            await self._cursors.aclose()
        if self._nc is not None:
            with contextlib.suppress(*NATS_ERRORS):
                await asyncio.wait_for(self._nc.close(), 5.0)

    # -- the lease ---------------------------------------------------------------------------

    async def _renew_loop(self) -> None:
        # Its own task, at a fixed rate (not `every` after a renewal that itself took up to
        # `every`): two slow renewals in a row must not add up to a fence.
        every = self._timings.renew_every
        loop = asyncio.get_running_loop()
        at = loop.time()
        while True:
            at = max(at + every, loop.time() - every / 2)
            await asyncio.sleep(max(0.0, at - loop.time()))
            await self._renew_once()

    async def _renew_once(self) -> None:
        lease = self._lease
        assert lease is not None
        async with self._renew_lock:  # two renewals on one revision would look like a loss
            was_fenced = lease.fenced()
            losses = lease.losses
            ok = await lease.renew(held=len(self._sessions), draining=self._draining)
        if ok:
            self.metrics.lease_renewals.inc()
            assert lease.revision is not None
            self._expect = (lease.revision, time.monotonic() + 2 * self._timings.renew_every + 1)
            if was_fenced:
                # We could not see changes while cut off: nobody is judged dead on that time.
                self._processes.refresh(time.monotonic())
                self._restart_watches()
        if lease.losses != losses:
            self.metrics.lease_losses.inc()

    # -- reconciling -------------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        due = time.monotonic()
        while True:
            now = time.monotonic()
            try:
                self._tick(lagging=now - due > LAG_LIMIT)
            except Exception:  # a bug here must not end the process's care of its sessions
                log.exception("gateway %s: reconcile failed", self.name)
            await asyncio.sleep(TICK)
            due = now + TICK

    def _changed(self, reg_id: str) -> None:
        """A watch (or a session's end) changed ``reg_id``: look at it on the next tick."""
        if reg_id in self._sessions:
            self._check.add(reg_id)
        self._replace = True

    def _tick(self, *, lagging: bool = False) -> None:
        lease = self._lease
        assert lease is not None
        now = time.monotonic()
        if lease.fenced(now):
            if not self._fenced:
                self._fenced = True
                self.fences += 1
                log.warning("gateway %s: FENCED (no lease renewal for %.1f s): closing its %d "
                            "sessions", self.name, now - lease.last_ok, len(self._sessions))
                for task in self._opening.values():
                    task.cancel()
                for reg_id in list(self._sessions):
                    self._close(reg_id, "fenced", fence=True)
                self._gauge()
            return
        if self._fenced:
            self._fenced = False
            self._sweep_at = 0.0
            log.info("gateway %s: lease held again: no longer fenced", self.name)
        self._check_watch(now)
        sweep = now >= self._sweep_at
        if sweep:
            self._sweep_at = now + SWEEP_EVERY
            self._check.clear()
            self._check_held(list(self._sessions))
        elif self._check:
            check = list(self._check)
            self._check.clear()
            self._check_held(check)
        live = self._processes.live(now)
        live_key = frozenset((n, lease.capacity, lease.draining) for n, lease in live.items())
        if live_key != self._live_key:  # a process came, went (expired) or began draining
            self._live_key = live_key
            self._replace = True
        if lagging:
            self.lagging += 1  # the loop is saturated: open nothing now, try next tick
            self._place_at = min(self._place_at, now)
        elif not self._draining and (sweep or self._replace or now >= self._place_at):
            self._replace = False
            self._place_at = self._place(now)
        if now >= self._gauge_at:
            self._gauge()

    def _check_watch(self, now: float) -> None:
        expect = self._expect
        if expect is None:
            return
        seen = self._processes.revision(self.name)
        if seen is not None and seen >= expect[0]:
            self._expect = None
        elif now > expect[1]:
            log.warning("gateway %s: the watches fell behind; restarting them", self.name)
            self._expect = None
            self._restart_watches()

    def _check_held(self, reg_ids: list[str]) -> None:
        for reg_id in reg_ids:
            session = self._sessions.get(reg_id)
            if session is None:
                continue
            holder = self._assignments.holder(reg_id)
            held = self._assignments.get(reg_id)
            if reg_id not in self._regs:
                self._close(reg_id, "registration removed", release_it=True)
            elif holder != self.name and held is not None and held.revision > session.revision:
                self._close(reg_id, f"handed over to {holder or 'nobody'}", handover=True)
            elif session.bridge.done:
                error = session.bridge.error
                reason = f"ended by itself: {error}" if error is not None else "ended by itself"
                self._close(reg_id, reason)
                reg_rev = self._regs[reg_id][1]
                # Not again at this revision, from now on (the marker is written meanwhile).
                self._retries[reg_id] = _Retry(math.inf, _RETRY_MAX, reg_rev)
                self._spawn(self._mark_failed(reg_id, reg_rev, reason, session.revision))

    def _gauge(self) -> None:
        self._gauge_at = time.monotonic() + GAUGE_EVERY
        metrics = self.metrics
        counts: dict[str, int] = {"held": len(self._sessions), "opening": len(self._opening)}
        for session in self._sessions.values():
            state = str(session.bridge.client.state.value)
            if state in ("connecting", "connected", "reconnecting", "closing"):
                counts[state] = counts.get(state, 0) + 1
        metrics.set_sessions(counts)
        metrics.set_fenced(self._fenced)
        publisher = self._publisher
        if publisher is not None and publisher.published > self._published:
            metrics.events_published.inc(publisher.published - self._published)
            self._published = publisher.published

    def _eligible(self) -> list[str]:
        regs = []
        for reg_id, (_, reg_rev) in self._regs.items():
            held = self._assignments.get(reg_id)
            if held is not None and held.assignment.failed == reg_rev \
                    and not held.assignment.holder:
                continue  # failed for good at this revision
            retry = self._retries.get(reg_id)
            if retry is not None and retry.reg_revision != reg_rev:
                del self._retries[reg_id]
            regs.append(reg_id)
        return regs

    def _desired(self, regs: list[str], now: float) -> dict[str, str]:
        live = self._processes.live(now)
        candidates = {n: lease.capacity for n, lease in live.items() if not lease.draining}
        candidates[self.name] = self.config.capacity
        key = (frozenset(regs), frozenset(candidates.items()))
        if key != self._placement_key:
            self._placement = place(regs, candidates)
            self._placement_key = key
        return self._placement

    def _place(self, now: float) -> float:
        """Open what placement says is this process's (see the module docstring); returns
        when it must run again for a reason of time (a pace, a retry, a settling or orphan
        delay; ``inf``: only when something changes)."""
        wake = math.inf
        soon = now + TICK
        regs = self._eligible()
        desired = self._desired(regs, now)
        room = self.config.capacity - len(self._sessions) - len(self._opening)
        settle = 2 * self._timings.renew_every
        orphan_after = 2 * self._timings.expire_after
        seen_orphans: set[str] = set()
        for reg_id in regs:
            if room <= 0:
                break
            if reg_id in self._sessions or reg_id in self._opening:
                continue
            retry = self._retries.get(reg_id)
            if retry is not None and now < retry.at:
                wake = min(wake, retry.at)
                continue
            holder = self._assignments.holder(reg_id)
            if holder is None or holder == self.name:
                kind = "new"
            elif not self._processes.is_live(holder, now):
                kind = "takeover"
            else:
                lease = self._processes.lease(holder)
                kind = "takeover" if lease is not None and lease.draining else "live"
            since = now
            if kind != "live":
                seen_orphans.add(reg_id)
                since = self._orphans.setdefault(reg_id, now)
            if desired.get(reg_id) == self.name:
                if kind == "live":
                    held = self._assignments.get(reg_id)
                    if held is None:
                        continue
                    if now - held.changed < settle or now - self._started < settle:
                        wake = min(wake, max(held.changed, self._started) + settle)
                        continue
                    if not self._rebalance.take(now):
                        wake = soon
                        continue
                elif not self._takeover.take(now):
                    wake = soon
                    continue
            elif kind != "live":
                if now - since < orphan_after:
                    wake = min(wake, since + orphan_after)
                    continue
                if not self._takeover.take(now):
                    wake = soon
                    continue
                kind = "orphan"
            else:
                continue
            room -= 1
            self._open(reg_id, kind)
        for reg_id in [r for r in self._orphans if r not in seen_orphans]:
            del self._orphans[reg_id]
        return wake

    # -- opening and closing sessions --------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _open(self, reg_id: str, kind: str) -> None:
        reg, reg_rev = self._regs[reg_id]
        task = asyncio.create_task(self._open_session(reg, reg_rev, kind),
                                   name=f"slack-rtm-open-{reg_id}")
        self._opening[reg_id] = task

        def opened(_task: asyncio.Task[None]) -> None:
            self._opening.pop(reg_id, None)
            self._replace = True  # room, a retry's time, or a held session to look at

        task.add_done_callback(opened)

    async def _open_session(self, reg: Registration, reg_rev: int, kind: str) -> None:
        assert self._registry is not None
        assert self._buckets is not None
        assert self._publisher is not None
        assert self._cursors is not None
        assert self._nc is not None
        assert self._lease is not None
        reg_id = reg.id
        try:
            token, cookie = self._registry.secrets(reg)
        except ValueError as exc:  # GatewayKeyError: another key, or tampered with
            await self._mark_failed(reg_id, reg_rev, f"its secrets cannot be opened: {exc}",
                                    None)
            return
        bridge = SessionBridge(reg, token, cookie, nc=self._nc, publisher=self._publisher,
                               cursors=self._cursors, config=self.config,
                               metrics=self.metrics)
        del token, cookie
        kept = False
        try:
            try:
                await bridge.start(timeout=START_TIMEOUT)
            except SessionStartError as exc:
                if exc.fatal:
                    await self._mark_failed(reg_id, reg_rev, str(exc), None)
                else:
                    self._retry_later(reg_id, reg_rev, str(exc))
                return
            current = self._regs.get(reg_id)
            if self._lease.fenced() or self._draining or current is None \
                    or current[1] != reg_rev:
                return
            held = self._assignments.get(reg_id)
            last = None if held is None else held.revision
            mine = Assignment(holder=self.name, since=time.time())
            try:
                revision = await claim(self._buckets.assignments, reg_id, mine, last=last)
            except NATS_ERRORS as exc:
                self._retry_later(reg_id, reg_rev, f"claim failed: {type(exc).__name__}")
                return
            if revision is None:
                log.info("gateway %s: session %s: claim lost (someone else's now)",
                         self.name, reg_id)
                return
            self._assignments.note(reg_id, mine, revision, time.monotonic())
            if self._lease.fenced() or self._draining:
                # Claimed, but we may not hold it any more: give it back at once.
                self._spawn(release(self._buckets.assignments, reg_id, revision))
                return
            self._sessions[reg_id] = _Session(bridge, revision, reg_rev)
            bridge.add_done_callback(lambda: self._changed(reg_id))
            self._retries.pop(reg_id, None)
            self._orphans.pop(reg_id, None)
            kept = True
            if kind in ("takeover", "orphan") and held is not None and held.assignment.holder:
                self.failovers += 1
                self.metrics.failovers.inc()
            log.info("gateway %s: holds session %s (%s%s)", self.name, reg_id, kind,
                     f" from {held.assignment.holder}" if held is not None
                     and held.assignment.holder else "")
        finally:
            if not kept:
                await asyncio.shield(bridge.stop())

    def _retry_later(self, reg_id: str, reg_rev: int, reason: str) -> None:
        old = self._retries.get(reg_id)
        delay = _RETRY_FIRST if old is None else min(_RETRY_MAX, old.delay * 2)
        self._retries[reg_id] = _Retry(time.monotonic() + delay, delay, reg_rev)
        log.warning("gateway %s: session %s did not start (%s); next try in %.0f s",
                    self.name, reg_id, reason, delay)

    async def _mark_failed(self, reg_id: str, reg_rev: int, reason: str,
                           last: int | None) -> None:
        """Write the ``failed`` marker (logged once): nobody opens it again until the
        registration changes."""
        assert self._buckets is not None
        log.error("gateway %s: session %s failed for good: %s (it will be tried again when "
                  "the registration changes)", self.name, reg_id, reason)
        self._retries[reg_id] = _Retry(math.inf, _RETRY_MAX, reg_rev)
        if last is None:
            held = self._assignments.get(reg_id)
            last = None if held is None else held.revision
        marker = Assignment(holder="", since=time.time(), failed=reg_rev)
        with contextlib.suppress(*NATS_ERRORS):
            revision = await claim(self._buckets.assignments, reg_id, marker, last=last)
            if revision is not None:
                self._assignments.note(reg_id, marker, revision, time.monotonic())

    def _close(self, reg_id: str, why: str, *, fence: bool = False,
               release_it: bool = False, handover: bool = False) -> None:
        session = self._sessions.pop(reg_id, None)
        if session is None:
            return
        self._replace = True  # room for another
        if handover:
            self.metrics.handovers.inc()
        log.info("gateway %s: closing session %s (%s)", self.name, reg_id, why)
        self._released.set()
        self._spawn(self._close_session(reg_id, session, fence=fence, release_it=release_it))

    async def _close_session(self, reg_id: str, session: _Session, *, fence: bool,
                             release_it: bool) -> None:
        bridge = session.bridge
        if fence:
            # The socket goes first and at once; the bridge's own stop (which waits for sends
            # in flight and for publishes to be acknowledged) follows.
            with contextlib.suppress(Exception):
                await bridge.client.close()
        try:
            await bridge.stop()
        except Exception:
            log.exception("gateway %s: closing session %s failed", self.name, reg_id)
        if release_it and self._buckets is not None:
            await release(self._buckets.assignments, reg_id, session.revision)

    # -- the drain ---------------------------------------------------------------------------

    async def _drain(self) -> None:
        self._draining = True
        for task in self._opening.values():
            task.cancel()
        await self._renew_once()  # tell the others: draining, take my sessions
        now = time.monotonic()
        others = [n for n, lease in self._processes.live(now).items()
                  if n != self.name and not lease.draining]
        if self._sessions and others and not self._fenced:
            log.info("gateway %s: draining %d sessions to %s", self.name, len(self._sessions),
                     ", ".join(sorted(others)))
            deadline = now + self.config.drain_timeout
            while self._sessions and not self._fenced:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._released.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._released.wait(), min(remaining, TICK))
        if self._sessions:
            log.info("gateway %s: closing %d sessions nobody took", self.name,
                     len(self._sessions))
        for reg_id in list(self._sessions):
            self._close(reg_id, "drain", release_it=True)
        if self._opening:
            await asyncio.wait(list(self._opening.values()))
        if self._closing:
            await asyncio.wait(list(self._closing))
        assert self._lease is not None
        await self._lease.release()


async def serve(config: GatewayConfig) -> int:
    """Run a :class:`Gateway` until SIGTERM or SIGINT, which begin its drain; returns the exit
    code (0 after a drain).

    Raises:
        TypeError: ``config`` is not a :class:`~.config.GatewayConfig`.
    """
    gateway = Gateway(config)
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, gateway.stop)
            installed.append(sig)
    try:
        return await gateway.run()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)

