"""WebApi / AsyncWebApi over real loopback sockets against the scripted server.

What arrives on the wire (path, form, Authorization, Cookie, User-Agent), pagination, errors,
retries with Retry-After as a floor.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest

from slack_rtm import codes
from slack_rtm.api import (
    ApiCallSchema,
    AsyncClient,
    AsyncWebApi,
    Client,
    ConversationsHistorySchema,
    RequestOptions,
    RetryConfig,
    WebApi,
)
from slack_rtm.backoff import Backoff
from slack_rtm.errors import (
    ApiError,
    RateLimitedError,
    ResponseValidationError,
    RtmConnectErrorSchemaError,
    SlackApiError,
    StateError,
)

from .server import SUCCESS, TOKEN, ScriptedServer, Twin
from .web_helpers import CHANNEL, TS, Web, channels_page, history_page, message

RAW = "xoxd-AbC/dEf+Gh=="
ENCODED = "xoxd-AbC%2FdEf%2BGh%3D%3D"

# (method name on WebApi, args, kwargs, a success body, the Web API path, the expected form)
CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any], dict[str, Any], str, dict[str, str]]] = [
    (
        "conversations_history",
        (TOKEN, CHANNEL),
        {"limit": 5},
        history_page([message(TS)]),
        "conversations.history",
        {"channel": CHANNEL, "limit": "5"},
    ),
    (
        "conversations_replies",
        (TOKEN, CHANNEL, TS),
        {},
        history_page([message(TS, thread_ts=TS)]),
        "conversations.replies",
        {"channel": CHANNEL, "ts": TS},
    ),
    (
        "users_conversations",
        (TOKEN,),
        {"types": ["im", "public_channel"]},
        channels_page(["C1", "D2"]),
        "users.conversations",
        {"types": "im,public_channel"},
    ),
    (
        "conversations_info",
        (TOKEN, CHANNEL),
        {"include_num_members": True},
        {"ok": True, "channel": {"id": CHANNEL, "name": "general", "num_members": 3}},
        "conversations.info",
        {"channel": CHANNEL, "include_num_members": "1"},
    ),
    (
        "api_call",
        ("chat.postMessage", TOKEN, {"channel": CHANNEL, "text": "a+b", "mrkdwn": False}),
        {},
        {"ok": True, "ts": TS, "channel": CHANNEL},
        "chat.postMessage",
        {"channel": CHANNEL, "text": "a+b", "mrkdwn": "0"},
    ),
]


def form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True))


# -- what arrives on the wire ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cookie", "header"),
    [
        (RAW, f"d={ENCODED}"),  # a bare raw value
        (ENCODED, f"d={ENCODED}"),  # a bare value already encoded: not encoded again
        (f"d={RAW}; d-s=1700000000", f"d={ENCODED}; d-s=1700000000"),  # a cookie string
        ({"d": ENCODED, "d-s": "1700000000", "lc": "1"}, f"d={ENCODED}; d-s=1700000000; lc=1"),
    ],
)
async def test_every_method_sends_cookie_user_agent_token_and_form(
    twin: Twin, server: ScriptedServer, cookie: Any, header: str
) -> None:
    client = twin.client(cookie=cookie, user_agent="Mozilla/5.0 (X11; Linux x86_64) Test/1")
    assert client.cookie is not None
    assert client.cookie.header == header
    web = Web(client)
    for name, args, kwargs, body, _, _ in CALLS:
        server.push(json_body=body)
        response = await web.call(name, *args, **kwargs)
        assert response.result.ok
        assert response.status_code == 200
    server.push_success()  # rtm.connect gets the cookie too
    await twin.connect(client=client)
    assert server.count() == len(CALLS) + 1
    expected_paths = [f"/api/{path}" for *_, path, _ in CALLS] + ["/api/rtm.connect"]
    assert [r.path for r in server.requests] == expected_paths
    for request, (*_, expected_form) in zip(server.requests, CALLS, strict=False):
        assert request.method == "POST"
        assert request.query_string == ""
        assert form(request.body) == expected_form
    for request in server.requests:
        assert request.headers["cookie"] == header
        assert request.headers["user-agent"] == "Mozilla/5.0 (X11; Linux x86_64) Test/1"
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert TOKEN.encode() not in request.body
        assert b"xoxd" not in request.body


async def test_without_a_cookie_no_cookie_header_and_the_default_user_agent(
    twin: Twin, server: ScriptedServer
) -> None:
    client = twin.client()
    assert client.cookie is None
    server.push(json_body=history_page([]))
    await Web(client).call("conversations_history", TOKEN, CHANNEL)
    (request,) = server.requests
    assert "cookie" not in request.headers
    assert request.headers["user-agent"].startswith("slack-rtm/")
    assert client.user_agent == request.headers["user-agent"]


async def test_the_cookie_survives_a_set_cookie_from_the_server(
    twin: Twin, server: ScriptedServer
) -> None:
    client = twin.client(cookie=RAW)
    server.push(json_body=history_page([]), headers={"Set-Cookie": "b=other; Path=/"})
    server.push(json_body=history_page([]))
    web = Web(client)
    await web.call("conversations_history", TOKEN, CHANNEL)
    await web.call("conversations_history", TOKEN, CHANNEL)
    assert [r.headers["cookie"] for r in server.requests] == [f"d={ENCODED}"] * 2


async def test_history_form_with_every_argument(twin: Twin, server: ScriptedServer) -> None:
    server.push(json_body=history_page([]))
    await Web(twin.client()).call(
        "conversations_history",
        TOKEN,
        CHANNEL,
        oldest="1355517523.000005",
        latest="1355517599",
        inclusive=True,
        limit=999,
        cursor="dXNlcjpVMDYxTkZUVDI=",
    )
    assert form(server.requests[0].body) == {
        "channel": CHANNEL,
        "oldest": "1355517523.000005",
        "latest": "1355517599",
        "inclusive": "1",
        "limit": "999",
        "cursor": "dXNlcjpVMDYxTkZUVDI=",
    }


# -- typed answers -----------------------------------------------------------------------------


async def test_history_answer_is_typed_and_keeps_raw(twin: Twin, server: ScriptedServer) -> None:
    parent = message(
        "1700000002.000200",
        "parent",
        thread_ts="1700000002.000200",
        reply_count=2,
        latest_reply="1700000009.000900",
        reactions=[{"name": "+1", "count": 1}],
    )
    bot = {"type": "message", "subtype": "bot_message", "bot_id": "B01", "ts": "1700000001.1"}
    no_type = {"ts": "1700000000.000001", "user": "U1", "text": "no type key", "files": []}
    server.push(json_body=history_page([parent, bot, no_type], cursor="next1"))
    response = await Web(twin.client()).call("conversations_history", TOKEN, CHANNEL)
    result = response.result
    assert isinstance(result, ConversationsHistorySchema)
    assert result.has_more is True
    assert result.pin_count == 0
    assert result.next_cursor == "next1"
    first, second, third = result.messages
    assert (first.ts, first.user, first.text, first.thread_ts) == (
        "1700000002.000200",
        "U0AUTHOR",
        "parent",
        "1700000002.000200",
    )
    assert (first.reply_count, first.latest_reply) == (2, "1700000009.000900")
    assert first.raw["reactions"] == [{"name": "+1", "count": 1}]
    assert (second.subtype, second.bot_id, second.user, second.text) == (
        "bot_message",
        "B01",
        None,
        "",
    )
    assert third.type is None
    assert third.raw["files"] == []
    assert result.raw["messages"][2] is third.raw


async def test_users_conversations_and_info_are_typed(twin: Twin, server: ScriptedServer) -> None:
    web = Web(twin.client())
    server.push(
        json_body={
            "ok": True,
            "channels": [
                {"id": "C1", "name": "general", "is_channel": True, "is_member": True},
                {"id": "G2", "name": "secret", "is_group": True, "is_private": True},
                {"id": "D3", "is_im": True, "user": "U9", "priority": 0},
                {"id": "G4", "name": "mpdm-a--b-1", "is_mpim": True, "is_archived": False},
            ],
            "response_metadata": {"next_cursor": ""},
        }
    )
    page = await web.call("users_conversations", TOKEN, types="public_channel")
    general, secret, im, mpim = page.result.channels
    assert (general.name, general.is_channel, general.is_member, general.is_im) == (
        "general",
        True,
        True,
        None,
    )
    assert (secret.is_group, secret.is_private) == (True, True)
    assert (im.name, im.is_im, im.user, im.raw["priority"]) == (None, True, "U9", 0)
    assert (mpim.is_mpim, mpim.is_archived) == (True, False)
    assert page.result.next_cursor == ""
    server.push(json_body={"ok": True, "channel": {"id": "C1", "name": "general", "topic": {}}})
    info = await web.call("conversations_info", TOKEN, "C1")
    assert info.result.channel.name == "general"
    assert info.result.channel.raw["topic"] == {}


async def test_api_call_keeps_the_whole_json(twin: Twin, server: ScriptedServer) -> None:
    server.push(json_body={**SUCCESS, "extra": [1, 2]})
    response = await Web(twin.client()).call(
        "api_call",
        "rtm.connect",
        TOKEN,
        {"batch_presence_aware": True, "n": 3, "f": 1.5, "skip": None, "blocks": [{"a": "b"}]},
    )
    result = response.result
    assert isinstance(result, ApiCallSchema)
    assert result.data["extra"] == [1, 2]
    assert result.data is result.raw
    assert result.next_cursor == ""
    # The repr shows only the keys: a generic answer may hold a credential (this URL).
    assert repr(result) == "ApiCallSchema(ok=True, keys=['extra', 'ok', 'self', 'team', 'url'])"
    assert "websocket" not in repr(response)
    assert form(server.requests[0].body) == {
        "batch_presence_aware": "1",
        "n": "3",
        "f": "1.5",
        "blocks": '[{"a":"b"}]',
    }


# -- pagination --------------------------------------------------------------------------------


async def test_history_pagination_across_three_pages(twin: Twin, server: ScriptedServer) -> None:
    server.push(json_body=history_page([message("3.0"), message("2.0")], cursor="c2"))
    server.push(json_body=history_page([message("1.0")], cursor="c3"))
    server.push(json_body=history_page([message("0.5")], cursor=""))
    server.push(json_body=history_page([message("never")]))  # must not be asked for
    pages, error = await Web(twin.client(cookie=RAW)).pages(
        "iter_conversations_history", TOKEN, CHANNEL, oldest="0.1", limit=2
    )
    assert error is None
    assert [m.ts for page in pages for m in page.result.messages] == ["3.0", "2.0", "1.0", "0.5"]
    assert server.count() == 3
    sent = [form(r.body) for r in server.requests]
    assert sent == [
        {"channel": CHANNEL, "oldest": "0.1", "limit": "2"},
        {"channel": CHANNEL, "oldest": "0.1", "limit": "2", "cursor": "c2"},
        {"channel": CHANNEL, "oldest": "0.1", "limit": "2", "cursor": "c3"},
    ]
    assert all(r.headers["cookie"] == f"d={ENCODED}" for r in server.requests)


async def test_replies_and_users_conversations_paginate(twin: Twin, server: ScriptedServer) -> None:
    web = Web(twin.client())
    server.push(json_body=history_page([message(TS, thread_ts=TS)], cursor="r2"))
    server.push(json_body={"ok": True, "messages": [message("2.0", thread_ts=TS)]})  # no metadata
    pages, error = await web.pages("iter_conversations_replies", TOKEN, CHANNEL, TS)
    assert error is None
    assert [m.ts for page in pages for m in page.result.messages] == [TS, "2.0"]
    assert form(server.requests[1].body) == {"channel": CHANNEL, "ts": TS, "cursor": "r2"}
    server.push(json_body=channels_page(["C1"], cursor="u2"))
    server.push(json_body=channels_page(["C2"], cursor="u3"))
    server.push(json_body={**channels_page(["C3"]), "response_metadata": {"next_cursor": None}})
    pages, error = await web.pages(
        "iter_users_conversations", TOKEN, types="public_channel,im", exclude_archived=True
    )
    assert error is None
    assert [c.id for page in pages for c in page.result.channels] == ["C1", "C2", "C3"]
    assert form(server.requests[-1].body) == {
        "types": "public_channel,im",
        "exclude_archived": "1",
        "cursor": "u3",
    }


async def test_a_repeated_cursor_ends_with_an_error(twin: Twin, server: ScriptedServer) -> None:
    server.push(json_body=history_page([message("3.0")], cursor="A"))
    server.push(json_body=history_page([message("2.0")], cursor="B"))
    server.push(json_body=history_page([message("1.0")], cursor="A"))  # back to A: a loop
    server.push(json_body=history_page([message("never")], cursor="B"))
    pages, error = await Web(twin.client()).pages("iter_conversations_history", TOKEN, CHANNEL)
    assert [m.ts for page in pages for m in page.result.messages] == ["3.0", "2.0", "1.0"]
    assert isinstance(error, ResponseValidationError)
    assert "page 3 returned a next_cursor already seen" in str(error)
    assert error.status_code == 200
    assert server.count() == 3


async def test_the_starting_cursor_counts_as_seen(twin: Twin, server: ScriptedServer) -> None:
    server.push(json_body=history_page([message("1.0")], cursor="start"))
    pages, error = await Web(twin.client()).pages(
        "iter_conversations_history", TOKEN, CHANNEL, cursor="start"
    )
    assert len(pages) == 1
    assert isinstance(error, ResponseValidationError)
    assert form(server.requests[0].body)["cursor"] == "start"


async def test_an_error_on_a_later_page_is_raised_after_the_pages_before(
    twin: Twin, server: ScriptedServer
) -> None:
    server.push(json_body=history_page([message("2.0")], cursor="c2"))
    server.push_error("invalid_cursor")
    pages, error = await Web(twin.client()).pages("iter_conversations_history", TOKEN, CHANNEL)
    assert len(pages) == 1
    assert isinstance(error, SlackApiError)
    assert error.error == codes.INVALID_CURSOR
    assert server.count() == 2


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        (codes.CHANNEL_NOT_FOUND, "Check the channel id"),
        (codes.NOT_IN_CHANNEL, "invite it to the channel"),
        (codes.INVALID_CURSOR, "start again without it"),
        (codes.THREAD_NOT_FOUND, "parent message"),
        ("some_future_code", "Retrying the same request will not help"),
    ],
)
async def test_request_errors_are_typed_not_fatal_and_not_retried(
    twin: Twin, server: ScriptedServer, code: str, hint: str
) -> None:
    twin.client(retry=RetryConfig(max_attempts=4))
    server.push_error(code, times=4)
    with pytest.raises(SlackApiError) as info:
        await Web(twin._clients[0]).call("conversations_replies", TOKEN, CHANNEL, TS)
    exc = info.value
    assert type(exc) is RtmConnectErrorSchemaError  # the old name keeps working
    assert exc.error == code
    assert exc.fatal is False
    assert exc.transient is True
    assert exc.status_code == 200
    assert f"conversations.replies failed: Slack answered error {code!r}" in str(exc)
    assert hint in str(exc)
    assert server.count() == 1
    assert twin.sleeps == []


async def test_missing_scope_on_history_is_fatal_with_a_generic_hint(
    twin: Twin, server: ScriptedServer
) -> None:
    server.push_error("missing_scope", needed="channels:history", provided="identify")
    with pytest.raises(SlackApiError) as info:
        await Web(twin.client()).call("conversations_history", TOKEN, CHANNEL)
    assert info.value.fatal
    assert "needed 'channels:history'" in str(info.value)
    assert "use a token that has it" in str(info.value)
    assert "RTM" not in str(info.value)


async def test_429_on_history_is_retried_after_retry_after_then_raised(
    twin: Twin, server: ScriptedServer
) -> None:
    twin.rand = 0.0
    client = twin.client(retry=RetryConfig(max_attempts=3))
    server.push(429, json_body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "7"})
    server.push(json_body=history_page([message("1.0")]))
    response = await Web(client).call("conversations_history", TOKEN, CHANNEL)
    assert response.result.messages[0].ts == "1.0"
    assert twin.sleeps == [7.0]
    server.push(429, body="slow down", headers={"Retry-After": "2"}, times=3)
    with pytest.raises(RateLimitedError) as info:
        await Web(client).call("users_conversations", TOKEN)
    assert info.value.retry_after == 2.0
    assert info.value.error == "ratelimited"
    assert "users.conversations was rate limited" in str(info.value)
    assert twin.sleeps == [7.0, 2.0, 2.0]


@pytest.mark.parametrize(
    ("status", "body", "retry_after"),
    [
        (503, "busy", "3"),  # a 5xx with a plain body
        (503, '{"ok": false, "error": "service_unavailable"}', "4"),
        (200, '{"ok": false, "error": "internal_error"}', "5"),  # ok:false carrying the header
        (500, '{"ok": false, "error": "channel_not_found"}', "6"),  # a request error in a 5xx
    ],
)
async def test_retry_after_is_a_floor_for_every_answer_that_carries_it(
    twin: Twin, server: ScriptedServer, status: int, body: str, retry_after: str
) -> None:
    twin.rand = 0.0  # the backoff alone would not wait at all
    client = twin.client(retry=RetryConfig(max_attempts=2, backoff=Backoff(initial=0.5)))
    server.push(status, body=body, headers={"Retry-After": retry_after})
    server.push(json_body=history_page([]))
    response = await Web(client).call("conversations_history", TOKEN, CHANNEL)
    assert response.result.ok
    assert twin.sleeps == [float(retry_after)]


async def test_503_with_retry_after_1_waits_at_least_a_second(
    twin: Twin, server: ScriptedServer
) -> None:
    client = twin.client(real_sleep=True)  # rand 0: only Retry-After makes it wait
    server.push(503, body="busy", headers={"Retry-After": "1"})
    server.push(json_body=history_page([message("1.0")]))
    response = await Web(client).call("conversations_history", TOKEN, CHANNEL)
    assert response.result.messages[0].ts == "1.0"
    first, second = server.requests
    assert second.at - first.at >= 1.0


async def test_http_error_without_json_is_an_api_error(twin: Twin, server: ScriptedServer) -> None:
    server.push(404, body="<html>nope</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(ApiError) as info:
        await Web(twin.client()).call("conversations_info", TOKEN, CHANNEL)
    assert type(info.value) is ApiError
    assert "conversations.info failed with HTTP 404" in str(info.value)


async def test_a_body_off_schema_is_a_validation_error(twin: Twin, server: ScriptedServer) -> None:
    server.push(json_body={"ok": True, "messages": [{"text": "no ts"}]})
    with pytest.raises(ResponseValidationError, match="does not match the schema"):
        await Web(twin.client()).call("conversations_history", TOKEN, CHANNEL)
    server.push(json_body={"ok": True})  # conversations.info without its channel
    with pytest.raises(ResponseValidationError, match="does not match the schema"):
        await Web(twin._clients[0]).call("conversations_info", TOKEN, CHANNEL)


async def test_a_closed_client_raises_state_error(twin: Twin, server: ScriptedServer) -> None:
    client = twin.client()
    if isinstance(client, Client):
        client.close()
    else:
        await client.aclose()
    web = Web(client)
    with pytest.raises(StateError, match="closed"):
        await web.call("conversations_history", TOKEN, CHANNEL)
    _, error = await web.pages("iter_users_conversations", TOKEN)
    assert isinstance(error, StateError)
    assert server.count() == 0


# -- the clients' cookie settings --------------------------------------------------------------


def test_from_env_reads_slack_cookie() -> None:
    env = {"SLACK_API_URL": "http://127.0.0.1:9/api", "SLACK_COOKIE": f"d={RAW}; d-s=17000000"}
    with Client.from_env(env) as client:
        assert client.cookie is not None
        assert client.cookie.header == f"d={ENCODED}; d-s=17000000"
        assert repr(client).endswith("cookie=SessionCookie(names=('d', 'd-s')))")
        assert "xoxd" not in repr(client)
    for empty in ("", "   "):
        with Client.from_env({"SLACK_COOKIE": empty}) as client:
            assert client.cookie is None
            assert "cookie" not in repr(client)
    with pytest.raises(ValueError, match=r"^SLACK_COOKIE: the 'd' value contains a control"):
        Client.from_env({"SLACK_COOKIE": "xoxd-SECRET\x01VALUE"})


async def test_async_from_env_reads_slack_cookie() -> None:
    async with AsyncClient.from_env({"SLACK_COOKIE": ENCODED}) as client:
        assert client.cookie is not None
        assert client.cookie.header == f"d={ENCODED}"


def test_cookie_argument_checks() -> None:
    with pytest.raises(TypeError, match="cookie must be a str"):
        Client(cookie=b"xoxd-x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must include the 'd' session cookie"):
        Client(cookie={"lc": "1"})
    with pytest.raises(ValueError, match="must not set 'Cookie' when cookie= is given"):
        Client(cookie=RAW, headers={"cookie": "d=other"})
    with Client(headers={"Cookie": "d=legacy"}) as client:  # still allowed without cookie=
        assert client.cookie is None


async def test_a_per_call_cookie_header_is_refused_when_the_client_has_one(
    twin: Twin, server: ScriptedServer
) -> None:
    client = twin.client(cookie=RAW)
    options = RequestOptions(headers={"Cookie": "d=other"})
    with pytest.raises(ValueError, match="must not set 'Cookie'"):
        await Web(client).call("conversations_history", TOKEN, CHANNEL, request_options=options)
    assert server.count() == 0


# -- the API objects ---------------------------------------------------------------------------


async def test_api_objects_check_their_client() -> None:
    async with AsyncClient() as async_client:
        with pytest.raises(TypeError, match=r"use AsyncWebApi for an AsyncClient"):
            WebApi(async_client)  # type: ignore[arg-type]
        assert repr(AsyncWebApi(async_client)).startswith("AsyncWebApi(AsyncClient(")
    with Client(cookie=RAW) as client:
        with pytest.raises(TypeError, match=r"use WebApi for a Client"):
            AsyncWebApi(client)  # type: ignore[arg-type]
        assert "xoxd" not in repr(WebApi(client))
        assert "names=('d',)" in repr(WebApi(client))
    with pytest.raises(TypeError, match="got str"):
        WebApi("client")  # type: ignore[arg-type]
