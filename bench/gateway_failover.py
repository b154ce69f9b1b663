"""The gateway's fail-over and drain, measured: ``kill -9`` of a holder, then a SIGTERM drain.

Usage::

    python bench/gateway_failover.py                  # N = 1,000 sessions
    python bench/gateway_failover.py --quick          # N = 50 (the smoke run)
    python bench/gateway_failover.py --n 1000 --takeover-rate 50 --json out.json

One emulator (in this process: a workspace of N people, each a user token, in channels of
:data:`GROUP` people plus the bot, which posts), one nats-server
(:class:`~slack_rtm.gateway.natsd.NatsServer`), N registrations (through
:class:`~slack_rtm.gateway.registry.Registry`), and gateway processes run as users run them
(``slack-rtm gateway`` with the default lease timings; ``--takeover-rate`` passed only when
given here).

(a) **Fail-over.** Two processes; once every registration is held where placement puts it,
    a message is posted in each of :data:`CHANNELS` channels that have sessions on the process
    holding more (and left 2.5 s for the cursors to be saved), then that process is killed
    (SIGKILL). During the gap the bot posts :data:`GAP_POSTS` messages in each of those
    channels. For every session the victim held: the time from the kill to the survivor's new
    live socket of its token (the emulator's sockets, polled every 20 ms) and to the
    survivor's claim in the assignments bucket (a KV watch): p50 / p99 / max. Messages lost:
    every (registration, posted message) pair of a member that is not on the stream; duplicates:
    a pair stored twice. Overlaps: the emulator's ``token_overlaps`` of the victim's tokens
    from the kill on (a crash must give none).
(b) **Drain.** A fresh process joins (its share moves to it make-before-break, at
    ``--join-connect-rate``: the bench's own setting, to keep the run short), then the process
    holding more gets SIGTERM while the bot posts in every channel every 20 ms: the drain time
    (SIGTERM to exit 0), and every message posted from 0.3 s before the SIGTERM to 0.3 s after
    the exit checked on the stream, once per member registration (lost / duplicated), and the
    hand-overs' overlaps (count, longest).

Targets (issue 15): fail-over p99 <= 20 s with 0 lost and 0 overlaps; drain <= 5 s, 0 lost,
0 duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import nats
import nats.js.errors
from nats.js import api as js_api

from slack_rtm.emulator import Emulator
from slack_rtm.emulator.workspace import Workspace
from slack_rtm.gateway.contract import (
    ASSIGNMENTS_BUCKET,
    HEADER_SESSION,
    PROCESSES_BUCKET,
    STREAM,
    Assignment,
    Registration,
    event_subject,
)
from slack_rtm.gateway.kv import open_buckets
from slack_rtm.gateway.natsd import NatsServer
from slack_rtm.gateway.placement import place
from slack_rtm.gateway.registry import Registry
from slack_rtm.gateway.secrets import GatewayKey

GROUP = 10
"""People per channel (each channel: GROUP people and the bot)."""

CHANNELS = 5
"""Channels posted in around the kill (each with sessions on the victim)."""

GAP_POSTS = 4
"""Messages the bot posts in each of those channels during the gap."""

_assignment = msgspec.json.Decoder(Assignment)


def _pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of ``values`` (not empty)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "p50": statistics.median(values),
        "p99": _pct(values, 0.99),
        "max": max(values),
        "count": len(values),
    }


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (Linux /proc), 0.0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Proc:
    """One ``slack-rtm gateway`` process (the CLI), its log in a file."""

    def __init__(
        self,
        name: str,
        nats_url: str,
        key: str,
        api_url: str,
        log_dir: Path,
        options: dict[str, object],
    ) -> None:
        self.name = name
        profile = os.environ.get("GW_BENCH_PROFILE")  # a directory: each process's cProfile
        prefix = ["-m", "cProfile", "-o", f"{profile}/{name}.prof"] if profile else []
        argv = [
            sys.executable,
            *prefix,
            "-m",
            "slack_rtm",
            "gateway",
            "--nats",
            nats_url,
            "--name",
            name,
            "--api-url",
            api_url,
            "--log-level",
            "warning",
        ]
        for option, value in options.items():
            argv += [f"--{option.replace('_', '-')}", str(value)]
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in close()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "SLACK_RTM_GATEWAY_KEY": key}
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-1500:]

    async def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not exit within {timeout} s")
            await asyncio.sleep(0.01)
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


class Assignments:
    """The assignments bucket followed by a watch: holder and when it last changed, by key."""

    def __init__(self) -> None:
        self.holder: dict[str, str] = {}
        self.changed: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._watcher: Any = None

    async def start(self, js: Any) -> None:
        kv = await js.key_value(ASSIGNMENTS_BUCKET)
        self._watcher = await kv.watchall()
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            entry = await self._watcher.updates(timeout=None)
            if entry is None:
                continue
            now = time.monotonic()
            key = entry.key
            if entry.operation in ("DEL", "PURGE"):
                self.holder.pop(key, None)
            else:
                with contextlib.suppress(msgspec.DecodeError):
                    holder = _assignment.decode(entry.value or b"").holder
                    if holder:
                        self.holder[key] = holder
                    else:
                        self.holder.pop(key, None)
            self.changed[key] = now

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()

    def count(self) -> Counter[str]:
        return Counter(self.holder.values())


async def until(check: Any, timeout: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(step)


async def stream_pairs(js: Any, team: str, posted: set[str]) -> Counter[tuple[str, str]]:
    """(registration id, ts) of every stored ``message`` whose ts is in ``posted``, counted."""
    subject = event_subject(team, "message")
    got: Counter[tuple[str, str]] = Counter()
    try:
        info = await js.stream_info(STREAM, subjects_filter=subject)
    except nats.js.errors.NotFoundError:
        return got
    total = (info.state.subjects or {}).get(subject, 0)
    if not total:
        return got
    done = asyncio.get_running_loop().create_future()
    seen = 0

    async def take(msg: Any) -> None:
        nonlocal seen
        seen += 1
        ts = msgspec.json.decode(msg.data or b"{}").get("ts")
        if ts in posted:
            got[((msg.headers or {}).get(HEADER_SESSION, ""), ts)] += 1
        if msg.metadata.num_pending == 0 and not done.done():
            done.set_result(None)

    sub = await js.subscribe(
        subject,
        stream=STREAM,
        cb=take,
        ordered_consumer=True,
        deliver_policy=js_api.DeliverPolicy.ALL,
    )
    try:
        await asyncio.wait_for(done, 60)
    finally:
        await sub.unsubscribe()
    return got


def check_stream(got: Counter[tuple[str, str]], expected: set[tuple[str, str]]) -> dict[str, int]:
    lost = len(expected - set(got))
    duplicated = sum(n - 1 for pair, n in got.items() if pair in expected and n > 1)
    return {"expected": len(expected), "lost": lost, "duplicated": duplicated}


class Bench:
    """The world: emulator, nats-server, registrations, gateway processes."""

    def __init__(self, n: int, options: dict[str, object], join_rate: float, log_dir: Path) -> None:
        self.n = n
        self.options = options
        self.join_rate = join_rate
        self.log_dir = log_dir
        ws = Workspace()
        self.bot = ws.add_user("rtmbot", bot=True)
        people = [ws.add_user(f"p{i}") for i in range(n)]
        self.channels: dict[str, list[str]] = {}  # channel id -> member user ids (people)
        for g in range(0, n, GROUP):
            members = [p.id for p in people[g : g + GROUP]]
            ch = ws.add_channel(f"team-{g // GROUP}", [self.bot.id, *members])
            self.channels[ch.id] = members
        self.workspace = ws
        self.emu = Emulator(ws, write_rate=None, reconnect_url_interval=None)
        self.key = GatewayKey.generate()
        self.procs: dict[str, Proc] = {}
        self.reg_of_user: dict[str, str] = {}
        self.user_of_reg: dict[str, str] = {}

    def start_proc(self, name: str, **extra: object) -> Proc:
        proc = Proc(
            name,
            self.natsd.url,
            self.key,
            self.emu.api_url,
            self.log_dir,
            {**self.options, **extra},
        )
        self.procs[name] = proc
        return proc

    async def register(self, nc: Any) -> list[Registration]:
        buckets = await open_buckets(nc.jetstream())
        registry = Registry(buckets.registrations, GatewayKey.from_base64(self.key))
        tokens = list(self.emu.user_tokens.values())
        regs: list[Registration] = []
        for i in range(0, len(tokens), 50):
            regs += await asyncio.gather(
                *(registry.register(t, None, api_url=self.emu.api_url) for t in tokens[i : i + 50])
            )
        for reg in regs:
            self.reg_of_user[reg.user_id] = reg.id
            self.user_of_reg[reg.id] = reg.user_id
        return regs

    def expected(self, posts: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """(registration, ts) for each member of the channel of each (channel, ts) posted."""
        return {(self.reg_of_user[u], ts) for ch, ts in posts for u in self.channels[ch]}

    async def post(self, channel: str, text: str) -> tuple[str, str]:
        return channel, await self.emu.post_message(self.bot.id, channel, text)

    def split_name(self, taken: list[str], regs: set[str], prefix: str) -> str:
        """A process name that placement gives a fair share (30-70%) of ``regs``."""
        for i in range(200):
            name = f"{prefix}{i}"
            spots = place(regs, {p: 10_000 for p in [*taken, name]})
            share = sum(1 for v in spots.values() if v == name) / len(regs)
            if 0.8 / (len(taken) + 1) <= share <= 1.2 / (len(taken) + 1):
                return name
        return f"{prefix}0"


async def failover(
    b: Bench, js: Any, watch: Assignments, regs: set[str], log: Any, one_holder: bool
) -> tuple[dict[str, Any], str]:
    a = b.start_proc("gw-a")
    t0 = time.monotonic()
    if one_holder:
        # The victim holds every session: the survivor joins just before the kill.
        await until(lambda: len(watch.holder) == len(regs), 120 + b.n / 5, "gw-a holding all")
        log(f"failover: {b.n} sessions held by gw-a in {time.monotonic() - t0:.1f} s")
        chans = list(b.channels)[:CHANNELS]
        before = [await b.post(ch, "before") for ch in chans]
        await asyncio.sleep(2.5)  # cursors are saved at least every 2 s
        c = b.start_proc(b.split_name(["gw-a"], regs, "gw-b"))
        processes = await js.key_value(PROCESSES_BUCKET)

        async def joined() -> bool:
            try:
                await processes.get(c.name)
            except nats.js.errors.KeyNotFoundError:
                return False
            return True

        deadline = time.monotonic() + 30
        while not await joined():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{c.name} did not start")
            await asyncio.sleep(0.02)
        victim_name, survivor_name = a.name, c.name
    else:
        c = b.start_proc(b.split_name(["gw-a"], regs, "gw-b"))
        names = [a.name, c.name]
        want = place(regs, {n: 10_000 for n in names})
        await until(lambda: watch.holder == want, 120 + b.n / 5, "the first placement")
        log(
            f"failover: {b.n} sessions held as placed in {time.monotonic() - t0:.1f} s "
            f"({dict(watch.count())})"
        )
        counts = watch.count()
        victim_name = max(names, key=lambda n: counts[n])
        survivor_name = next(n for n in names if n != victim_name)
        victims = {b.user_of_reg[r] for r, h in watch.holder.items() if h == victim_name}
        chans = [ch for ch, members in b.channels.items() if set(members) & victims][:CHANNELS]
        before = [await b.post(ch, "before") for ch in chans]
        await asyncio.sleep(2.5)  # cursors are saved at least every 2 s
    victim_regs = {r for r, h in watch.holder.items() if h == victim_name}
    victim_users = {b.user_of_reg[r] for r in victim_regs}
    overlaps_before = len(b.emu.token_overlaps)
    keys = {f"xoxp:{u}": b.reg_of_user[u] for u in victim_users}
    gone_at: dict[str, float] = {}
    back_at: dict[str, float] = {}
    connects_before = b.emu.connect_calls
    victim = b.procs[victim_name]
    victim.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    await victim.wait(10)

    async def poll_sockets() -> None:
        while len(back_at) < len(keys):
            now = time.monotonic()
            live = b.emu.live_sockets_by_token()
            for key, reg in keys.items():
                if reg in back_at:
                    continue
                if not live.get(key):
                    gone_at.setdefault(reg, now)
                elif reg in gone_at:
                    back_at[reg] = now
            await asyncio.sleep(0.02)

    poller = asyncio.ensure_future(poll_sockets())
    gap: list[tuple[str, str]] = []
    for i in range(GAP_POSTS):
        for ch in chans:
            gap.append(await b.post(ch, f"gap {i}"))
        await asyncio.sleep(0.5)
    try:
        await until(
            lambda: all(watch.holder.get(r) == survivor_name for r in regs),
            60 + b.n / 10,
            "the survivor holding every session",
        )
        await asyncio.wait_for(poller, 10)
    finally:
        poller.cancel()
    held_s = [watch.changed[r] - killed for r in victim_regs]
    socket_s = [back_at[r] - killed for r in victim_regs if r in back_at]
    log(f"failover: all held by {survivor_name} after {max(held_s):.1f} s")
    expected = b.expected(before + gap)
    posted = {ts for _, ts in before + gap}

    async def complete() -> Counter[tuple[str, str]]:
        deadline = time.monotonic() + 20
        while True:
            got = await stream_pairs(js, b.workspace.team.id, posted)
            if expected <= set(got) or time.monotonic() > deadline:
                return got
            await asyncio.sleep(0.5)

    stream = check_stream(await complete(), expected)
    new_overlaps = b.emu.token_overlaps[overlaps_before:]
    result = {
        "status": "ok",
        "sessions": b.n,
        "victim_sessions": len(victim_regs),
        "held_again_s": _stats(held_s),
        "socket_again_s": _stats(socket_s),
        "sockets_gone_s": _stats([gone_at[r] - killed for r in gone_at]),
        "rtm_connect_calls": b.emu.connect_calls - connects_before,
        "messages": stream,
        "victim_overlaps": sum(1 for o in new_overlaps if o.user_id in victim_users),
        "overlaps": len(new_overlaps),
        "options": b.options,
    }
    return result, survivor_name


async def drain(
    b: Bench, js: Any, watch: Assignments, regs: set[str], survivor: str, log: Any
) -> dict[str, Any]:
    joiner = b.start_proc(b.split_name([survivor], regs, "gw-c"), connect_rate=b.join_rate)
    names = [survivor, joiner.name]
    want = place(regs, {n: 10_000 for n in names})
    t0 = time.monotonic()
    await until(lambda: watch.holder == want, 60 + b.n / b.join_rate * 2, "the join's placement")
    log(
        f"drain: {joiner.name} joined, placement reached in {time.monotonic() - t0:.1f} s "
        f"({dict(watch.count())})"
    )
    await asyncio.sleep(1.0)
    counts = watch.count()
    leaving = b.procs[max(names, key=lambda n: counts[n])]
    staying = next(n for n in names if n != leaving.name)
    leaving_regs = {r for r, h in watch.holder.items() if h == leaving.name}
    overlaps_before = len(b.emu.token_overlaps)
    stop = asyncio.Event()
    posts: list[tuple[str, float, tuple[str, str]]] = []
    chans = list(b.channels)

    async def poster() -> None:
        i = 0
        while not stop.is_set():
            ch = chans[i % len(chans)]
            posts.append((ch, time.monotonic(), await b.post(ch, f"drain {i}")))
            i += 1
            await asyncio.sleep(0.02)

    task = asyncio.ensure_future(poster())
    await asyncio.sleep(0.5)
    taker = b.procs[staying]
    cpu0 = {
        "leaving": cpu_seconds(leaving.proc.pid),
        "taker": cpu_seconds(taker.proc.pid),
        "emulator": time.process_time(),
    }
    sent = time.monotonic()
    leaving.proc.send_signal(signal.SIGTERM)
    last_cpu = cpu0["leaving"]
    while leaving.proc.poll() is None:
        last_cpu = cpu_seconds(leaving.proc.pid) or last_cpu
        if time.monotonic() - sent > 60:
            raise TimeoutError(f"{leaving.name} did not exit within 60 s")
        await asyncio.sleep(0.02)
    code = leaving.proc.returncode
    exited = time.monotonic()
    cpu = {
        "leaving": last_cpu - cpu0["leaving"],
        "taker": cpu_seconds(taker.proc.pid) - cpu0["taker"],
        "emulator_and_bench": time.process_time() - cpu0["emulator"],
    }
    await asyncio.sleep(0.3)
    stop.set()
    await task
    took = exited - sent
    log(f"drain: {leaving.name} ({len(leaving_regs)} sessions) exited {code} after {took:.2f} s")
    window = [p for _, at, p in posts if sent - 0.3 <= at <= exited + 0.3]
    expected = b.expected(window)
    posted = {ts for _, ts in window}
    deadline = time.monotonic() + 20
    while True:
        got = await stream_pairs(js, b.workspace.team.id, posted)
        if expected <= set(got) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    still = sum(1 for r in leaving_regs if watch.holder.get(r) == staying)
    claims = sorted(watch.changed[r] - sent for r in leaving_regs if r in watch.changed)
    overlaps = b.emu.token_overlaps[overlaps_before:]
    durations = [o.duration() for o in overlaps]
    return {
        "status": "ok" if code == 0 else "error",
        "error": "" if code == 0 else f"exit code {code}: {leaving.tail()}",
        "sessions": len(leaving_regs),
        "drain_s": took,
        "exit_code": code,
        "taken_by_other": still,
        "first_claim_s": claims[0] if claims else None,
        "last_claim_s": claims[-1] if claims else None,
        "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        "posted": len(window),
        "messages": check_stream(got, expected),
        "handover_overlaps": len(overlaps),
        "longest_overlap_s": max(durations) if durations else 0.0,
    }


async def main_async(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    n = args.n or (50 if args.quick else 1000)
    options: dict[str, object] = {}
    if args.takeover_rate is not None:
        options["takeover_rate"] = args.takeover_rate
    result: dict[str, Any] = {"n": n, "options": options, "one_holder": args.one_holder}
    with tempfile.TemporaryDirectory(prefix="gw-failover-") as tmp:
        b = Bench(n, options, args.join_connect_rate, Path(tmp))
        with NatsServer(Path(tmp) / "js") as natsd:
            b.natsd = natsd
            async with b.emu:
                nc = await nats.connect(natsd.url)
                watch = Assignments()
                try:
                    t0 = time.monotonic()
                    regs = {r.id for r in await b.register(nc)}
                    log(f"registered {n} logins in {time.monotonic() - t0:.1f} s")
                    js = nc.jetstream()
                    await open_buckets(js)
                    await watch.start(js)
                    try:
                        result["failover"], survivor = await failover(
                            b, js, watch, regs, log, args.one_holder
                        )
                    except Exception as exc:
                        result["failover"] = {
                            "status": "error",
                            "error": f"{type(exc).__name__}: {exc}",
                            "logs": {k: p.tail() for k, p in b.procs.items()},
                        }
                        return result
                    if not args.no_drain:
                        try:
                            result["drain"] = await drain(b, js, watch, regs, survivor, log)
                        except Exception as exc:
                            result["drain"] = {
                                "status": "error",
                                "error": f"{type(exc).__name__}: {exc}",
                                "logs": {k: p.tail() for k, p in b.procs.items()},
                            }
                finally:
                    for proc in b.procs.values():
                        if proc.proc.poll() is None:
                            proc.proc.send_signal(signal.SIGTERM)
                    for proc in b.procs.values():
                        with contextlib.suppress(TimeoutError):
                            await proc.wait(60)
                        proc.close()
                    await watch.stop()
                    await nc.close()
    return result


def report(result: dict[str, Any]) -> str:
    lines = [
        f"GATEWAY FAILOVER ({result.get('n')} sessions, "
        f"options {result.get('options') or 'defaults'})"
    ]
    f = result.get("failover", {})
    if f.get("status") == "ok":
        h, s, m = f["held_again_s"], f["socket_again_s"], f["messages"]
        lines.append(
            f"  kill -9   {f['victim_sessions']} sessions held again after p50 "
            f"{h['p50']:.1f} s, p99 {h['p99']:.1f} s, max {h['max']:.1f} s "
            f"(target p99 <= 20 s); new socket p50 {s.get('p50', 0):.1f} s, "
            f"p99 {s.get('p99', 0):.1f} s"
        )
        lines.append(
            f"            messages {m['expected']} expected, {m['lost']} lost, "
            f"{m['duplicated']} duplicated; overlaps of the victim's tokens "
            f"{f['victim_overlaps']}; rtm.connect calls {f['rtm_connect_calls']}"
        )
    else:
        lines.append(f"  kill -9   {f.get('status')}: {f.get('error')}")
    d = result.get("drain")
    if d is not None and d.get("status") == "ok":
        m = d["messages"]
        lines.append(
            f"  drain     {d['sessions']} sessions in {d['drain_s']:.2f} s "
            f"(target <= 5 s), {d['taken_by_other']} taken make-before-break "
            f"(claims {d['first_claim_s'] or 0:.2f}-{d['last_claim_s'] or 0:.2f} s); "
            f"{m['expected']} expected, {m['lost']} lost, {m['duplicated']} "
            f"duplicated; overlaps {d['handover_overlaps']}, longest "
            f"{d['longest_overlap_s']:.2f} s; CPU s {d['cpu_s']}"
        )
    elif d is not None:
        lines.append(f"  drain     {d.get('status')}: {d.get('error')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 sessions")
    parser.add_argument("--n", type=int, help="sessions (registrations)")
    parser.add_argument(
        "--takeover-rate", type=float, help="the gateways' --takeover-rate (default: theirs)"
    )
    parser.add_argument(
        "--join-connect-rate",
        type=float,
        default=50.0,
        help="the joining process's --connect-rate in the drain part (50)",
    )
    parser.add_argument(
        "--one-holder",
        action="store_true",
        help="fail-over: the victim holds every session (the survivor joins just before the kill)",
    )
    parser.add_argument("--no-drain", action="store_true", help="only the fail-over part")
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args(argv)
    started = time.monotonic()

    def log(msg: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    result = asyncio.run(main_async(args, log))
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    parts = [result.get("failover", {}), result.get("drain") or {}]
    return 1 if any(p.get("status") == "error" for p in parts) else 0


if __name__ == "__main__":
    sys.exit(main())
