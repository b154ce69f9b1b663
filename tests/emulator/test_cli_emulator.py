"""``slack-rtm emulator`` in a subprocess: prints the URL and tokens, serves, exits 0 on SIGINT."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest


@pytest.fixture
def cli() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "slack_rtm", "emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    info: dict[str, str] = {}
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 20
        for line in proc.stdout:
            if line.startswith("API URL:"):
                info["api_url"] = line.split()[-1]
            m = re.match(r"bot\s+(U\w+)\s+\S+\s+token (xoxb-\S+)", line)
            if m:
                info["bot_id"], info["bot_token"] = m.groups()
            if line.startswith("Press Ctrl-C") or time.monotonic() > deadline:
                break
        yield proc, info
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout and proc.stdout.close()
        proc.stderr and proc.stderr.close()


def test_cli_serves_and_stops_on_sigint(cli: tuple[subprocess.Popen[str], dict[str, str]]) -> None:
    proc, info = cli
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api", info["api_url"])
    curl = shutil.which("curl")
    assert curl, "curl is needed for this test"
    out = subprocess.run(
        [
            curl,
            "-s",
            "-H",
            f"Authorization: Bearer {info['bot_token']}",
            info["api_url"] + "/rtm.connect",
        ],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    body = json.loads(out.stdout)
    assert body["ok"] is True
    assert body["self"]["id"] == info["bot_id"]
    assert body["url"].startswith("ws://127.0.0.1:")
    assert set(body["team"]) == {"id", "name", "domain"}
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 0
    assert proc.stderr is not None
    assert proc.stderr.read() == ""


def test_cli_warns_off_loopback_and_rejects_bad_port() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "slack_rtm", "emulator", "--port", "70000"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert out.returncode == 1
    assert "--port" in out.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "slack_rtm", "emulator", "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(
            "slack-rtm emulator listening on http://127.0.0.1:"
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert proc.stderr is not None
        assert "not loopback" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        proc.stdout and proc.stdout.close()
        proc.stderr and proc.stderr.close()


def test_cli_in_process_banner_and_clean_stop(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio
    import os

    from slack_rtm.cli import emulator as cli_emulator
    from slack_rtm.cli import main
    from slack_rtm.emulator import Emulator

    started: list[Emulator] = []

    class SelfStopping(Emulator):
        async def start(self) -> None:
            await super().start()
            started.append(self)
            asyncio.get_running_loop().call_later(0.2, os.kill, os.getpid(), signal.SIGINT)

    monkeypatch.setattr(cli_emulator, "Emulator", SelfStopping)
    assert main(["emulator", "--port", "0", "--write-rate", "0", "--connect-rate-limit", "5"]) == 0
    out = capsys.readouterr().out
    emu = started[0]
    assert emu.write_rate is None
    assert emu.connect_rate_limit == 5
    assert f"API URL:      {emu.api_url}" in out
    for user in emu.workspace.users.values():
        assert user.token in out  # printed on purpose: the emulator's own fake tokens
    assert "#general" in out
    assert out.rstrip().endswith("emulator stopped")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("example.com", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    from slack_rtm.cli.emulator import _is_loopback

    assert _is_loopback(host) is loopback
