"""SocketModeClient against the emulator over loopback: events, acks, sends, close."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from aio_helpers import next_event, person
from sm_helpers import assert_sm_no_leftovers, fast, make_sm, sm_emu, until

from slack_rtm import codes
from slack_rtm.aio import SocketModeClient, State
from slack_rtm.emulator import Emulator
from slack_rtm.errors import (
    ConnectionClosedError,
    NotSupportedError,
    SendError,
    StateError,
)
from slack_rtm.session.events import Connected, Hello, Interaction, Message, SlashCommand

__all__ = ["sm_emu"]


async def test_connect_pool_self_team_events_and_close(sm_emu: Emulator,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    emu = sm_emu
    client = make_sm(emu)
    assert client.state is State.IDLE
    with pytest.raises(StateError):
        _ = client.self
    async with client:
        assert client.state is State.CONNECTED
        assert client.self.id == emu.bot_user_id
        assert client.team.id == emu.team_id
        await emu.wait_socket_mode_connections(2, timeout=3.0)
        it = aiter(client)
        first = await next_event(it, "connected")
        assert isinstance(first, Connected)
        assert isinstance(await next_event(it, "hello"), Hello)
        ts = await emu.post_message(person(emu), emu.general_channel_id, "hello app")
        msg = await next_event(it, "message")
        assert isinstance(msg, Message)
        assert (msg.text, msg.ts, msg.channel) == ("hello app", ts, emu.general_channel_id)
        env = msg.envelope
        assert env is not None
        assert env.type == "events_api"
        assert env.retry_attempt == 0
        assert env.event_id is not None
        assert env.event_id.startswith("Ev")
        await emu.wait_socket_mode_acks(1, timeout=2.0)
        ack = emu.socket_mode_acks[0]
        assert ack.envelope_id == env.envelope_id
        assert ack.seconds is not None
        assert ack.seconds < 0.5
        assert client.connections == 2
    assert client.state is State.CLOSED
    assert_sm_no_leftovers(client)
    await emu.wait_socket_mode_connections(0, timeout=2.0)
    for secret in (emu.app_token, emu.bot_token):
        assert secret not in caplog.text
        assert secret not in repr(client)
    assert "/socket-mode/" not in caplog.text.replace("/…", "")


async def test_acks_stay_within_the_deadline_under_a_slow_handler(sm_emu: Emulator) -> None:
    emu = sm_emu
    client = make_sm(emu)
    seen: list[str] = []

    @client.on("message")
    async def slow(event: Message) -> None:
        await asyncio.sleep(1.1)  # longer than the emulator's ack_timeout (1 s)
        seen.append(event.text or "")

    async with client:
        await emu.wait_socket_mode_connections(2, timeout=3.0)
        for n in range(2):
            await emu.post_message(person(emu), emu.general_channel_id, f"m{n}")
        await emu.wait_socket_mode_acks(2, timeout=2.0)
        assert all(a.seconds is not None and a.seconds < 0.5 for a in emu.socket_mode_acks)
        await until(lambda: len(seen) == 2, timeout=8.0, what="the slow handler")
    assert sorted(seen) == ["m0", "m1"]  # two sockets: no order between them
    assert emu.socket_mode_unacked == []
    assert all(e.retry_attempt == 0 for e in emu.socket_mode_envelopes)


async def test_ack_after_handler(sm_emu: Emulator) -> None:
    emu = sm_emu
    client = make_sm(emu, config=fast(ack_after_handler=True))
    release = asyncio.Event()
    handled: list[float] = []

    @client.on("message")
    async def gated(event: Message) -> None:
        await release.wait()
        handled.append(time.monotonic())

    async with client:
        await emu.wait_socket_mode_connections(2, timeout=3.0)
        await emu.post_message(person(emu), emu.general_channel_id, "later")
        await asyncio.sleep(0.3)
        assert emu.socket_mode_acks == []  # the handler has not returned
        release.set()
        await emu.wait_socket_mode_acks(1, timeout=2.0)
        assert handled
        assert emu.socket_mode_acks[0].retry_attempt == 0


async def test_ack_after_handler_failure_is_redelivered_once_more(sm_emu: Emulator,
                                                                  caplog: pytest.LogCaptureFixture,
                                                                  ) -> None:
    emu = sm_emu
    client = make_sm(emu, config=fast(ack_after_handler=True))
    attempts: list[int] = []

    @client.on("message")
    def flaky(event: Message) -> None:
        assert event.envelope is not None
        attempts.append(event.envelope.retry_attempt)
        if len(attempts) == 1:
            raise RuntimeError("first try fails")

    async with client:
        await emu.wait_socket_mode_connections(2, timeout=3.0)
        await emu.post_message(person(emu), emu.general_channel_id, "retry me")
        await emu.wait_socket_mode_acks(1, timeout=4.0)
        await asyncio.sleep(0.1)
    assert attempts == [0, 1]
    assert [a.retry_attempt for a in emu.socket_mode_acks] == [1]
    assert "Slack will redeliver" in caplog.text


async def test_redelivery_is_acked_and_not_delivered_twice(sm_emu: Emulator) -> None:
    emu = sm_emu
    client = make_sm(emu, config=fast(ack_after_handler=True))
    got: list[Message] = []
    gate = asyncio.Event()

    @client.on("message")
    async def hold(event: Message) -> None:
        got.append(event)
        await gate.wait()  # past the emulator's ack_timeout: it redelivers meanwhile

    async with client:
        await emu.wait_socket_mode_connections(2, timeout=3.0)
        await emu.post_message(person(emu), emu.general_channel_id, "once")
        await until(lambda: any(e.retry_attempt == 1 for e in emu.socket_mode_envelopes),
                    timeout=3.0, what="a redelivery")
        await asyncio.sleep(0.1)
        gate.set()
        await emu.wait_socket_mode_acks(2, timeout=2.0)
    assert len(got) == 1
    assert sorted(a.retry_attempt for a in emu.socket_mode_acks) == [0, 1]


async def test_slash_command_answered_with_a_payload(sm_emu: Emulator) -> None:
    emu = sm_emu
    client = make_sm(emu)

    @client.on("slash_command")
    async def deploy(cmd: SlashCommand) -> dict[str, str]:
        await asyncio.sleep(0.05)
        return {"text": f"deploying {cmd.text}"}

    async with client:
        await emu.wait_socket_mode_connections(2, timeout=3.0)
        envelope_id = await emu.send_slash_command("/deploy", "prod")
        await emu.wait_socket_mode_acks(1, timeout=2.0)
    ack = emu.socket_mode_acks[0]
    assert ack.envelope_id == envelope_id
    assert ack.payload == {"text": "deploying prod"}


async def test_response_timeout_acks_without_payload(sm_emu: Emulator,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    emu = sm_emu
    client = make_sm(emu, config=fast(response_timeout=0.3))
    commands: list[SlashCommand] = []

    @client.on("slash_command")
    async def too_slow(cmd: SlashCommand) -> dict[str, str]:
        commands.append(cmd)
        await asyncio.sleep(0.6)
        return {"text": "late"}

    async with client:
        await emu.wait_socket_mode_connections(2, timeout=3.0)
        await emu.send_slash_command("/slow", "x")
        await emu.wait_socket_mode_acks(1, timeout=2.0)
        ack = emu.socket_mode_acks[0]
        assert ack.payload is None
        assert ack.seconds is not None
        assert 0.25 < ack.seconds < 0.9
        await asyncio.sleep(0.5)
    assert "without a response payload" in caplog.text
    assert "after it was acknowledged" in caplog.text
    assert commands[0].command == "/slow"
    assert len(emu.socket_mode_acks) == 1


async def test_interaction_and_iteration_acks(sm_emu: Emulator) -> None:
    emu = sm_emu
    client = make_sm(emu, config=fast(ack_after_handler=True))
    async with client:
        await emu.wait_socket_mode_connections(2, timeout=3.0)
        it = aiter(client)
        envelope_id = await emu.send_interaction()
        item = await next_event(it, "interactive")
        assert isinstance(item, Interaction)
        assert item.interaction_type == "block_actions"
        await asyncio.sleep(0.2)
        assert emu.socket_mode_acks == []  # not consumed yet: the loop is here
        await emu.post_message(person(emu), emu.general_channel_id, "next")
        await next_event(it, "message")  # asking for more consumed the interaction
        await emu.wait_socket_mode_acks(1, timeout=2.0)
        assert emu.socket_mode_acks[0].envelope_id == envelope_id


async def test_send_message_and_errors(sm_emu: Emulator) -> None:
    emu = sm_emu
    client = make_sm(emu)
    with pytest.raises(StateError):
        await client.send_message(emu.general_channel_id, "too early")
    async with client:
        it = aiter(client)
        ack = await client.send_message(emu.general_channel_id, "hi from the app")
        assert ack.ok
        assert ack.ts is not None
        assert ack.channel == emu.general_channel_id
        assert ack.text == "hi from the app"
        echo = await next_event(it, "message")
        assert echo.ts == ack.ts
        reply = await client.send_message(emu.general_channel_id, "in thread", thread_ts=ack.ts)
        assert reply.ts is not None
        with pytest.raises(SendError) as info:
            await client.send_message("C0NOTHERE", "x")
        assert info.value.code == codes.CHANNEL_NOT_FOUND
        with pytest.raises(ValueError, match="text"):
            await client.send_message(emu.general_channel_id, "")
        with pytest.raises(TypeError, match="channel"):
            await client.send_message(1, "x")  # type: ignore[arg-type]
        with pytest.raises(NotSupportedError):
            await client.send_typing(emu.general_channel_id)
        with pytest.raises(NotSupportedError):
            await client.subscribe_presence([person(emu)])
        with pytest.raises(NotSupportedError):
            await client.query_presence([person(emu)])
    with pytest.raises(ConnectionClosedError):
        await client.send_message(emu.general_channel_id, "too late")


async def test_send_honours_429_and_paces_per_channel(sm_emu: Emulator) -> None:
    emu = sm_emu
    emu.set_post_rate_limit(2.0, burst=1)
    client = make_sm(emu, send_rate=100.0, send_burst=10)  # our pacing looser than Slack's
    async with client:
        start = time.monotonic()
        acks = [await client.send_message(emu.general_channel_id, f"n{n}") for n in range(3)]
        took = time.monotonic() - start
    assert len({a.ts for a in acks}) == 3
    assert took >= 0.5  # two 429s honoured (Retry-After), no failure


async def test_pacing_spaces_posts_to_one_channel(sm_emu: Emulator) -> None:
    emu = sm_emu
    client = make_sm(emu, send_rate=10.0, send_burst=1)
    async with client:
        start = time.monotonic()
        for n in range(4):
            await client.send_message(emu.general_channel_id, f"p{n}")
        took = time.monotonic() - start
    assert took >= 0.28


async def test_without_bot_token(sm_emu: Emulator) -> None:
    emu = sm_emu
    client = make_sm(emu, bot_token=None)
    async with client:
        with pytest.raises(StateError, match="bot_token"):
            _ = client.self
        with pytest.raises(StateError, match="bot_token"):
            _ = client.team
        with pytest.raises(StateError, match="bot_token"):
            await client.send_message(emu.general_channel_id, "x")


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="app_token") as info:
        SocketModeClient("xoxb-123-abc")
    assert "xoxb-123-abc" not in str(info.value)
    with pytest.raises(TypeError, match="app_token"):
        SocketModeClient(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bot_token") as info:
        SocketModeClient("xapp-1-A-1-abc", bot_token="xapp-1-A-1-abc")
    assert "xapp-1-A-1-abc" not in str(info.value)
    with pytest.raises(ValueError, match="app_token"):
        SocketModeClient("xapp-1 bad")
    with pytest.raises(ValueError, match="connections"):
        SocketModeClient("xapp-1-A-1-abc", connections=11)
    with pytest.raises(ValueError, match="response_timeout"):
        SocketModeClient("xapp-1-A-1-abc", response_timeout=3.5)
    with pytest.raises(ValueError, match="inside config"):
        SocketModeClient("xapp-1-A-1-abc", config=fast(), connections=1)
    with pytest.raises(ValueError, match="http://"):
        SocketModeClient("xapp-1-A-1-abc", base_url="http://example.com/api/")
    with pytest.raises(ValueError, match="rate"):
        SocketModeClient("xapp-1-A-1-abc", send_rate=0)
    with pytest.raises(TypeError, match="send_retry"):
        SocketModeClient("xapp-1-A-1-abc", send_retry=3)  # type: ignore[arg-type]
    client = SocketModeClient("xapp-1-A-1-secretpart", bot_token="xoxb-1-secretbot")
    assert "secretpart" not in repr(client)
    assert "secretbot" not in repr(client)
