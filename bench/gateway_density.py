"""Gateway density: one real ``slack-rtm gateway`` process holding N idle sessions.

``python bench/gateway_density.py --sessions N [--idle S] [--ping-interval S --ping-timeout S]``
runs, in this process, the emulator with a workspace of N people (no ``reconnect_url`` frames:
idle means idle) and a ``nats-server`` (:class:`slack_rtm.gateway.natsd.NatsServer`), registers
every person's token through :class:`slack_rtm.gateway.registry.Registry` (``auth.test`` each,
sealed in KV), then starts ``python -m slack_rtm gateway`` as a child process (capacity N, a
takeover rate high enough to open them all in a minute or two) and waits until the emulator
holds N live sockets. It then reads, from ``/proc``: the gateway's and nats-server's RSS before
any session (the gateway idle with nothing to hold) and with all N held, and their CPU over
``--idle`` seconds. Written as one JSON result line (``child.emit``): RSS per session of the
gateway alone and with its NATS share (nats-server's growth over the same sessions), idle CPU of
each in % of a core. The gateway's keepalive is its default (20 s + 10 s) unless given.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from child import emit, raise_fd_limit, run_scenario

from slack_rtm.emulator import Emulator
from slack_rtm.emulator.workspace import Workspace
from slack_rtm.gateway.kv import connect as kv_connect
from slack_rtm.gateway.kv import open_buckets
from slack_rtm.gateway.natsd import NatsServer
from slack_rtm.gateway.registry import Registry
from slack_rtm.gateway.secrets import GatewayKey

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def proc_rss(pid: int) -> int:
    """Resident set size of ``pid`` in bytes."""
    with open(f"/proc/{pid}/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * PAGE


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (its threads included)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def register_all(registry: Registry, emu: Emulator, concurrency: int) -> int:
    sem = asyncio.Semaphore(concurrency)

    async def one(token: str) -> None:
        async with sem:
            await registry.register(token, None, api_url=emu.api_url)

    people = emu.workspace.people
    await asyncio.gather(*(one(p.token) for p in people))
    return len(people)


async def _lease(bucket: Any) -> Any:
    try:
        return await bucket.get("gw-density")
    except Exception:  # not there yet (KeyNotFoundError)
        return None


async def wait_for(check: Any, timeout: float, what: str, step: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(step)


async def run(args: argparse.Namespace) -> None:
    n = args.sessions
    workspace = Workspace.default()
    for i in range(n - len(workspace.people)):
        workspace.add_user(f"person{i}")
    key_b64 = GatewayKey.generate()
    key = GatewayKey.from_base64(key_b64)
    async with Emulator(workspace=workspace, write_rate=None,
                        reconnect_url_interval=None) as emu:
        with NatsServer() as nats_server:
            nats_pid = nats_server.pid
            assert nats_pid is not None
            argv = [sys.executable, "-m", "slack_rtm", "gateway", "--nats", nats_server.url,
                    "--name", "gw-density", "--capacity", str(n), "--api-url", emu.api_url,
                    "--takeover-rate", str(args.open_rate),
                    "--connect-rate", str(args.open_rate), "--log-level", "warning",
                    # One process, nobody to take over: a lease that survives the seconds of
                    # a loop saturated by opening thousands of sessions on a shared machine.
                    "--renew-every", "2", "--fence-after", "30", "--expire-after", "40"]
            if args.ping_interval is not None:
                argv += ["--ping-interval", str(args.ping_interval),
                         "--ping-timeout", str(args.ping_timeout)]
            env = {**os.environ, "SLACK_RTM_GATEWAY_KEY": key_b64}
            log = open(Path(args.log), "wb")  # noqa: SIM115 - closed below
            nc = await kv_connect(nats_server.url)
            # The gateway starts with nothing registered: its RSS (and nats-server's) with its
            # lease up and nothing to hold is the baseline.
            gateway = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                buckets = await open_buckets(nc.jetstream())
                deadline = time.monotonic() + 60
                while await _lease(buckets.processes) is None:
                    if time.monotonic() > deadline or gateway.poll() is not None:
                        raise RuntimeError("the gateway did not start (see --log)")
                    await asyncio.sleep(0.2)
                await asyncio.sleep(args.settle)
                gw_rss0, nats_rss0 = proc_rss(gateway.pid), proc_rss(nats_pid)
                t0 = time.monotonic()
                registered = await register_all(Registry(buckets.registrations, key), emu,
                                                args.concurrency)
                register_seconds = time.monotonic() - t0
                await wait_for(lambda: emu.connection_count >= n, args.max_seconds,
                               f"{n} live sockets")
                open_seconds = time.monotonic() - t0
                await asyncio.sleep(args.settle)
                gw_rss1, nats_rss1 = proc_rss(gateway.pid), proc_rss(nats_pid)
                gw_cpu0, nats_cpu0, w0 = proc_cpu(gateway.pid), proc_cpu(nats_pid), time.monotonic()
                await asyncio.sleep(args.idle)
                wall = time.monotonic() - w0
                gw_cpu = proc_cpu(gateway.pid) - gw_cpu0
                nats_cpu = proc_cpu(nats_pid) - nats_cpu0
                live = emu.connection_count
                emit("result", sessions=live, requested=n, registered=registered,
                     register_seconds=register_seconds, open_seconds=open_seconds,
                     gateway_rss_before=gw_rss0, gateway_rss_after=gw_rss1,
                     nats_rss_before=nats_rss0, nats_rss_after=nats_rss1,
                     rss_per_session=(gw_rss1 - gw_rss0) / max(1, live),
                     rss_per_session_with_nats=(gw_rss1 - gw_rss0 + nats_rss1 - nats_rss0)
                     / max(1, live),
                     idle_seconds=wall, gateway_idle_cpu_percent=gw_cpu / wall * 100,
                     nats_idle_cpu_percent=nats_cpu / wall * 100,
                     ping_interval=args.ping_interval or 20.0,
                     ping_timeout=args.ping_timeout if args.ping_interval else 10.0)
            finally:
                gateway.send_signal(signal.SIGKILL)  # a drain of N sessions measures nothing
                gateway.wait()
                log.close()
                await nc.close()


def brief(r: dict[str, Any]) -> str:
    """One line for a result."""
    if r.get("status", "ok") != "ok":
        return f"{r.get('status')}: {r.get('error')}"
    return (f"{r['sessions']:,} sessions, {r['rss_per_session_with_nats'] / 1024:.1f} KiB each "
            f"with NATS ({r['rss_per_session'] / 1024:.1f} gateway alone), idle CPU "
            f"{r['gateway_idle_cpu_percent']:.2f}% + nats-server "
            f"{r['nats_idle_cpu_percent']:.2f}% (keepalive {r['ping_interval']:g}+"
            f"{r['ping_timeout']:g} s)")


def report(results: list[dict[str, Any]]) -> str:
    """The GATEWAY DENSITY lines of ``bench/run.py``, with the issue's targets."""
    lines = ["GATEWAY DENSITY  (one slack-rtm gateway process, idle sessions; targets at "
             "10,000: <= 40 KiB RSS a session incl. NATS, <= 3% of a core idle)"]
    for r in results:
        if r.get("status") != "ok":
            lines.append(f"  {r.get('requested', '?')}: {brief(r)}")
            continue
        kib = r["rss_per_session_with_nats"] / 1024
        cpu = r["gateway_idle_cpu_percent"]
        verdict = ""
        if r["sessions"] >= 10_000:
            verdict = (f"  [RSS {'PASS' if kib <= 40 else 'MISS'}, CPU "
                       f"{'PASS' if cpu <= 3 else 'MISS'}]")
        lines.append(f"  {brief(r)}{verdict}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--open-rate", type=float, default=150.0,
                        help="the gateway's --takeover-rate and --connect-rate")
    parser.add_argument("--concurrency", type=int, default=50, help="registrations at once")
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--ping-interval", type=float, default=None)
    parser.add_argument("--ping-timeout", type=float, default=10.0)
    parser.add_argument("--log", default="/dev/null", help="the gateway's log file")
    args = parser.parse_args()
    raise_fd_limit()
    run_scenario(run(args))


if __name__ == "__main__":
    main()
