"""The I/O-free call state machine, fed hand-made httpx responses and errors."""

from __future__ import annotations

import json
import ssl
from typing import Any

import httpx
import pytest

from slack_rtm.api import RetryConfig, RtmConnectSchema
from slack_rtm.api.call import Call, Done, Fail, Sleep, public_url
from slack_rtm.backoff import Backoff
from slack_rtm.errors import (
    ApiError,
    RateLimitedError,
    RtmConnectErrorSchemaError,
    TransportError,
    TransportTimeoutError,
)

from .server import SUCCESS, TOKEN

URL = "https://slack.example/api/rtm.connect"


def make_call(retry: RetryConfig | None = None, rand: float = 0.5) -> Call[RtmConnectSchema]:
    return Call(
        api_method="rtm.connect",
        url=URL,
        token=TOKEN,
        params={"presence_sub": "1"},
        headers={"X-A": "a"},
        timeout=3.0,
        retry=retry or RetryConfig(max_attempts=3, backoff=Backoff(initial=2.0, maximum=8.0)),
        result_type=RtmConnectSchema,
        rand=lambda: rand,
    )


def response(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(
        status, content=content, headers=headers, request=httpx.Request("POST", URL)
    )


def test_request_spec() -> None:
    call = make_call()
    spec = call.begin_attempt()
    assert call.attempts == 1
    assert spec.method == "POST"
    assert spec.url == URL
    assert spec.content == b"presence_sub=1"
    assert spec.timeout == 3.0
    assert spec.headers["Authorization"] == f"Bearer {TOKEN}"
    assert spec.headers["X-A"] == "a"
    assert TOKEN not in repr(call)
    assert TOKEN not in repr(spec)
    assert "'Authorization'" in repr(spec)  # the names only


def test_success_step() -> None:
    call = make_call()
    call.begin_attempt()
    step = call.on_response(response(200, SUCCESS))
    assert isinstance(step, Done)
    assert step.response.result.team.id == "T2U81E2FP"
    assert step.response.url == URL


def test_transient_then_sleep_then_fail() -> None:
    call = make_call()
    call.begin_attempt()
    step = call.on_response(response(200, {"ok": False, "error": "service_unavailable"}))
    assert step == Sleep(1.0)  # 0.5 * 2.0
    call.begin_attempt()
    step = call.on_response(response(200, {"ok": False, "error": "service_unavailable"}))
    assert step == Sleep(2.0)
    assert call.waited == 3.0
    call.begin_attempt()
    step = call.on_response(response(200, {"ok": False, "error": "service_unavailable"}))
    assert isinstance(step, Fail)
    assert isinstance(step.error, RtmConnectErrorSchemaError)
    assert "gave up after 3 attempts" in str(step.error)
    assert step.cause is None


def test_429_retry_after_floor() -> None:
    call = make_call()
    call.begin_attempt()
    limited = response(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "5"})
    step = call.on_response(limited)
    assert step == Sleep(5.0)


def test_429_past_budget_fails_rate_limited() -> None:
    call = make_call(RetryConfig(max_total_wait=1.0))
    call.begin_attempt()
    step = call.on_response(response(429, b"", {"Retry-After": "5"}))
    assert isinstance(step, Fail)
    assert isinstance(step.error, RateLimitedError)
    assert step.error.retry_after == 5.0


def test_fatal_code_fails_at_once() -> None:
    call = make_call()
    call.begin_attempt()
    step = call.on_response(response(200, {"ok": False, "error": "token_revoked"}))
    assert isinstance(step, Fail)
    assert isinstance(step.error, RtmConnectErrorSchemaError)
    assert step.error.fatal
    assert "Not retried" not in str(step.error)
    assert "check the token" in str(step.error)


def test_not_allowed_token_type_hint() -> None:
    call = make_call()
    call.begin_attempt()
    step = call.on_response(response(200, {"ok": False, "error": "not_allowed_token_type"}))
    assert isinstance(step, Fail)
    assert "granular bot tokens" in str(step.error)


@pytest.mark.parametrize(
    ("exc", "kind", "retried"),
    [
        (httpx.ConnectTimeout("timed out"), TransportTimeoutError, True),
        (httpx.ReadTimeout("timed out"), TransportTimeoutError, True),
        (httpx.ConnectError("refused"), TransportError, True),
        (httpx.RemoteProtocolError("peer closed"), TransportError, True),
        (httpx.ProxyError("proxy said no"), TransportError, True),
        (httpx.UnsupportedProtocol("bad scheme"), TransportError, False),
        (httpx.DecodingError("bad gzip"), TransportError, False),
    ],
)
def test_transport_errors(exc: httpx.RequestError, kind: type[Exception], retried: bool) -> None:
    call = make_call()
    call.begin_attempt()
    step = call.on_transport_error(exc)
    if retried:
        assert isinstance(step, Sleep)
        return
    assert isinstance(step, Fail)
    assert type(step.error) is kind
    assert step.cause is exc


def test_certificate_error_is_not_retried() -> None:
    cert = ssl.SSLCertVerificationError(1, "certificate verify failed")
    try:
        try:
            raise cert
        except ssl.SSLError as inner:
            raise httpx.ConnectError("certificate verify failed") from inner
    except httpx.ConnectError as outer:
        exc = outer
    call = make_call()
    call.begin_attempt()
    step = call.on_transport_error(exc)
    assert isinstance(step, Fail)
    assert "TLS certificate verification failed" in str(step.error)
    assert "verify=ssl_context" in str(step.error)


def test_token_echoed_by_server_is_redacted() -> None:
    call = make_call(RetryConfig.disabled())
    call.begin_attempt()
    other = "xoxp-99-OTHERSECRET"
    step = call.on_response(response(502, f"<html>bad token {TOKEN} {other}</html>".encode()))
    assert isinstance(step, Fail)
    assert type(step.error) is ApiError
    assert TOKEN not in str(step.error)
    assert other not in str(step.error)
    assert "bad token [redacted] xoxp-…" in str(step.error)


def test_long_error_code_and_body_are_shortened() -> None:
    call = make_call()
    call.begin_attempt()
    step = call.on_response(response(200, {"ok": False, "error": "x" * 500}))
    assert isinstance(step, Fail)
    assert len(str(step.error)) < 400
    call = make_call(RetryConfig.disabled())
    call.begin_attempt()
    step = call.on_response(response(503, b"y" * 5000))
    assert isinstance(step, Fail)
    assert len(str(step.error)) < 500


def test_empty_non_json_body_note() -> None:
    call = make_call(RetryConfig.disabled())
    call.begin_attempt()
    step = call.on_response(response(404, b""))
    assert isinstance(step, Fail)
    assert "empty body" in str(step.error)


def test_public_url_strips_credentials_and_query() -> None:
    assert public_url("https://u:p@h:8443/api/x?token=1#f") == "https://h:8443/api/x"


@pytest.mark.parametrize(
    ("ok", "kind"),
    [(None, "null"), (1, "number"), ("True", "string"), ([True], "array"), ({"v": 1}, "object")],
)
def test_ok_of_the_wrong_json_type(ok: Any, kind: str) -> None:
    call = make_call()
    call.begin_attempt()
    step = call.on_response(response(200, {**SUCCESS, "ok": ok}))
    assert isinstance(step, Fail)
    assert f"`ok` must be true or false, but is a JSON {kind}" in str(step.error)


@pytest.mark.parametrize(
    "body",
    [b"{oops", b"[1]", b'{"ok": true}', b'{"ok": false, "error": 5}', b'{"ok": false}'],
)
def test_non_2xx_without_a_slack_error_body_is_api_error(body: bytes) -> None:
    call = make_call(RetryConfig.disabled())
    call.begin_attempt()
    step = call.on_response(response(500, body))
    assert isinstance(step, Fail)
    assert type(step.error) is ApiError
    assert step.error.body == body.decode()


def test_deep_exception_chain_is_not_a_certificate_error() -> None:
    exc = httpx.ConnectError("refused")
    node: BaseException = exc
    for depth in range(12):
        nxt = OSError(f"layer {depth}")
        node.__cause__ = nxt
        node = nxt
    node.__cause__ = ssl.SSLCertVerificationError(1, "too deep to matter")
    call = make_call()
    call.begin_attempt()
    assert isinstance(call.on_transport_error(exc), Sleep)  # retried like any connect error
