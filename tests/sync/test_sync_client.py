"""The sync front against the emulator (on its own thread), over real loopback sockets."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from slack_rtm.backoff import Backoff
from slack_rtm.emulator import EmulatorThread
from slack_rtm.errors import (
    ConnectionClosedError,
    RtmConnectErrorSchemaError,
    SendError,
    StateError,
)
from slack_rtm.session.events import Message
from slack_rtm.sync import RtmClient, State

FAST = {"ping_interval": 1.0, "ping_timeout": 1.0, "reconnect": Backoff(0.01, 0.05)}


@pytest.fixture
def emu() -> Any:
    with EmulatorThread() as emulator:
        yield emulator


def _person(emu: EmulatorThread) -> str:
    return next(u.id for u in emu.workspace.people)


def _no_client_threads(before: set[threading.Thread]) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra:
            return True
        time.sleep(0.01)
    return False


def test_connect_send_receive_close_leaves_no_thread(emu: EmulatorThread) -> None:
    before = set(threading.enumerate())
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, **FAST)
    with rtm:
        assert rtm.state is State.CONNECTED
        assert rtm.self.id == emu.bot_user_id
        assert rtm.team.id == emu.team_id
        ack = rtm.send_message(emu.general_channel_id, "hello from sync")
        assert ack.ok
        assert ack.ts
        frame = emu.wait_for_frame(lambda f: bool(f.data) and f.data.get("type") == "message")
        assert frame.data is not None
        assert frame.data["text"] == "hello from sync"
        ts = emu.post_message(_person(emu), emu.general_channel_id, "hi bot")
        for event in rtm:
            if isinstance(event, Message) and event.ts == ts:
                assert event.text == "hi bot"
                break
        assert rtm.ping() > 0
        assert rtm.threads
    assert rtm.state is State.CLOSED
    assert not rtm.threads
    assert _no_client_threads(before)


def test_handlers_run_on_their_own_thread_in_order(emu: EmulatorThread) -> None:
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, **FAST)
    seen: list[str] = []
    done = threading.Event()
    threads: set[str] = set()

    @rtm.on("message")
    def record(event: Message) -> None:
        threads.add(threading.current_thread().name)
        seen.append(event.text or "")
        if len(seen) == 3:
            done.set()

    with rtm:
        for i in range(3):
            emu.post_message(_person(emu), emu.general_channel_id, f"m{i}")
        assert done.wait(5)
    assert seen == ["m0", "m1", "m2"]
    assert threads == {"slack-rtm-handlers_0"}
    assert not rtm.threads


def test_a_slow_handler_does_not_block_pings(emu: EmulatorThread) -> None:
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, **FAST)
    started = threading.Event()
    release = threading.Event()

    @rtm.on("message")
    def slow(event: Message) -> None:
        started.set()
        release.wait(5)

    with rtm:
        emu.post_message(_person(emu), emu.general_channel_id, "block")
        assert started.wait(5)
        assert rtm.ping() < 1.0  # the loop keeps answering while the handler blocks
        release.set()


def test_send_error_and_fatal_connect(emu: EmulatorThread) -> None:
    with RtmClient(emu.bot_token, base_url=emu.api_url, **FAST) as rtm:
        with pytest.raises(SendError) as info:
            rtm.send_message("CNOPE", "x")
        assert info.value.code == 0
    bad = RtmClient("xoxb-wrong", base_url=emu.api_url, **FAST)
    with pytest.raises(RtmConnectErrorSchemaError) as err:
        bad.connect()
    assert err.value.error == "invalid_auth"
    assert not bad.threads


def test_misuse_is_refused_clearly(emu: EmulatorThread) -> None:
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, **FAST)
    with pytest.raises(StateError):
        rtm.send_message(emu.general_channel_id, "too early")
    with pytest.raises(StateError):
        iter(rtm).__next__()
    with pytest.raises(TypeError):
        rtm.on("message")(123)  # type: ignore[arg-type]

    async def coroutine_handler(event: Any) -> None:
        return None

    with pytest.raises(TypeError, match="plain functions"):
        rtm.add_handler("message", coroutine_handler)
    rtm.close()  # closing an unstarted client is fine
    rtm.close()
    assert rtm.state is State.CLOSED
    with pytest.raises(TypeError):
        RtmClient(123)  # type: ignore[arg-type]


def test_run_returns_when_closed_from_another_thread(emu: EmulatorThread) -> None:
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, **FAST)
    connected = threading.Event()

    @rtm.on("hello")
    def hello(event: Any) -> None:
        connected.set()

    runner = threading.Thread(target=rtm.run)
    runner.start()
    assert connected.wait(5)
    stop = threading.Thread(target=rtm.close)
    stop.start()
    runner.join(10)
    stop.join(10)
    assert not runner.is_alive()
    assert rtm.state is State.CLOSED
    with pytest.raises((StateError, ConnectionClosedError)):
        rtm.send_message(emu.general_channel_id, "after close")


def _numbered(emu: EmulatorThread, n: int, typing_every: int = 0) -> list[str]:
    user = _person(emu)
    out = []
    for i in range(n):
        out.append(json.dumps({"type": "message", "channel": emu.general_channel_id,
                               "user": user, "text": f"m{i}", "ts": f"1700000000.{i:06d}"}))
        if typing_every and i % typing_every == 0:
            out.append(json.dumps({"type": "user_typing", "channel": emu.general_channel_id,
                                   "user": user, "id": i}))
    return out


def test_a_burst_arrives_in_order_and_a_break_loses_nothing(emu: EmulatorThread) -> None:
    with RtmClient(emu.bot_token, base_url=emu.api_url, **FAST) as rtm:
        emu.call(emu.emulator.firehose_payloads(_numbered(emu, 2000)))
        texts: list[str] = []
        for event in rtm:  # stop part-way through a batch the client already holds
            if isinstance(event, Message):
                texts.append(event.text or "")
                if len(texts) == 7:
                    break
        for event in rtm:  # a new iteration continues right after the last event taken
            if isinstance(event, Message):
                texts.append(event.text or "")
                if len(texts) == 2000:
                    break
    assert texts == [f"m{i}" for i in range(2000)]


def test_handlers_run_before_their_event_and_after_the_earlier_ones(emu: EmulatorThread) -> None:
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, **FAST)
    log: list[str] = []

    @rtm.on("user_typing")
    def typing(event: Any) -> None:
        log.append(f"handler {event.raw['id']}")

    with rtm:
        events = iter(rtm)
        sender = threading.Timer(
            0.2, lambda: emu.call(emu.emulator.firehose_payloads(_numbered(emu, 300, 30))))
        sender.start()
        for event in events:
            if isinstance(event, Message):
                log.append(f"took {event.text}")
                if event.text == "m299":
                    break
            elif event.type == "user_typing":
                log.append(f"took typing {event.raw['id']}")
        sender.join()
    expected: list[str] = []
    for i in range(300):
        expected.append(f"took m{i}")
        if i % 30 == 0:
            expected += [f"handler {i}", f"took typing {i}"]
    assert log == expected


def test_iteration_raises_the_fatal_error_after_the_last_event(emu: EmulatorThread) -> None:
    with RtmClient(emu.bot_token, base_url=emu.api_url, **FAST) as rtm:
        emu.call(emu.emulator.firehose_payloads(_numbered(emu, 50)))
        types: list[str] = []

        def consume() -> None:
            for event in rtm:
                types.append(event.type)
                if len(types) == 10:
                    emu.set_token_error(emu.bot_token, "token_revoked")
                    emu.drop_connections()

        with pytest.raises(RtmConnectErrorSchemaError) as err:
            consume()
        assert err.value.error == "token_revoked"
        assert rtm.state is State.CLOSED
    assert types.count("message") == 50
    assert types[-1] == "closed"


def test_close_from_another_thread_ends_iteration_cleanly(emu: EmulatorThread) -> None:
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, **FAST)
    seen: list[str] = []
    with rtm:
        closer = threading.Timer(0.3, rtm.close)
        closer.start()
        for event in rtm:  # ends, without an error, once the other thread has closed
            seen.append(event.type)
        closer.join(5)
    assert rtm.state is State.CLOSED
    assert "closed" in seen
    assert not rtm.threads
