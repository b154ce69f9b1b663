"""``listen --pretty`` and ``demo`` in a real terminal: a pseudo-terminal, the screen read back."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from slack_rtm.emulator import EmulatorThread


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emulator:
        yield emulator


class Terminal:
    """A command on a pseudo-terminal; :meth:`screen` is the text of the last full redraw."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
        )
        os.close(slave)
        self.buffer = b""

    def read(self, timeout: float = 0.2) -> None:
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the child closed the terminal
                return
            if not chunk:
                return
            self.buffer += chunk

    def screen(self) -> str:
        return self.buffer.rsplit(b"\x1b[H\x1b[2J", 1)[-1].decode("utf-8", "replace")

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.read()
            if text in self.screen():
                return self.screen()
        raise AssertionError(f"{text!r} never shown; screen:\n{self.screen()}")

    def close(self) -> int:
        try:
            return self.proc.wait(15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            os.close(self.master)


def test_listen_pretty_shows_state_counters_and_rtt(emu: EmulatorThread) -> None:
    env = dict(os.environ, SLACK_TOKEN=emu.bot_token, SLACK_API_URL=emu.api_url)
    term = Terminal([sys.executable, "-m", "slack_rtm", "listen", "--pretty"], env)
    try:
        term.wait_for("state: connected")
        person = emu.workspace.people[0].id
        for i in range(3):
            emu.post_message(person, emu.general_channel_id, f"pretty {i}")
        screen = term.wait_for("pretty 2")
        assert "events: " in screen
        assert "message" in screen
        screen = term.wait_for("ms   events")  # the round trip is measured every 2 s
        emu.drop_connections(abrupt=True)
        term.wait_for("reconnects: 1")
        term.proc.send_signal(signal.SIGINT)
        term.read(1.0)
    finally:
        status = term.close()
    assert status == 0
    assert emu.bot_token not in term.buffer.decode("utf-8", "replace")


def test_demo_runs_on_a_terminal_and_exits_0() -> None:
    env = dict(os.environ)
    env.pop("SLACK_TOKEN", None)
    args = [sys.executable, "-m", "slack_rtm", "demo", "--seconds", "4", "--seed", "3"]
    term = Terminal(args, env)
    try:
        term.wait_for("bot →", timeout=20)
        screen = term.screen()
        assert "slack-rtm demo" in screen
        assert "message" in screen
        term.read(6.0)
    finally:
        status = term.close()
    assert status == 0
    assert "demo finished" in term.buffer.decode("utf-8", "replace")
