"""SocketModeClient under faults: refresh, link_disabled, dead links, drops, fatal codes."""

from __future__ import annotations

import asyncio
import time

import pytest
from aio_helpers import Recorder, person
from sm_helpers import assert_sm_no_leftovers, fast, make_sm, sm_emu, until

from slack_rtm.aio import State
from slack_rtm.emulator import Emulator
from slack_rtm.errors import RtmConnectErrorSchemaError, SocketModeDisabledError

__all__ = ["sm_emu"]


@pytest.mark.parametrize("pool", [1, 2])
async def test_refresh_without_a_lost_or_duplicated_envelope(sm_emu: Emulator, pool: int) -> None:
    emu = sm_emu
    client = make_sm(emu, config=fast(connections=pool))
    async with client:
        rec = Recorder(client)  # type: ignore[arg-type]
        await emu.wait_socket_mode_connections(pool, timeout=3.0)
        posting = True
        sent: list[str] = []

        async def post() -> None:
            n = 0
            while posting:
                sent.append(await emu.post_message(person(emu), emu.general_channel_id, f"r{n}"))
                n += 1
                await asyncio.sleep(0.01)

        task = asyncio.ensure_future(post())
        await until(lambda: len(sent) >= 10, what="posts before the refresh")
        old = emu.socket_mode_connection_ids
        for conn in old:  # both sockets, one after the other, as Slack does
            await emu.socket_mode_disconnect("refresh_requested", close_after=0.3,
                                             connection=conn)
            await asyncio.sleep(0.15)
        await until(lambda: not set(old) & set(emu.socket_mode_connection_ids)
                    and emu.socket_mode_connections == pool, timeout=5.0, what="new sockets")
        await until(lambda: len(sent) >= 60, what="posts after the refresh")
        posting = False
        await task
        await rec.has_ts(sent, timeout=5.0)
        await asyncio.sleep(0.2)
        assert client.state is State.CONNECTED
        assert rec.of("disconnected") == []
    got = [m.ts for m in rec.of("message")]
    assert sorted(got) == sorted(sent)  # every one, once
    assert emu.socket_mode_unacked == []
    assert all(e.retry_attempt == 0 for e in emu.socket_mode_envelopes)
    assert_sm_no_leftovers(client)


async def test_link_disabled_is_fatal(sm_emu: Emulator) -> None:
    emu = sm_emu
    client = make_sm(emu)
    await client.connect()
    await emu.wait_socket_mode_connections(2, timeout=3.0)
    await emu.socket_mode_disconnect("link_disabled")
    with pytest.raises(SocketModeDisabledError, match="Socket Mode"):
        await asyncio.wait_for(client.wait_closed(), 3.0)
    assert client.state is State.CLOSED
    assert isinstance(client.error, SocketModeDisabledError)
    await client.close()
    assert_sm_no_leftovers(client)


async def test_dead_link_detected_with_pongs_off(sm_emu: Emulator) -> None:
    emu = sm_emu
    client = make_sm(emu, config=fast(connections=1, ping_interval=0.2, ping_timeout=0.3))
    async with client:
        rec = Recorder(client)  # type: ignore[arg-type]
        await emu.wait_socket_mode_connections(1, timeout=3.0)
        first = emu.socket_mode_connection_ids
        emu.set_pong(False)
        start = time.monotonic()
        await rec.count("disconnected", 1, timeout=3.0)
        assert time.monotonic() - start < 1.5
        emu.set_pong(True)
        await rec.count("connected", 2, timeout=3.0)
        await until(lambda: emu.socket_mode_connection_ids != first
                    and emu.socket_mode_connections == 1, what="a new socket")
        ts = await emu.post_message(person(emu), emu.general_channel_id, "after")
        await rec.has_ts([ts])


async def test_pings_keep_a_quiet_link(sm_emu: Emulator) -> None:
    emu = sm_emu
    client = make_sm(emu, config=fast(connections=1, ping_interval=0.1, ping_timeout=0.3))
    async with client:
        rec = Recorder(client)  # type: ignore[arg-type]
        await asyncio.sleep(1.0)  # ten quiet intervals: pinged, answered, kept
        assert rec.of("disconnected") == []
        assert client.connections == 1


async def test_abrupt_drop_reconnects_and_keeps_receiving(sm_emu: Emulator) -> None:
    emu = sm_emu
    client = make_sm(emu)
    async with client:
        rec = Recorder(client)  # type: ignore[arg-type]
        await emu.wait_socket_mode_connections(2, timeout=3.0)
        emu.fail_next_connects(1, error="internal_error", status=500)
        await emu.drop_connections(abrupt=True)
        await rec.count("disconnected", 1, timeout=3.0)
        await emu.wait_socket_mode_connections(2, timeout=5.0)
        assert client.state is State.CONNECTED
        ts = await emu.post_message(person(emu), emu.general_channel_id, "back")
        await rec.has_ts([ts])
        assert rec.of("reconnecting")


async def test_not_allowed_token_type_is_fatal(sm_emu: Emulator) -> None:
    emu = sm_emu
    client = make_sm(emu)
    # A token that passes the local check (xapp-) is refused by kind on the server: here the
    # bot token is slipped in under the app token's name to make the emulator say so.
    client._token = emu.bot_token
    with pytest.raises(RtmConnectErrorSchemaError) as info:
        await client.connect()
    assert info.value.error == "not_allowed_token_type"
    assert info.value.fatal
    assert client.state is State.CLOSED
    assert emu.socket_mode_connections == 0
    assert_sm_no_leftovers(client)


async def test_invalid_app_token_is_fatal_and_calls_once(sm_emu: Emulator) -> None:
    emu = sm_emu
    client = make_sm(emu, bot_token=None)
    client._token = "xapp-1-A000-1-notissued"
    with pytest.raises(RtmConnectErrorSchemaError) as info:
        await client.connect()
    assert info.value.error == "invalid_auth"
    assert client.state is State.CLOSED


async def test_bot_token_refused_by_auth_test_is_fatal(sm_emu: Emulator) -> None:
    emu = sm_emu
    client = make_sm(emu, bot_token="xoxb-0-not-a-bot")
    with pytest.raises(RtmConnectErrorSchemaError) as info:
        await client.connect()
    assert info.value.error == "invalid_auth"
    assert client.state is State.CLOSED
    assert emu.socket_mode_connections == 0


async def test_retry_after_on_apps_connections_open(sm_emu: Emulator) -> None:
    emu = sm_emu
    emu.fail_next_connects(1, error="ratelimited", status=429, retry_after=1)
    client = make_sm(emu, config=fast(connections=1))
    start = time.monotonic()
    async with client:
        assert time.monotonic() - start >= 0.95
        assert client.state is State.CONNECTED


async def test_close_is_clean_in_every_state(sm_emu: Emulator) -> None:
    emu = sm_emu
    idle = make_sm(emu)
    await idle.close()
    assert idle.state is State.CLOSED
    emu.fail_next_connects(50, error="internal_error", status=500)
    connecting = make_sm(emu)
    task = asyncio.ensure_future(connecting.connect())
    await asyncio.sleep(0.2)
    await connecting.close()
    with pytest.raises(Exception):  # noqa: B017,PT011 - closed while connecting
        await task
    assert connecting.state is State.CLOSED
    assert_sm_no_leftovers(connecting)
