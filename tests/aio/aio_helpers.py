"""Fixtures for the asyncio driver tests: a fresh emulator on loopback, short timings."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from slack_rtm.aio import RtmClient
from slack_rtm.backoff import Backoff
from slack_rtm.emulator import Emulator
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.events import Event

FAST = SessionConfig(
    ping_interval=0.3,
    ping_timeout=0.5,
    hello_timeout=2.0,
    reply_timeout=3.0,
    reply_grace=0.5,
    backoff=Backoff(initial=0.05, maximum=0.2),
    healthy_after=0.2,
    migration_delay=0.3,
    send_rate=50.0,
    send_burst=20,
    dedup_grace=1.0,
)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(write_rate=None) as emulator:
        yield emulator


def make_client(emu: Emulator, **kwargs: Any) -> RtmClient:
    kwargs.setdefault("config", FAST)
    return RtmClient(emu.bot_token, base_url=emu.api_url, **kwargs)


def person(emu: Emulator, index: int = 0) -> str:
    return emu.workspace.people[index].id


async def next_event(it: Any, type_: str, timeout: float = 3.0) -> Any:
    """The next event of ``type_`` from the async iterator ``it``."""
    async def find() -> Any:
        async for event in it:
            if event.type == type_:
                return event
        raise AssertionError(f"iteration ended before a {type_} event")

    return await asyncio.wait_for(find(), timeout)


def assert_no_leftovers(rtm: RtmClient) -> None:
    """Nothing of the client keeps running after close()."""
    assert rtm._tasks == set() or all(t.done() for t in rtm._tasks)
    assert rtm._dispatcher is None or rtm._dispatcher.done()
    assert rtm._listeners == {}
    assert rtm._timer is None
    assert rtm._http is None or rtm._http.is_closed
    assert rtm._core.pending_count == 0
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()
              and "RtmClient" in repr(t.get_coro())]
    assert others == []


class Recorder:
    """Consumes ``rtm`` in the background and keeps every event and its arrival time
    (``events[i]`` arrived at ``times[i]``, ``time.monotonic()``)."""

    def __init__(self, rtm: RtmClient) -> None:
        self.rtm = rtm
        self.events: list[Event] = []
        self.times: list[float] = []
        self.error: BaseException | None = None
        self._changed = asyncio.Event()
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            async for event in self.rtm:
                self.times.append(time.monotonic())
                self.events.append(event)
                self._changed.set()
        except Exception as exc:
            self.error = exc
        self._changed.set()

    def of(self, type_: str) -> list[Any]:
        return [e for e in self.events if e.type == type_]

    def texts(self) -> list[str]:
        return [e.text for e in self.of("message")]

    def phases(self, phase: str) -> list[Any]:
        return [e for e in self.of("catch_up") if e.phase == phase]

    async def wait(self, predicate: Any, timeout: float = 6.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; events: {[e.type for e in self.events]}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def count(self, type_: str, n: int, timeout: float = 6.0) -> None:
        await self.wait(lambda: len(self.of(type_)) >= n, timeout)

    async def has_ts(self, tss: list[str], timeout: float = 6.0) -> None:
        await self.wait(lambda: set(tss) <= {m.ts for m in self.of("message")}, timeout)
