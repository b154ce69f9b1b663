"""slack-rtm benchmark suite: ingest, density, reconnect and send, side by side.

Usage::

    python bench/run.py                       # everything (several minutes)
    python bench/run.py --quick               # every scenario once, tiny sizes (the smoke run)
    python bench/run.py --scenario ingest --rounds 7 --json out.json

Every scenario runs as its own process against the emulator in another process
(``bench/server.py``) on 127.0.0.1. Ingest runs the clients round-robin (A, B, C, A, B, C, ...)
so that the ratios hold on a noisy machine, and reports medians. One table is printed and the
whole result is written as JSON (``bench/results/`` by default, which git ignores). Targets are
printed PASS / MISS; a MISS never fails the run. The exit status is 1 only if a scenario whose
code exists errored.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import report
import report_socket_mode
import scenarios
from ingest import CLIENTS
from ingest_socket_mode import CLIENTS as SM_CLIENTS
from procs import BENCH_DIR, Child, ChildError, ServerProc, pin

SCENARIOS = ("ingest", "socket_mode_ingest", "density", "reconnect", "send",
             "gateway_broker", "gateway_density", "gateway_failover")
SEND_KINDS = {
    "picows_ping": "bare picows JSON ping -> pong",
    "picows_message": "bare picows message -> ack",
    "ours_ping": "slack_rtm rtm.ping()",
    "ours_message": "slack_rtm send_message -> ack",
}
#: density kinds: ours as a user gets it; ours with one ssl.SSLContext shared by every
#: client (``RtmClient(ssl=ctx)``, what a process holding many sessions should do); bare picows
DENSITY_KINDS = ("ours", "ours_shared_ssl", "picows")
#: ingest clients whose N is scaled down (they are slow; events/s does not depend on N)
SLOW = {"slack_sdk_v2_raised": 0.25, "slack_sdk_legacy": 0.5, "websockets_json": 0.5,
        "ours_sync": 0.5}
#: ingest clients whose N is capped: rtm_v2 as shipped crashes within the first thousands
CAP = {"slack_sdk_v2": 5000}
#: Socket Mode ingest clients whose N is scaled down (slack_sdk's aiohttp client is slow)
SM_SLOW = {"slack_sdk": 0.25}
#: the order of the Socket Mode ingest clients within a round: the yardstick, ours, slack_sdk
SM_ORDER = ("bare", "ours", "slack_sdk")


def _config(args: argparse.Namespace) -> dict[str, Any]:
    if args.quick:
        cfg = {"n": 3000, "rounds": 1, "density": [20], "idle": 0.5, "drops": 1,
               "goodbyes": 1, "stream": 150, "sequential": 50, "pipelined": 200}
    else:
        cfg = {"n": 200_000, "rounds": 9, "density": [1000, 10_000], "idle": 3.0, "drops": 6,
               "goodbyes": 5, "stream": 300, "sequential": 2000, "pipelined": 2000}
    for key in ("n", "rounds"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    if args.sessions:
        cfg["density"] = args.sessions
    if args.idle is not None:
        cfg["idle"] = args.idle
    return cfg


#: Run first in every round, in this order: the yardstick, our clients, then rtm_v2 (limit
#: raised): the runs the targets compare, a second or two apart. Single runs on a shared
#: machine fall in a fast or a slow mode; the closer a pair, the likelier both share one.
ROUND_FIRST = (report.YARDSTICK, "ours_iter", "ours_catchup", "ours_handler", "ours_sync",
               "slack_sdk_v2_raised")


def round_order(clients: list[str]) -> list[str]:
    """The order of the ingest clients within a round (see :data:`ROUND_FIRST`)."""
    return [c for c in ROUND_FIRST if c in clients] + [c for c in clients if c not in ROUND_FIRST]


async def run_ingest(cfg: dict[str, Any], clients: list[str], log: Any) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
    server = await ServerProc.start()
    try:
        for rnd in range(cfg["rounds"]):
            for client in round_order(clients):
                n = max(2, min(int(cfg["n"] * SLOW.get(client, 1.0)), CAP.get(client, 1 << 62)))
                timeout = 20.0 + n / 5_000
                r = await scenarios.ingest_once(server, client, n, timeout)
                runs[client].append(r)
                log(f"ingest round {rnd + 1}/{cfg['rounds']} {client}: " + _brief(r))
    finally:
        await server.stop()
    return {"config": {"n": cfg["n"], "rounds": cfg["rounds"], "scaled": SLOW, "capped": CAP},
            "runs": runs, "summary": report.summarize_ingest(runs)}


async def run_socket_mode_ingest(cfg: dict[str, Any], log: Any) -> dict[str, Any]:
    """Issue 14's benchmark: Socket Mode envelope ingest, every envelope acked, round-robin."""
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in SM_ORDER}
    server = await ServerProc.start()
    try:
        for rnd in range(cfg["rounds"]):
            for client in SM_ORDER:
                n = max(2, int(cfg["n"] * SM_SLOW.get(client, 1.0)))
                timeout = 20.0 + n / 5_000
                r = await scenarios.socket_mode_ingest_once(server, client, n, timeout)
                runs[client].append(r)
                log(f"socket mode ingest round {rnd + 1}/{cfg['rounds']} {client}: "
                    + _brief(r))
    finally:
        await server.stop()
    return {"config": {"n": cfg["n"], "rounds": cfg["rounds"], "scaled": SM_SLOW},
            "runs": runs, "summary": report_socket_mode.summarize(runs)}


def _brief(r: dict[str, Any]) -> str:
    if r["status"] == "ok":
        return f"{r['events_per_s']:,.0f} ev/s, {r['cpu_us_per_event']:.2f} us/ev"
    if r["status"] == "crashed":
        return f"crashed after {r.get('received')} events ({r.get('error')})"
    return f"{r['status']}: {r.get('reason') or r.get('error')}"


async def main_async(args: argparse.Namespace) -> int:
    cfg = _config(args)
    chosen = args.scenario or list(SCENARIOS)
    clients = args.clients or list(CLIENTS)
    started = time.monotonic()

    def log(msg: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {msg}", file=sys.stderr, flush=True)

    result: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_average": _load()},
        "pinning": pin(not args.no_pin),
        "config": cfg,
    }
    log(f"pinning: {result['pinning']}")
    if "ingest" in chosen:
        result["ingest"] = await run_ingest(cfg, clients, log)
    if "socket_mode_ingest" in chosen:
        result["socket_mode_ingest"] = await run_socket_mode_ingest(cfg, log)
    if "reconnect" in chosen:
        r = await scenarios.reconnect(cfg["drops"], cfg["goodbyes"], cfg["stream"], 60.0)
        result["reconnect"] = r
        log(f"reconnect: {r['status']} {r.get('reason') or r.get('error') or ''}")
    if "send" in chosen:
        result["send"] = await scenarios.send(list(SEND_KINDS), cfg["rounds"],
                                              cfg["sequential"], cfg["pipelined"], 120.0)
        for kind, r in result["send"].items():
            log(f"send {kind}: {r['status']} {r.get('reason') or r.get('error') or ''}")
    if "gateway_broker" in chosen:
        result["gateway_broker"] = await run_gateway_broker(args.quick, log)
    if "gateway_density" in chosen:
        result["gateway_density"] = []
        for n in cfg["density"]:
            r = await run_gateway_density(n, cfg, args, log)
            result["gateway_density"].append(r)
    if "gateway_failover" in chosen:
        result["gateway_failover"] = await run_gateway_failover(args.quick, log)
    if "density" in chosen:
        # Last: tearing 10,000 sockets down keeps the kernel busy for a while (a send scenario
        # run right after it saw p99s of 1-2 ms against ~0.15 ms alone).
        result["density"] = []
        keepalive = None if args.ping_interval is None else (args.ping_interval,
                                                              args.ping_timeout)
        for kind in args.density_kinds or DENSITY_KINDS:
            for n in cfg["density"]:
                r = await scenarios.density(kind, n, cfg["idle"], timeout=120.0 + n / 50,
                                            keepalive=keepalive if kind != "picows" else None,
                                            wheel=not args.no_wheel)
                r["kind"] = kind
                r.setdefault("sessions", n)
                r.setdefault("requested", n)
                result["density"].append(r)
                log(f"density {kind} x {n}: {r['status']} "
                    + (f"{r['rss_per_session'] / 1024:.1f} KiB/session"
                       if r["status"] == "ok" else str(r.get("reason") or r.get("error"))))
    result["targets"] = report.targets(result) + report_socket_mode.targets(result)
    result["seconds"] = time.monotonic() - started

    labels = {k: v[0] for k, v in CLIENTS.items()} | SEND_KINDS
    sm_labels = {k: v[0] for k, v in SM_CLIENTS.items()}
    result["machine"]["load_average_after"] = _load()
    print(f"{result['date']}  {result['command']}\n"
          f"{result['machine']['cpus']} CPUs, Python {result['machine']['python']}, "
          f"load average {result['machine']['load_average']} -> "
          f"{result['machine']['load_average_after']}; {result['pinning']}\n")
    print(report.render(result, labels))
    sm_table = report_socket_mode.render(result, sm_labels)
    if sm_table:
        print("\n" + sm_table)
    if "gateway_broker" in result:
        import gateway_broker

        print("\n" + gateway_broker.report(result["gateway_broker"]))
    if "gateway_density" in result:
        import gateway_density

        print("\n" + gateway_density.report(result["gateway_density"]))

    if "gateway_failover" in result:
        import gateway_failover

        print("\n" + gateway_failover.report(result["gateway_failover"]))
    out = Path(args.json) if args.json else (
        BENCH_DIR / "results" / f"bench-{dt.datetime.now():%Y%m%d-%H%M%S}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten: {out}  ({result['seconds']:.0f} s)")
    return _exit_status(result)


async def run_gateway_broker(quick: bool, log: Any) -> dict[str, Any]:
    """bench/gateway_broker.py in a process of its own (it runs its nats-server and emulator)."""
    out = BENCH_DIR / "results" / f"gateway-broker-{os.getpid()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(BENCH_DIR / "gateway_broker.py"), *(["--quick"] if quick else []),
        "--json", str(out), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await proc.communicate()
    try:
        result: dict[str, Any] = json.loads(out.read_text())
        out.unlink()
    except (OSError, ValueError):
        tail = (stdout + stderr).decode(errors="replace")[-2000:]
        result = {"firehose": {"status": "error", "error": f"no result: {tail}"}}
    for name, r in result.items():
        log(f"gateway_broker {name}: {r.get('status')} {r.get('error') or ''}")
    return result


async def run_gateway_density(n: int, cfg: dict[str, Any], args: argparse.Namespace,
                              log: Any) -> dict[str, Any]:
    """bench/gateway_density.py: a real gateway process holding ``n`` idle sessions (it runs its
    nats-server and emulator)."""
    extra = [] if args.ping_interval is None else ["--ping-interval", str(args.ping_interval),
                                                   "--ping-timeout", str(args.ping_timeout)]
    idle = cfg["idle"] if args.idle is not None or args.quick else 40.0
    child = await Child.start("gateway_density.py", "--sessions", str(n), "--idle", str(idle),
                              *extra, name=f"gateway_density {n}", role="any")
    try:
        r = await child.next_event(timeout=600.0 + n / 10)
        out = {k: v for k, v in r.items() if k != "event"}
        out["status"] = "ok" if r.get("event") == "result" else "error"
        if out["status"] != "ok":
            out["error"] = r.get("message", str(r))
    except ChildError as exc:
        out = {"status": "error", "error": str(exc), "requested": n}
    finally:
        await child.finish(timeout=30.0)
    import gateway_density

    log(f"gateway_density x {n}: " + gateway_density.brief(out))
    return out


async def run_gateway_failover(quick: bool, log: Any) -> dict[str, Any]:
    """bench/gateway_failover.py in a process of its own (its emulator, nats-server and
    gateway processes): kill -9 fail-over, then a SIGTERM drain."""
    out = BENCH_DIR / "results" / f"gateway-failover-{os.getpid()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(BENCH_DIR / "gateway_failover.py"), *(["--quick"] if quick else []),
        "--json", str(out), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await proc.communicate()
    try:
        result: dict[str, Any] = json.loads(out.read_text())
        out.unlink()
    except (OSError, ValueError):
        tail = (stdout + stderr).decode(errors="replace")[-2000:]
        result = {"failover": {"status": "error", "error": f"no result: {tail}"}}
    for name in ("failover", "drain"):
        if name in result:
            r = result[name]
            log(f"gateway_failover {name}: {r.get('status')} {r.get('error') or ''}")
    return result


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _statuses(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(scenario, status, reason) for every scenario result."""
    out = []
    for client, s in result.get("ingest", {}).get("summary", {}).items():
        out.append((f"ingest {client}", s.get("status", "error"), s.get("reason", "")))
    for client, s in result.get("socket_mode_ingest", {}).get("summary", {}).items():
        out.append((f"socket mode ingest {client}", s.get("status", "error"),
                    s.get("reason", "")))
    for d in result.get("density", []):
        out.append((f"density {d['kind']} {d['requested']}", d["status"],
                    d.get("reason") or d.get("error", "")))
    if "reconnect" in result:
        r = result["reconnect"]
        out.append(("reconnect", r["status"], r.get("reason") or r.get("error", "")))
    for kind, r in result.get("send", {}).items():
        out.append((f"send {kind}", r["status"], r.get("reason") or r.get("error", "")))
    for part, r in result.get("gateway_broker", {}).items():
        out.append((f"gateway_broker {part}", r.get("status", "error"), r.get("error", "")))
    for part in ("failover", "drain"):
        r = result.get("gateway_failover", {}).get(part)
        if r is not None:
            out.append((f"gateway_failover {part}", r.get("status", "error"),
                        r.get("error", "")))
    return out


def _exit_status(result: dict[str, Any]) -> int:
    bad = [s for s in _statuses(result) if s[1] == "error"]
    for name, _, reason in bad:
        print(f"ERROR in {name}: {reason}", file=sys.stderr)
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, one run each: checks every scenario runs")
    parser.add_argument("--json", help="write the result here (default bench/results/...)")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS,
                        help="run only this scenario (repeatable)")
    parser.add_argument("--clients", type=lambda s: s.split(","),
                        help="ingest clients, comma-separated: " + ",".join(CLIENTS))
    parser.add_argument("--n", type=int, help="ingest events per run")
    parser.add_argument("--rounds", type=int, help="ingest rounds (medians over them)")
    parser.add_argument("--sessions", type=int, action="append",
                        help="density session counts (repeatable)")
    parser.add_argument("--density-kinds", type=lambda s: s.split(","),
                        help="density kinds, comma-separated: " + ",".join(DENSITY_KINDS))
    parser.add_argument("--idle", type=float,
                        help="density: seconds of idle CPU measured (default 3)")
    parser.add_argument("--ping-interval", type=float,
                        help="density: our clients' ping_interval (default: the client's)")
    parser.add_argument("--ping-timeout", type=float, default=10.0,
                        help="density: our clients' ping_timeout (with --ping-interval)")
    parser.add_argument("--no-wheel", action="store_true",
                        help="density: a precise timer per session instead of the loop's wheel")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin the server and the clients to separate CPUs")
    args = parser.parse_args(argv)
    if args.density_kinds:
        unknown = set(args.density_kinds) - set(DENSITY_KINDS)
        if unknown:
            parser.error(f"unknown density kinds: {', '.join(sorted(unknown))}")
    if args.clients:
        unknown = set(args.clients) - set(CLIENTS)
        if unknown:
            parser.error(f"unknown clients: {', '.join(sorted(unknown))}")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
