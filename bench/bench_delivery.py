"""Micro-benchmark of the asyncio client's two delivery loops, without sockets.

Run: ``.venv/bin/python bench/bench_delivery.py`` (``--quick`` for a smoke run). In one process,
interleaved round by round, it fills an unconnected ``RtmClient``'s queue with ~300-byte
``message`` frames (as the listener leaves them) and times, per event:

- **async for**: the client's ``async for`` loop, the consumer counting messages;
- **handler**: the background dispatcher calling one plain ``rtm.on("message")`` handler;
- **async for, catch-up on**: the same loop as **async for** in a client made with
  ``catch_up=True`` (each message noted for its conversation's cursor): what catch-up costs;
- **decode_kept called** / **decode_kept inlined**: a bare async generator that pops, decodes
  and yields, with the decode as a call to ``decode_kept`` or inlined (decode, then keep the
  frame) as the two loops above do: what inlining saves.

These are the loops' own costs (no socket, no event loop wake-ups): compare the rows within one
run; the end-to-end figures are ``bench/run.py``'s ingest scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from bench_decode import message_frames
from msgspec.structs import force_setattr

from slack_rtm import RtmClient
from slack_rtm.session.events import Event, decode_kept, decode_wire_event


async def _called(queue: deque[bytes]) -> AsyncIterator[Event]:
    popleft = queue.popleft
    while queue:
        yield decode_kept(popleft())


async def _inlined(queue: deque[bytes]) -> AsyncIterator[Event]:
    popleft = queue.popleft
    while queue:
        item = popleft()
        try:
            event = decode_wire_event(item)
            force_setattr(event, "_frame", item)
        except Exception:
            event = decode_kept(item)
        yield event


async def _consume(events: AsyncIterator[Event]) -> int:
    n = 0
    async for event in events:
        if event.type == "message":
            n += 1
    return n


async def run(n_frames: int, repeat: int, rounds: int) -> dict[str, list[float]]:
    frames = message_frames(n_frames)
    total = n_frames * repeat
    rtm = RtmClient("xoxb-0-0-bench", base_url="http://127.0.0.1:9/api")
    handled = [0]

    @rtm.on("message")
    def on_message(event: Any) -> None:
        handled[0] += 1

    rtm._loop = asyncio.get_running_loop()  # enough for the loops; nothing connects
    rtm._stopped = True  # each loop ends when the queue is empty
    tracked = RtmClient("xoxb-0-0-bench", base_url="http://127.0.0.1:9/api", catch_up=True)
    tracked._loop = rtm._loop
    tracked._stopped = True

    async def iterate_tracked() -> None:
        tracked._queue.extend(frames * repeat)
        assert await _consume(tracked._iterate()) == total

    async def iterate() -> None:
        rtm._queue.extend(frames * repeat)
        rtm._has_handlers = False
        try:
            assert await _consume(rtm._iterate()) == total
        finally:
            rtm._has_handlers = True

    async def dispatch() -> None:
        rtm._queue.extend(frames * repeat)
        handled[0] = 0
        await rtm._dispatch_loop()
        assert handled[0] == total

    async def called() -> None:
        assert await _consume(_called(deque(frames * repeat))) == total

    async def inlined() -> None:
        assert await _consume(_inlined(deque(frames * repeat))) == total

    cases: dict[str, Callable[[], Any]] = {
        "async for": iterate,
        "async for, catch-up on": iterate_tracked,
        "handler": dispatch,
        "decode_kept called": called,
        "decode_kept inlined": inlined,
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, case in cases.items():
            t0 = time.perf_counter()
            await case()
            times[name].append((time.perf_counter() - t0) / total * 1e9)
    return times


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few thousand events, 2 rounds")
    args = parser.parse_args(argv)
    n_frames, repeat, rounds = (500, 4, 2) if args.quick else (2000, 50, 15)
    times = asyncio.run(run(n_frames, repeat, rounds))
    print(f"{'loop':22s} {'ns/event':>9s} {'best':>6s}")
    for name, values in times.items():
        print(f"{name:22s} {statistics.median(values):9.0f} {min(values):6.0f}")
    called = statistics.median(times["decode_kept called"])
    inlined = statistics.median(times["decode_kept inlined"])
    plain = statistics.median(times["async for"])
    tracked_ns = statistics.median(times["async for, catch-up on"])
    print(f"\ncatch-up tracking adds {tracked_ns - plain:.0f} ns/event to async for "
          f"({tracked_ns / plain:.3f}x, medians)")
    print(f"inlining decode_kept saves {100 * (1 - inlined / called):.0f}% of a bare loop's "
          "per-event cost (medians)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
