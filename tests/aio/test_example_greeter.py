"""examples/greeter.py, run as a program against the emulator: it answers hello, Ctrl-C stops it.

The same program runs over RTM (``SLACK_TOKEN``) and as a Socket Mode app (``SLACK_APP_TOKEN``
with ``SLACK_TOKEN`` as its bot token): its handlers are the same.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from aio_helpers import person

from slack_rtm.emulator import Emulator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "greeter.py"


async def _wait(condition: Any, what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def _rtm_replies(emu: Emulator) -> list[dict[str, Any]]:
    """The messages the bot sent over RTM."""
    return [f.data for f in emu.received if f.data and f.data.get("type") == "message"]


def _app_replies(emu: Emulator) -> list[dict[str, Any]]:
    """The messages the bot posted with chat.postMessage (each comes back to the app as an
    ``events_api`` envelope, as on Slack), once each even if redelivered."""
    seen: dict[str, dict[str, Any]] = {}
    for envelope in emu.socket_mode_envelopes:
        event = envelope.payload.get("event") or {}
        if event.get("type") == "message" and event.get("user") == emu.bot_user_id:
            seen[str(envelope.event_id)] = event
    return list(seen.values())


@pytest.mark.parametrize("transport", ["rtm", "socket_mode"])
async def test_greeter_greets_and_stops_on_ctrl_c(emu: Emulator, transport: str) -> None:
    alice = person(emu)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(SLACK_TOKEN=emu.bot_token, SLACK_API_URL=emu.api_url)
    if transport == "socket_mode":
        env["SLACK_APP_TOKEN"] = emu.app_token
        replies = _app_replies
    else:
        replies = _rtm_replies
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        if transport == "socket_mode":
            await _wait(lambda: emu.socket_mode_connections >= 1, "a Socket Mode socket")
            assert emu.connection_count == 0  # no RTM socket
        else:
            await emu.wait_connections(1, timeout=10)
            assert emu.socket_mode_connections == 0
        await emu.post_message(alice, emu.general_channel_id, "well hello there")
        await emu.post_message(alice, emu.general_channel_id, "nothing to see")
        await _wait(lambda: bool(replies(emu)), "the greeting", timeout=5)
        [reply] = replies(emu)
        assert reply["text"] == f"Hello <@{alice}>!"
        assert reply["channel"] == emu.general_channel_id
        await asyncio.sleep(0.3)
        # "nothing to see" got no answer, nor did the bot's own greeting (Socket Mode: it
        # comes back to the app as an envelope).
        assert len(replies(emu)) == 1
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
        assert proc.returncode == 0, err.decode()
        assert emu.bot_token not in err.decode()
        assert emu.app_token not in err.decode()
        assert "connected as" in err.decode()
        if transport == "socket_mode":
            assert not emu.socket_mode_unacked
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_greeter_without_a_token_says_so() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SLACK_TOKEN"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 2
    assert b"SLACK_TOKEN" in err
