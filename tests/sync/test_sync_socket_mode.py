"""The sync SocketModeClient against the emulator on its thread: events, acks, sends, close."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from slack_rtm.backoff import Backoff
from slack_rtm.emulator import EmulatorThread
from slack_rtm.errors import NotSupportedError, SendError, SocketModeDisabledError
from slack_rtm.session.events import Message, SlashCommand
from slack_rtm.sync import SocketModeClient, State

FAST = {"ping_interval": 0.3, "ping_timeout": 0.5, "reconnect": Backoff(0.01, 0.05)}


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread(write_rate=None, ack_timeout=1.0) as emulator:
        yield emulator


def _client(emu: EmulatorThread, **options: object) -> SocketModeClient:
    merged = {**FAST, **options}
    return SocketModeClient(emu.app_token, bot_token=emu.bot_token, base_url=emu.api_url,
                            **merged)  # type: ignore[arg-type]


def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _person(emu: EmulatorThread) -> str:
    return emu.workspace.people[0].id


def test_sync_events_sends_and_clean_close(emu: EmulatorThread) -> None:
    before = set(threading.enumerate())
    client = _client(emu)
    assert "sync.SocketModeClient(" in repr(client)
    with client:
        assert client.state is State.CONNECTED
        assert client.self.id == emu.bot_user_id
        emu.wait_socket_mode_connections(2, timeout=3.0)
        ts = emu.post_message(_person(emu), emu.general_channel_id, "hello sync")
        for event in client:
            if isinstance(event, Message):
                assert event.ts == ts
                assert event.envelope is not None
                break
        emu.wait_socket_mode_acks(1, timeout=2.0)
        ack = client.send_message(emu.general_channel_id, "from sync")
        assert ack.ts is not None
        with pytest.raises(SendError) as info:
            client.send_message("C0MISSING", "x")
        assert info.value.code == "channel_not_found"
        with pytest.raises(NotSupportedError):
            client.send_typing(emu.general_channel_id)
        with pytest.raises(NotSupportedError):
            client.subscribe_presence([_person(emu)])
        with pytest.raises(NotSupportedError):
            client.query_presence([_person(emu)])
        assert client.connections == 2
    assert client.state is State.CLOSED
    emu.wait_socket_mode_connections(0, timeout=2.0)
    _until(lambda: not [t for t in threading.enumerate() if t not in before and t.is_alive()])


def test_sync_handler_answers_a_slash_command(emu: EmulatorThread) -> None:
    client = _client(emu)
    handled = threading.Event()

    @client.on("slash_command")
    def answer(cmd: SlashCommand) -> dict[str, str]:
        handled.set()
        return {"text": f"ok {cmd.text}"}

    with client:
        emu.wait_socket_mode_connections(2, timeout=3.0)
        emu.send_slash_command("/go", "now")
        emu.wait_socket_mode_acks(1, timeout=2.0)
    assert handled.is_set()
    assert emu.socket_mode_acks[0].payload == {"text": "ok now"}


def test_sync_iteration_acks_after_consuming(emu: EmulatorThread) -> None:
    client = _client(emu, ack_after_handler=True)
    with client:
        emu.wait_socket_mode_connections(2, timeout=3.0)
        emu.post_message(_person(emu), emu.general_channel_id, "first")
        it = iter(client)
        first = next(e for e in it if isinstance(e, Message))
        assert first.text == "first"
        time.sleep(0.2)
        assert emu.socket_mode_acks == []  # still in the consumer's hands
        emu.post_message(_person(emu), emu.general_channel_id, "second")
        second = next(e for e in it if isinstance(e, Message))
        assert second.text == "second"
        emu.wait_socket_mode_acks(1, timeout=2.0)
        it.close()


def test_sync_link_disabled_stops_run(emu: EmulatorThread) -> None:
    client = _client(emu)
    client.connect()
    emu.wait_socket_mode_connections(2, timeout=3.0)
    emu.socket_mode_disconnect("link_disabled")
    with pytest.raises(SocketModeDisabledError):
        client.wait_closed(timeout=3.0)
    client.close()
    assert client.state is State.CLOSED
