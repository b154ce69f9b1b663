"""Catch-up and the delivery rule on the sync front, against the emulator on its own thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from slack_rtm.backoff import Backoff
from slack_rtm.cursors import ts_key
from slack_rtm.emulator import EmulatorThread
from slack_rtm.session.events import Event
from slack_rtm.sync import RtmClient

FAST: dict[str, Any] = {"ping_interval": 1.0, "ping_timeout": 1.0, "reconnect": Backoff(0.01, 0.05)}


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emulator:
        yield emulator


def _people(emu: EmulatorThread) -> list[str]:
    return [u.id for u in emu.workspace.people]


def _until(it: Iterator[Event], predicate: Any, seen: list[Event], timeout: float = 8) -> None:
    deadline = time.monotonic() + timeout
    for event in it:
        seen.append(event)
        if predicate():
            return
        assert time.monotonic() < deadline, [e.type for e in seen]
    raise AssertionError("iteration ended")


def test_sync_gap_is_caught_up_once_in_order(emu: EmulatorThread) -> None:
    alice, bob, _ = _people(emu)
    general = emu.general_channel_id
    random = emu.workspace.channel_by_name("random").id
    seen: list[Event] = []

    def tss() -> set[str]:
        return {e.ts for e in seen if e.type == "message"}

    with RtmClient(emu.bot_token, base_url=emu.api_url, catch_up=True, **FAST) as rtm:
        it = iter(rtm)
        seeded = [
            emu.post_message(alice, general, "seed g"),
            emu.post_message(bob, random, "seed r"),
        ]
        _until(it, lambda: set(seeded) <= tss(), seen)
        time.sleep(0.3)
        assert emu.drop_and_hold(emu.bot_user_id, 0.8) == 1
        _until(it, lambda: any(e.type == "disconnected" for e in seen), seen)
        gap = emu.post_messages(
            [
                {"user_id": alice, "channel_id": general, "text": "g1"},
                {"user_id": bob, "channel_id": general, "text": "t1", "thread_ts": seeded[0]},
                {"user_id": bob, "channel_id": random, "text": "r1"},
                {"user_id": alice, "channel_id": general, "text": "g2"},
            ]
        )
        _until(
            it,
            lambda: (
                any(e.type == "catch_up" and e.phase == "done" for e in seen) and set(gap) <= tss()
            ),
            seen,
        )
    messages = [e for e in seen if e.type == "message"]
    assert len(messages) == len({m.ts for m in messages}) == len(seeded) + len(gap)
    for m in messages:
        assert m.backfilled is (m.ts in gap)
    for channel in (general, random):
        keys = [ts_key(m.ts) for m in messages if m.channel == channel]
        assert keys == sorted(keys)
    done = next(e for e in seen if e.type == "catch_up" and e.phase == "done")
    assert done.messages == len(gap)
    assert done.failed == 0


def test_sync_for_begun_late_sees_every_event_handler_once(emu: EmulatorThread) -> None:
    alice = _people(emu)[0]
    handled: list[str] = []
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, **FAST)
    rtm.on("message")(lambda e: handled.append(e.ts))
    with rtm:
        posted = [emu.post_message(alice, emu.general_channel_id, f"m{i}") for i in range(4)]
        time.sleep(0.3)
        assert handled == posted
        seen: list[Event] = []
        _until(iter(rtm), lambda: posted[-1] in {getattr(e, "ts", None) for e in seen}, seen)
    types = [e.type for e in seen]
    assert types[0] == "connecting"
    assert "connected" in types
    assert [e.ts for e in seen if e.type == "message"] == posted
    assert handled == posted


def test_sync_wait_closed_keeps_nothing(emu: EmulatorThread) -> None:
    handled: list[str] = []
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, **FAST)
    rtm.on("message")(lambda e: handled.append(e.ts))
    rtm.connect()
    waiter = threading.Thread(target=rtm.wait_closed)
    waiter.start()
    try:
        deadline = time.monotonic() + 3
        while rtm._client._keeping and time.monotonic() < deadline:
            time.sleep(0.01)
        ts = emu.post_message(_people(emu)[0], emu.general_channel_id, "handled only")
        while ts not in handled and time.monotonic() < deadline:
            time.sleep(0.01)
        assert handled == [ts]
        assert rtm._client._kept is None
        assert not rtm._client._keeping
    finally:
        rtm.close()
        waiter.join(5)
    assert not waiter.is_alive()
