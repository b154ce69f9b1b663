"""slack_sdk's Socket Mode clients, unchanged, against the emulator: the builtin (threads) and the
aiohttp one connect with the app token, get an events_api envelope for a posted message and ack
it (recorded, never redelivered), answer a slash command with a payload, and survive a
``refresh_requested`` disconnect."""

from __future__ import annotations

import asyncio
import queue
import time
from collections.abc import Callable
from typing import Any

import pytest
from slack_sdk import WebClient

from slack_rtm.emulator import Emulator, EmulatorThread

ACK_TIMEOUT = 0.5
TIMEOUT = 5.0


def _ok_opens(log: list[Any]) -> int:
    return sum(1 for c in log if c.method == "apps.connections.open" and c.ok)


def _wait_until(check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.mark.slack_emulator(ack_timeout=ACK_TIMEOUT, reconnect_url_interval=None)
def test_builtin_socket_mode_client(slack_emulator: EmulatorThread) -> None:
    from slack_sdk.socket_mode import SocketModeClient
    from slack_sdk.socket_mode.request import SocketModeRequest
    from slack_sdk.socket_mode.response import SocketModeResponse

    emu = slack_emulator
    requests: queue.Queue[SocketModeRequest] = queue.Queue()

    def listener(client: SocketModeClient, req: SocketModeRequest) -> None:
        payload = {"text": "on it"} if req.type == "slash_commands" else None
        client.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload=payload)
        )
        requests.put(req)

    def next_request(kind: str) -> SocketModeRequest:
        while True:
            req = requests.get(timeout=TIMEOUT)
            if req.type == kind:
                return req

    client = SocketModeClient(
        app_token=emu.app_token,
        web_client=WebClient(base_url=emu.api_url + "/"),
        ping_interval=30,
    )
    client.socket_mode_request_listeners.append(listener)  # type: ignore[arg-type]
    client.connect()
    try:
        emu.wait_socket_mode_connections(1)
        alice = emu.workspace.people[0].id
        ts = emu.post_message(alice, emu.general_channel_id, "hi socket mode")
        req = next_request("events_api")
        assert req.payload["event"]["ts"] == ts
        assert req.retry_attempt == 0
        emu.wait_socket_mode_acks(1)
        assert emu.socket_mode_acks[0].envelope_id == req.envelope_id

        envelope_id = emu.send_slash_command("/deploy", "prod")
        req = next_request("slash_commands")
        assert (req.envelope_id, req.payload["text"]) == (envelope_id, "prod")
        emu.wait_socket_mode_acks(2)
        assert emu.socket_mode_acks[1].payload == {"text": "on it"}

        emu.socket_mode_disconnect("refresh_requested", close_after=0.2)
        _wait_until(lambda: _ok_opens(emu.connect_log) >= 2, "a new apps.connections.open")
        emu.wait_socket_mode_connections(1)
        ts = emu.post_message(alice, emu.general_channel_id, "after the refresh")
        req = next_request("events_api")
        assert req.payload["event"]["ts"] == ts
        emu.wait_socket_mode_acks(3)
        time.sleep(ACK_TIMEOUT * 1.5)  # past the ack timeout: nothing may come back
        assert [e.retry_attempt for e in emu.socket_mode_envelopes] == [0, 0, 0]
        assert emu.socket_mode_unacked == []
        assert requests.empty()
    finally:
        client.close()


async def test_aiohttp_socket_mode_client() -> None:
    from slack_sdk.socket_mode.aiohttp import SocketModeClient
    from slack_sdk.socket_mode.request import SocketModeRequest
    from slack_sdk.socket_mode.response import SocketModeResponse
    from slack_sdk.web.async_client import AsyncWebClient

    async def scenario(emu: Emulator) -> None:
        requests: asyncio.Queue[SocketModeRequest] = asyncio.Queue()

        async def listener(client: SocketModeClient, req: SocketModeRequest) -> None:
            payload = {"text": "on it"} if req.type == "slash_commands" else None
            await client.send_socket_mode_response(
                SocketModeResponse(envelope_id=req.envelope_id, payload=payload)
            )
            await requests.put(req)

        async def next_request(kind: str) -> SocketModeRequest:
            while True:
                req = await asyncio.wait_for(requests.get(), TIMEOUT)
                if req.type == kind:
                    return req

        client = SocketModeClient(
            app_token=emu.app_token,
            web_client=AsyncWebClient(base_url=emu.api_url + "/"),
            ping_interval=30,
        )
        client.socket_mode_request_listeners.append(listener)  # type: ignore[arg-type]
        await client.connect()
        try:
            await emu.wait_socket_mode_connections(1)
            alice = emu.workspace.people[0].id
            ts = await emu.post_message(alice, emu.general_channel_id, "hi aiohttp")
            req = await next_request("events_api")
            assert req.payload["event"]["ts"] == ts
            await emu.wait_socket_mode_acks(1)

            envelope_id = await emu.send_slash_command("/deploy", "staging")
            req = await next_request("slash_commands")
            assert req.envelope_id == envelope_id
            await emu.wait_socket_mode_acks(2)
            assert emu.socket_mode_acks[1].payload == {"text": "on it"}

            await emu.socket_mode_disconnect("refresh_requested", close_after=0.2)
            await emu._wait(lambda: _ok_opens(emu.connect_log) >= 2, TIMEOUT, "a new open")
            await emu.wait_socket_mode_connections(1)
            ts = await emu.post_message(alice, emu.general_channel_id, "after the refresh")
            req = await next_request("events_api")
            assert req.payload["event"]["ts"] == ts
            await emu.wait_socket_mode_acks(3)
            await asyncio.sleep(ACK_TIMEOUT * 1.5)
            assert [e.retry_attempt for e in emu.socket_mode_envelopes] == [0, 0, 0]
            assert emu.socket_mode_unacked == []
            assert requests.empty()
        finally:
            await client.close()

    async with Emulator(ack_timeout=ACK_TIMEOUT, reconnect_url_interval=None) as emu:
        await scenario(emu)
