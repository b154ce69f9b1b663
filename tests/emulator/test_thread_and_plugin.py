"""EmulatorThread (blocking controls on a background loop) and the slack_emulator fixture."""

from __future__ import annotations

import asyncio
import threading

import aiohttp
import httpx
import pytest

from slack_rtm.emulator import Emulator, EmulatorThread


def test_fixture_in_sync_test(slack_emulator: EmulatorThread) -> None:
    r = httpx.post(
        slack_emulator.api_url + "/rtm.connect",
        headers={"Authorization": f"Bearer {slack_emulator.bot_token}"},
    )
    body = r.json()
    assert body["ok"] is True
    assert body["self"]["id"] == slack_emulator.bot_user_id
    assert slack_emulator.connect_calls == 1
    assert slack_emulator.connect_log[0].ok
    assert slack_emulator.state()["connection_count"] == 0


async def test_fixture_in_async_test(slack_emulator: EmulatorThread) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            slack_emulator.api_url + "/rtm.connect",
            headers={"Authorization": f"Bearer {slack_emulator.bot_token}"},
        ) as r:
            body = await r.json()
        async with http.ws_connect(body["url"]) as ws:
            assert await ws.receive_json(timeout=5) == {"type": "hello"}
            await slack_emulator.aio.wait_connections(1)
            alice = next(iter(slack_emulator.user_tokens))
            ts = await slack_emulator.aio.post_message(
                alice, slack_emulator.general_channel_id, "x"
            )
            assert (await ws.receive_json(timeout=5))["ts"] == ts
            await ws.send_json({"id": 1, "type": "ping"})
            frame = await slack_emulator.aio.wait_for_frame(lambda f: f.data is not None)
            assert frame.data == {"id": 1, "type": "ping"}
            assert await ws.receive_json(timeout=5) == {"type": "pong", "reply_to": 1}
            assert await slack_emulator.aio.inject_event({"type": "x"}) == 1
            assert await ws.receive_json(timeout=5) == {"type": "x"}
            assert await slack_emulator.aio.firehose(3) == 3
            assert await slack_emulator.aio.firehose_payloads([b'{"type":"y"}']) == 1
            assert await slack_emulator.aio.set_presence(alice, "away") == 1
            assert await slack_emulator.aio.send_goodbye() == 1
            assert await slack_emulator.aio.drop_connections(abrupt=False) == 1
            await slack_emulator.aio.wait_connections(0)
            assert await slack_emulator.aio.start_migration(0.01) == 0


@pytest.mark.slack_emulator(write_rate=None, connect_rate_limit=1)
def test_fixture_marker_options(slack_emulator: EmulatorThread) -> None:
    assert slack_emulator.emulator.write_rate is None
    headers = {"Authorization": f"Bearer {slack_emulator.bot_token}"}
    assert httpx.get(slack_emulator.api_url + "/rtm.connect", headers=headers).status_code == 200
    assert httpx.get(slack_emulator.api_url + "/rtm.connect", headers=headers).status_code == 429


def test_thread_sync_controls_with_a_client_thread() -> None:
    with EmulatorThread(write_rate=None) as emu:
        assert emu.port > 0
        assert emu.team_id == emu.workspace.team.id
        got: list[object] = []

        async def client() -> None:
            async with aiohttp.ClientSession() as http:
                async with http.get(
                    emu.api_url + "/rtm.connect",
                    headers={"Authorization": f"Bearer {emu.bot_token}"},
                ) as r:
                    url = (await r.json())["url"]
                async with http.ws_connect(url) as ws:
                    for _ in range(3):
                        got.append(await ws.receive_json(timeout=5))
                    await ws.send_json(
                        {
                            "id": 1,
                            "type": "message",
                            "channel": emu.general_channel_id,
                            "text": "hi",
                        }
                    )
                    got.append(await ws.receive_json(timeout=5))
                    got.append(await ws.receive_json(timeout=5))

        t = threading.Thread(target=lambda: asyncio.run(client()))
        t.start()
        emu.wait_connections(1)
        alice = next(iter(emu.user_tokens))
        emu.post_message(alice, emu.general_channel_id, "one")
        emu.inject_event({"type": "custom"})
        emu.set_pong(True)
        frame = emu.wait_for_frame(lambda f: f.data is not None and f.data.get("type") == "message")
        emu.send_goodbye()
        t.join(10)
        assert [g.get("type") for g in got[:3]] == ["hello", "message", "custom"]  # type: ignore[union-attr]
        assert got[3]["reply_to"] == 1  # type: ignore[index]
        assert got[4] == {"type": "goodbye"}
        assert frame.user_id == emu.bot_user_id
        assert len(emu.received) == 1
        emu.clear_received()
        assert emu.received == []
        emu.wait_connections(0)
        assert emu.connection_count == 0
        emu.set_connect_rate_limit(None)
        emu.fail_next_connects(1, retry_after=5)
        emu.rate_limit_next_connects(1)
        emu.set_token_error(emu.bot_token, "account_inactive")
        headers = {"Authorization": f"Bearer {emu.bot_token}"}
        answers = [httpx.get(emu.api_url + "/rtm.connect", headers=headers) for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 429, 200]
        assert answers[0].headers["Retry-After"] == "5"
        errors = [r.json()["error"] for r in answers]
        assert errors == ["internal_error", "ratelimited", "account_inactive"]
        assert emu.firehose(1) == 0
        assert emu.firehose_payloads([{"type": "z"}]) == 0
        assert emu.drop_connections() == 0
        assert emu.start_migration(0.01) == 0
        assert emu.set_presence(alice, "away") == 0
        assert emu.inject_event({"type": "q"}, user_id=alice) == 0
        assert emu.base_url.startswith("http://127.0.0.1:")
        assert emu.control_url.endswith("/_emulator")
        assert "EmulatorThread" in repr(emu)
    with pytest.raises(RuntimeError, match="not running"):
        emu.state()
    emu.stop()  # twice is fine


def test_start_in_thread_and_errors() -> None:
    handle = Emulator().start_in_thread()
    try:
        with pytest.raises(RuntimeError, match="already"):
            handle.start()
        with pytest.raises(TimeoutError):
            handle.wait_for_frame(lambda f: True, timeout=0.05)
        with pytest.raises(TimeoutError):
            handle.wait_connections(2, timeout=0.05)
    finally:
        handle.stop()
    with pytest.raises(ValueError, match="emulator"):
        EmulatorThread(emulator=Emulator(), port=1)


def test_bind_failure_raises() -> None:
    with EmulatorThread() as first, pytest.raises(OSError, match=r"in use|Errno"):
        EmulatorThread(port=first.port).start()
