"""A Socket Mode session's secrets never show (issue 14): the app token, the bot token, the
Socket Mode URLs' tickets, a command's verification token and response_url.

A whole session at DEBUG (connect with a pool, events, a command answered, a send, a refused
send, a refresh, a dead link, a failed apps.connections.open, link_disabled): none of them
appears in a log record, output, repr or exception.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from slack_rtm import Backoff
from slack_rtm.aio import SocketModeClient
from slack_rtm.emulator import Emulator
from slack_rtm.errors import SendError, SocketModeDisabledError

from .leakcheck import LeakCheck

FAST: dict[str, Any] = {"reconnect": Backoff(0.01, 0.05), "ping_interval": 0.2,
                        "ping_timeout": 0.3, "response_timeout": 0.5}


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(write_rate=None, ack_timeout=1.0) as emulator:
        yield emulator


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_no_secret_leaks_through_a_whole_socket_mode_session(
    emu: Emulator, leakcheck: LeakCheck
) -> None:
    leakcheck.add_secret(emu.app_token)
    leakcheck.add_secret(emu.bot_token)
    client = SocketModeClient(emu.app_token, bot_token=emu.bot_token, base_url=emu.api_url,
                              **FAST)
    seen: list[Any] = []
    client.on("*")(seen.append)

    @client.on("slash_command")
    def answer(cmd: Any) -> dict[str, str]:
        return {"text": "done"}

    await client.connect()
    leakcheck.see(client, client.self, client.team)
    await emu.wait_socket_mode_connections(2, timeout=3.0)
    person = emu.workspace.people[0].id
    await emu.post_message(person, emu.general_channel_id, "hello app")
    await emu.send_slash_command("/go", "now")
    await emu.send_interaction()
    leakcheck.see(await client.send_message(emu.general_channel_id, "from the app"))
    with pytest.raises(SendError) as refused:
        await client.send_message("C0NOPE", "x")
    leakcheck.see(refused.value)
    await _until(lambda: len(emu.socket_mode_acks) >= 3)
    # a refresh, a dead link, a failed apps.connections.open
    await emu.socket_mode_disconnect("refresh_requested", close_after=0.2)
    await emu.wait_socket_mode_connections(2, timeout=5.0)
    emu.fail_next_connects(1, error="internal_error", status=500)
    emu.set_pong(False)
    await _until(lambda: any(e.type == "disconnected" for e in seen))
    emu.set_pong(True)
    await emu.wait_socket_mode_connections(2, timeout=5.0)
    await emu.socket_mode_disconnect("link_disabled")
    with pytest.raises(SocketModeDisabledError) as stopped:
        await asyncio.wait_for(client.wait_closed(), 5.0)
    await client.close()
    leakcheck.see(stopped.value, client, *seen)
    for url in emu.issued_urls:  # the tickets: single-use credentials
        parts = urlsplit(url)
        leakcheck.add_secret(parts.path.rsplit("/", 1)[-1])
    for envelope in emu.socket_mode_envelopes:
        payload = envelope.payload
        for key in ("token", "response_url"):
            value = payload.get(key)
            if isinstance(value, str):
                leakcheck.add_secret(value)
    assert leakcheck.record_count > 20
    leakcheck.assert_clean()
