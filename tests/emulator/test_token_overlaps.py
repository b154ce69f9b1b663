"""Live sockets per token and the moments two sockets of one token are live at once
(Emulator.live_sockets_by_token, Emulator.token_overlaps), over real sockets."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import aiohttp
import httpx

from slack_rtm.emulator import Emulator, EmulatorThread, TokenOverlap


async def _until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


async def test_overlaps_are_recorded_with_start_end_and_sockets(
    emu: Emulator, open_rtm: Any
) -> None:
    bot_key = f"xoxb:{emu.bot_user_id}"
    alice = emu.workspace.people[0].id
    assert emu.live_sockets_by_token() == {}
    first = await open_rtm(emu)
    person = await open_rtm(emu, emu.user_tokens[alice])
    assert emu.live_sockets_by_token() == {bot_key: 1, f"xoxp:{alice}": 1}
    assert emu.token_overlaps == []  # two tokens, one socket each: no overlap

    before = time.monotonic()
    second = await open_rtm(emu)
    assert emu.live_sockets_by_token()[bot_key] == 2
    [overlap] = emu.token_overlaps
    assert overlap.token_key == bot_key
    assert overlap.user_id == emu.bot_user_id
    assert overlap.end is None
    assert before <= overlap.start <= time.monotonic()
    assert overlap.most == 2
    assert len(overlap.conn_ids) == 2
    assert overlap.duration() >= 0

    third = await open_rtm(emu)
    [overlap] = emu.token_overlaps
    assert overlap.most == 3
    assert len(overlap.conn_ids) == 3

    await third.ws.close()
    await _until(lambda: emu.live_sockets_by_token()[bot_key] == 2)
    assert emu.token_overlaps[0].end is None  # still two live
    await first.ws.close()
    await _until(lambda: emu.live_sockets_by_token()[bot_key] == 1)
    [overlap] = emu.token_overlaps
    assert overlap.end is not None
    assert overlap.duration() == overlap.end - overlap.start
    assert 0 <= overlap.duration() < 5

    await second.ws.close()
    await person.ws.close()
    await _until(lambda: emu.live_sockets_by_token() == {})
    assert len(emu.token_overlaps) == 1
    # The records never hold a token.
    text = repr(emu.token_overlaps) + repr(emu.state())
    assert emu.bot_token not in repr(emu.token_overlaps)
    assert "token_overlap_count" in text


async def test_a_browser_session_counts_apart_from_the_persons_token(
    emu: Emulator, open_rtm: Any
) -> None:
    alice = emu.workspace.people[0].id
    session = emu.browser_session(alice)
    async with aiohttp.ClientSession() as http:
        body_cookie = f"d={quote(session.cookie, safe='')}"
        async with http.post(
            emu.api_url + "/rtm.connect",
            headers={"Authorization": f"Bearer {session.token}", "Cookie": body_cookie},
        ) as r:
            body = await r.json()
        assert body["ok"], body
        ws = await http.ws_connect(body["url"], headers={"Cookie": body_cookie})
        assert (await ws.receive_json())["type"] == "hello"
        person = await open_rtm(emu, emu.user_tokens[alice])
        assert emu.live_sockets_by_token() == {f"xoxc:{alice}": 1, f"xoxp:{alice}": 1}
        assert emu.token_overlaps == []
        await ws.close()
        await person.ws.close()


async def test_a_dropped_socket_ends_the_overlap(emu: Emulator, open_rtm: Any) -> None:
    a = await open_rtm(emu)
    b = await open_rtm(emu)
    assert emu.token_overlaps[0].end is None
    assert await emu.drop_connections(abrupt=True) == 2
    await _until(lambda: emu.live_sockets_by_token() == {})
    assert emu.token_overlaps[0].end is not None
    await a.ws.close()
    await b.ws.close()


def test_thread_http_and_aio_twins() -> None:
    with EmulatorThread() as emu, httpx.Client(base_url=emu.control_url) as http:
        assert emu.live_sockets_by_token() == {}
        assert emu.token_overlaps == []

        async def two_sockets() -> list[dict[str, Any]]:
            async with aiohttp.ClientSession() as s:
                sockets = []
                for _ in range(2):
                    async with s.post(
                        emu.api_url + "/rtm.connect",
                        headers={"Authorization": f"Bearer {emu.bot_token}"},
                    ) as r:
                        url = (await r.json())["url"]
                    ws = await s.ws_connect(url)
                    await ws.receive_json()  # hello
                    sockets.append(ws)
                live: dict[str, Any] = await emu.aio.live_sockets_by_token()
                answer = http.post("/live_sockets_by_token").json()
                overlaps = http.get("/token_overlaps").json()
                for ws in sockets:
                    await ws.close()
                return [live, answer, overlaps]

        live, answer, overlaps = asyncio.run(two_sockets())
        key = f"xoxb:{emu.bot_user_id}"
        assert live == {key: 2}
        assert answer == {"ok": True, "live": {key: 2}}
        assert overlaps["ok"] is True
        assert overlaps["count"] == 1
        assert overlaps["live"] == {key: 2}
        [record] = overlaps["overlaps"]
        assert record["token_key"] == key
        assert record["end"] is None
        assert record["most"] == 2
        assert emu.bot_token not in str(overlaps)
        deadline = time.monotonic() + 5
        while emu.live_sockets_by_token():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        [overlap] = emu.token_overlaps
        assert isinstance(overlap, TokenOverlap)
        assert overlap.end is not None
        assert http.get("/token_overlaps", params={"since": 1}).json()["overlaps"] == []
        assert http.get("/token_overlaps", params={"since": "x"}).status_code == 400
