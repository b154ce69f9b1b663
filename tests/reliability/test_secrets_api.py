"""No token and no WebSocket URL leaks out of the rtm.connect API layer, on any path.

Every test runs both client twins at DEBUG against a raw loopback server, hands every outcome,
error and repr to the leak check, and asserts the secrets appear nowhere. Each test also asserts
that the path it means to cover was really taken (the right exception, log records produced).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from slack_rtm import Backoff
from slack_rtm.api import ApiResponse, RetryConfig
from slack_rtm.errors import (
    ApiError,
    RateLimitedError,
    ResponseValidationError,
    RtmConnectErrorSchemaError,
    TransportError,
    TransportTimeoutError,
)

from .leakcheck import SECRET_MARKER, SECRET_TOKEN, LeakCheck
from .rawhttp import RawHttpServer, Reply, http_reply, json_reply
from .twins import Outcome, connect_both

WS_SECRET = "WSPATH-leakcheck-0123456789"
WS_URL = f"wss://127.0.0.1:9/websocket/{WS_SECRET}"
SUCCESS = {
    "ok": True,
    "url": WS_URL,
    "self": {"id": "U0BOT", "name": "bot"},
    "team": {"id": "T0TEAM", "name": "Team", "domain": "team"},
}
# A proxy error page that echoes the request headers back: the token comes back in the body.
ECHO_PAGE = (
    f"<html><body><h1>502 Bad Gateway</h1><pre>Authorization: Bearer {SECRET_TOKEN}</pre>"
    f"</body></html>"
).encode()


@pytest.fixture(scope="module")
def raw_server() -> Iterator[RawHttpServer]:
    with RawHttpServer() as server:
        yield server


@pytest.fixture
def check(leakcheck: LeakCheck) -> LeakCheck:
    leakcheck.add_secret(WS_SECRET)
    return leakcheck


def _see(check: LeakCheck, *outcomes: Outcome) -> None:
    for outcome in outcomes:
        check.see(outcome.client_repr, outcome.api_repr)
        if outcome.error is not None:
            check.see(outcome.error)
        else:
            assert outcome.response is not None
            check.see(outcome.response, outcome.response.result, outcome.response.warnings)
            check.see(outcome.response.result.self_, outcome.response.result.team)


def _run(check: LeakCheck, server: RawHttpServer, reply: bytes, **kwargs: object) -> list[Outcome]:
    server.reply = Reply(reply)
    before = len(server.requests)
    outcomes = list(connect_both(server.base_url + "/api", SECRET_TOKEN, **kwargs))
    _see(check, *outcomes)
    sent = server.requests[before:]
    assert sent, "the server saw no request"
    for request in sent:  # the token travels in the Authorization header only
        assert request.headers["authorization"] == f"Bearer {SECRET_TOKEN}"
        assert SECRET_MARKER not in request.line
        assert SECRET_MARKER.encode() not in request.body
    return outcomes


def test_the_check_catches_a_planted_leak(
    leakcheck: LeakCheck, capfd: pytest.CaptureFixture[str]
) -> None:
    import logging

    logging.getLogger("slack_rtm.api").debug("oops %s", SECRET_TOKEN[5:])
    with pytest.raises(AssertionError, match="secret leaked"):
        leakcheck.assert_clean()


def test_the_check_catches_output_and_exception_leaks(leakcheck: LeakCheck) -> None:
    print("token:", SECRET_TOKEN)  # the planted leak
    with pytest.raises(AssertionError, match="secret leaked"):
        leakcheck.assert_clean()


def test_the_check_sees_chained_exceptions(leakcheck: LeakCheck) -> None:
    try:
        try:
            raise ValueError(f"inner {SECRET_MARKER}")
        except ValueError as inner:
            raise TransportError("outer, clean") from inner
    except TransportError as exc:
        leakcheck.see(exc)
    with pytest.raises(AssertionError, match="secret leaked"):
        leakcheck.assert_clean()


def test_success(check: LeakCheck, raw_server: RawHttpServer) -> None:
    body = {**SUCCESS, "warning": "missing_charset", "response_metadata": {"warnings": ["w2"]}}
    for outcome in _run(check, raw_server, json_reply(body)):
        assert outcome.kind is ApiResponse
        assert outcome.response is not None
        assert outcome.response.result.url == WS_URL
    assert check.record_count > 0  # the DEBUG logs were captured (and checked)
    check.assert_clean()


@pytest.mark.parametrize("code", ["invalid_auth", "token_revoked", "no_such_code_" + "x" * 200])
def test_slack_error(check: LeakCheck, raw_server: RawHttpServer, code: str) -> None:
    for outcome in _run(check, raw_server, json_reply({"ok": False, "error": code})):
        assert isinstance(outcome.error, RtmConnectErrorSchemaError)
    check.assert_clean()


def test_rate_limited_with_retries(check: LeakCheck, raw_server: RawHttpServer) -> None:
    retry = RetryConfig(max_attempts=3, backoff=Backoff(0.01, 0.01), max_total_wait=1.0)
    reply = json_reply({"ok": False, "error": "ratelimited"}, 429, [("Retry-After", "0.01")])
    for outcome in _run(check, raw_server, reply, retry=retry):
        assert isinstance(outcome.error, RateLimitedError)
        assert outcome.error.retry_after == pytest.approx(0.01)
    assert len(raw_server.requests) >= 6  # three attempts per twin: the retry path was taken
    check.assert_clean()


def test_server_error_page_echoing_the_token(check: LeakCheck, raw_server: RawHttpServer) -> None:
    reply = http_reply(502, ECHO_PAGE, [("Content-Type", "text/html")])
    for outcome in _run(check, raw_server, reply):
        assert type(outcome.error) is ApiError
        assert outcome.error.status_code == 502
        assert "502" in str(outcome.error)
    check.assert_clean()


def test_html_200_echoing_the_token(check: LeakCheck, raw_server: RawHttpServer) -> None:
    reply = http_reply(200, ECHO_PAGE, [("Content-Type", "text/html")])
    for outcome in _run(check, raw_server, reply):
        assert isinstance(outcome.error, ResponseValidationError)
        assert "Bad Gateway" in str(outcome.error)  # the snippet is shown, redacted
    check.assert_clean()


def test_invalid_success_does_not_quote_the_session_url(
    check: LeakCheck, raw_server: RawHttpServer
) -> None:
    body = {"ok": True, "url": WS_URL, "self": {"id": "U0BOT", "name": "bot"}, "team": 42}
    for outcome in _run(check, raw_server, json_reply(body)):
        assert isinstance(outcome.error, ResponseValidationError)
    check.assert_clean()


def test_truncated_body(check: LeakCheck, raw_server: RawHttpServer) -> None:
    reply = http_reply(200, b'{"ok": true, "url": "' + WS_URL.encode(), content_length=500)
    for outcome in _run(check, raw_server, reply):
        assert isinstance(outcome.error, TransportError)
        assert outcome.error.__cause__ is not None  # chained to the httpx error
    check.assert_clean()


def test_reset_mid_response(check: LeakCheck, raw_server: RawHttpServer) -> None:
    raw_server.reply = Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n{", after="reset")
    before = len(raw_server.requests)
    outcomes = connect_both(raw_server.base_url + "/api", SECRET_TOKEN)
    assert len(raw_server.requests) == before + 2
    _see(check, *outcomes)
    for outcome in outcomes:
        assert isinstance(outcome.error, TransportError)
    check.assert_clean()


def test_timeout(check: LeakCheck, raw_server: RawHttpServer) -> None:
    raw_server.reply = Reply(b"", after="hang", hang_seconds=2.0)
    outcomes = connect_both(raw_server.base_url + "/api", SECRET_TOKEN, timeout=0.2)
    _see(check, *outcomes)
    for outcome in outcomes:
        assert isinstance(outcome.error, TransportTimeoutError)
        assert outcome.seconds < 1.5
    check.assert_clean()


def test_connection_refused(check: LeakCheck) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    outcomes = connect_both(f"http://127.0.0.1:{port}/api", SECRET_TOKEN)
    _see(check, *outcomes)
    for outcome in outcomes:
        assert isinstance(outcome.error, TransportError)
    check.assert_clean()


def test_proxy_credentials_stay_out(check: LeakCheck) -> None:
    check.add_secret("PROXYPASS-leakcheck")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proxy = f"http://user:PROXYPASS-leakcheck@127.0.0.1:{port}"
    outcomes = connect_both("http://127.0.0.1:9/api", SECRET_TOKEN, proxy=proxy)
    _see(check, *outcomes)
    for outcome in outcomes:
        assert isinstance(outcome.error, TransportError)
        assert "proxy=" in outcome.client_repr
    check.assert_clean()


def test_credentials_in_base_url_are_refused_or_never_logged(
    check: LeakCheck, raw_server: RawHttpServer
) -> None:
    check.add_secret("BASEPASS-leakcheck")
    raw_server.reply = Reply(json_reply(SUCCESS))
    url = f"http://user:BASEPASS-leakcheck@127.0.0.1:{raw_server.port}/api"
    try:
        outcomes = connect_both(url, SECRET_TOKEN)
    except ValueError as exc:  # refused before any I/O: fine, if the message is clean
        check.see(exc)
    else:
        _see(check, *outcomes)
    check.assert_clean()
