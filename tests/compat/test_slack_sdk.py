"""slack_sdk's clients, unchanged, against the emulator: WebClient, rtm_v2 and the legacy RTM."""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any

import pytest
from slack_sdk import WebClient

from slack_rtm.emulator import Emulator, EmulatorThread


def test_webclient_rtm_connect_and_auth_test(slack_emulator: EmulatorThread) -> None:
    client = WebClient(token=slack_emulator.bot_token, base_url=slack_emulator.api_url + "/")
    resp = client.rtm_connect()
    assert resp["ok"] is True
    assert resp["url"].startswith(f"ws://127.0.0.1:{slack_emulator.port}/websocket/")
    assert resp["self"]["id"] == slack_emulator.bot_user_id
    assert resp["team"]["id"] == slack_emulator.team_id
    auth = client.auth_test()
    assert auth["bot_id"] == slack_emulator.workspace.user(slack_emulator.bot_user_id).bot_id
    presence = client.rtm_connect(batch_presence_aware=True, presence_sub=True)
    assert presence["ok"] is True
    assert slack_emulator.connect_log[-1].params == {
        "batch_presence_aware": "1",
        "presence_sub": "1",
    }


def test_webclient_errors_become_slack_api_errors(slack_emulator: EmulatorThread) -> None:
    from slack_sdk.errors import SlackApiError

    slack_emulator.set_token_error(slack_emulator.bot_token, "account_inactive")
    client = WebClient(token=slack_emulator.bot_token, base_url=slack_emulator.api_url + "/")
    with pytest.raises(SlackApiError) as info:
        client.rtm_connect()
    assert info.value.response["error"] == "account_inactive"


def test_rtm_v2_client(slack_emulator: EmulatorThread) -> None:
    from slack_sdk.rtm_v2 import RTMClient

    events: queue.Queue[dict[str, Any]] = queue.Queue()
    rtm = RTMClient(
        token=slack_emulator.bot_token,
        base_url=slack_emulator.api_url + "/",
        auto_reconnect_enabled=False,
        ping_interval=30,
    )

    @rtm.on("*")
    def record(client: Any, event: dict[str, Any]) -> None:
        events.put(event)

    def next_event(kind: str) -> dict[str, Any]:
        while True:
            event = events.get(timeout=5)
            if event.get("type") == kind:
                return event

    rtm.connect()
    try:
        assert next_event("hello") == {"type": "hello"}
        alice = next(iter(slack_emulator.user_tokens))
        general = slack_emulator.general_channel_id
        ts = slack_emulator.post_message(alice, general, "hi sdk")
        message = next_event("message")
        assert (message["user"], message["text"], message["ts"]) == (alice, "hi sdk", ts)
        rtm.send({"id": 1, "type": "message", "channel": general, "text": "from rtm_v2"})
        frame = slack_emulator.wait_for_frame(
            lambda f: f.data is not None and f.data.get("id") == 1
        )
        assert frame.user_id == slack_emulator.bot_user_id
        assert frame.data == {"id": 1, "type": "message", "channel": general, "text": "from rtm_v2"}
    finally:
        rtm.close()


def test_legacy_rtm_client() -> None:
    from slack_sdk.rtm import RTMClient

    async def scenario(emu: Emulator) -> tuple[list[dict[str, Any]], Any]:
        seen: list[dict[str, Any]] = []
        got_message = asyncio.Event()
        alice = next(iter(emu.user_tokens))

        async def on_hello(**payload: Any) -> None:
            seen.append({"type": "hello"})
            await emu.post_message(alice, emu.general_channel_id, "hi legacy")

        async def on_message(**payload: Any) -> None:
            seen.append(payload["data"])
            await payload["rtm_client"].send_over_websocket(
                payload={
                    "id": 1,
                    "type": "message",
                    "channel": emu.general_channel_id,
                    "text": "ok",
                }
            )
            got_message.set()

        RTMClient.on(event="hello", callback=on_hello)
        RTMClient.on(event="message", callback=on_message)
        client = RTMClient(
            token=emu.bot_token,
            base_url=emu.api_url + "/",
            run_async=True,
            auto_reconnect=False,
            loop=asyncio.get_running_loop(),
            ssl=True,  # type: ignore[arg-type]  # aiohttp deprecates ssl=None (ws:// ignores it)
        )
        task = asyncio.ensure_future(client.start())
        try:
            await asyncio.wait_for(got_message.wait(), 5)
            frame = await emu.wait_for_frame(lambda f: f.data is not None and f.data.get("id") == 1)
        finally:
            client.stop()
            await asyncio.wait([task], timeout=5)
        return seen, frame

    async def main() -> tuple[list[dict[str, Any]], Any]:
        async with Emulator() as emu:
            return await scenario(emu)

    saved = {k: list(v) for k, v in RTMClient._callbacks.items()}
    try:
        seen, frame = _run_in_thread(main)
    finally:
        RTMClient._callbacks.clear()
        RTMClient._callbacks.update(saved)
    assert seen[0] == {"type": "hello"}
    assert seen[1]["text"] == "hi legacy"
    assert frame.data["text"] == "ok"


def _run_in_thread(main: Any) -> Any:
    """asyncio.run in a fresh thread: the legacy client wants its own loop."""
    result: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(main()))
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    t.join(20)
    if errors:
        raise errors[0]
    assert result, "the legacy RTM scenario did not finish"
    return result[0]
