"""Every fault the emulator injects and what the user sees: no event and no send is lost."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from aio_helpers import FAST, Recorder, assert_no_leftovers, make_client, person

from slack_rtm.aio import State
from slack_rtm.emulator import Emulator
from slack_rtm.errors import (
    ConnectionClosedError,
    RtmConnectErrorSchemaError,
    SendOutcomeUnknownError,
)
from slack_rtm.session.events import Disconnected, Reconnecting


async def _connected_again(rec: Recorder, n: int, timeout: float = 5.0) -> None:
    await rec.count("connected", n, timeout)
    assert rec.rtm.state is State.CONNECTED


async def test_abrupt_drop_reconnects_and_queued_sends_go_out(emu: Emulator) -> None:
    alice = person(emu)
    async with make_client(emu) as rtm:
        rec = Recorder(rtm)
        await rec.count("connected", 1)
        await asyncio.sleep(0.3)  # a healthy session: reconnect at once
        assert await emu.drop_connections(abrupt=True) == 1
        await rec.count("disconnected", 1)
        during = asyncio.ensure_future(rtm.send_message(emu.general_channel_id, "across"))
        await _connected_again(rec, 2)
        ack = await asyncio.wait_for(during, 3)
        assert ack.ok
        assert ack.text == "across"
        await emu.post_message(alice, emu.general_channel_id, "after the drop")
        await rec.wait(lambda: "after the drop" in rec.texts())
        assert emu.connect_calls == 2
        disc = rec.of("disconnected")[0]
        assert isinstance(disc, Disconnected)
        assert rtm._core.pending_count == 0
    assert_no_leftovers(rtm)


async def test_close_frame_from_the_server_reconnects(emu: Emulator) -> None:
    async with make_client(emu) as rtm:
        rec = Recorder(rtm)
        await rec.count("connected", 1)
        await emu.drop_connections(abrupt=False)
        await rec.count("disconnected", 1)
        disc = rec.of("disconnected")[0]
        assert disc.code == 1001
        await _connected_again(rec, 2)
        assert (await rtm.send_message(emu.general_channel_id, "back")).ok


async def test_goodbye_loses_no_event_and_duplicates_none(emu: Emulator) -> None:
    alice = person(emu)
    general = emu.general_channel_id
    async with make_client(emu) as rtm:
        rec = Recorder(rtm)
        await rec.count("connected", 1)
        sent = ["before"]
        await emu.post_message(alice, general, "before")
        await emu.send_goodbye(close_after=0.6)
        for i in range(3):  # right after the goodbye: on the old socket only, or both
            sent.append(f"switch {i}")
            await emu.post_message(alice, general, f"switch {i}")
        await emu.wait_connections(2, timeout=3)  # the new one is open, the old not yet closed
        for i in range(5):
            sent.append(f"overlap {i}")
            await emu.post_message(alice, general, f"overlap {i}")
            await asyncio.sleep(0.01)
        await emu.wait_connections(1, timeout=3)
        for i in range(3):
            sent.append(f"after {i}")
            await emu.post_message(alice, general, f"after {i}")
        await rec.wait(lambda: len(rec.texts()) >= len(sent))
        await asyncio.sleep(0.2)  # time for any duplicate to show up
        assert rec.texts() == sent  # every one, exactly once, in order
        assert emu.connect_calls == 2
        assert rec.of("goodbye")
        assert not rec.of("disconnected")  # make-before-break: the user saw no outage
        assert rtm.state is State.CONNECTED
        assert (await rtm.send_message(general, "on the new socket")).ok


async def test_goodbye_without_the_server_closing_retires_the_old_socket(emu: Emulator) -> None:
    async with make_client(emu) as rtm:
        rec = Recorder(rtm)
        await rec.count("connected", 1)
        await emu.send_goodbye()
        await rec.count("connected", 2)
        await emu.wait_connections(1, timeout=3)  # we closed the old one ourselves


async def test_migration_reconnects_after_migration_in_progress_clears(emu: Emulator) -> None:
    async with make_client(emu) as rtm:
        rec = Recorder(rtm)
        await rec.count("connected", 1)
        started = time.monotonic()
        await emu.start_migration(duration=0.6)
        await _connected_again(rec, 2, timeout=6)
        assert time.monotonic() - started >= 0.55
        assert rec.of("team_migration_started")
        reasons = [r.reason for r in rec.of("reconnecting")]
        assert any("migration_in_progress" in r for r in reasons)
        assert (await rtm.send_message(emu.general_channel_id, "migrated")).ok


async def test_pongs_stop_dead_link_detected_within_the_timeout(emu: Emulator) -> None:
    emu.set_reconnect_urls(False)  # a reconnect_url frame is traffic: it would delay the ping
    async with make_client(emu) as rtm:
        rec = Recorder(rtm)
        await rec.count("connected", 1)
        await asyncio.sleep(0.4)
        emu.set_pong(False)
        stopped = time.monotonic()
        ping = asyncio.ensure_future(rtm.ping())
        await rec.count("disconnected", 1, timeout=5)
        detected = rec.of("disconnected")[0]
        at = next(t for t, e in zip(rec.times, rec.events, strict=True) if e is detected)
        # idle ping after ping_interval, dead ping_timeout later (plus scheduling slack)
        assert at - stopped <= FAST.ping_interval + FAST.ping_timeout + 0.5
        assert "no pong" in detected.reason
        emu.set_pong(True)
        await _connected_again(rec, 2)
        with pytest.raises(SendOutcomeUnknownError):
            await asyncio.wait_for(ping, 3)
        assert rtm._core.pending_count == 0


async def test_429_on_reconnect_waits_at_least_retry_after(emu: Emulator) -> None:
    async with make_client(emu) as rtm:
        rec = Recorder(rtm)
        await rec.count("connected", 1)
        emu.rate_limit_next_connects(1, retry_after=1)
        await emu.drop_connections(abrupt=True)
        await rec.count("disconnected", 1)
        dropped = time.monotonic()
        during = asyncio.ensure_future(rtm.send_message(emu.general_channel_id, "patient"))
        await _connected_again(rec, 2, timeout=5)
        assert time.monotonic() - dropped >= 1.0
        delays = [r.delay for r in rec.of("reconnecting")]
        assert any(d >= 1.0 for d in delays)
        assert emu.connect_calls == 3  # the first, the 429, the one after Retry-After
        assert (await asyncio.wait_for(during, 3)).ok


async def test_fatal_code_on_reconnect_stops_with_that_error(emu: Emulator) -> None:
    rtm = make_client(emu)
    await rtm.connect()
    rec = Recorder(rtm)
    await rec.count("connected", 1)
    emu.set_token_error(emu.bot_token, "invalid_auth")
    await emu.drop_connections(abrupt=True)
    await rec.count("disconnected", 1)
    waiting = asyncio.ensure_future(rtm.send_message(emu.general_channel_id, "never"))
    await rec.count("closed", 1)
    await asyncio.wait_for(rec.task, 3)
    assert isinstance(rec.error, RtmConnectErrorSchemaError)
    assert rec.error.error == "invalid_auth"
    with pytest.raises(RtmConnectErrorSchemaError):
        await rtm.wait_closed()
    with pytest.raises(ConnectionClosedError):
        await waiting
    assert rtm.state is State.CLOSED
    calls = emu.connect_calls
    await asyncio.sleep(0.5)
    assert emu.connect_calls == calls == 2  # no retry storm
    assert "invalid_auth" in (rec.of("closed")[0].error or "")
    await rtm.close()
    assert_no_leftovers(rtm)


async def test_fatal_code_on_first_connect_raises_from_connect(emu: Emulator) -> None:
    emu.set_token_error(emu.bot_token, "token_revoked")
    rtm = make_client(emu)
    with pytest.raises(RtmConnectErrorSchemaError) as info:
        await rtm.connect()
    assert info.value.error == "token_revoked"
    assert emu.connect_calls == 1
    assert rtm.state is State.CLOSED
    assert_no_leftovers(rtm)


async def test_transient_errors_on_first_connect_are_retried(emu: Emulator) -> None:
    emu.fail_next_connects(2, error="internal_error")
    async with make_client(emu) as rtm:
        assert rtm.state is State.CONNECTED
        assert emu.connect_calls == 3


async def test_expired_url_gets_a_new_one(emu: Emulator) -> None:
    emu.expire_next_urls(3)  # the next three URLs are expired when the socket opens them
    rtm = make_client(emu)
    await asyncio.wait_for(rtm.connect(), 5)
    assert emu.connect_calls == 4  # not fatal: it asked for new URLs (with backoff)
    assert rtm.state is State.CONNECTED
    reasons = [e.reason for e in rtm._queue if isinstance(e, Reconnecting)]
    assert any("expired" in r for r in reasons)
    await rtm.close()
    assert_no_leftovers(rtm)


async def test_max_attempts_gives_up(emu: Emulator) -> None:
    emu.fail_next_connects(10, error="service_unavailable")
    from dataclasses import replace

    rtm = make_client(emu, config=replace(FAST, max_attempts=3))
    with pytest.raises(RtmConnectErrorSchemaError) as info:
        await rtm.connect()
    assert info.value.error == "service_unavailable"
    assert emu.connect_calls == 3


async def test_a_reply_deadline_before_the_keepalive_fires_on_time(emu: Emulator) -> None:
    # The driver re-arms its one timer after a send only when the core says a deadline moved
    # earlier: here the ping's reply deadline (0.3 s) comes well before the keepalive (30 s).
    config = dataclasses.replace(FAST, ping_interval=30.0, ping_timeout=30.0, reply_timeout=0.3)
    async with make_client(emu, config=config) as rtm:
        emu.set_pong(False)
        started = time.monotonic()
        with pytest.raises(SendOutcomeUnknownError, match="no reply"):
            await asyncio.wait_for(rtm.ping(), 5.0)
        assert 0.25 <= time.monotonic() - started <= 2.0
        assert rtm.state is State.CONNECTED
