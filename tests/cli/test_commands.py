"""The real ``slack-rtm`` command in a subprocess against the emulator (on a thread here)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from slack_rtm.emulator import EmulatorThread

CLI = [sys.executable, "-m", "slack_rtm"]


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emulator:
        yield emulator


def _env(emu: EmulatorThread, token: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["SLACK_TOKEN"] = token if token is not None else emu.bot_token
    env["SLACK_API_URL"] = emu.api_url
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run(
    args: list[str], env: dict[str, str], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + args, env=env, capture_output=True, text=True, timeout=timeout)


def _person(emu: EmulatorThread) -> str:
    return emu.workspace.people[0].id


def test_connect_prints_who_without_the_url_or_token(emu: EmulatorThread) -> None:
    out = _run(["connect", "--json"], _env(emu))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["self"]["id"] == emu.bot_user_id
    assert data["team"]["id"] == emu.team_id
    assert "url" not in data
    assert "/websocket/" not in out.stdout
    assert emu.bot_token not in out.stdout + out.stderr
    shown = _run(["connect", "--show-url"], _env(emu))
    assert shown.returncode == 0, shown.stderr
    assert "/websocket/" in shown.stdout


def test_send_prints_the_ts_and_the_emulator_records_it(emu: EmulatorThread) -> None:
    out = _run(["send", emu.general_channel_id, "from the cli"], _env(emu))
    assert out.returncode == 0, out.stderr
    ts = out.stdout.strip()
    assert ts.replace(".", "").isdigit()
    frame = emu.wait_for_frame(lambda f: bool(f.data) and f.data.get("text") == "from the cli")
    assert frame.data is not None
    assert frame.data["channel"] == emu.general_channel_id


def test_send_refused_by_slack_prints_the_code_and_fails(emu: EmulatorThread) -> None:
    out = _run(["send", "CNOSUCHCHAN", "x"], _env(emu))
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "code 0" in lines[0]
    assert "Traceback" not in out.stderr


def test_bad_token_is_one_line_and_never_printed(emu: EmulatorThread) -> None:
    token = "xoxb-999-888-notavalidtokenLEAKCHECK"
    for args in (["connect"], ["send", emu.general_channel_id, "x"], ["listen"]):
        out = _run(args, _env(emu, token))
        assert out.returncode == 1, (args, out.stderr)
        errors = [line for line in out.stderr.splitlines() if line.startswith("slack-rtm: error")]
        assert len(errors) == 1, out.stderr
        assert "invalid_auth" in errors[0]
        assert "Traceback" not in out.stderr
        assert "LEAKCHECK" not in out.stdout + out.stderr


def test_missing_token_says_how_to_set_it(emu: EmulatorThread) -> None:
    env = _env(emu)
    del env["SLACK_TOKEN"]
    out = _run(["connect"], env)
    assert out.returncode == 1
    assert "SLACK_TOKEN" in out.stderr


def _start_listen(emu: EmulatorThread, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "listen", *args],
        env=_env(emu),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_connected(emu: EmulatorThread, proc: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 15
    while emu.connection_count < 1:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "listen did not connect"
        time.sleep(0.02)


def test_listen_streams_json_lines_with_filters_and_ctrl_c_exits_0(emu: EmulatorThread) -> None:
    proc = _start_listen(emu, "--type", "message", "--channel", emu.general_channel_id)
    try:
        _wait_connected(emu, proc)
        emu.post_message(_person(emu), emu.workspace.channel_by_name("random").id, "elsewhere")
        ts = emu.post_message(_person(emu), emu.general_channel_id, "hello listener")
        assert proc.stdout is not None
        line = proc.stdout.readline()
        event = json.loads(line)
        assert event["type"] == "message"
        assert event["ts"] == ts
        assert event["text"] == "hello listener"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "elsewhere" not in out
    assert "events in" in err  # the summary
    assert emu.bot_token not in out + err
