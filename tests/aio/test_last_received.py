"""RtmClient.last_received (aio and sync): when the session last read a frame, pongs included
(what the gateway's health check reads)."""

from __future__ import annotations

import asyncio
import time

from aio_helpers import make_client

from slack_rtm.emulator import Emulator, EmulatorThread
from slack_rtm.sync import RtmClient as SyncRtmClient


async def test_last_received_moves_with_every_frame(emu: Emulator) -> None:
    rtm = make_client(emu)
    assert rtm.last_received == 0.0
    async with rtm:
        loop = asyncio.get_running_loop()
        after_hello = rtm.last_received
        assert 0 < after_hello <= loop.time()
        await asyncio.sleep(0.05)
        await rtm.ping()  # a pong is not an event, but it is a frame read
        assert rtm.last_received > after_hello


def test_sync_twin_has_it_too() -> None:
    with EmulatorThread() as emu:
        rtm = SyncRtmClient(emu.bot_token, base_url=emu.api_url)
        assert rtm.last_received == 0.0
        with rtm:
            first = rtm.last_received
            assert 0 < first <= time.monotonic()
            time.sleep(0.05)
            rtm.ping()
            assert rtm.last_received > first
