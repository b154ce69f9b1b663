"""examples/greeter.py, run as a program against the emulator: it answers hello, Ctrl-C stops it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from aio_helpers import person

from slack_rtm.emulator import Emulator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "greeter.py"


async def test_greeter_greets_and_stops_on_ctrl_c(emu: Emulator) -> None:
    alice = person(emu)
    env = {**os.environ, "SLACK_TOKEN": emu.bot_token, "SLACK_API_URL": emu.api_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await emu.wait_connections(1, timeout=10)
        await emu.post_message(alice, emu.general_channel_id, "well hello there")
        await emu.post_message(alice, emu.general_channel_id, "nothing to see")
        reply = await emu.wait_for_frame(
            lambda f: bool(f.data) and f.data.get("type") == "message", timeout=5)
        assert reply.data is not None
        assert reply.data["text"] == f"Hello <@{alice}>!"
        assert reply.data["channel"] == emu.general_channel_id
        await asyncio.sleep(0.2)
        messages = [f for f in emu.received if f.data and f.data.get("type") == "message"]
        assert len(messages) == 1  # "nothing to see" got no answer
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 10)
        assert proc.returncode == 0, err.decode()
        assert emu.bot_token not in err.decode()
        assert "connected as" in err.decode()
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
