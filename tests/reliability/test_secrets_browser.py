"""A browser session's credentials (``xoxc-`` token, ``d`` cookie) never show anywhere (issue 13).

A whole session at DEBUG (connect, events, sends, a fast resume, a failing ``rtm.connect``, an
in-band 401 refusal, a refused cookie, too many refusals) and the CLI with ``SLACK_COOKIE`` and
``--cookie``: no form of the cookie (raw, URL-encoded, inside the cookie string, its distinctive
parts), the token or a WebSocket ticket appears in a log record, output, repr or exception.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

import pytest

from slack_rtm import Backoff
from slack_rtm.aio import RtmClient
from slack_rtm.cli import main
from slack_rtm.emulator import Emulator, EmulatorThread
from slack_rtm.errors import RtmConnectErrorSchemaError, SocketAuthError
from slack_rtm.session.events import ReconnectUrl
from slack_rtm.session.state import State

from .leakcheck import LeakCheck, cookie_forms

FAST = {"reconnect": Backoff(0.01, 0.05), "ping_interval": 0.5, "ping_timeout": 1.0}
D_S = "1700000000"
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(reconnect_url_interval=0.2) as emulator:
        yield emulator


def test_cookie_forms_cover_raw_encoded_and_header() -> None:
    raw = "xoxd-abcdefgh12/ijklmnop34+qrstuvwx56=="
    forms = cookie_forms(raw)
    enc = quote(raw, safe="")
    for form in (raw, enc, enc.lower().replace("xoxd", "xoxd"), f"d={raw}", f"d={enc}",
                 "abcdefgh12", "ijklmnop34", "qrstuvwx56"):
        assert any(form in f or f in form for f in forms), form
    assert cookie_forms(enc) == forms  # an encoded value gives the same set


def test_the_check_catches_an_encoded_cookie_leak(leakcheck: LeakCheck) -> None:
    raw = "xoxd-abcdefgh12/ijklmnop34+qrstuvwx56=="
    leakcheck.add_cookie(raw)
    print("Cookie:", "d=" + quote(raw, safe="").lower())  # the planted leak
    with pytest.raises(AssertionError, match="secret leaked"):
        leakcheck.assert_clean()


async def _until(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_no_cookie_or_token_leaks_through_a_whole_browser_session(
    emu: Emulator, leakcheck: LeakCheck
) -> None:
    me, other = (u.id for u in emu.workspace.people[:2])
    session = emu.browser_session(me, d_s=D_S)
    leakcheck.add_secret(session.token)
    leakcheck.add_cookie(session.cookie)
    cookie = f"d={session.cookie}; d-s={D_S}"
    rtm = RtmClient(session.token, base_url=emu.api_url, cookie=cookie, user_agent=UA,
                    **FAST)  # type: ignore[arg-type]
    seen: list[object] = []
    rtm.on("*")(seen.append)
    async with rtm:
        leakcheck.see(rtm, rtm.self, rtm.team)
        await emu.post_message(other, emu.general_channel_id, "to the person")
        leakcheck.see(await rtm.send_message(emu.general_channel_id, "from the person"))
        # A fast resume (the reconnect_url carries a ticket; the upgrade the cookie).
        await _until(lambda: any(e.type == "reconnect_url" for e in seen))  # type: ignore[attr-defined]
        await emu.drop_connections(abrupt=True)
        await _until(lambda: emu.resumes == 1 and rtm.state is State.CONNECTED)
        # A failing rtm.connect, then an in-band 401, then connected again.
        emu.expire_reconnect_urls()
        emu.fail_next_connects(1, error="internal_error", status=500)
        emu.refuse_next_sockets(1)
        calls = emu.connect_calls
        await emu.drop_connections(abrupt=True)
        await _until(lambda: emu.connect_calls >= calls + 3 and rtm.state is State.CONNECTED)
        assert [u.outcome for u in emu.upgrades][-2:] == ["refused", "hello"]
        leakcheck.see(rtm, await rtm.send_message(emu.general_channel_id, "still here"))
        # Too many refusals: the session stops with SocketAuthError.
        emu.refuse_next_sockets(3)
        emu.expire_reconnect_urls()
        await emu.drop_connections(abrupt=True)
        with pytest.raises(SocketAuthError) as info:
            await asyncio.wait_for(rtm.wait_closed(), 5.0)
        leakcheck.see(info.value, rtm, rtm.error)
    leakcheck.see(rtm, *seen, *emu.upgrades, *emu.connect_log, session)

    # A wrong cookie: invalid_auth from rtm.connect.
    wrong = "xoxd-WRONGcookie1/WRONGcookie2+WRONG3=="
    leakcheck.add_cookie(wrong)
    bad = RtmClient(session.token, base_url=emu.api_url, cookie=wrong, **FAST)  # type: ignore[arg-type]
    with pytest.raises(RtmConnectErrorSchemaError) as refused:
        await bad.connect()
    assert refused.value.error == "invalid_auth"
    leakcheck.see(refused.value, bad)

    for url in emu.issued_urls:
        leakcheck.add_secret(url.rsplit("/", 1)[1])
    resume_urls = [e.url for e in seen if isinstance(e, ReconnectUrl) and e.url]
    assert resume_urls
    for url in resume_urls:  # the reconnect_url tickets are credentials too
        leakcheck.add_secret(url.rsplit("/", 1)[1])
    assert emu.resumes == 1
    assert leakcheck.record_count > 10
    leakcheck.assert_clean()


# ---------------------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def emu_thread() -> Iterator[EmulatorThread]:
    with EmulatorThread() as thread:
        yield thread


def test_cli_send_with_slack_cookie_and_with_cookie_option(
    emu_thread: EmulatorThread, leakcheck: LeakCheck, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = emu_thread
    session = emu.browser_session(emu.workspace.people[0].id)
    leakcheck.add_secret(session.token)
    leakcheck.add_cookie(session.cookie)
    monkeypatch.setenv("SLACK_TOKEN", session.token)
    monkeypatch.setenv("SLACK_COOKIE", session.cookie)
    assert main(["send", "--api-url", emu.api_url, emu.general_channel_id, "via env"]) == 0
    monkeypatch.delenv("SLACK_COOKIE")
    argv = ["send", "--api-url", emu.api_url, "--cookie", f"d={quote(session.cookie, safe='')}",
            "--json", emu.general_channel_id, "via option"]
    assert main(argv) == 0
    # Without the cookie: invalid_auth, reported without the secret.
    assert main(["send", "--api-url", emu.api_url, emu.general_channel_id, "no cookie"]) == 1
    monkeypatch.setenv("SLACK_COOKIE", "xoxd-WRONGcookie1/WRONGcookie2+WRONG3==")
    leakcheck.add_cookie("xoxd-WRONGcookie1/WRONGcookie2+WRONG3==")
    assert main(["connect", "--api-url", emu.api_url]) == 1
    assert "invalid_auth" in leakcheck.text()
    for url in emu.issued_urls:
        leakcheck.add_secret(url.rsplit("/", 1)[1])
    assert [c.ok for c in emu.connect_log][-4:] == [True, True, False, False]
    leakcheck.assert_clean()


def test_cli_listen_with_slack_cookie_and_with_cookie_option(
    emu_thread: EmulatorThread, leakcheck: LeakCheck
) -> None:
    emu = emu_thread
    me, other = (u.id for u in emu.workspace.people[:2])
    session = emu.browser_session(me)
    leakcheck.add_secret(session.token)
    leakcheck.add_cookie(session.cookie)
    env = dict(os.environ, SLACK_TOKEN=session.token, SLACK_API_URL=emu.api_url,
               PYTHONUNBUFFERED="1")
    env.pop("SLACK_COOKIE", None)
    for how in ("env", "option"):
        args = [sys.executable, "-m", "slack_rtm", "listen", "--type", "message"]
        run_env = dict(env)
        if how == "env":
            run_env["SLACK_COOKIE"] = session.cookie
        else:
            args += ["--cookie", f"d={session.cookie}"]
        before = emu.connection_count
        proc = subprocess.Popen(args, env=run_env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 15
            while emu.connection_count <= before:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "listen did not connect"
                time.sleep(0.02)
            emu.post_message(other, emu.general_channel_id, f"hello listener {how}")
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert json.loads(line)["text"] == f"hello listener {how}"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, err
        leakcheck.see(line, out, err)
    assert emu.upgrades[-1].cookie == f"d={quote(session.cookie, safe='')}"
    for url in emu.issued_urls:
        leakcheck.add_secret(url.rsplit("/", 1)[1])
    leakcheck.assert_clean()
