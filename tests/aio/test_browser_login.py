"""Logging in as a person (issue 13): an ``xoxc-`` token with its ``d`` cookie, over real sockets.

The emulator's browser sessions check the ``Cookie`` header (encoded exactly once) on
``rtm.connect`` and on the WebSocket upgrade, and record what each leg received.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
from aio_helpers import FAST, Recorder, assert_no_leftovers, next_event, person
from test_client_proxy import HttpProxy

from slack_rtm.aio import RtmClient, State
from slack_rtm.backoff import Backoff
from slack_rtm.cookies import CookieInput
from slack_rtm.emulator import Emulator
from slack_rtm.emulator.browser import BrowserSession
from slack_rtm.errors import RtmConnectErrorSchemaError, SocketAuthError
from slack_rtm.session.config import SessionConfig

ORIGIN = "https://app.slack.com"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"
QUICK = dataclasses.replace(FAST, backoff=Backoff(initial=0.01, maximum=0.05))


@pytest.fixture
async def remu() -> AsyncIterator[Emulator]:
    """An emulator that sends a reconnect_url every 0.2 s."""
    async with Emulator(write_rate=None, reconnect_url_interval=0.2) as emulator:
        yield emulator


def browser_client(emu: Emulator, session: BrowserSession, cookie: CookieInput | None = None,
                   **kwargs: Any) -> RtmClient:
    kwargs.setdefault("config", FAST)
    return RtmClient(session.token, base_url=emu.api_url,
                     cookie=session.cookie if cookie is None else cookie, **kwargs)


def enc(value: str) -> str:
    return quote(value, safe="")


D_S = "1700000000"


def _forms(session: BrowserSession) -> list[tuple[str, CookieInput, str]]:
    """(name, cookie= input, the Cookie header expected byte for byte)."""
    d = enc(session.cookie)
    return [
        ("bare", session.cookie, f"d={d}"),
        ("string", f"d={session.cookie}; d-s={D_S}", f"d={d}; d-s={D_S}"),
        ("mapping", {"d": session.cookie, "d-s": D_S}, f"d={d}; d-s={D_S}"),
        ("encoded", d, f"d={d}"),
        ("encoded string", f"d={d}; d-s={D_S}", f"d={d}; d-s={D_S}"),
    ]


@pytest.mark.parametrize("form", ["bare", "string", "mapping", "encoded", "encoded string"])
async def test_cookie_forms_arrive_byte_exact_on_both_legs(emu: Emulator, form: str) -> None:
    uid = person(emu)
    needs_d_s = form in ("string", "mapping", "encoded string")
    session = emu.browser_session(uid, d_s=D_S if needs_d_s else None)
    _, given, expected = next(f for f in _forms(session) if f[0] == form)
    assert "%2F" in expected or "%2B" in expected  # the value really needed encoding
    async with browser_client(emu, session, given, user_agent=BROWSER_UA) as rtm:
        assert rtm.state is State.CONNECTED
        assert rtm.self.id == uid
    call = emu.connect_log[-1]
    assert (call.ok, call.user_id, call.cookie, call.user_agent) == (True, uid, expected,
                                                                      BROWSER_UA)
    up = emu.upgrades[-1]
    assert (up.outcome, up.user_id, up.cookie, up.origin, up.user_agent) == (
        "hello", uid, expected, ORIGIN, BROWSER_UA)


async def test_default_user_agent_on_both_legs(emu: Emulator) -> None:
    session = emu.browser_session(person(emu))
    async with browser_client(emu, session):
        pass
    call, up = emu.connect_log[-1], emu.upgrades[-1]
    assert call.user_agent is not None
    assert call.user_agent.startswith("slack-rtm/")
    assert up.user_agent == call.user_agent
    assert up.origin == ORIGIN
    assert up.cookie == call.cookie == f"d={enc(session.cookie)}"


async def test_bot_token_without_cookie_sends_no_cookie_and_no_origin(emu: Emulator) -> None:
    async with RtmClient(emu.bot_token, base_url=emu.api_url, config=FAST,
                         user_agent=BROWSER_UA):
        pass
    assert emu.connect_log[-1].cookie is None
    assert emu.connect_log[-1].user_agent == BROWSER_UA
    up = emu.upgrades[-1]
    assert (up.cookie, up.origin, up.user_agent) == (None, None, BROWSER_UA)


async def test_cookie_and_user_agent_through_an_http_proxy(emu: Emulator) -> None:
    uid = person(emu)
    session = emu.browser_session(uid, d_s=D_S)
    expected = f"d={enc(session.cookie)}; d-s={D_S}"
    async with HttpProxy() as proxy:
        rtm = browser_client(emu, session, {"d": session.cookie, "d-s": D_S},
                             proxy=proxy.url, user_agent=BROWSER_UA)
        async with rtm:
            assert rtm.state is State.CONNECTED
            assert proxy.connects == [f"127.0.0.1:{emu.port}"]  # the upgrade was tunnelled
            assert any(r.endswith("/api/rtm.connect") for r in proxy.requests)
    call, up = emu.connect_log[-1], emu.upgrades[-1]
    assert (call.cookie, call.user_agent) == (expected, BROWSER_UA)
    assert (up.outcome, up.cookie, up.origin, up.user_agent) == (
        "hello", expected, ORIGIN, BROWSER_UA)


async def test_session_acts_as_the_person(emu: Emulator) -> None:
    me, other = person(emu, 0), person(emu, 1)
    channel = emu.general_channel_id
    assert emu.workspace.is_member(channel, me)
    assert emu.workspace.is_member(channel, other)
    session = emu.browser_session(me)
    async with browser_client(emu, session) as rtm:
        assert rtm.self.id == me
        it = aiter(rtm)
        await emu.post_message(other, channel, "hello, person")
        msg = await next_event(it, "message")
        assert (msg.user, msg.text, msg.channel) == (other, "hello, person", channel)
        ack = await rtm.send_message(channel, "hi back")
        assert ack.ok
        assert ack.ts
        frame = await emu.wait_for_frame(
            lambda f: bool(f.data) and f.data.get("type") == "message")
        assert frame.user_id == me
        assert frame.data is not None
        assert frame.data["text"] == "hi back"


@pytest.mark.parametrize("cookie", [None, "xoxd-not%2Fthe%2Bright%3Done"])
async def test_xoxc_without_the_right_cookie_fails_at_once(emu: Emulator,
                                                          cookie: str | None) -> None:
    session = emu.browser_session(person(emu))
    rtm = RtmClient(session.token, base_url=emu.api_url, config=QUICK, cookie=cookie)
    with pytest.raises(RtmConnectErrorSchemaError) as info:
        await asyncio.wait_for(rtm.connect(), 5)
    assert info.value.error == "invalid_auth"
    assert emu.connect_calls == 1  # not retried
    assert emu.upgrades == []
    assert rtm.state is State.CLOSED
    await rtm.close()
    assert_no_leftovers(rtm)


@pytest.mark.parametrize("after_hello", [False, True])
async def test_three_socket_refusals_stop_the_session(emu: Emulator, after_hello: bool) -> None:
    session = emu.browser_session(person(emu))
    emu.refuse_next_sockets(3, after_hello=after_hello)
    rtm = browser_client(emu, session, config=QUICK)
    closed: list[Any] = []
    rtm.add_handler("closed", lambda event: closed.append(event))
    if after_hello:
        # Each socket says hello before the 401: connect() may return on the first hello,
        # but the session never stays up and ends with the error.
        with contextlib.suppress(SocketAuthError):
            await asyncio.wait_for(rtm.connect(), 5)
        with pytest.raises(SocketAuthError) as info:
            await asyncio.wait_for(rtm.wait_closed(), 5)
    else:
        with pytest.raises(SocketAuthError) as info:
            await asyncio.wait_for(rtm.connect(), 5)
    assert info.value.refusals == 3
    assert "refused the credentials" in str(info.value)
    assert rtm.state is State.CLOSED
    assert [u.outcome for u in emu.upgrades] == [
        "refused_after_hello" if after_hello else "refused"] * 3
    assert emu.connect_calls == 3  # each retry went through rtm.connect, never a resume
    deadline = time.monotonic() + 3
    while emu.connection_count and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert emu.connection_count == 0
    with contextlib.suppress(SocketAuthError):
        await rtm.wait_closed()
    await asyncio.sleep(0.05)  # handlers run on the dispatcher
    assert len(closed) == 1
    assert "refused" in (closed[0].error or "")
    await rtm.close()
    assert_no_leftovers(rtm)


async def test_refusal_after_connected_stops_the_running_session(emu: Emulator) -> None:
    session = emu.browser_session(person(emu))
    rtm = browser_client(emu, session, config=QUICK)
    await rtm.connect()
    rec = Recorder(rtm)
    emu.refuse_next_sockets(3)
    await emu.drop_connections(abrupt=True)
    await rec.count("closed", 1)
    await asyncio.wait_for(rec.task, 3)
    assert isinstance(rec.error, SocketAuthError)
    assert rec.error.refusals == 3
    assert "refused" in (rec.of("closed")[0].error or "")
    assert emu.connection_count == 0
    await rtm.close()
    assert_no_leftovers(rtm)


async def test_two_refusals_under_the_limit_connect_in_the_end(emu: Emulator) -> None:
    session = emu.browser_session(person(emu))
    emu.refuse_next_sockets(2)
    async with browser_client(emu, session, config=QUICK) as rtm:
        assert rtm.state is State.CONNECTED
        assert [u.outcome for u in emu.upgrades] == ["refused", "refused", "hello"]
        assert emu.connect_calls == 3
        assert emu.connection_count == 1


async def _saw_reconnect_url(rec: Recorder) -> None:
    """Wait for a new reconnect_url event (one more than seen so far)."""
    await rec.count("reconnect_url", len(rec.of("reconnect_url")) + 1, timeout=3)


async def test_fast_resume_skips_rtm_connect_and_carries_the_cookie(remu: Emulator) -> None:
    emu = remu
    me, other = person(emu, 0), person(emu, 1)
    session = emu.browser_session(me)
    rtm = browser_client(emu, session, config=QUICK, user_agent=BROWSER_UA)
    await rtm.connect()
    rec = Recorder(rtm)
    await _saw_reconnect_url(rec)
    calls = emu.connect_calls
    assert calls == 1
    await emu.drop_connections(abrupt=True)
    await rec.count("connected", 2)  # the resumed socket's hello
    await emu.wait_connections(1)
    assert emu.resumes == 1
    up = emu.upgrades[-1]
    assert up.resume
    assert up.outcome == "hello"
    assert (up.cookie, up.origin, up.user_agent) == (f"d={enc(session.cookie)}", ORIGIN,
                                                     BROWSER_UA)
    assert emu.connect_calls == calls  # no rtm.connect
    await emu.post_message(other, emu.general_channel_id, "after the resume")
    await rec.wait(lambda: "after the resume" in rec.texts())
    assert (await rtm.send_message(emu.general_channel_id, "still me")).ok

    # Expired resume tickets: the client falls back to rtm.connect and connects again.
    await _saw_reconnect_url(rec)
    emu.expire_reconnect_urls()
    connected = len(rec.of("connected"))
    await emu.drop_connections(abrupt=True)
    await rec.count("connected", connected + 1)
    assert emu.connect_calls == calls + 1
    assert [u.outcome for u in emu.upgrades] == ["hello", "hello", "expired", "hello"]
    assert not emu.upgrades[-1].resume
    assert emu.upgrades[-1].outcome == "hello"
    assert emu.upgrades[-1].cookie == f"d={enc(session.cookie)}"
    await emu.post_message(other, emu.general_channel_id, "after the fallback")
    await rec.wait(lambda: "after the fallback" in rec.texts())
    assert rtm.state is State.CONNECTED
    await rtm.close()
    assert_no_leftovers(rtm)


async def test_retry_after_on_reconnect_is_a_floor(remu: Emulator) -> None:
    emu = remu
    session = emu.browser_session(person(emu))
    config = dataclasses.replace(QUICK, fast_resume=False)
    assert isinstance(config, SessionConfig)
    rtm = browser_client(emu, session, config=config)
    await rtm.connect()
    rec = Recorder(rtm)
    await asyncio.sleep(QUICK.healthy_after + 0.1)  # healthy: the reconnect starts at once
    emu.fail_next_connects(1, error="service_unavailable", status=503, retry_after=1)
    await emu.drop_connections(abrupt=True)
    await rec.count("connected", 2, timeout=5)
    starts = [t for t, e in zip(rec.times, rec.events, strict=True)
              if e.type == "connecting"][1:]  # after the drop
    assert len(starts) == 2, [e.type for e in rec.events]
    assert emu.connect_calls == 3
    assert [c.status for c in emu.connect_log] == [200, 503, 200]
    assert starts[1] - starts[0] >= 0.99, starts
    assert emu.resumes == 0
    await rtm.close()
    assert_no_leftovers(rtm)
