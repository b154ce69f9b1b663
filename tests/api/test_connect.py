"""rtm.connect success paths, against a real loopback server, for both client twins."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from slack_rtm.api import RequestOptions, RtmConnectSchema, RtmConnectSelf, RtmConnectTeam

from .server import SUCCESS, TOKEN, WS_SECRET, WS_URL, ScriptedServer, Twin


async def test_success_is_typed(twin: Twin, server: ScriptedServer) -> None:
    server.push_success()
    response = await twin.connect()
    result = response.result
    assert isinstance(result, RtmConnectSchema)
    assert result.ok is True
    assert result.url == WS_URL
    assert result.self_ == RtmConnectSelf(id="U4X318ZMZ", name="robotoverlord")
    assert result.team == RtmConnectTeam(id="T2U81E2FP", name="SlackDemo", domain="slackdemo")
    assert result.team.enterprise_id is None
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.headers, httpx.Headers)
    assert response.body.startswith("{")
    assert '"ok": true' in response.body
    assert response.method == "POST"
    assert response.url == f"{server.api_url}/rtm.connect"
    assert response.warnings == ()
    assert twin.sleeps == []


async def test_request_carries_token_only_in_the_bearer_header(
    twin: Twin, server: ScriptedServer
) -> None:
    server.push_success()
    await twin.connect(TOKEN, batch_presence_aware=True, presence_sub=False)
    [req] = server.requests
    assert req.method == "POST"
    assert req.path == "/api/rtm.connect"
    assert req.query_string == ""
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    assert req.headers["accept"] == "application/json"
    assert req.headers["user-agent"].startswith("slack-rtm/")
    assert " python/" in req.headers["user-agent"]
    assert f" httpx/{httpx.__version__}" in req.headers["user-agent"]
    assert TOKEN not in req.raw_path
    assert TOKEN.encode() not in req.body
    assert dict(parse_qsl(req.body.decode())) == {"batch_presence_aware": "1", "presence_sub": "0"}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {}),
        ({"batch_presence_aware": False}, {"batch_presence_aware": "0"}),
        ({"presence_sub": True}, {"presence_sub": "1"}),
        ({"batch_presence_aware": None, "presence_sub": None}, {}),
    ],
)
async def test_booleans_as_1_0_and_none_omitted(
    twin: Twin, server: ScriptedServer, kwargs: dict[str, Any], expected: dict[str, str]
) -> None:
    server.push_success()
    await twin.connect(TOKEN, **kwargs)
    [req] = server.requests
    assert dict(parse_qsl(req.body.decode())) == expected
    if not expected:
        assert req.body == b""


async def test_default_and_per_call_headers_and_user_agent(
    twin: Twin, server: ScriptedServer
) -> None:
    client = twin.client(
        base_url=server.api_url + "/",  # the trailing slash is optional
        headers={"X-Default": "d", "Cookie": "d=browser-cookie"},
        user_agent="my-bot/1.0",
    )
    server.push_success()
    options = RequestOptions(headers={"X-Call": "c"}, timeout=2.0)
    await twin.connect(TOKEN, client=client, request_options=options)
    [req] = server.requests
    assert req.path == "/api/rtm.connect"
    assert req.headers["x-default"] == "d"
    assert req.headers["x-call"] == "c"
    assert req.headers["cookie"] == "d=browser-cookie"
    assert req.headers["user-agent"] == "my-bot/1.0"


async def test_connections_are_pooled(twin: Twin, server: ScriptedServer) -> None:
    server.push_success()
    server.push_success()
    first = await twin.connect()
    second = await twin.connect()
    assert first.result == second.result
    assert server.count() == 2


async def test_unknown_fields_are_kept_reachable(twin: Twin, server: ScriptedServer) -> None:
    team = {
        **SUCCESS["team"],
        "enterprise_id": "E123",
        "enterprise_name": "Grid",
        "icon": {"image_34": "x"},
    }
    server.push(json_body={**SUCCESS, "team": team, "cache_ts": 123, "future": {"a": [1, 2]}})
    result = (await twin.connect()).result
    assert result.team.enterprise_id == "E123"
    assert result.team.enterprise_name == "Grid"
    assert result.raw["future"] == {"a": [1, 2]}
    assert result.raw["cache_ts"] == 123
    assert result.raw["team"]["icon"] == {"image_34": "x"}
    assert result.raw["self"]["id"] == "U4X318ZMZ"


async def test_warnings_are_surfaced_and_logged_once(
    twin: Twin, server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="slack_rtm.api")
    server.push(
        json_body={
            **SUCCESS,
            "warning": "missing_charset,superfluous_charset",
            "response_metadata": {
                "warnings": ["missing_charset", "method_deprecated"],
                "messages": ["[WARN] A Content-Type HTTP header was presented but did not ..."],
            },
        }
    )
    response = await twin.connect()
    assert response.warnings == ("missing_charset", "superfluous_charset", "method_deprecated")
    assert response.result.response_metadata is not None
    assert response.result.response_metadata.messages[0].startswith("[WARN]")
    logged = [r for r in caplog.records if r.name == "slack_rtm.api"]
    assert all(r.levelno == logging.WARNING for r in logged)
    for warning in response.warnings:
        assert sum(warning in r.getMessage() for r in logged) == 1, warning
    assert len(logged) == 3


async def test_reprs_hide_token_and_session_url(twin: Twin, server: ScriptedServer) -> None:
    server.push_success()
    response = await twin.connect()
    text = repr(response) + str(response) + repr(response.result) + repr(twin._clients[0])
    assert TOKEN not in text
    assert WS_SECRET not in text
    assert "cerberus-xxxx.lb.slack-msgs.com" in repr(response.result)


async def test_debug_logs_never_hold_token_or_session_url(
    twin: Twin, server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.push(503, body="<html>busy</html>", headers={"Content-Type": "text/html"})
    server.push(429, json_body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"})
    server.push_success(warning="superfluous_charset")
    await twin.connect()
    server.push_error("invalid_auth")
    with pytest.raises(Exception, match="invalid_auth"):
        await twin.connect()
    api_lines = [r.getMessage() for r in caplog.records if r.name == "slack_rtm.api"]
    assert any("attempt 1 of 4: POST" in line for line in api_lines)
    assert any("HTTP 503" in line for line in api_lines)
    assert any("in 1.000 s" in line for line in api_lines)  # the wait is logged
    assert caplog.records, "nothing was logged"
    for record in caplog.records:
        line = record.getMessage()
        assert TOKEN not in line, record.name
        assert WS_SECRET not in line, record.name
        assert "SECRETSECRET" not in caplog.text
