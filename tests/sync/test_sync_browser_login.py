"""The sync client logged in as a person (issue 13): cookie on both legs, refusals, no threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from slack_rtm.backoff import Backoff
from slack_rtm.emulator import EmulatorThread
from slack_rtm.errors import RtmConnectErrorSchemaError, SocketAuthError
from slack_rtm.sync import RtmClient, State

FAST = {"ping_interval": 1.0, "ping_timeout": 1.0, "reconnect": Backoff(0.01, 0.05)}
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Safari/605.1.15"


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emulator:
        yield emulator


def _people(emu: EmulatorThread) -> list[str]:
    return [u.id for u in emu.workspace.people]


def _no_new_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    deadline = time.monotonic() + 5
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.01)


def test_sync_browser_session_sends_receives_with_the_cookie(emu: EmulatorThread) -> None:
    me, other = _people(emu)[:2]
    session = emu.browser_session(me, d_s="1700000000")
    expected = f"d={quote(session.cookie, safe='')}; d-s=1700000000"
    before = set(threading.enumerate())
    cookie = {"d": session.cookie, "d-s": "1700000000"}
    with RtmClient(session.token, base_url=emu.api_url, cookie=cookie, user_agent=UA,
                   **FAST) as rtm:
        assert rtm.state is State.CONNECTED
        assert rtm.self.id == me
        emu.post_message(other, emu.general_channel_id, "to the person")
        for event in rtm:
            if event.type == "message":
                assert (event.user, event.text) == (other, "to the person")
                break
        ack = rtm.send_message(emu.general_channel_id, "from the person")
        assert ack.ok
        assert ack.ts
    call, up = emu.connect_log[-1], emu.upgrades[-1]
    assert (call.cookie, call.user_agent) == (expected, UA)
    assert (up.outcome, up.cookie, up.origin, up.user_agent) == (
        "hello", expected, "https://app.slack.com", UA)
    assert _no_new_threads(before) == []


def test_sync_xoxc_without_cookie_raises_invalid_auth_once(emu: EmulatorThread) -> None:
    session = emu.browser_session(_people(emu)[0])
    before = set(threading.enumerate())
    rtm = RtmClient(session.token, base_url=emu.api_url, **FAST)
    with pytest.raises(RtmConnectErrorSchemaError) as info:
        rtm.connect()
    assert info.value.error == "invalid_auth"
    assert emu.connect_calls == 1
    rtm.close()
    assert _no_new_threads(before) == []


def _connect_and_wait(rtm: RtmClient) -> None:
    rtm.connect()
    rtm.wait_closed(timeout=5)  # after_hello: connect() may return on the first hello


@pytest.mark.parametrize("after_hello", [False, True])
def test_sync_socket_refusals_stop_and_leave_no_thread(emu: EmulatorThread,
                                                       after_hello: bool) -> None:
    session = emu.browser_session(_people(emu)[0])
    emu.refuse_next_sockets(3, after_hello=after_hello)
    before = set(threading.enumerate())
    rtm = RtmClient(session.token, base_url=emu.api_url, cookie=session.cookie, **FAST)
    closed: list[object] = []
    rtm.add_handler("closed", closed.append)
    with pytest.raises(SocketAuthError) as info:
        _connect_and_wait(rtm)
    assert info.value.refusals == 3
    assert "refused the credentials" in str(info.value)
    assert rtm.state is State.CLOSED
    deadline = time.monotonic() + 3
    while emu.connection_count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert emu.connection_count == 0
    rtm.close()
    assert len(closed) == 1
    assert _no_new_threads(before) == []


def test_sync_two_refusals_then_connected(emu: EmulatorThread) -> None:
    session = emu.browser_session(_people(emu)[0])
    emu.refuse_next_sockets(2)
    with RtmClient(session.token, base_url=emu.api_url, cookie=session.cookie, **FAST) as rtm:
        assert rtm.state is State.CONNECTED
        assert [u.outcome for u in emu.upgrades] == ["refused", "refused", "hello"]
