"""Failures mapped to the error tree, against a real loopback server, for both client twins."""

from __future__ import annotations

import traceback

import pytest

from slack_rtm import codes
from slack_rtm.api import RetryConfig, RtmConnectErrorSchema
from slack_rtm.errors import (
    ApiError,
    RateLimitedError,
    ResponseValidationError,
    RtmConnectErrorSchemaError,
    SlackRtmError,
)

from .server import SUCCESS, TOKEN, WS_SECRET, ScriptedServer, Twin

RETRY3 = RetryConfig(max_attempts=3)


def assert_no_secrets(exc: BaseException) -> None:
    """Neither the token nor the session URL in the text, repr or formatted chain."""
    text = str(exc) + repr(exc) + "".join(traceback.format_exception(exc))
    assert TOKEN not in text
    assert WS_SECRET not in text


@pytest.mark.parametrize("code", sorted(codes.ALL_CODES))
async def test_every_documented_code_as_http_200(
    twin: Twin, server: ScriptedServer, code: str
) -> None:
    twin.client(retry=RETRY3)
    server.push_error(code, times=3)
    with pytest.raises(RtmConnectErrorSchemaError) as info:
        await twin.connect()
    exc = info.value
    assert exc.error == code
    assert exc.status_code == 200
    assert exc.fatal is codes.is_fatal(code)
    assert exc.transient is not exc.fatal
    assert isinstance(exc.result, RtmConnectErrorSchema)
    assert exc.result.error == code
    assert exc.result.ok is False
    assert f'"error": "{code}"' in exc.body
    assert code in str(exc)
    # Fatal and request errors are sent once; transient codes are retried up to the limit.
    expected = 3 if codes.is_transient(code) else 1
    assert server.count() == expected
    assert len(twin.sleeps) == expected - 1
    if code == codes.RATELIMITED:
        assert isinstance(exc, RateLimitedError)
        assert exc.retry_after is None
    else:
        assert type(exc) is RtmConnectErrorSchemaError
    assert_no_secrets(exc)


async def test_unknown_code_parses_and_is_not_retried(twin: Twin, server: ScriptedServer) -> None:
    server.push_error("brand_new_code_2031", detail={"x": 1})
    with pytest.raises(RtmConnectErrorSchemaError) as info:
        await twin.connect()
    assert info.value.error == "brand_new_code_2031"
    assert not info.value.fatal
    assert info.value.result.raw["detail"] == {"x": 1}
    assert server.count() == 1


async def test_missing_scope_carries_needed_and_provided(
    twin: Twin, server: ScriptedServer
) -> None:
    server.push_error(
        "missing_scope", needed="rtm:stream", provided="identify", warning="superfluous_charset"
    )
    with pytest.raises(RtmConnectErrorSchemaError) as info:
        await twin.connect()
    exc = info.value
    assert exc.fatal
    assert exc.result.needed == "rtm:stream"
    assert exc.result.provided == "identify"
    assert exc.result.warning == "superfluous_charset"
    assert "rtm:stream" in str(exc)
    assert server.count() == 1


@pytest.mark.parametrize(
    ("body", "content_type", "why"),
    [
        ("{not json", "application/json", "not valid JSON"),
        ("<html><body>Sign in to the Wi-Fi</body></html>", "text/html", "not valid JSON"),
        ("", "application/json", "not valid JSON"),
        ('["ok", true]', "application/json", "not a JSON object"),
        ('{"ok": "True", "url": "wss://x/y"}', "application/json", "`ok` must be true or false"),
        ('{"url": "wss://x/y"}', "application/json", "`ok` must be true or false, but is missing"),
        ('{"ok": false}', "application/json", "ok:false body is malformed"),
        ('{"ok": false, "error": 7}', "application/json", "ok:false body is malformed"),
    ],
)
async def test_2xx_that_is_not_the_schema(
    twin: Twin, server: ScriptedServer, body: str, content_type: str, why: str
) -> None:
    server.push(200, body=body, headers={"Content-Type": content_type})
    with pytest.raises(ResponseValidationError) as info:
        await twin.connect()
    exc = info.value
    assert why in str(exc)
    assert exc.status_code == 200
    assert exc.body == body
    assert exc.headers["content-type"] == content_type
    assert server.count() == 1  # not retried
    assert_no_secrets(exc)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"url": None}, "`url`"),
        ({"self": None}, "`self`"),
        ({"team": {"id": "T1", "name": "n"}}, "`domain`"),
        ({"url": "https://example.com/websocket/AbC123opaqueSESSION"}, "ws:// or wss://"),
        ({"self": {"id": 5, "name": "n"}}, "$.self.id"),
    ],
)
async def test_success_missing_or_wrong_fields(
    twin: Twin, server: ScriptedServer, change: dict[str, object], where: str
) -> None:
    body = {**SUCCESS, **change}
    body = {k: v for k, v in body.items() if v is not None}
    server.push(json_body=body)
    with pytest.raises(ResponseValidationError) as info:
        await twin.connect()
    assert where in str(info.value)
    assert "does not match the schema" in str(info.value)
    assert_no_secrets(info.value)  # the body's session URL is not quoted in the message


async def test_5xx_html_retried_then_api_error(twin: Twin, server: ScriptedServer) -> None:
    html = "<html><head><title>502 Bad Gateway</title></head></html>"
    server.push(502, body=html, headers={"Content-Type": "text/html"}, times=4)
    with pytest.raises(ApiError) as info:
        await twin.connect()
    exc = info.value
    assert type(exc) is ApiError
    assert exc.status_code == 502
    assert exc.body == html
    assert "HTTP 502" in str(exc)
    assert "502 Bad Gateway" in str(exc)  # a snippet of a non-JSON body helps
    assert "gave up after 4 attempts" in str(exc)
    assert server.count() == 4
    assert len(twin.sleeps) == 3
    assert_no_secrets(exc)


async def test_5xx_then_success(twin: Twin, server: ScriptedServer) -> None:
    server.push(500, body="oops")
    server.push(503, body="")
    server.push_success()
    response = await twin.connect()
    assert response.result.ok
    assert server.count() == 3


async def test_5xx_with_slack_error_body(twin: Twin, server: ScriptedServer) -> None:
    twin.client(retry=RETRY3)
    server.push_error("internal_error", status=500, times=3)
    with pytest.raises(RtmConnectErrorSchemaError) as info:
        await twin.connect()
    assert info.value.error == "internal_error"
    assert info.value.status_code == 500
    assert server.count() == 3


async def test_5xx_with_fatal_code_is_not_retried(twin: Twin, server: ScriptedServer) -> None:
    server.push_error("invalid_auth", status=503)
    with pytest.raises(RtmConnectErrorSchemaError) as info:
        await twin.connect()
    assert info.value.fatal
    assert server.count() == 1


@pytest.mark.parametrize("status", [404, 400, 301])
async def test_other_4xx_3xx_not_retried(twin: Twin, server: ScriptedServer, status: int) -> None:
    headers = {"Content-Type": "text/html"}
    if status == 301:
        headers["Location"] = "https://elsewhere.example/api/rtm.connect"
    server.push(status, body="<html>Not Found</html>", headers=headers)
    with pytest.raises(ApiError) as info:
        await twin.connect()
    assert type(info.value) is ApiError
    assert info.value.status_code == status
    assert server.count() == 1
    assert isinstance(info.value, SlackRtmError)


async def test_retries_disabled_sends_once(twin: Twin, server: ScriptedServer) -> None:
    twin.client(retry=RetryConfig.disabled())
    server.push(503, body="busy", times=2)
    with pytest.raises(ApiError, match="retries are disabled"):
        await twin.connect()
    assert server.count() == 1
