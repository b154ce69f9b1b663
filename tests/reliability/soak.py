"""The chaos soak: a bot that sends and receives continuously while faults rain on it.

:func:`run_soak` starts the emulator, puts the chaos proxy in front of it, connects an
:class:`~slack_rtm.aio.RtmClient` through the proxy and, for ``seconds``:

- a **sender** fires ``send_message`` about ten times a second, each in its own task, and
  records how each one ended;
- a **poster** injects a ``message`` event for the bot about every 20 ms, recording when and
  whether it reached one of the bot's sockets;
- a **chaos monkey** injects a random fault every 0.4-1.5 s, from the network (reset, FIN,
  black hole, latency, throttle, refused connections) or from the emulator (abrupt drop, close
  frame, ``goodbye``, team migration, 429 or 5xx on the next ``rtm.connect``).

Then it stops the faults, heals everything, keeps the traffic going for a quiet second once the
session is back, closes the bot and checks, in :class:`SoakReport`:

- every send resolved exactly once (an ack or a clear error), none left pending, none
  delivered twice to the server, every acked one received by the server exactly once;
- no event delivered twice to the handler; per-channel order kept for what was delivered;
- every event that reached one of the bot's sockets delivered, unless the bot lost that socket
  within the time a dead link takes to be noticed (``LOSS_WINDOW``), or it was posted while the
  bot had no live socket (between a ``disconnected`` and the next ``connected``): behind a
  black hole the emulator still holds the socket the bot gave up, so such an event "reaches" a
  socket nobody reads. RTM never replays those (catch-up does: ``tests/aio/test_catch_up.py``);
- no task, thread or file descriptor leaked; RSS growth under a bound.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from slack_rtm import Backoff
from slack_rtm.aio import RtmClient
from slack_rtm.emulator import Emulator
from slack_rtm.errors import (
    ConnectionClosedError,
    SendOutcomeUnknownError,
    SendQueueFullError,
)
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.events import Connected, Disconnected, Event, Message, Reconnecting
from slack_rtm.session.state import State

from .chaos import ChaosProxy

__all__ = ["SoakReport", "run_soak"]

PING_INTERVAL = 0.3
PING_TIMEOUT = 0.6
# An event that reached a socket must be delivered unless the bot lost that socket soon after:
# within the time a dead link takes to be noticed, plus a margin.
LOSS_WINDOW = PING_INTERVAL + PING_TIMEOUT + 0.4
# Seconds of traffic without faults at the end, once the session is back.
QUIET = 1.0
# Outcomes a send may have besides an ack (each is a clear, typed answer).
ALLOWED_SEND_ERRORS = (SendOutcomeUnknownError, SendQueueFullError, ConnectionClosedError)


@dataclass
class SoakReport:
    """What happened, and what went wrong (``problems`` is empty on success)."""

    seconds: float = 0.0
    seed: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0
    connect_calls: int = 0
    sends: int = 0
    acked: int = 0
    send_errors: dict[str, int] = field(default_factory=dict)
    events_posted: int = 0
    events_reached_socket: int = 0
    events_required: int = 0
    events_delivered: int = 0
    rss_start_mb: float | None = None
    rss_end_mb: float | None = None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _fd_count() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


@dataclass
class _Posted:
    at: float
    ts: str
    reached: int


class _Soak:
    def __init__(self, emu: Emulator, proxy: ChaosProxy, rtm: RtmClient, seed: int) -> None:
        self.emu = emu
        self.proxy = proxy
        self.rtm = rtm
        self.rng = random.Random(seed)
        self.report = SoakReport(seed=seed)
        self.outcomes: dict[str, list[str]] = {}
        self.send_tasks: list[asyncio.Task[None]] = []
        self.posted: dict[str, _Posted] = {}
        self.delivered: list[tuple[str, str, str]] = []  # (channel, ts, text)
        self.disconnects: list[float] = []
        self.connects: list[float] = []
        self.faults: Counter[str] = Counter()
        self.stop = asyncio.Event()  # ends the sender and the poster
        self.chaos_stop = asyncio.Event()  # ends the monkey
        rtm.on("*")(self.on_event)

    def on_event(self, event: Event) -> None:
        if isinstance(event, Message) and event.text is not None and event.text.startswith("p"):
            self.delivered.append((event.channel or "", event.ts or "", event.text))
        elif isinstance(event, Reconnecting):
            self.report.reconnects += 1
        elif isinstance(event, Disconnected):
            self.disconnects.append(time.monotonic())
        elif isinstance(event, Connected):
            self.connects.append(time.monotonic())

    # -- the three actors --------------------------------------------------------------------

    async def sender(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            text = f"s{n}"
            self.send_tasks.append(asyncio.create_task(self.send_one(text)))
            await asyncio.sleep(0.1)

    async def send_one(self, text: str) -> None:
        try:
            ack = await self.rtm.send_message(self.emu.general_channel_id, text)
        except ALLOWED_SEND_ERRORS as exc:
            outcome = type(exc).__name__
        except Exception as exc:  # an untyped or unexpected error is a finding
            outcome = f"UNEXPECTED {exc!r}"
        else:
            outcome = "ack" if ack.ok else f"refused {ack.error!r}"
        self.outcomes.setdefault(text, []).append(outcome)

    async def poster(self) -> None:
        n = 0
        channel = self.emu.general_channel_id
        person = next(iter(self.emu.user_tokens))
        while not self.stop.is_set():
            n += 1
            text = f"p{n}"
            ts = self.emu.next_ts()
            event = {"type": "message", "channel": channel, "user": person, "text": text, "ts": ts}
            reached = await self.emu.inject_event(event, user_id=self.emu.bot_user_id)
            self.posted[text] = _Posted(time.monotonic(), ts, reached)
            await asyncio.sleep(0.02)

    async def monkey(self) -> None:
        faults = [
            "reset", "fin", "blackhole", "latency", "throttle", "refuse", "drop_abrupt",
            "drop_close", "goodbye", "migration", "rate_limited", "server_error",
        ]  # fmt: skip
        while not self.chaos_stop.is_set():
            await asyncio.sleep(self.rng.uniform(0.4, 1.5))
            if self.chaos_stop.is_set():
                return
            fault = self.rng.choice(faults)
            await self.inject(fault)
            self.faults[fault] += 1

    async def inject(self, fault: str) -> None:
        proxy, emu, rng = self.proxy, self.emu, self.rng
        if fault in ("reset", "fin"):
            await proxy.cut("reset" if fault == "reset" else "fin")
        elif fault == "blackhole":
            proxy.blackhole(rng.choice(["up", "down", "both"]))
            await asyncio.sleep(rng.uniform(0.3, 1.2))
            proxy.heal()
        elif fault == "latency":
            proxy.set_latency(rng.uniform(0, 0.2), rng.uniform(0, 0.2))
            await asyncio.sleep(rng.uniform(0.3, 1.0))
            proxy.set_latency()
        elif fault == "throttle":
            proxy.throttle(rng.choice([2_000, 20_000]))
            await asyncio.sleep(rng.uniform(0.3, 1.0))
            proxy.throttle(None)
        elif fault == "refuse":
            await proxy.refuse(for_seconds=rng.uniform(0.2, 0.8))
            await proxy.cut("reset")
            await asyncio.sleep(0.8)
            await proxy.accept()
        elif fault == "drop_abrupt":
            await emu.drop_connections(abrupt=True)
        elif fault == "drop_close":
            await emu.drop_connections(abrupt=False)
        elif fault == "goodbye":
            await emu.send_goodbye(close_after=0.3)
        elif fault == "migration":
            await emu.start_migration(duration=rng.uniform(0.2, 0.6))
        elif fault == "rate_limited":
            emu.rate_limit_next_connects(1, retry_after=1)
            await emu.drop_connections(abrupt=True)
        elif fault == "server_error":
            emu.fail_next_connects(1, error="internal_error", status=503)
            await emu.drop_connections(abrupt=True)

    # -- the verdict -------------------------------------------------------------------------

    def lost_socket_soon_after(self, at: float) -> bool:
        return any(at - 0.05 <= when <= at + LOSS_WINDOW for when in self.disconnects)

    def had_no_live_socket(self, at: float) -> bool:
        """True when ``at`` falls between a ``disconnected`` and the next ``connected`` (plus
        the handlers' lag): the bot had no socket it read."""
        for lost in self.disconnects:
            if lost <= at:
                back = min((c for c in self.connects if c > lost), default=float("inf"))
                if at <= back + 0.05:
                    return True
        return False

    def check(self) -> None:
        report, problems = self.report, self.report.problems
        report.faults = dict(self.faults)
        report.connect_calls = self.emu.connect_calls
        # Sends: exactly one outcome each, never twice on the wire, acked ones on the wire once.
        report.sends = len(self.outcomes)
        errors: Counter[str] = Counter()
        wire = Counter(
            f.data.get("text")
            for f in self.emu.received
            if f.data is not None and f.data.get("type") == "message"
        )
        for text, outcomes in self.outcomes.items():
            if len(outcomes) != 1:
                problems.append(f"send {text} resolved {len(outcomes)} times: {outcomes}")
                continue
            outcome = outcomes[0]
            if outcome == "ack":
                report.acked += 1
                if wire[text] != 1:
                    problems.append(f"acked send {text} reached the server {wire[text]} times")
            else:
                errors[outcome] += 1
                if outcome.startswith(("UNEXPECTED", "refused")):
                    problems.append(f"send {text}: {outcome}")
            if wire[text] > 1:
                problems.append(f"send {text} was written {wire[text]} times")
        report.send_errors = dict(errors)
        # Events: no duplicate, order kept per channel, none lost outside fault windows.
        report.events_posted = len(self.posted)
        report.events_delivered = len(self.delivered)
        keys = Counter((channel, ts) for channel, ts, _ in self.delivered)
        duplicates = [key for key, count in keys.items() if count > 1]
        if duplicates:
            problems.append(f"{len(duplicates)} events delivered twice, e.g. {duplicates[:3]}")
        last: dict[str, float] = {}
        for channel, ts, text in self.delivered:
            if float(ts) < last.get(channel, 0.0):
                problems.append(f"event {text} ({ts}) delivered out of order in {channel}")
            last[channel] = max(last.get(channel, 0.0), float(ts))
        delivered_texts = {text for _, _, text in self.delivered}
        lost = []
        for text, posted in self.posted.items():
            if posted.reached:
                report.events_reached_socket += 1
                if not (self.lost_socket_soon_after(posted.at)
                        or self.had_no_live_socket(posted.at)):
                    report.events_required += 1
                    if text not in delivered_texts:
                        lost.append(text)
        if lost:
            problems.append(f"{len(lost)} events sent while connected were lost, e.g. {lost[:5]}")


async def run_soak(
    seconds: float, seed: int | None = None, rss_bound_mb: float = 50.0
) -> SoakReport:
    """Run the soak for ``seconds`` and return the report (``report.problems`` lists failures)."""
    seed = random.randrange(2**32) if seed is None else seed
    tasks_before = asyncio.all_tasks()
    threads_before = threading.active_count()
    fds_before = _fd_count()
    started = time.monotonic()
    async with Emulator(write_rate=None) as emu, ChaosProxy("127.0.0.1", emu.port) as proxy:
        config = SessionConfig(
            ping_interval=PING_INTERVAL,
            ping_timeout=PING_TIMEOUT,
            backoff=Backoff(0.02, 0.2),
            migration_delay=0.1,
            reply_grace=0.5,
            reply_timeout=3.0,
            send_rate=20.0,
            send_burst=10,
        )
        rtm = RtmClient(emu.bot_token, base_url=proxy.url("/api"), config=config, timeout=2.0)
        soak = _Soak(emu, proxy, rtm, seed)
        await rtm.connect()
        soak.report.rss_start_mb = _rss_mb()
        traffic = [asyncio.create_task(a()) for a in (soak.sender, soak.poster)]
        monkey = asyncio.create_task(soak.monkey())
        await asyncio.sleep(seconds)
        soak.chaos_stop.set()
        await monkey
        # Heal and let the session settle; traffic goes on for a quiet second.
        proxy.heal()
        proxy.set_latency()
        proxy.throttle(None)
        await proxy.accept()
        deadline = time.monotonic() + 10.0
        while rtm.state is not State.CONNECTED and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if rtm.state is not State.CONNECTED:
            soak.report.problems.append(f"not reconnected after the faults: {rtm.state}")
        await asyncio.sleep(QUIET)
        soak.stop.set()
        await asyncio.gather(*traffic)
        # Wait for every send to resolve.
        if soak.send_tasks:
            _, pending = await asyncio.wait(soak.send_tasks, timeout=10.0)
            if pending:
                soak.report.problems.append(f"{len(pending)} sends still pending at the end")
                for task in pending:
                    task.cancel()
        await asyncio.sleep(0.3)  # the last events in flight
        close_started = time.monotonic()
        await rtm.close()
        if time.monotonic() - close_started > 3.0:
            soak.report.problems.append("close() took more than 3 s")
        soak.report.rss_end_mb = _rss_mb()
        soak.check()
    report = soak.report
    report.seconds = round(time.monotonic() - started, 2)
    await asyncio.sleep(0.1)
    leaked = asyncio.all_tasks() - tasks_before
    if leaked:
        names = sorted(t.get_name() for t in leaked)
        report.problems.append(f"{len(leaked)} tasks leaked: {names}")
    if threading.active_count() > threads_before:
        report.problems.append(f"threads: {threads_before} -> {threading.active_count()}")
    fds_after = _fd_count()
    if fds_before is not None and fds_after is not None and fds_after > fds_before + 2:
        report.problems.append(f"file descriptors: {fds_before} -> {fds_after}")
    start_mb, end_mb = report.rss_start_mb, report.rss_end_mb
    if start_mb is not None and end_mb is not None and end_mb - start_mb > rss_bound_mb:
        report.problems.append(f"RSS grew {end_mb - start_mb:.1f} MB (bound {rss_bound_mb})")
    return report
