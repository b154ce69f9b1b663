"""Helpers for the Socket Mode client tests: an emulator with short timings, a client factory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from slack_rtm.aio import SocketModeClient
from slack_rtm.backoff import Backoff
from slack_rtm.emulator import Emulator
from slack_rtm.session.socket_mode_config import SocketModeConfig

SM_FAST = SocketModeConfig(
    ping_interval=0.3,
    ping_timeout=0.5,
    hello_timeout=2.0,
    backoff=Backoff(initial=0.05, maximum=0.2),
    healthy_after=0.2,
    response_timeout=0.8,
    drain_timeout=1.0,
)


@pytest.fixture
async def sm_emu() -> AsyncIterator[Emulator]:
    async with Emulator(write_rate=None, ack_timeout=1.0) as emulator:
        yield emulator


def make_sm(emu: Emulator, **kwargs: Any) -> SocketModeClient:
    if not any(k in kwargs for k in ("ack_after_handler", "response_timeout", "connections")):
        kwargs.setdefault("config", SM_FAST)
    kwargs.setdefault("bot_token", emu.bot_token)
    kwargs.setdefault("send_rate", 50.0)
    kwargs.setdefault("send_burst", 20)
    return SocketModeClient(emu.app_token, base_url=emu.api_url, **kwargs)


def fast(**changes: Any) -> SocketModeConfig:
    """SM_FAST with ``changes``."""
    fields = {name: getattr(SM_FAST, name) for name in SM_FAST.__slots__}
    fields.update(changes)
    return SocketModeConfig(**fields)


async def until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Poll ``predicate`` (cheap, in-process state) until true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.01)


def assert_sm_no_leftovers(client: SocketModeClient) -> None:
    """Nothing of the client keeps running after close()."""
    assert client._tasks == set() or all(t.done() for t in client._tasks)
    assert client._dispatcher is None or client._dispatcher.done()
    assert client._listeners == {}
    assert client._timer is None
    assert client._http is None
    assert client._send_http is None
    assert client._core.pending_acks == 0
