"""Neither the token nor the session cookie, in any form, leaks from the Web API layer.

Each test runs both client twins at DEBUG against the scripted loopback server, hands every
outcome, error (with its chain) and repr to the leak check of ``tests/reliability``, and asserts
the secrets appear nowhere: not in log records, output, messages, reprs or tracebacks. Each test
also asserts that the path it means to cover was taken.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reliability.leakcheck import SECRET_TOKEN, LeakCheck
from slack_rtm.api import ApiResponse, RetryConfig
from slack_rtm.errors import (
    ApiError,
    RateLimitedError,
    ResponseValidationError,
    SlackApiError,
    TransportError,
    TransportTimeoutError,
)

from .server import ScriptedServer, Twin, free_port
from .web_helpers import CHANNEL, TS, Web, history_page, message

MARKER = "LEAKCOOKIE"
COOKIE_RAW = f"xoxd-{MARKER}/9a+Zq=="
COOKIE_ENCODED = f"xoxd-{MARKER}%2F9a%2BZq%3D%3D"
COOKIE_STRING = f"d={COOKIE_RAW}; d-s=1700000000"
HEADER = f"d={COOKIE_ENCODED}; d-s=1700000000"
# A proxy error page that echoes the request back, credentials and all, in every form.
ECHO = (
    f"<html><pre>Authorization: Bearer {SECRET_TOKEN}\nCookie: {HEADER}\n"
    f"raw d={COOKIE_RAW} encoded {COOKIE_ENCODED} lower xoxd-{MARKER}%2f9a</pre></html>"
)


@pytest.fixture
def check(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> Iterator[LeakCheck]:
    leakcheck = LeakCheck(caplog, capfd, secrets=[MARKER, COOKIE_RAW, COOKIE_ENCODED, HEADER])
    with leakcheck:
        yield leakcheck


def cookie_client(twin: Twin, **kwargs: Any) -> Web:
    kwargs.setdefault("retry", RetryConfig(max_attempts=2))
    client = twin.client(cookie=COOKIE_STRING, **kwargs)
    return Web(client)


def see_all(check: LeakCheck, web: Web, *things: object) -> None:
    client = web.api.client
    check.see(client, web.api, client.cookie, *things)
    for thing in things:
        if isinstance(thing, ApiResponse):
            check.see(thing.result, thing.warnings, thing.headers)


def assert_sent_with_cookie(server: ScriptedServer) -> None:
    assert server.requests, "no request reached the server"
    for request in server.requests:
        assert request.headers["cookie"] == HEADER
        assert request.headers["authorization"] == f"Bearer {SECRET_TOKEN}"


async def test_successes_of_every_method(
    check: LeakCheck, twin: Twin, server: ScriptedServer
) -> None:
    web = cookie_client(twin)
    server.push(json_body=history_page([message("2.0")], cursor="n2"))
    server.push(json_body=history_page([message("1.0")]))
    pages, error = await web.pages("iter_conversations_history", SECRET_TOKEN, CHANNEL)
    assert error is None
    server.push(json_body=history_page([message(TS)]))
    replies = await web.call("conversations_replies", SECRET_TOKEN, CHANNEL, TS)
    server.push(json_body={"ok": True, "channels": [{"id": CHANNEL}]})
    channels = await web.call("users_conversations", SECRET_TOKEN)
    server.push(json_body={"ok": True, "channel": {"id": CHANNEL}})
    info = await web.call("conversations_info", SECRET_TOKEN, CHANNEL)
    server.push(json_body={"ok": True, "warning": f"odd {COOKIE_RAW}", "x": 1})
    generic = await web.call("api_call", "auth.test", SECRET_TOKEN)
    assert generic.warnings == ("odd [redacted]",)
    see_all(check, web, *pages, replies, channels, info, generic)
    assert_sent_with_cookie(server)
    assert any("Slack warns" in r.getMessage() for r in check._caplog.records)
    assert check.record_count > 10
    check.assert_clean()


async def test_an_echoing_proxy_page(check: LeakCheck, twin: Twin, server: ScriptedServer) -> None:
    web = cookie_client(twin)
    server.push(502, body=ECHO, headers={"Content-Type": "text/html"}, times=2)
    with pytest.raises(ApiError) as info:
        await web.call("conversations_history", SECRET_TOKEN, CHANNEL)
    assert "HTTP 502" in str(info.value)
    assert "Authorization: Bearer [redacted]" in str(info.value)  # the body, quoted, redacted
    see_all(check, web, info.value)
    assert_sent_with_cookie(server)
    check.assert_clean()


async def test_an_echoing_invalid_body_and_rate_limit(
    check: LeakCheck, twin: Twin, server: ScriptedServer
) -> None:
    web = cookie_client(twin, retry=RetryConfig.disabled())
    server.push(200, body=ECHO)
    with pytest.raises(ResponseValidationError) as invalid:
        await web.call("users_conversations", SECRET_TOKEN)
    server.push(429, body=ECHO, headers={"Retry-After": "1"})
    with pytest.raises(RateLimitedError) as limited:
        await web.call("conversations_info", SECRET_TOKEN, CHANNEL)
    see_all(check, web, invalid.value, limited.value)
    assert_sent_with_cookie(server)
    check.assert_clean()


async def test_slack_errors_even_with_a_secret_in_the_code(
    check: LeakCheck, twin: Twin, server: ScriptedServer
) -> None:
    web = cookie_client(twin)
    server.push_error("channel_not_found")
    with pytest.raises(SlackApiError) as not_found:
        await web.call("conversations_history", SECRET_TOKEN, CHANNEL)
    server.push_error(f"bad {COOKIE_ENCODED} {SECRET_TOKEN}")
    with pytest.raises(SlackApiError) as odd:
        await web.call("api_call", "auth.test", SECRET_TOKEN)
    server.push_error("internal_error", warning=COOKIE_RAW, times=2)
    with pytest.raises(SlackApiError) as transient:
        await web.call("conversations_replies", SECRET_TOKEN, CHANNEL, TS)
    assert "gave up after 2 attempts" in str(transient.value)
    server.push(json_body=history_page([], cursor="same"))
    server.push(json_body=history_page([], cursor="same"))
    _, loop = await web.pages("iter_conversations_history", SECRET_TOKEN, CHANNEL)
    assert isinstance(loop, ResponseValidationError)
    see_all(check, web, not_found.value, odd.value, transient.value, loop)
    assert_sent_with_cookie(server)
    check.assert_clean()


async def test_transport_failures(check: LeakCheck, twin: Twin, server: ScriptedServer) -> None:
    web = cookie_client(twin, base_url=f"http://127.0.0.1:{free_port()}/api")
    with pytest.raises(TransportError) as refused:
        await web.call("conversations_history", SECRET_TOKEN, CHANNEL)
    slow = cookie_client(twin, timeout=0.2, retry=RetryConfig.disabled())
    server.push(json_body={"ok": True}, delay=1.0)
    with pytest.raises(TransportTimeoutError) as timeout:
        await slow.call("conversations_info", SECRET_TOKEN, CHANNEL)
    see_all(check, web, refused.value)
    see_all(check, slow, timeout.value)
    assert_sent_with_cookie(server)
    check.assert_clean()


def test_the_check_sees_a_cookie_leak(check: LeakCheck) -> None:
    import logging

    logging.getLogger("slack_rtm.api").debug("oops %s", COOKIE_ENCODED[5:])
    with pytest.raises(AssertionError, match="secret leaked"):
        check.assert_clean()
