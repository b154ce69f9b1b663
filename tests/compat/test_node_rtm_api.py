"""Node's @slack/rtm-api, unchanged, against the emulator (installed by the Makefile into
tests/compat/node/node_modules). Node and npm are required: the test FAILS without them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from slack_rtm.emulator import EmulatorThread

NODE_DIR = Path(__file__).parent / "node"


def _node() -> str:
    node = shutil.which("node")
    assert node, "Node.js is required for tests/compat (install node and npm, then `make pytest`)"
    assert shutil.which("npm"), "npm is required for tests/compat (install npm, then `make pytest`)"
    if not (NODE_DIR / "node_modules" / "@slack" / "rtm-api").is_dir():
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300
        )
    return node


def test_node_rtm_api_receives_a_message_and_gets_an_ack(slack_emulator: EmulatorThread) -> None:
    node = _node()
    general = slack_emulator.general_channel_id
    proc = subprocess.Popen(
        [node, "rtm_client.js", slack_emulator.api_url, general],
        cwd=NODE_DIR,
        env={"SLACK_BOT_TOKEN": slack_emulator.bot_token, "PATH": str(Path(node).parent)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    steps: list[dict[str, Any]] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            step = json.loads(line)
            steps.append(step)
            if step["step"] == "ready":
                alice = next(iter(slack_emulator.user_tokens))
                ts = slack_emulator.post_message(alice, general, "hello node")
            if step["step"] in ("ack", "error", "timeout"):
                break
        assert proc.wait(15) == 0, (steps, proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    kinds = [s["step"] for s in steps]
    assert kinds == ["ready", "message", "ack"], steps
    event = steps[1]["event"]
    assert (event["text"], event["ts"], event["channel"]) == ("hello node", ts, general)
    reply = steps[2]["reply"]
    assert reply["ok"] is True
    assert reply["text"] == "hello from node"
    frame = slack_emulator.wait_for_frame(
        lambda f: f.data is not None and f.data.get("text") == "hello from node"
    )
    assert frame.user_id == slack_emulator.bot_user_id
    assert frame.data is not None
    assert frame.data["id"] == reply["reply_to"]
