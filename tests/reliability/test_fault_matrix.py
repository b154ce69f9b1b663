"""The fault matrix (issue 7 §2): one test per fault, the real asyncio RtmClient against the
emulator over loopback, with the chaos proxy in the path where the fault is in the network.

Each test asserts what the user sees (lifecycle events, errors, state), how fast the session
recovers, and that sends resolve exactly once and messages sent while connected all arrive, once.
Timings are scaled down (pings every 0.2-0.5 s, backoff in tens of ms) so the whole matrix runs in
seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from aiohttp import web

from slack_rtm import Backoff
from slack_rtm.aio import RtmClient
from slack_rtm.emulator import Emulator
from slack_rtm.errors import (
    ConnectionClosedError,
    FrameTooLargeError,
    RtmConnectErrorSchemaError,
    SendOutcomeUnknownError,
    SlackRtmError,
)
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.events import (
    Closed,
    Connected,
    Disconnected,
    Event,
    Message,
    Reconnecting,
)
from slack_rtm.session.state import State

from .chaos import ChaosProxy

BACKOFF = Backoff(0.02, 0.1)


def _config(**changes: Any) -> SessionConfig:
    settings: dict[str, Any] = {
        "ping_interval": 0.5,
        "ping_timeout": 1.0,
        "backoff": BACKOFF,
        "migration_delay": 0.1,
        "reply_grace": 0.3,
        "send_rate": 50.0,
        "send_burst": 10,
    }
    settings.update(changes)
    return SessionConfig(**settings)


class Watch:
    """Every event a ``"*"`` handler saw, with the time it saw it."""

    def __init__(self, rtm: RtmClient) -> None:
        self.events: list[tuple[float, Event]] = []
        rtm.on("*")(self._on)

    def _on(self, event: Event) -> None:
        self.events.append((time.monotonic(), event))

    def of(self, kind: type[Any]) -> list[Any]:
        return [event for _, event in self.events if isinstance(event, kind)]

    def first_at(self, kind: type[Any], after: float = 0.0) -> float | None:
        for at, event in self.events:
            if at >= after and isinstance(event, kind):
                return at
        return None

    def texts(self) -> list[str]:
        return [m.text for m in self.of(Message) if m.text is not None]

    async def until(self, check: Callable[[], object], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                kinds = [type(e).__name__ for _, e in self.events]
                raise AssertionError(f"timed out; events so far: {kinds}")
            await asyncio.sleep(0.01)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(write_rate=None) as emulator:
        yield emulator


@pytest.fixture
async def proxy(emu: Emulator) -> AsyncIterator[ChaosProxy]:
    async with ChaosProxy("127.0.0.1", emu.port) as chaos:
        yield chaos


def _person(emu: Emulator) -> str:
    return next(iter(emu.user_tokens))


async def _post(emu: Emulator, texts: list[str]) -> None:
    for text in texts:
        await emu.post_message(_person(emu), emu.general_channel_id, text)


async def _reconnected(rtm: RtmClient, watch: Watch, emu: Emulator, calls: int) -> None:
    await watch.until(lambda: emu.connect_calls >= calls and rtm.state is State.CONNECTED)


def _assert_once(watch: Watch, texts: list[str]) -> None:
    got = watch.texts()
    for text in texts:
        assert got.count(text) == 1, f"{text!r} delivered {got.count(text)} times"


async def test_abrupt_reset_mid_stream(emu: Emulator, proxy: ChaosProxy) -> None:
    rtm = RtmClient(emu.bot_token, base_url=proxy.url("/api"), config=_config())
    watch = Watch(rtm)
    async with rtm:
        before = [f"before {i}" for i in range(5)]
        await _post(emu, before)
        await watch.until(lambda: len(watch.texts()) >= 5)
        in_flight = asyncio.create_task(rtm.send_message(emu.general_channel_id, "in flight"))
        await asyncio.sleep(0)
        cut_at = time.monotonic()
        assert await proxy.cut("reset") >= 1
        await _reconnected(rtm, watch, emu, 2)
        recovered = time.monotonic() - cut_at
        assert recovered < 1.0
        try:  # resolved exactly once: acked, or an error that says the outcome is unknown
            ack = await asyncio.wait_for(in_flight, 3.0)
            assert ack.ok
        except SendOutcomeUnknownError:
            pass
        after = [f"after {i}" for i in range(5)]
        await _post(emu, after)
        await watch.until(lambda: len(watch.texts()) >= 10)
        _assert_once(watch, before + after)
        assert watch.of(Disconnected)
        assert watch.of(Reconnecting)
        assert len(watch.of(Connected)) >= 2


async def test_close_frame(emu: Emulator) -> None:
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, config=_config())
    watch = Watch(rtm)
    async with rtm:
        assert await emu.drop_connections(abrupt=False) == 1
        await _reconnected(rtm, watch, emu, 2)
        assert watch.of(Disconnected)
        await _post(emu, ["after close"])
        await watch.until(lambda: "after close" in watch.texts())
        assert (await rtm.send_message(emu.general_channel_id, "still works")).ok


async def test_goodbye_loses_no_event(emu: Emulator) -> None:
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, config=_config())
    watch = Watch(rtm)
    async with rtm:
        texts = [f"m{i}" for i in range(60)]
        for i, text in enumerate(texts):
            if i == 20:
                await emu.send_goodbye(close_after=0.5)
            await emu.post_message(_person(emu), emu.general_channel_id, text)
            await asyncio.sleep(0.01)
        await watch.until(lambda: len(set(watch.texts())) >= 60 and emu.connect_calls >= 2)
        _assert_once(watch, texts)
        got = [t for t in watch.texts() if t in texts]
        assert got == texts  # and in order
        assert rtm.state is State.CONNECTED


async def test_team_migration(emu: Emulator) -> None:
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, config=_config())
    watch = Watch(rtm)
    async with rtm:
        started = time.monotonic()
        await emu.start_migration(duration=0.6)
        await _reconnected(rtm, watch, emu, 3)
        took = time.monotonic() - started
        assert 0.6 <= took < 2.5
        refused = [c for c in emu.connect_log if c.error == "migration_in_progress"]
        assert refused, "the client never met migration_in_progress"
        assert rtm.error is None


async def test_blackholed_link_is_detected_within_the_ping_timeout(
    emu: Emulator, proxy: ChaosProxy
) -> None:
    config = _config(ping_interval=0.2, ping_timeout=0.4)
    rtm = RtmClient(emu.bot_token, base_url=proxy.url("/api"), config=config)
    watch = Watch(rtm)
    async with rtm:
        await asyncio.sleep(0.3)
        proxy.blackhole("both")
        holed_at = time.monotonic()
        await watch.until(lambda: watch.first_at(Disconnected, holed_at) is not None, 1.5)
        detected = watch.first_at(Disconnected, holed_at)
        assert detected is not None
        assert detected - holed_at <= 0.2 + 0.4 + 0.3
        proxy.heal()
        await _reconnected(rtm, watch, emu, 2)
        assert (await rtm.send_message(emu.general_channel_id, "back")).ok


async def test_429_on_reconnect_waits_retry_after(emu: Emulator) -> None:
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, config=_config())
    watch = Watch(rtm)
    async with rtm:
        emu.rate_limit_next_connects(1, retry_after=1)
        dropped_at = time.monotonic()
        await emu.drop_connections(abrupt=True)
        await _reconnected(rtm, watch, emu, 3)
        assert time.monotonic() - dropped_at >= 1.0
        assert any(r.delay >= 1.0 for r in watch.of(Reconnecting))
        assert [c.status for c in emu.connect_log][-2:] == [429, 200]


async def test_5xx_json_on_reconnect(emu: Emulator) -> None:
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, config=_config())
    watch = Watch(rtm)
    async with rtm:
        emu.fail_next_connects(2, error="internal_error", status=500)
        await emu.drop_connections(abrupt=True)
        await _reconnected(rtm, watch, emu, 4)
        assert len(watch.of(Reconnecting)) >= 3
        assert rtm.error is None


async def test_html_5xx_on_reconnect(emu: Emulator) -> None:
    """A proxy answers with an HTML error page twice, then lets rtm.connect through again."""
    pages = {"left": 2}

    async def front(request: web.Request) -> web.StreamResponse:
        if pages["left"] > 0 and request.path.endswith("/rtm.connect") and emu.connect_calls:
            pages["left"] -= 1
            return web.Response(
                status=502, text="<html>Bad Gateway</html>", content_type="text/html"
            )
        async with httpx.AsyncClient() as client:
            upstream = await client.request(
                request.method,
                f"{emu.base_url}{request.rel_url}",
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                content=await request.read(),
            )
        return web.Response(
            status=upstream.status_code, body=upstream.content, content_type="application/json"
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", front)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        rtm = RtmClient(emu.bot_token, base_url=f"http://127.0.0.1:{port}/api", config=_config())
        watch = Watch(rtm)
        async with rtm:
            await emu.drop_connections(abrupt=True)
            await watch.until(lambda: pages["left"] == 0 and rtm.state is State.CONNECTED)
            await _reconnected(rtm, watch, emu, 2)
            assert len(watch.of(Reconnecting)) >= 3
            assert any("502" in r.reason or "HTTP" in r.reason for r in watch.of(Reconnecting))
    finally:
        await runner.cleanup()


async def test_invalid_auth_on_reconnect_stops_without_retrying(emu: Emulator) -> None:
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, config=_config())
    watch = Watch(rtm)
    await rtm.connect()
    try:
        emu.set_token_error(emu.bot_token, "invalid_auth")
        await emu.drop_connections(abrupt=True)
        with pytest.raises(RtmConnectErrorSchemaError) as info:
            await asyncio.wait_for(rtm.wait_closed(), 3.0)
        assert info.value.error == "invalid_auth"
        assert rtm.state is State.CLOSED
        await asyncio.sleep(0.3)
        assert emu.connect_calls == 2  # one refused call, no retry storm
        with pytest.raises((ConnectionClosedError, SlackRtmError)):
            await rtm.send_message(emu.general_channel_id, "too late")
        assert watch.of(Reconnecting)  # what the handlers saw before the stop
    finally:
        await rtm.close()


async def test_handlers_see_the_closed_event_after_a_fatal_error(emu: Emulator) -> None:
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, config=_config())
    watch = Watch(rtm)
    await rtm.connect()
    try:
        emu.set_token_error(emu.bot_token, "invalid_auth")
        await emu.drop_connections(abrupt=True)
        with pytest.raises(RtmConnectErrorSchemaError):
            await asyncio.wait_for(rtm.wait_closed(), 3.0)
        await asyncio.sleep(0.1)
        closed = watch.of(Closed)
        assert closed, "no closed event reached the handlers"
        assert closed[-1].error is not None
    finally:
        await rtm.close()


async def test_expired_url(proxy: ChaosProxy) -> None:
    async with Emulator(url_ttl=0.3, write_rate=None) as emu, ChaosProxy(
        "127.0.0.1", emu.port
    ) as slow:
        slow.set_latency(up=0.5)  # the WebSocket handshake reaches the emulator after the TTL
        rtm = RtmClient(emu.bot_token, base_url=slow.url("/api"), config=_config())
        connecting = asyncio.create_task(rtm.connect())
        while emu.connect_calls < 1:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # the handshake was read by the proxy with the old latency
        slow.set_latency()
        try:
            await asyncio.wait_for(connecting, 5.0)
            assert rtm.state is State.CONNECTED
            assert emu.connect_calls >= 2  # the expired URL was replaced by a fresh one
        finally:
            await rtm.close()


async def test_connection_refused_for_a_while_then_back(emu: Emulator, proxy: ChaosProxy) -> None:
    rtm = RtmClient(emu.bot_token, base_url=proxy.url("/api"), config=_config())
    watch = Watch(rtm)
    async with rtm:
        await proxy.refuse(for_seconds=0.6)
        cut_at = time.monotonic()
        await proxy.cut("reset")
        await _reconnected(rtm, watch, emu, 2)
        took = time.monotonic() - cut_at
        assert 0.55 <= took < 2.0
        assert len(watch.of(Reconnecting)) >= 2  # it kept trying while refused


async def test_slow_handler_does_not_starve_keepalive(emu: Emulator) -> None:
    config = _config(ping_interval=0.2, ping_timeout=0.4)
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, config=config)
    watch = Watch(rtm)
    done = asyncio.Event()

    @rtm.on("message")
    async def slow(event: Event) -> None:
        await asyncio.sleep(1.0)
        done.set()

    async with rtm:
        emu.clear_received()
        await _post(emu, ["take your time"])
        await asyncio.wait_for(done.wait(), 3.0)
        pings = [f for f in emu.received if '"ping"' in f.text]
        assert len(pings) >= 3  # keepalive went on while the handler slept
        assert emu.connect_calls == 1
        assert not watch.of(Disconnected)


async def test_send_flood_is_paced_not_disconnected() -> None:
    async with Emulator(write_rate=25.0, write_burst=5, write_abuse_limit=2) as emu:
        rtm = RtmClient(
            emu.bot_token, base_url=emu.api_url, config=_config(send_rate=20.0, send_burst=5)
        )
        async with rtm:
            started = time.monotonic()
            acks = await asyncio.wait_for(
                asyncio.gather(
                    *(rtm.send_message(emu.general_channel_id, f"flood {i}") for i in range(15))
                ),
                5.0,
            )
            assert all(ack.ok for ack in acks)
            assert time.monotonic() - started >= (15 - 5) / 20 * 0.8
            assert emu.connect_calls == 1  # never disconnected for abuse


async def test_oversize_messages_are_refused_locally(emu: Emulator) -> None:
    async with RtmClient(emu.bot_token, base_url=emu.api_url, config=_config()) as rtm:
        emu.clear_received()
        with pytest.raises(FrameTooLargeError):
            await rtm.send_message(emu.general_channel_id, "x" * 4001)
        with pytest.raises(FrameTooLargeError):  # 4,000 characters, but over 16 KB of JSON
            await rtm.send_message(emu.general_channel_id, "\u0001" * 4000)
        await asyncio.sleep(0.1)
        assert not [f for f in emu.received if '"message"' in f.text]
        assert (await rtm.send_message(emu.general_channel_id, "x" * 4000)).ok
        assert emu.connect_calls == 1


async def _close_promptly(rtm: RtmClient) -> None:
    started = time.monotonic()
    await asyncio.wait_for(rtm.close(), 3.0)
    assert time.monotonic() - started < 1.5
    assert rtm.state is State.CLOSED


async def test_close_in_every_state(emu: Emulator, proxy: ChaosProxy) -> None:
    before = asyncio.all_tasks()
    # idle
    await _close_promptly(RtmClient(emu.bot_token, base_url=emu.api_url, config=_config()))
    # connecting (rtm.connect delayed by the proxy)
    proxy.set_latency(down=1.0)
    rtm = RtmClient(emu.bot_token, base_url=proxy.url("/api"), config=_config())
    connecting = asyncio.create_task(rtm.connect())
    await asyncio.sleep(0.1)
    assert rtm.state is State.CONNECTING
    await _close_promptly(rtm)
    with pytest.raises(SlackRtmError):
        await asyncio.wait_for(connecting, 2.0)
    proxy.set_latency()
    # connected, with a send pending
    rtm = RtmClient(emu.bot_token, base_url=proxy.url("/api"), config=_config())
    await rtm.connect()
    proxy.blackhole("down")
    pending = asyncio.create_task(rtm.send_message(emu.general_channel_id, "pending"))
    await asyncio.sleep(0.05)
    await _close_promptly(rtm)
    with pytest.raises(SlackRtmError):
        await asyncio.wait_for(pending, 1.0)
    proxy.heal()
    # reconnecting (the proxy refuses)
    rtm = RtmClient(emu.bot_token, base_url=proxy.url("/api"), config=_config())
    await rtm.connect()
    await proxy.refuse()
    await proxy.cut("reset")
    deadline = time.monotonic() + 2.0
    while rtm.state is not State.RECONNECTING and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert rtm.state is State.RECONNECTING
    await _close_promptly(rtm)
    # closed: again
    await _close_promptly(rtm)
    await proxy.accept()
    await asyncio.sleep(0.05)
    leaked = asyncio.all_tasks() - before
    assert not leaked, leaked
    await emu.wait_connections(0, timeout=2.0)
