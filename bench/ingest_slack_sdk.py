"""Ingest with slack_sdk's two RTM clients, as a user would set them up.

Both are driven through their public API: handlers registered for ``hello`` and ``message``,
the Web API pointed at the emulator through ``base_url``. ``rtm_v2`` runs its own threads and
cannot be stopped cleanly, so its process ends with ``os._exit`` after reporting.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

Count = Callable[[], bool]
OnHello = Callable[[], None]


class CrashWatch(logging.Handler):
    """Collects the exception type names slack_sdk logs (e.g. ``RecursionError``)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[0] is not None:
            self.errors.append(record.exc_info[0].__name__)
        elif record.levelno >= logging.ERROR:
            msg = record.getMessage()
            self.errors.append("RecursionError" if "recursion" in msg.lower() else msg[:80])


def legacy(api_url: str, token: str, on_hello: OnHello, count: Count, timeout: float) -> None:
    """slack_sdk legacy ``slack_sdk.rtm.RTMClient`` (aiohttp inside), ``run_async=True``."""
    from slack_sdk.rtm import RTMClient

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    client = RTMClient(token=token, base_url=api_url.rstrip("/") + "/", run_async=True, loop=loop)

    async def hello(**payload: Any) -> None:
        on_hello()

    async def message(**payload: Any) -> None:
        if count():
            client.stop()

    RTMClient.on(event="hello", callback=hello)
    RTMClient.on(event="message", callback=message)
    future = client.start()
    loop.run_until_complete(asyncio.wait_for(future, timeout))


class Stalled(Exception):
    """rtm_v2 stopped delivering events before the N-th one."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(", ".join(sorted(set(errors))) or "no error logged")
        self.errors = errors


def rtm_v2(api_url: str, token: str, on_hello: OnHello, count: Count, timeout: float,
           progress: Callable[[], int], recursion_limit: int | None = None,
           stall: float = 4.0) -> None:
    """slack_sdk ``rtm_v2.RTMClient`` (its own WebSocket code on threads).

    Raises:
        Stalled: no new event for ``stall`` seconds (it crashed).
    """
    if recursion_limit is not None:
        sys.setrecursionlimit(recursion_limit)
    from slack_sdk.rtm_v2 import RTMClient

    watch = CrashWatch()
    logging.getLogger("slack_sdk").addHandler(watch)
    logging.getLogger("slack_sdk").setLevel(logging.ERROR)
    done = threading.Event()
    rtm = RTMClient(token=token, base_url=api_url.rstrip("/") + "/", ping_interval=30)

    @rtm.on("hello")  # type: ignore[misc]
    def hello(client: Any, event: dict[str, Any]) -> None:
        on_hello()

    @rtm.on("message")  # type: ignore[misc]
    def message(client: Any, event: dict[str, Any]) -> None:
        if count():
            done.set()

    rtm.connect()
    deadline = time.monotonic() + timeout
    last, last_change = progress(), time.monotonic()
    while not done.wait(0.2):
        now = time.monotonic()
        seen = progress()
        if seen != last:
            last, last_change = seen, now
        elif now - last_change > stall:  # the runner starts the firehose right after hello
            raise Stalled(watch.errors)
        if now > deadline:
            raise Stalled([*watch.errors, "timeout"])
