"""Catch-up and the delivery rule on the sync front, against the emulator on its own thread."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from slack_rtm.backoff import Backoff
from slack_rtm.cursors import ts_key
from slack_rtm.emulator import EmulatorThread
from slack_rtm.session.events import Event
from slack_rtm.sync import RtmClient

CHILD = Path(__file__).resolve().parent.parent / "catchup_child.py"
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


class Child:
    """``catchup_child.py --sync`` in a subprocess; its stdout lines read by a thread."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), "--sync"], env=env, stdout=subprocess.PIPE
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(b"")

    def line(self) -> bytes:
        try:
            line = self.lines.get(timeout=8)
        except queue.Empty:
            raise AssertionError("the child said nothing for 8 s") from None
        assert line, "the child ended"
        return line

    def ready(self) -> None:
        assert self.line().strip() == b"connected"

    def read_until(self, want: set[str], got: list[tuple[str, bool]]) -> None:
        while not want <= {ts for ts, _ in got}:
            ts, flag = self.line().decode().split()
            got.append((ts, flag == "1"))

    def end(self, sig: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def test_sync_crash_and_restart_catches_up_from_the_saved_cursors(
    emu: EmulatorThread, tmp_path: Path
) -> None:
    alice = _people(emu)[0]
    general = emu.general_channel_id
    env = {
        **os.environ,
        "SLACK_API_URL": emu.api_url,
        "SLACK_TOKEN": emu.bot_token,
        "CURSOR_STATE": str(tmp_path / "cursors.sqlite"),
    }
    first = Child(env)
    try:
        first.ready()
        before = [emu.post_message(alice, general, f"before {i}") for i in range(3)]
        got: list[tuple[str, bool]] = []
        first.read_until(set(before), got)
        assert [ts for ts, _ in got] == before
        assert not any(flag for _, flag in got)  # live
        time.sleep(1.6)  # cursors are saved every second
    finally:
        first.end(signal.SIGKILL)
    assert first.proc.returncode == -signal.SIGKILL  # no close(): no last save
    after = [emu.post_message(alice, general, f"while down {i}") for i in range(4)]
    second = Child(env)
    try:
        second.ready()
        again: list[tuple[str, bool]] = []
        second.read_until(set(after), again)
        flags = dict(again)
        assert all(flags[ts] for ts in after)  # all from history
        assert [ts for ts, _ in again if ts in after] == after  # once each, in order
        assert set(before).isdisjoint(flags)  # the cursor was saved: no repeat
        live = emu.post_message(alice, general, "live again")
        second.read_until({live}, again)
        assert again[-1] == (live, False)
    finally:
        second.end(signal.SIGINT)
    assert second.proc.returncode == 0
