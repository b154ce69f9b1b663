"""Paired round trips in one process: our sends against bare picows, block by block.

Run: ``.venv/bin/python bench/bench_send_pair.py`` (``--quick`` for a smoke run). The emulator
runs in its own process (pinned to one CPU, this process to another, as in ``run.py``); this
process opens four connections to it and times round trips in alternating blocks of 50:

- **bare ping**: a bare picows client, JSON ``ping`` -> ``pong`` (the send target's echo);
- **bare message**: the same client sending the ``message`` frame ours sends -> its ack;
- **ours message**: ``await rtm.send_message(channel, text)``;
- **ours ping**: ``await rtm.ping()``.

Alternating blocks a few milliseconds long see the same machine, which the separate processes
of ``run.py --scenario send`` (run one after another) do not: the ratios here move less between
runs. Compare the rows within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from child import rtm_connect_url
from procs import PINS, ServerProc, pin
from send import picows_ops

from slack_rtm import RtmClient

Op = Callable[[int], Awaitable[Any]]
BLOCK = 50


async def run(blocks: int) -> dict[str, list[float]]:
    pin(True)
    if "client" in PINS:
        os.sched_setaffinity(0, {PINS["client"]})
    server = await ServerProc.start("--write-rate", "none")
    closers: list[Callable[[], Any]] = []
    try:
        channel = str(server.info["general_channel_id"])
        ops: dict[str, Op] = {}
        for name, message in (("bare ping", False), ("bare message", True)):
            url = rtm_connect_url(server.api_url, server.bot_token)
            ops[name], close = await picows_ops(url, channel, message)
            closers.append(close)
        async with RtmClient(server.bot_token, base_url=server.api_url, send_rate=1e6,
                             send_burst=1_000_000) as rtm:

            async def ours_message(i: int) -> Any:
                return await rtm.send_message(channel, f"m {i}")

            async def ours_ping(i: int) -> Any:
                return await rtm.ping()

            ops["ours message"] = ours_message
            ops["ours ping"] = ours_ping
            return await _blocks(ops, blocks)
    finally:
        for close in closers:
            close()
        await server.stop()


async def _blocks(ops: dict[str, Op], blocks: int) -> dict[str, list[float]]:
    """Round trips of each op, in turn ``BLOCK`` at a time, after one warm-up block each."""
    rtts: dict[str, list[float]] = {name: [] for name in ops}
    clock = time.perf_counter
    i = 0
    for op in ops.values():
        for _ in range(BLOCK):
            i += 1
            await op(i)
    for _ in range(blocks):
        for name, op in ops.items():
            for _ in range(BLOCK):
                i += 1
                t0 = clock()
                await op(i)
                rtts[name].append(clock() - t0)
    return rtts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 blocks of each")
    parser.add_argument("--blocks", type=int, default=60, help="blocks of 50 per kind")
    args = parser.parse_args(argv)
    rtts = asyncio.run(run(2 if args.quick else args.blocks))
    ping = statistics.median(rtts["bare ping"])
    message = statistics.median(rtts["bare message"])
    print(f"{'round trip':14s} {'p50 us':>7s} {'vs ping':>8s} {'vs message':>11s}")
    for name, values in rtts.items():
        p50 = statistics.median(values)
        print(f"{name:14s} {p50 * 1e6:7.1f} {p50 / ping:7.2f}x {p50 / message:10.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
