"""The rtm.connect API layer against the emulator, through the chaos proxy (HTTP and WebSocket
share the emulator's port, so the proxy sits in front of both).

These are the fault-matrix rows that do not need the session driver: what ``rtm.connect`` does
when the network refuses, resets, black-holes or crawls, and when TLS sits in front.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from slack_rtm import Backoff
from slack_rtm.api import ApiResponse, RetryConfig
from slack_rtm.emulator import Emulator
from slack_rtm.errors import TransportError, TransportTimeoutError

from .certs import TestPKI, make_pki
from .chaos import ChaosProxy
from .twins import connect_async

RETRY_FAST = RetryConfig(
    max_attempts=20, backoff=Backoff(0.05, 0.1, jitter=False), max_total_wait=3.0
)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


@pytest.fixture
async def proxy(emu: Emulator) -> AsyncIterator[ChaosProxy]:
    async with ChaosProxy("127.0.0.1", emu.port) as chaos:
        yield chaos


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


async def test_the_websocket_url_points_at_the_proxy(emu: Emulator, proxy: ChaosProxy) -> None:
    outcome = await connect_async(proxy.url("/api"), emu.bot_token)
    assert outcome.response is not None, outcome.error
    url = outcome.response.result.url
    # The emulator builds the URL from the request's Host: the WebSocket goes through the proxy.
    assert url.startswith(f"ws://127.0.0.1:{proxy.port}/websocket/")
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        hello = await ws.receive(timeout=2.0)
        assert json.loads(hello.data) == {"type": "hello"}
        assert proxy.stats.connections_active >= 1
    assert proxy.stats.connections_total >= 2  # the HTTP call and the WebSocket
    assert proxy.stats.bytes_down > 0


async def test_refused_without_retries_fails_at_once(emu: Emulator, proxy: ChaosProxy) -> None:
    await proxy.refuse()
    outcome = await connect_async(proxy.url("/api"), emu.bot_token)
    assert isinstance(outcome.error, TransportError)
    assert not isinstance(outcome.error, TransportTimeoutError)
    assert isinstance(outcome.error.__cause__, Exception)
    assert outcome.seconds < 1.0
    assert emu.connect_calls == 0


async def test_refused_for_a_while_then_back(emu: Emulator, proxy: ChaosProxy) -> None:
    await proxy.refuse(for_seconds=0.4)
    outcome = await connect_async(proxy.url("/api"), emu.bot_token, retry=RETRY_FAST)
    assert outcome.kind is ApiResponse, outcome.error
    assert outcome.seconds >= 0.35
    assert emu.connect_calls == 1


async def test_blackholed_call_times_out(emu: Emulator, proxy: ChaosProxy) -> None:
    proxy.blackhole("down")
    outcome = await connect_async(proxy.url("/api"), emu.bot_token, timeout=0.3)
    assert isinstance(outcome.error, TransportTimeoutError)
    assert 0.25 <= outcome.seconds < 1.5
    assert emu.connect_calls == 1  # the request went through; the answer never came back


async def test_reset_mid_call(emu: Emulator, proxy: ChaosProxy) -> None:
    proxy.set_latency(down=0.5)
    call = asyncio.create_task(connect_async(proxy.url("/api"), emu.bot_token))
    await proxy.wait_connections(1)
    await asyncio.sleep(0.1)
    assert await proxy.cut("reset") == 1
    outcome = await asyncio.wait_for(call, 2.0)
    assert isinstance(outcome.error, TransportError)
    assert not isinstance(outcome.error, TransportTimeoutError)
    assert outcome.seconds < 0.5


async def test_reset_mid_call_is_retried(emu: Emulator, proxy: ChaosProxy) -> None:
    proxy.set_latency(down=0.3)
    call = asyncio.create_task(
        connect_async(proxy.url("/api"), emu.bot_token, retry=RETRY_FAST)
    )
    await proxy.wait_connections(1)
    proxy.set_latency()
    await proxy.cut("reset")
    outcome = await asyncio.wait_for(call, 3.0)
    assert outcome.kind is ApiResponse, outcome.error
    assert proxy.stats.connections_total >= 2


async def test_slow_and_throttled_link_still_connects(emu: Emulator, proxy: ChaosProxy) -> None:
    proxy.set_latency(up=0.05, down=0.05)
    proxy.throttle(4_000)
    start = time.perf_counter()
    outcome = await connect_async(proxy.url("/api"), emu.bot_token, timeout=3.0)
    assert outcome.kind is ApiResponse, outcome.error
    assert time.perf_counter() - start >= 0.1


async def test_https_in_front_of_the_emulator(emu: Emulator, pki: TestPKI) -> None:
    async with ChaosProxy("127.0.0.1", emu.port, ssl=pki.server_context()) as tls:
        assert tls.url("/api").startswith("https://")
        refused = await connect_async(tls.url("/api"), emu.bot_token, retry=RetryConfig())
        assert isinstance(refused.error, TransportError)
        assert "certificate" in str(refused.error)
        assert emu.connect_calls == 0  # the token never left the client
        accepted = await connect_async(
            tls.url("/api"), emu.bot_token, verify=pki.client_context()
        )
        assert accepted.response is not None, accepted.error
        # The emulator cannot know TLS was terminated in front of it: it still says ws://.
        assert accepted.response.result.url.startswith(f"ws://127.0.0.1:{tls.port}/")
