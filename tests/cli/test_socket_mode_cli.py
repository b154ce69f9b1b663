"""The real ``slack-rtm`` command as a Socket Mode app (SLACK_APP_TOKEN) against the emulator.

Every run logs at DEBUG (``SLACK_RTM_LOG_LEVEL=debug``) and no token, socket ticket,
``response_url`` or verification token may appear in what it prints.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from slack_rtm.api import Client, WebApi
from slack_rtm.emulator import EmulatorThread

CLI = [sys.executable, "-m", "slack_rtm"]


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emulator:
        yield emulator


def _env(emu: EmulatorThread, *, bot: bool = True, app_token: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env["SLACK_APP_TOKEN"] = app_token if app_token is not None else emu.app_token
    if bot:
        env["SLACK_TOKEN"] = emu.bot_token
    env["SLACK_API_URL"] = emu.api_url
    env["SLACK_RTM_LOG_LEVEL"] = "debug"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + args, env=env, capture_output=True, text=True, timeout=30)


def _assert_no_secrets(emu: EmulatorThread, text: str, *more: str) -> None:
    for secret in (emu.app_token, emu.bot_token, *more):
        assert secret not in text
    assert "/socket-mode/" not in text  # the tickets apps.connections.open handed out
    for url in emu.issued_urls:
        assert urlsplit(url).path not in text


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("slack-rtm: error")]


def test_connect_says_who_over_socket_mode_without_secrets(emu: EmulatorThread) -> None:
    out = _run(["connect", "--json"], _env(emu))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["transport"] == "socket_mode"
    assert data["self"]["id"] == emu.bot_user_id
    assert data["team"] == {
        "id": emu.team_id,
        "name": emu.workspace.team.name,
        "domain": emu.workspace.team.domain,
    }
    assert "url" not in data
    assert "DEBUG slack_rtm.api: apps.connections.open" in out.stderr  # it did log at DEBUG
    _assert_no_secrets(emu, out.stdout + out.stderr)
    text = _run(["connect"], _env(emu))
    assert text.returncode == 0, text.stderr
    bot_name = emu.workspace.users[emu.bot_user_id].name
    assert f"connected as {bot_name} ({emu.bot_user_id})" in text.stdout
    _assert_no_secrets(emu, text.stdout + text.stderr)
    shown = _run(["connect", "--show-url"], _env(emu))
    assert shown.returncode == 0, shown.stderr
    assert "/socket-mode/" in shown.stdout  # only when asked for


def test_connect_without_a_bot_token_checks_the_app_token_and_says_what_is_missing(
    emu: EmulatorThread,
) -> None:
    out = _run(["connect", "--json"], _env(emu, bot=False))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"transport": "socket_mode"}
    assert "SLACK_TOKEN" in out.stderr
    _assert_no_secrets(emu, out.stdout + out.stderr)


def test_send_posts_with_chat_post_message_and_prints_the_ts(emu: EmulatorThread) -> None:
    out = _run(["send", emu.general_channel_id, "from a socket mode app", "--json"], _env(emu))
    assert out.returncode == 0, out.stderr
    ack = json.loads(out.stdout)
    assert ack["ok"] is True
    assert ack["text"] == "from a socket mode app"
    assert "DEBUG slack_rtm.api: chat.postMessage" in out.stderr
    _assert_no_secrets(emu, out.stdout + out.stderr)
    with Client(base_url=emu.api_url) as client:
        page = WebApi(client).conversations_history(emu.bot_token, emu.general_channel_id)
    posted = [m for m in page.result.messages if m.ts == ack["ts"]]
    assert len(posted) == 1
    assert posted[0].text == "from a socket mode app"
    assert posted[0].user == emu.bot_user_id
    assert not [f for f in emu.received if f.data and "type" in f.data]  # no RTM frame: acks


def test_send_refused_or_without_a_bot_token_is_one_clear_line(emu: EmulatorThread) -> None:
    refused = _run(["send", "CNOSUCHCHAN", "x"], _env(emu))
    assert refused.returncode == 1
    assert len(_errors(refused.stderr)) == 1, refused.stderr
    assert "channel_not_found" in _errors(refused.stderr)[0]
    assert "Traceback" not in refused.stderr
    _assert_no_secrets(emu, refused.stdout + refused.stderr)
    no_bot = _run(["send", emu.general_channel_id, "x"], _env(emu, bot=False))
    assert no_bot.returncode == 1
    [line] = _errors(no_bot.stderr)
    assert "chat.postMessage" in line
    assert "SLACK_TOKEN" in line
    assert emu.socket_mode_connections == 0  # refused before connecting


def test_a_refused_app_token_is_one_line_and_never_printed(emu: EmulatorThread) -> None:
    token = "xapp-1-A0000-0000-notavalidtokenLEAKCHECK"
    for args in (["connect"], ["send", emu.general_channel_id, "x"], ["listen"]):
        out = _run(args, _env(emu, app_token=token))
        assert out.returncode == 1, (args, out.stderr)
        errors = _errors(out.stderr)
        assert len(errors) == 1, out.stderr
        assert "invalid_auth" in errors[0]
        assert "Traceback" not in out.stderr
        assert "LEAKCHECK" not in out.stdout + out.stderr
    wrong_kind = _run(["listen"], _env(emu, app_token=emu.bot_token))
    assert wrong_kind.returncode == 1
    assert "xapp-" in _errors(wrong_kind.stderr)[0]
    _assert_no_secrets(emu, wrong_kind.stdout + wrong_kind.stderr)


def test_listen_streams_envelopes_as_json_lines_and_ctrl_c_exits_0(emu: EmulatorThread) -> None:
    proc = subprocess.Popen(
        [*CLI, "listen", "--type", "message", "--type", "slash_command"],
        env=_env(emu),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while emu.socket_mode_connections < 1:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "listen did not connect"
            time.sleep(0.02)
        person = emu.workspace.people[0].id
        ts = emu.post_message(person, emu.general_channel_id, "hello app")
        assert proc.stdout is not None
        message = json.loads(proc.stdout.readline())
        emu.send_slash_command("/deploy", "prod", person, emu.general_channel_id)
        command = json.loads(proc.stdout.readline())
        emu.wait_socket_mode_acks(2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert message["type"] == "message"
    assert message["ts"] == ts
    assert message["text"] == "hello app"
    sent = {e.envelope_id: e for e in emu.socket_mode_envelopes}
    envelope = sent[message["envelope"]["envelope_id"]]
    assert message["envelope"] == {
        "envelope_id": envelope.envelope_id,
        "type": "events_api",
        "event_id": envelope.event_id,
        "retry_attempt": 0,
        "retry_reason": "",
        "accepts_response_payload": False,
    }
    assert command["type"] == "slash_command"
    assert command["command"] == "/deploy"
    assert command["text"] == "prod"
    assert command["envelope"]["type"] == "slash_commands"
    assert command["envelope"]["accepts_response_payload"] is True
    payload = sent[command["envelope"]["envelope_id"]].payload
    assert command["response_url"] == f"{emu.api_url.rsplit('/api', 1)[0]}/…"
    assert command["token"] == "[redacted]"
    acked = {a.envelope_id for a in emu.socket_mode_acks}
    assert {message["envelope"]["envelope_id"], command["envelope"]["envelope_id"]} <= acked
    assert "events in" in err  # the summary
    assert "DEBUG slack_rtm.socket_mode" in err
    _assert_no_secrets(emu, out + err, urlsplit(payload["response_url"]).path, payload["token"])
