"""Every code block of README.md runs, against the emulator, as a reader would run it.

Each block is preceded by a ``<!-- readme-test: KIND -->`` comment saying how it is checked:

- ``run``: a Python script that must exit 0 on its own;
- ``bot``: a Python script that runs a bot: once it is connected, a person says hello; the bot
  must answer (the emulator records the frame), then Ctrl-C must stop it with exit status 0;
- ``pytest``: a test module, run with pytest (the ``slack_emulator`` fixture comes from the
  installed plugin);
- ``shell``: each line is run by bash with ``slack-rtm`` on the PATH and must exit 0;
- ``diff socket-mode``: a ``diff`` block changing a ``bot`` block above it into a Socket Mode
  app: applied to the one bot block it fits (its ``-`` and context lines, in order), the
  result runs as a ``bot`` with ``SLACK_APP_TOKEN`` set, its greeting going through
  ``chat.postMessage``;
- ``skip (reason)``: not run here, for the reason given (the set-up commands, which are what
  runs this suite).

A block without a comment fails the test: nothing in the README goes unchecked silently.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from slack_rtm.emulator import EmulatorThread

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(
    r"(?:<!-- readme-test: (?P<kind>[^>]*?) -->\n)?```(?P<lang>\w*)\n(?P<code>.*?)```", re.S
)


def _blocks() -> list[tuple[str, str, str]]:
    text = README.read_text(encoding="utf-8")
    found = [(m["kind"] or "", m["lang"], m["code"]) for m in _BLOCK.finditer(text)]
    assert len(found) >= 6, "the README lost its examples"
    return found


BLOCKS = _blocks()


def _env(emu: EmulatorThread) -> dict[str, str]:
    env = dict(os.environ, SLACK_TOKEN=emu.bot_token, SLACK_API_URL=emu.api_url)
    env["CHANNEL"] = emu.general_channel_id
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.mark.parametrize(
    ("kind", "lang", "code"),
    BLOCKS,
    ids=[f"block{i}-{b[0].split()[0] if b[0] else 'untagged'}" for i, b in enumerate(BLOCKS)],
)
def test_readme_block(kind: str, lang: str, code: str, tmp_path: Path) -> None:
    assert kind, f"README block has no readme-test comment:\n{code}"
    if kind.startswith("skip"):
        assert "(" in kind, "a skipped block must say why"
        return
    with EmulatorThread() as emu:
        env = _env(emu)
        if kind == "run":
            assert lang == "python"
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
            )
            assert out.returncode == 0, out.stderr
            assert out.stdout.strip(), "the example printed nothing"
            assert emu.bot_token not in out.stdout + out.stderr
        elif kind == "bot":
            assert lang == "python"
            _run_bot(emu, code, env)
        elif kind == "pytest":
            assert lang == "python"
            test_file = tmp_path / "test_from_readme.py"
            test_file.write_text(code, encoding="utf-8")
            out = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "-W", "error", "-o", "asyncio_default_fixture_loop_scope=function",
                 str(test_file)],
                env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
            )
            assert out.returncode == 0, out.stdout + out.stderr
            assert "1 passed" in out.stdout
        elif kind == "diff socket-mode":
            assert lang == "diff"
            above = BLOCKS[: BLOCKS.index((kind, lang, code))]
            fits = [app for k, _, c in above if k == "bot" and (app := _apply_diff(c, code))]
            assert len(fits) == 1, "the diff must fit exactly one bot block above it"
            [app] = fits
            _run_bot(emu, app, {**env, "SLACK_APP_TOKEN": emu.app_token}, socket_mode=True)
        elif kind == "shell":
            assert lang == "sh"
            for line in code.splitlines():
                command = line.split("  #", 1)[0].strip()
                if not command:
                    continue
                out = subprocess.run(
                    ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60
                )
                assert out.returncode == 0, f"{command}: {out.stderr}"
                assert emu.bot_token not in out.stdout + out.stderr
        else:
            pytest.fail(f"unknown readme-test kind {kind!r}")


def _apply_diff(base: str, diff: str) -> str | None:
    """``base`` with the unified-diff hunk ``diff`` (no headers) applied, or None when it does
    not fit exactly once."""
    old, new = [], []
    for line in diff.splitlines():
        mark, text = line[:1], line[1:]
        assert mark in ("-", "+", " ", ""), f"not a diff line: {line!r}"
        if mark != "+":
            old.append(text)
        if mark != "-":
            new.append(text)
    before, after = "\n".join(old) + "\n", "\n".join(new) + "\n"
    if base.count(before) != 1:
        return None
    return base.replace(before, after)


def _socket_mode_reply(emu: EmulatorThread) -> dict[str, Any] | None:
    """The bot's first chat.postMessage, as it came back to the app in an envelope."""
    for envelope in emu.socket_mode_envelopes:
        event = envelope.payload.get("event") or {}
        if event.get("type") == "message" and event.get("user") == emu.bot_user_id:
            return dict(event)
    return None


def _run_bot(
    emu: EmulatorThread, code: str, env: dict[str, str], *, socket_mode: bool = False
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while (emu.socket_mode_connections if socket_mode else emu.connection_count) < 1:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the bot never connected"
            time.sleep(0.02)
        person = emu.workspace.people[0].id
        emu.post_message(person, emu.general_channel_id, "hello bot")
        if socket_mode:
            assert emu.connection_count == 0, "a Socket Mode app opened an RTM socket"
            deadline = time.monotonic() + 15
            while (reply := _socket_mode_reply(emu)) is None:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "the app never answered"
                time.sleep(0.02)
            assert reply["channel"] == emu.general_channel_id
        else:
            frame = emu.wait_for_frame(
                lambda f: f.user_id == emu.bot_user_id and f.data is not None
                and f.data.get("type") == "message",
                timeout=15,
            )
            assert frame.data is not None
            assert frame.data["channel"] == emu.general_channel_id
        if proc.poll() is None:
            time.sleep(0.2)  # let the ack arrive before interrupting
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert emu.bot_token not in out + err
    assert emu.app_token not in out + err
