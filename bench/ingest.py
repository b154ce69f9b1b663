"""Ingest scenario process: one client receives the firehose; events/s and CPU µs/event.

``python bench/ingest.py --client NAME --n N --api URL --token TOKEN`` connects, writes
``{"event": "ready"}`` once ``hello`` has arrived (the runner then starts the firehose), counts
``message`` events and writes ``{"event": "result", "events", "seconds", "cpu_seconds"}``
measured from the first event to the N-th (N-1 intervals; the process's CPU time, every thread
included). A client whose code or package is missing writes ``{"event": "na", "reason"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import itertools
import os
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from child import NotBuilt, emit, fail

#: client name -> (label, packages it needs beyond the runtime dependencies)
CLIENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "picows_msgspec": ("bare picows + msgspec structs", ()),
    "picows_orjson": ("bare picows + orjson", ("orjson",)),
    "aiohttp_json": ("bare aiohttp + json", ()),
    "websockets_json": ("bare websockets + json", ("websockets",)),
    "slack_sdk_legacy": ("slack_sdk rtm.RTMClient (legacy)", ("slack_sdk",)),
    "slack_sdk_v2": ("slack_sdk rtm_v2 (as shipped)", ("slack_sdk",)),
    "slack_sdk_v2_raised": ("slack_sdk rtm_v2 (recursion limit raised)", ("slack_sdk",)),
    "ours_iter": ("slack_rtm asyncio (async for)", ()),
    "ours_catchup": ("slack_rtm asyncio (async for, catch_up=True)", ()),
    "ours_handler": ("slack_rtm asyncio (handler)", ()),
    "ours_sync": ("slack_rtm sync (for loop)", ()),
}

YARDSTICK = "picows_msgspec"


class Marks:
    """Counts events (thread-safe under the GIL) and stamps the first and the N-th."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen = 0
        self.first: tuple[float, float] | None = None
        self.last: tuple[float, float] | None = None
        self.switches: list[tuple[int, int]] = []

    def counter(self) -> Callable[[], bool]:
        """The hot-path callable: True from the N-th event on."""
        tick = itertools.count(1).__next__
        n = self.n
        clock, cpu = time.perf_counter, time.process_time

        def count() -> bool:
            i = tick()
            self.seen = i
            if i < n:
                if i == 1:
                    self.first = (clock(), cpu())
                    self._switches()
                return False
            if i == n:
                self.last = (clock(), cpu())
                self._switches()
            return True

        return count

    def _switches(self) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.switches.append((usage.ru_nvcsw, usage.ru_nivcsw))


def calibrate(rounds: int = 3) -> float:
    """CPU seconds a fixed pure-Python loop takes here now (the best of ``rounds``).

    Run right after the measured window, in the same process: it tells how fast this CPU was
    running Python at that moment. On a shared machine single runs fall in a fast or a slow
    mode (±25%, with the neighbours' load); dividing a run's CPU µs/event by this figure takes
    part of that out of a ratio between two runs (not all: a run's own batch sizes matter too).
    """
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        x = 0
        for i in range(300_000):
            x += i * i
        best = min(best, time.process_time() - t0)
    return best


def _ready() -> None:
    emit("ready", pid=os.getpid())


def run_client(name: str, api: str, token: str, marks: Marks, timeout: float) -> None:
    """Run one client until the N-th event (raises on failure)."""
    count = marks.counter()
    if name in ("picows_msgspec", "picows_orjson", "aiohttp_json", "websockets_json"):
        from child import rtm_connect_url
        from ingest_bare import CLIENTS as BARE

        url = rtm_connect_url(api, token)
        asyncio.run(asyncio.wait_for(BARE[name](url, _ready, count), timeout))
    elif name == "slack_sdk_legacy":
        from ingest_slack_sdk import legacy

        legacy(api, token, _ready, count, timeout)
    elif name in ("slack_sdk_v2", "slack_sdk_v2_raised"):
        from ingest_slack_sdk import rtm_v2

        limit = 10_000_000 if name == "slack_sdk_v2_raised" else None
        rtm_v2(api, token, _ready, count, timeout, lambda: marks.seen, recursion_limit=limit)
    elif name in ("ours_iter", "ours_handler", "ours_catchup"):
        import ingest_ours

        main = {"ours_iter": ingest_ours.ours_iter, "ours_handler": ingest_ours.ours_handler,
                "ours_catchup": ingest_ours.ours_catchup}[name]
        ingest_ours.async_client_class()
        asyncio.run(asyncio.wait_for(main(api, token, _ready, count), timeout))
    elif name == "ours_sync":
        import ingest_ours

        ingest_ours.sync_client_class()
        ingest_ours.ours_sync(api, token, _ready, count)
    else:
        raise ValueError(f"unknown client {name!r}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", required=True, choices=sorted(CLIENTS))
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--api", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    if args.n < 2:
        parser.error("--n must be >= 2")
    for package in CLIENTS[args.client][1]:
        if importlib.util.find_spec(package) is None:
            emit("na", reason=f"not installed: {package}")
            return
    marks = Marks(args.n)
    result: dict[str, Any] = {}
    try:
        run_client(args.client, args.api, args.token, marks, args.timeout)
    except NotBuilt as exc:
        emit("na", reason=str(exc))
        return
    except Exception as exc:
        from ingest_slack_sdk import Stalled

        if not isinstance(exc, Stalled):
            fail(f"{type(exc).__name__}: {exc}")
        result = {"crashed": True, "error": str(exc), "received": marks.seen}
    if marks.first is not None and marks.last is not None:
        result.update(
            events=marks.n - 1,
            seconds=marks.last[0] - marks.first[0],
            cpu_seconds=marks.last[1] - marks.first[1],
            # context switches between the first and the N-th event: voluntary ones are waits
            # for data (or the GIL), involuntary ones the OS taking the CPU away
            voluntary_switches=marks.switches[1][0] - marks.switches[0][0],
            involuntary_switches=marks.switches[1][1] - marks.switches[0][1],
            calib_cpu_seconds=calibrate(),
        )
    elif not result:
        fail(f"the client stopped after {marks.seen} of {marks.n} events")
    emit("result", **result)
    sys.stdout.flush()
    os._exit(0)  # rtm_v2 leaves non-daemon threads behind that nothing can stop


if __name__ == "__main__":
    main()
