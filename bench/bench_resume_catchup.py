"""Fast resume and catch-up, measured side by side in one run.

Run: ``.venv/bin/python bench/bench_resume_catchup.py`` (``--quick`` for a smoke run). The
emulator runs on a thread of this process (``EmulatorThread``); our asyncio client runs on the
main thread. Three measurements:

- **reconnect after an abrupt drop**, median time from the drop to ``hello``, with fast resume
  (the last ``reconnect_url``) and without (``rtm.connect`` first), in alternating trials;
- **rtm.connect calls during 100 drops in a row** with fast resume (target: at most 5);
- **catch-up**: 5 channels x 100 messages posted during a 3 s gap (the client's user held
  away): lost and duplicated messages (target: 0 and 0) and the time from ``hello`` to
  ``catch_up`` done.

What catch-up costs on the ingest path is ``bench/run.py``'s ingest scenario (the client
``ours_catchup`` beside ``ours_iter``, the emulator in its own process), not measured here: with
the emulator on a thread of this process the two share the GIL, and the figure moved with that
more than with the client.

Sessions here count as healthy after 0.05 s (``healthy_after``) so that a drop is followed by
an immediate reconnect, as it is after 5 s by default.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from typing import Any

from slack_rtm import RtmClient, SessionConfig
from slack_rtm.emulator import Emulator, EmulatorThread
from slack_rtm.session.events import CatchUp, Connected, Message, ReconnectUrl


def _config(fast_resume: bool) -> SessionConfig:
    return SessionConfig(healthy_after=0.05, fast_resume=fast_resume)


async def _next(it: Any, kind: type, timeout: float = 10.0) -> Any:
    async def find() -> Any:
        async for event in it:
            if isinstance(event, kind):
                return event
        raise RuntimeError(f"the session ended before a {kind.__name__} event")

    return await asyncio.wait_for(find(), timeout)


async def reconnects(emu: EmulatorThread, trials: int) -> dict[str, Any]:
    """Alternating drop trials with and without fast resume: ms from the drop to hello. Each
    client is another person, so that a drop cuts only the one measured."""
    out: dict[str, list[float]] = {"fast resume": [], "rtm.connect": []}
    people = emu.workspace.people
    clients = {}
    for (name, fast), person in zip((("fast resume", True), ("rtm.connect", False)),
                                    people[1:3], strict=True):
        rtm = RtmClient(person.token, base_url=emu.api_url, config=_config(fast))
        await rtm.connect()
        clients[name] = (rtm, rtm.__aiter__(), person.id)
    try:
        for _ in range(trials):
            for name, (_, it, user_id) in clients.items():
                await _next(it, ReconnectUrl)  # a resume URL is there (used or not)
                await emu.aio.drop_connections(abrupt=True, user_id=user_id)
                t0 = time.perf_counter()
                await _next(it, Connected)
                out[name].append((time.perf_counter() - t0) * 1000)
    finally:
        for rtm, _, _ in clients.values():
            await rtm.close()
    return {name: statistics.median(ms) for name, ms in out.items()}


async def connect_calls(emu: EmulatorThread, drops: int) -> dict[str, Any]:
    """rtm.connect calls while one fast-resuming client is dropped ``drops`` times in a row."""
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, config=_config(True))
    await rtm.connect()
    it = rtm.__aiter__()
    before = emu.connect_calls
    resumes = emu.state()["resumes"]
    try:
        for _ in range(drops):
            await _next(it, ReconnectUrl)
            await emu.aio.drop_connections(abrupt=True, user_id=emu.bot_user_id)
            await _next(it, Connected)
    finally:
        await rtm.close()
    return {"drops": drops, "rtm_connect_calls": emu.connect_calls - before,
            "resumes": emu.state()["resumes"] - resumes}


async def catch_up(emu: EmulatorThread, channels: list[str], per_channel: int,
                   gap: float) -> dict[str, Any]:
    """Messages posted while the client is held away: lost, duplicated, time to catch up."""
    person = emu.workspace.people[0].id
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, catch_up=True,
                    config=_config(True))
    await rtm.connect()
    it = rtm.__aiter__()
    got: dict[tuple[str, str], int] = {}
    try:
        for channel in channels:  # one message each: the client has a cursor everywhere
            await emu.aio.post_message(person, channel, "before the gap")
            event = await _next(it, Message)
            got[(str(event.channel), str(event.ts))] = 1
        await emu.aio.drop_and_hold(emu.bot_user_id, gap)
        wanted = [{"user_id": person, "channel_id": channel, "text": f"gap {i}"}
                  for i in range(per_channel) for channel in channels]
        posted = await emu.aio.post_messages(wanted)
        keys = {(m["channel_id"], ts) for m, ts in zip(wanted, posted, strict=True)}
        hello_at = None

        async def collect() -> Any:
            nonlocal hello_at
            async for event in it:
                if isinstance(event, Connected):
                    hello_at = time.perf_counter()
                elif isinstance(event, Message):
                    key = (str(event.channel), str(event.ts))
                    got[key] = got.get(key, 0) + 1
                elif isinstance(event, CatchUp) and event.phase == "done":
                    return event
            return None
        done = await asyncio.wait_for(collect(), gap + 30.0)
        done_at = time.perf_counter()
    finally:
        await rtm.close()
    lost = len(keys - set(got))
    dups = sum(n - 1 for n in got.values() if n > 1)
    return {"posted": len(keys), "lost": lost, "duplicates": dups,
            "backfilled": done.messages if done is not None else 0,
            "hello_to_done_ms": (done_at - hello_at) * 1000 if hello_at else None}


async def main_async(quick: bool) -> dict[str, Any]:
    emulator = Emulator(reconnect_url_interval=0.05 if quick else 0.1, write_rate=None)
    ws = emulator.workspace
    bot = ws.bots[0].id
    person = ws.people[0].id
    channels = [emulator.general_channel_id]
    for i in range(4):
        channels.append(ws.add_channel(f"bench-{i}", [bot, person]).id)
    emu = EmulatorThread(emulator=emulator).start()
    try:
        result = {
            "reconnect_ms_median": await reconnects(emu, 3 if quick else 15),
            "connect_calls": await connect_calls(emu, 5 if quick else 100),
            "catch_up": await catch_up(emu, channels, 10 if quick else 100,
                                       0.5 if quick else 3.0),
        }
    finally:
        emu.stop()
    return result


def report(r: dict[str, Any]) -> str:
    rec = r["reconnect_ms_median"]
    calls = r["connect_calls"]
    cu = r["catch_up"]
    lines = [
        "fast resume and catch-up (bench/bench_resume_catchup.py)",
        f"  reconnect after abrupt drop, median to hello: fast resume {rec['fast resume']:.1f} ms"
        f" | rtm.connect {rec['rtm.connect']:.1f} ms",
        f"  rtm.connect calls during {calls['drops']} drops with fast resume: "
        f"{calls['rtm_connect_calls']} ({calls['resumes']} resumes)"
        f"  [target <= 5: {'PASS' if calls['rtm_connect_calls'] <= 5 else 'MISS'}]",
        f"  catch-up of {cu['posted']} messages posted during the gap: lost {cu['lost']}, "
        f"duplicates {cu['duplicates']}, backfilled {cu['backfilled']}, hello -> done "
        f"{cu['hello_to_done_ms']:.0f} ms"
        f"  [target 0 lost, 0 duplicates: "
        f"{'PASS' if cu['lost'] == 0 and cu['duplicates'] == 0 else 'MISS'}]",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    args = parser.parse_args(argv)
    result = asyncio.run(main_async(args.quick))
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
