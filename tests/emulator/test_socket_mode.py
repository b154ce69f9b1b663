"""Socket Mode in the emulator over real sockets: apps.connections.open, hello, envelopes, acks
and redelivery (PROTOCOL §9)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from socket_mode_helpers import ACK, TIMEOUT, connections_open, open_sm

from slack_rtm.emulator import Emulator, SocketModeAck
from slack_rtm.emulator.socket_mode import MAX_RETRIES, RTM_ONLY_TYPES


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(write_rate=None, ack_timeout=ACK, reconnect_url_interval=None) as e:
        yield e


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def alice(emu: Emulator) -> str:
    return emu.workspace.people[0].id


# -- apps.connections.open ----------------------------------------------------------------------


async def test_connections_open_hands_out_a_single_use_url(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    assert emu.app_token.startswith(f"xapp-1-{emu.app_id}-")
    status, body = await connections_open(http, emu)
    assert status == 200
    assert body["ok"] is True
    url = body["url"]
    assert url.startswith(f"ws://127.0.0.1:{emu.port}/socket-mode/")
    assert url.endswith(f"?app_id={emu.app_id}")
    assert url in emu.issued_urls
    call = emu.connect_log[-1]
    assert (call.method, call.ok, call.user_id) == ("apps.connections.open", True, emu.bot_user_id)
    ws = await http.ws_connect(url)
    hello = await ws.receive_json(timeout=TIMEOUT)
    assert hello == {
        "type": "hello",
        "num_connections": 1,
        "debug_info": {
            "host": "applink-emu-1",
            "build_number": 1,
            "approximate_connection_time": 18060,
        },
        "connection_info": {"app_id": emu.app_id},
    }
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:  # used up
        await http.ws_connect(url)
    assert info.value.status == 401
    await ws.close()


async def test_connections_open_token_kinds(emu: Emulator, http: aiohttp.ClientSession) -> None:
    for token, error in (
        (emu.bot_token, "not_allowed_token_type"),
        (emu.user_tokens[alice(emu)], "not_allowed_token_type"),
        ("xapp-1-A0-1-nope", "invalid_auth"),
    ):
        status, body = await connections_open(http, emu, token)
        assert (status, body) == (200, {"ok": False, "error": error})
    session = emu.browser_session(alice(emu))
    status, body = await connections_open(http, emu, session.token)
    assert body["error"] == "not_allowed_token_type"
    async with http.post(emu.api_url + "/apps.connections.open") as r:
        assert await r.json() == {"ok": False, "error": "not_authed"}
    async with http.post(
        emu.api_url + "/apps.connections.open", data={"token": emu.app_token}
    ) as r:  # a form field works too
        assert (await r.json())["ok"] is True
    emu.set_token_error(emu.app_token, "token_revoked")
    assert (await connections_open(http, emu))[1] == {"ok": False, "error": "token_revoked"}
    assert all(c.method == "apps.connections.open" for c in emu.connect_log)


async def test_an_expired_ticket_is_refused(http: aiohttp.ClientSession) -> None:
    async with Emulator(url_ttl=0.05) as emu:
        _, body = await connections_open(http, emu)
        await asyncio.sleep(0.1)
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await http.ws_connect(body["url"])
        assert info.value.status == 401
        emu.expire_next_urls(1)
        _, body = await connections_open(http, emu)
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(body["url"])


async def test_shared_connect_faults_apply(emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.fail_next_connects(1, "internal_error", 500)
    emu.rate_limit_next_connects(1, retry_after=7)
    assert await connections_open(http, emu) == (500, {"ok": False, "error": "internal_error"})
    async with http.post(
        emu.api_url + "/apps.connections.open", headers={"Authorization": f"Bearer {emu.app_token}"}
    ) as r:
        assert (r.status, r.headers["Retry-After"]) == (429, "7")
        assert await r.json() == {"ok": False, "error": "ratelimited"}
    emu.set_connect_rate_limit(1, token=emu.app_token)
    assert (await connections_open(http, emu))[0] == 200
    status, body = await connections_open(http, emu)
    assert (status, body["error"]) == (429, "ratelimited")
    assert [c.status for c in emu.connect_log] == [500, 429, 200, 429]


# -- envelopes and acks -------------------------------------------------------------------------


async def test_posted_message_becomes_an_events_api_envelope(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    sm = await open_sm(http, emu)
    ts = await emu.post_message(alice(emu), emu.general_channel_id, "hello app")
    env = await sm.recv()
    assert list(env) == [
        "envelope_id",
        "type",
        "accepts_response_payload",
        "retry_attempt",
        "retry_reason",
        "payload",
    ]
    assert (
        env["type"],
        env["accepts_response_payload"],
        env["retry_attempt"],
        env["retry_reason"],
    ) == ("events_api", False, 0, "")
    payload = env["payload"]
    assert payload["type"] == "event_callback"
    assert (payload["team_id"], payload["api_app_id"]) == (emu.team_id, emu.app_id)
    assert payload["event_id"].startswith("Ev")
    assert isinstance(payload["event_time"], int)
    assert payload["authorizations"][0]["user_id"] == emu.bot_user_id
    event = payload["event"]
    assert (event["type"], event["user"], event["text"], event["ts"]) == (
        "message",
        alice(emu),
        "hello app",
        ts,
    )
    assert emu.history.count(emu.general_channel_id) == 1
    await sm.ack(env)
    await emu.wait_socket_mode_acks(1)
    [ack] = emu.socket_mode_acks
    assert (ack.envelope_id, ack.payload, ack.retry_attempt) == (env["envelope_id"], None, 0)
    assert ack.seconds is not None
    assert 0 <= ack.seconds < ACK
    [sent] = emu.socket_mode_envelopes
    assert (sent.envelope_id, sent.event_id, sent.conn_id) == (
        env["envelope_id"],
        payload["event_id"],
        ack.conn_id,
    )
    await sm.expect_nothing(ACK * 1.5)  # acked: no redelivery
    assert emu.socket_mode_unacked == []
    frame = emu.received[-1]
    assert (frame.user_id, frame.data) == (emu.bot_user_id, {"envelope_id": env["envelope_id"]})


async def test_only_channels_the_bot_is_in_and_no_rtm_only_types(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    sm = await open_sm(http, emu)
    ws = emu.workspace
    people = [p.id for p in ws.people]
    lonely = ws.add_channel("people-only", people)
    await emu.post_message(people[1], lonely.id, "the bot is not here")
    for kind in sorted(RTM_ONLY_TYPES):
        await emu.inject_event({"type": kind})
    await emu.inject_event({"type": "reaction_added", "user": people[0]}, user_id=people[1])
    await sm.expect_nothing(0.2)
    await emu.inject_event({"type": "reaction_added", "user": people[0], "reaction": "eyes"})
    env = await sm.recv()
    assert env["payload"]["event"] == {
        "type": "reaction_added",
        "user": people[0],
        "reaction": "eyes",
    }


async def test_rtm_and_socket_mode_both_get_the_event(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    sm = await open_sm(http, emu)
    body = await (
        await http.post(
            emu.api_url + "/rtm.connect", headers={"Authorization": f"Bearer {emu.bot_token}"}
        )
    ).json()
    rtm = await http.ws_connect(body["url"])
    assert (await rtm.receive_json(timeout=TIMEOUT))["type"] == "hello"
    await emu.post_message(alice(emu), emu.general_channel_id, "both")
    assert (await rtm.receive_json(timeout=TIMEOUT))["text"] == "both"
    assert (await sm.recv())["payload"]["event"]["text"] == "both"
    assert emu.connection_count == 1
    assert emu.socket_mode_connections == 1
    await rtm.close()


async def test_no_socket_no_envelope(emu: Emulator, http: aiohttp.ClientSession) -> None:
    await emu.post_message(alice(emu), emu.general_channel_id, "nobody listens")
    assert emu.socket_mode_envelopes == []
    sm = await open_sm(http, emu)
    await sm.expect_nothing(ACK * 1.5)


async def test_round_robin_over_live_sockets(emu: Emulator, http: aiohttp.ClientSession) -> None:
    a = await open_sm(http, emu)
    b = await open_sm(http, emu)
    assert (a.hello["num_connections"], b.hello["num_connections"]) == (1, 2)
    for i in range(4):
        await emu.post_message(alice(emu), emu.general_channel_id, f"m{i}")
    got_a = [await a.recv(), await a.recv()]
    got_b = [await b.recv(), await b.recv()]
    for sm, got in ((a, got_a), (b, got_b)):
        for env in got:
            await sm.ack(env)
    texts = sorted(e["payload"]["event"]["text"] for e in got_a + got_b)
    assert texts == ["m0", "m1", "m2", "m3"]
    await emu.wait_socket_mode_acks(4)
    assert len({e.conn_id for e in emu.socket_mode_envelopes}) == 2
    await a.expect_nothing(ACK * 1.5)
    await b.expect_nothing(0.01)


async def test_unacked_envelope_is_redelivered_then_given_up(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    sm = await open_sm(http, emu)
    start = time.monotonic()
    await emu.post_message(alice(emu), emu.general_channel_id, "ack me")
    envs = [await sm.recv()]
    for _ in range(MAX_RETRIES):
        envs.append(await sm.recv())
    times = time.monotonic() - start
    assert [e["retry_attempt"] for e in envs] == [0, 1, 2, 3]
    assert [e["retry_reason"] for e in envs] == ["", "timeout", "timeout", "timeout"]
    assert len({e["envelope_id"] for e in envs}) == 4  # a new envelope each time
    assert len({e["payload"]["event_id"] for e in envs}) == 1  # the same event
    assert times >= ACK * MAX_RETRIES * 0.9
    await emu._wait(lambda: bool(emu.socket_mode_unacked), TIMEOUT, "give up")
    [given_up] = emu.socket_mode_unacked
    assert (given_up.envelope_id, given_up.retry_attempt) == (envs[-1]["envelope_id"], 3)
    assert time.monotonic() - start >= ACK * (MAX_RETRIES + 1) * 0.9
    await sm.expect_nothing(ACK * 1.2)
    await sm.ack(envs[0])  # late: recorded, with the chain's timing
    await emu.wait_socket_mode_acks(1)
    assert emu.socket_mode_acks[0].retry_attempt == 0
    assert emu.socket_mode_acks[0].seconds is not None
    assert emu.socket_mode_acks[0].seconds >= ACK * (MAX_RETRIES + 1) * 0.9


async def test_ack_of_a_retry_stops_the_chain(emu: Emulator, http: aiohttp.ClientSession) -> None:
    sm = await open_sm(http, emu)
    await emu.post_message(alice(emu), emu.general_channel_id, "late ack")
    first = await sm.recv()
    retry = await sm.recv()
    assert retry["retry_attempt"] == 1
    await sm.ack(retry)
    await sm.ack(retry)  # a duplicate ack is recorded too
    await emu.wait_socket_mode_acks(2)
    assert [(a.envelope_id, a.retry_attempt) for a in emu.socket_mode_acks] == [
        (retry["envelope_id"], 1),
        (retry["envelope_id"], 1),
    ]
    seconds = emu.socket_mode_acks[0].seconds
    assert seconds is not None
    assert seconds >= ACK * 0.9
    await sm.expect_nothing(ACK * 1.5)
    assert first["envelope_id"] != retry["envelope_id"]


async def test_unknown_acks_and_other_frames(emu: Emulator, http: aiohttp.ClientSession) -> None:
    sm = await open_sm(http, emu)
    await sm.ws.send_json({"envelope_id": "nope", "payload": [1]})
    await sm.ws.send_str("not json")
    await sm.ws.send_json({"type": "ping"})
    await emu.wait_for_frame(lambda f: f.data == {"type": "ping"})
    assert emu.socket_mode_acks == [
        SocketModeAck("nope", None, None, None, emu.socket_mode_connection_ids[0])
    ]
    assert [f.text for f in emu.received] == [
        '{"envelope_id": "nope", "payload": [1]}',
        "not json",
        '{"type": "ping"}',
    ]


async def test_firehose_goes_to_one_socket_and_its_acks_are_counted(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    a = await open_sm(http, emu)
    b = await open_sm(http, emu)
    assert await emu.socket_mode_firehose(0) == 0
    emu.prepare_socket_mode_firehose(50)
    assert await emu.socket_mode_firehose(50) == 50
    got: list[dict[str, Any]] = []
    sm = a
    try:
        got.append(await a.recv(0.5))
    except asyncio.TimeoutError:
        sm = b
    while len(got) < 50:
        got.append(await sm.recv())
    other = b if sm is a else a
    await other.expect_nothing(0.05)
    assert len({e["envelope_id"] for e in got}) == 50
    assert all(e["type"] == "events_api" and e["retry_attempt"] == 0 for e in got)
    events = [e["payload"]["event"] for e in got]
    assert all(ev["type"] == "message" for ev in events)
    assert len({ev["ts"] for ev in events}) == 50
    assert {e["payload"]["api_app_id"] for e in got} == {emu.app_id}
    for env in got:
        await sm.ack(env)
    await emu.wait_socket_mode_acks(50)
    assert (emu.socket_mode_firehose_acks, emu.socket_mode_ack_count) == (50, 50)
    assert emu.socket_mode_acks == []  # counted only
    assert emu.received == []
    assert emu.socket_mode_envelopes == []  # not tracked: no redelivery
    await sm.expect_nothing(ACK * 1.5)


async def test_inject_for_the_bot_reaches_socket_mode(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    sm = await open_sm(http, emu)
    await emu.inject_event({"type": "app_mention", "text": "hi"}, user_id=emu.bot_user_id)
    env = await sm.recv()
    assert env["payload"]["event"] == {"type": "app_mention", "text": "hi"}
