"""The ``slack-rtm`` command never prints or logs the token or a WebSocket URL.

The commands run in-process through ``slack_rtm.cli.main`` with every logger at DEBUG (so the
library's own debug logging is checked too) against an emulator on a background thread, on the
success path and on each failure path; stdout and stderr are captured at the file descriptors.
The token goes through ``SLACK_TOKEN``, as the CLI recommends, and also through ``--token``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from slack_rtm.cli import main
from slack_rtm.emulator import Emulator, EmulatorThread

from .leakcheck import LeakCheck


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    thread = Emulator().start_in_thread()
    try:
        yield thread
    finally:
        thread.stop()


@pytest.fixture
def check(leakcheck: LeakCheck, emu: EmulatorThread) -> LeakCheck:
    leakcheck.add_secret(emu.bot_token)
    for token in emu.user_tokens.values():
        leakcheck.add_secret(token)
    return leakcheck


def _tickets(emu: EmulatorThread) -> list[str]:
    """The ticket (the secret last path segment) of every WebSocket URL the emulator issued."""
    return [url.rsplit("/", 1)[1] for url in emu.issued_urls]


def _run(check: LeakCheck, emu: EmulatorThread, *argv: str) -> int:
    status = main(list(argv))
    for ticket in _tickets(emu):
        check.add_secret(ticket)
    return status


def test_connect(
    check: LeakCheck, emu: EmulatorThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_TOKEN", emu.bot_token)
    calls = emu.connect_calls
    assert _run(check, emu, "connect", "--api-url", emu.api_url) == 0
    assert _run(check, emu, "connect", "--api-url", emu.api_url, "--json") == 0
    assert emu.connect_calls == calls + 2
    text = check.text()
    assert emu.bot_user_id in text  # the command did print who we are
    check.assert_clean()


def test_send(check: LeakCheck, emu: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_TOKEN", emu.bot_token)
    status = _run(check, emu, "send", "--api-url", emu.api_url, emu.general_channel_id, "hi")
    assert status == 0
    assert check.record_count > 0
    check.assert_clean()


def test_send_with_the_token_on_the_command_line(check: LeakCheck, emu: EmulatorThread) -> None:
    argv = ["send", "--token", emu.bot_token, "--api-url", emu.api_url]
    assert _run(check, emu, *argv, emu.general_channel_id, "hello") == 0
    check.assert_clean()


def test_refused_token(check: LeakCheck, emu: EmulatorThread) -> None:
    wrong = emu.bot_token[:-3] + "xyz"
    check.add_secret(wrong)
    assert _run(check, emu, "connect", "--token", wrong, "--api-url", emu.api_url) == 1
    assert "invalid_auth" in check.text()
    check.assert_clean()


def test_revoked_token_on_send(check: LeakCheck, emu: EmulatorThread) -> None:
    token = next(iter(emu.user_tokens.values()))
    emu.set_token_error(token, "token_revoked")
    try:
        argv = ["send", "--token", token, "--api-url", emu.api_url, emu.general_channel_id, "x"]
        assert _run(check, emu, *argv) == 1
    finally:
        emu.set_token_error(token, None)
    assert "token_revoked" in check.text()
    check.assert_clean()


def test_unreachable_api(check: LeakCheck, emu: EmulatorThread) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = ["connect", "--token", emu.bot_token, "--api-url", f"http://127.0.0.1:{port}/api"]
    assert _run(check, emu, *argv) == 1
    check.assert_clean()
