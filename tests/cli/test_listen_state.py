"""``slack-rtm listen --state FILE`` catches up across runs (a subprocess against the emulator)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from slack_rtm.emulator import EmulatorThread

CLI = [sys.executable, "-m", "slack_rtm"]


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emulator:
        yield emulator


def _listen(emu: EmulatorThread, state: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "SLACK_TOKEN": emu.bot_token,
        "SLACK_API_URL": emu.api_url,
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [*CLI, "listen", "--type", "message", "--state", str(state)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _connected(emu: EmulatorThread, proc: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 15
    while emu.connection_count < 1:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "listen did not connect"
        time.sleep(0.02)


def _lines(proc: subprocess.Popen[str], n: int) -> list[dict[str, Any]]:
    assert proc.stdout is not None
    return [json.loads(proc.stdout.readline()) for _ in range(n)]


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    return out, err


def test_listen_state_catches_up_across_runs(emu: EmulatorThread, tmp_path: Path) -> None:
    alice = emu.workspace.people[0].id
    general = emu.general_channel_id
    state = tmp_path / "state.db"
    first = _listen(emu, state)
    try:
        _connected(emu, first)
        ts1 = emu.post_message(alice, general, "first run")
        line = _lines(first, 1)[0]
        assert line["ts"] == ts1
        assert "backfilled" not in line
    finally:
        out, err = _stop(first)  # cursors are saved on close
    assert emu.bot_token not in out + err
    while emu.connection_count:
        time.sleep(0.02)
    missed = [emu.post_message(alice, general, f"missed {i}") for i in range(3)]
    second = _listen(emu, state)
    try:
        _connected(emu, second)
        got = _lines(second, 3)
    finally:
        out, err = _stop(second)
    assert [line["ts"] for line in got] == missed
    assert all(line["backfilled"] is True for line in got)
    assert [line["text"] for line in got] == ["missed 0", "missed 1", "missed 2"]
    assert ts1 not in out
