"""Argument checks of the web methods (before any I/O) and the pure pager, without sockets."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from slack_rtm.api import (
    ApiResponse,
    AsyncClient,
    AsyncWebApi,
    Client,
    ConversationsHistorySchema,
    WebApi,
)
from slack_rtm.api.models import ResponseMetadata
from slack_rtm.api.params import Pager, generic_params, users_conversations_params
from slack_rtm.errors import ResponseValidationError

from .server import TOKEN
from .web_helpers import CHANNEL, TS

# A base URL nothing listens on: a check that let a call through would fail differently.
NOWHERE = "http://127.0.0.1:9/api"

BAD_CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any], type[Exception], str]] = [
    ("conversations_history", (None, CHANNEL), {}, TypeError, "token must be a str"),
    ("conversations_history", ("", CHANNEL), {}, ValueError, "token must not be empty"),
    ("conversations_history", ("xoxb-a b", CHANNEL), {}, ValueError, "printable ASCII"),
    ("conversations_history", (TOKEN, ""), {}, ValueError, "channel must not be empty"),
    ("conversations_history", (TOKEN, None), {}, TypeError, "channel must be a str"),
    ("conversations_history", (TOKEN, "#general"), {}, ValueError, "not by #name"),
    ("conversations_history", (TOKEN, TOKEN), {}, ValueError, "channel must be a Slack id"),
    ("conversations_history", (TOKEN, CHANNEL), {"oldest": 1.5}, TypeError, "loses the digits"),
    ("conversations_history", (TOKEN, CHANNEL), {"oldest": 15}, TypeError, "oldest must be a str"),
    ("conversations_history", (TOKEN, CHANNEL), {"latest": "soon"}, ValueError, "timestamp"),
    ("conversations_history", (TOKEN, CHANNEL), {"latest": ""}, ValueError, "must not be empty"),
    ("conversations_history", (TOKEN, CHANNEL), {"latest": "1.2.3"}, ValueError, "timestamp"),
    (
        "conversations_history",
        (TOKEN, CHANNEL),
        {"oldest": "2.0", "latest": "1.5"},
        ValueError,
        "oldest must not be after latest",
    ),
    ("conversations_history", (TOKEN, CHANNEL), {"inclusive": 1}, TypeError, "inclusive must be"),
    ("conversations_history", (TOKEN, CHANNEL), {"limit": 0}, ValueError, "between 1 and 999"),
    ("conversations_history", (TOKEN, CHANNEL), {"limit": 1000}, ValueError, "between 1 and 999"),
    ("conversations_history", (TOKEN, CHANNEL), {"limit": True}, TypeError, "limit must be an int"),
    ("conversations_history", (TOKEN, CHANNEL), {"limit": "5"}, TypeError, "limit must be an int"),
    ("conversations_history", (TOKEN, CHANNEL), {"cursor": ""}, ValueError, "pass None"),
    ("conversations_history", (TOKEN, CHANNEL), {"cursor": 5}, TypeError, "cursor must be a str"),
    ("conversations_history", (TOKEN, CHANNEL), {"cursor": "a b"}, ValueError, "whitespace"),
    ("conversations_history", (TOKEN, CHANNEL), {"cursor": "é"}, ValueError, "printable ASCII"),
    (
        "conversations_history",
        (TOKEN, CHANNEL),
        {"request_options": {}},
        TypeError,
        "request_options must be",
    ),
    ("conversations_replies", (TOKEN, CHANNEL, None), {}, TypeError, "ts must be a str"),
    ("conversations_replies", (TOKEN, CHANNEL, "x"), {}, ValueError, "ts must be a Slack"),
    ("users_conversations", (TOKEN,), {"types": "channels"}, ValueError, "each must be one of"),
    ("users_conversations", (TOKEN,), {"types": []}, ValueError, "at least one"),
    ("users_conversations", (TOKEN,), {"types": 3}, TypeError, "types must be a str"),
    ("users_conversations", (TOKEN,), {"types": [None]}, TypeError, "types must hold str"),
    ("users_conversations", (TOKEN,), {"exclude_archived": "yes"}, TypeError, "exclude_archived"),
    ("users_conversations", (TOKEN,), {"user": "U-1"}, ValueError, "user must be a Slack id"),
    ("conversations_info", (TOKEN, CHANNEL), {"include_locale": 0}, TypeError, "include_locale"),
    ("api_call", ("", TOKEN), {}, ValueError, "method must not be empty"),
    ("api_call", (None, TOKEN), {}, TypeError, "method must be a str"),
    ("api_call", ("../admin", TOKEN), {}, ValueError, "method name"),
    ("api_call", ("chat.post?x=1", TOKEN), {}, ValueError, "method name"),
    ("api_call", ("auth.test", None), {}, TypeError, "token must be a str"),
    ("api_call", ("auth.test", TOKEN, {"token": TOKEN}), {}, ValueError, "Authorization header"),
    ("api_call", ("auth.test", TOKEN, [("a", "b")]), {}, TypeError, "params must be a mapping"),
    ("api_call", ("auth.test", TOKEN, {1: "b"}), {}, TypeError, "names must be str"),
    ("api_call", ("auth.test", TOKEN, {"": "b"}), {}, ValueError, "empty name"),
    ("api_call", ("auth.test", TOKEN, {"a": b"x"}), {}, TypeError, r"params\['a'\] must be"),
    ("api_call", ("auth.test", TOKEN, {"a": float("nan")}), {}, ValueError, "finite"),
    ("api_call", ("auth.test", TOKEN, {"a": [object()]}), {}, TypeError, "cannot be encoded"),
]


@pytest.mark.parametrize(("name", "args", "kwargs", "error", "match"), BAD_CALLS)
def test_sync_arguments_are_checked_before_io(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with Client(base_url=NOWHERE) as client:
        api = WebApi(client)
        with pytest.raises(error, match=match) as info:
            getattr(api, name)(*args, **kwargs)
        assert "SECRET" not in str(info.value)
        iter_name = f"iter_{name}"
        if hasattr(api, iter_name):  # the iterators check at once, before the first page
            with pytest.raises(error, match=match):
                getattr(api, iter_name)(*args, **kwargs)


@pytest.mark.parametrize(("name", "args", "kwargs", "error", "match"), BAD_CALLS)
async def test_async_arguments_are_checked_before_io(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    async with AsyncClient(base_url=NOWHERE) as client:
        api = AsyncWebApi(client)
        with pytest.raises(error, match=match) as info:
            await getattr(api, name)(*args, **kwargs)
        assert "SECRET" not in str(info.value)
        iter_name = f"iter_{name}"
        if hasattr(api, iter_name):
            with pytest.raises(error, match=match):
                getattr(api, iter_name)(*args, **kwargs)


def test_a_token_in_the_channel_position_is_not_echoed() -> None:
    secret = "xoxb-1-SECRETSECRET"
    with (
        Client(base_url=NOWHERE) as client,
        pytest.raises(ValueError, match="channel must be a Slack id") as info,
    ):
        WebApi(client).conversations_history(TOKEN, secret)
    assert "SECRETSECRET" not in str(info.value)


def test_users_conversations_types_forms() -> None:
    assert users_conversations_params(types="im, mpim,im") == {"types": "im,mpim"}
    assert users_conversations_params(types=("private_channel",)) == {"types": "private_channel"}
    assert users_conversations_params() == {}


def test_generic_params_encoding() -> None:
    assert generic_params(None) == {}
    assert generic_params(
        {"s": "a b", "t": True, "f": False, "i": -3, "x": 0.25, "n": None, "d": {"k": [1]}}
    ) == {"s": "a b", "t": "1", "f": "0", "i": "-3", "x": "0.25", "d": '{"k":[1]}'}


def page(cursor: str | None) -> ApiResponse[ConversationsHistorySchema]:
    metadata = None if cursor is None else ResponseMetadata(next_cursor=cursor)
    result = ConversationsHistorySchema(ok=True, response_metadata=metadata)
    return ApiResponse(
        result=result,
        status_code=200,
        headers=httpx.Headers(),
        body="{}",
        method="POST",
        url="http://x/api/conversations.history",
    )


def test_pager_follows_cursors_and_refuses_a_loop() -> None:
    pager = Pager("conversations.history", {"channel": CHANNEL})
    assert pager.next_params() == {"channel": CHANNEL}
    pager.feed(page("a"))
    assert pager.next_params() == {"channel": CHANNEL, "cursor": "a"}
    pager.feed(page("b"))
    assert pager.next_params() == {"channel": CHANNEL, "cursor": "b"}
    with pytest.raises(ResponseValidationError, match="page 3 returned a next_cursor already"):
        pager.feed(page("a"))
    assert pager.done
    assert pager.next_params() is None


@pytest.mark.parametrize("last", [None, "", ResponseMetadata()])
def test_pager_stops_on_an_empty_or_missing_cursor(last: object) -> None:
    pager = Pager("conversations.history", {"channel": CHANNEL, "cursor": "start"})
    pager.feed(page("x"))
    if isinstance(last, ResponseMetadata):
        result = ConversationsHistorySchema(ok=True, response_metadata=last)
        pager.feed(ApiResponse(result, 200, httpx.Headers(), "{}", "POST", "u"))
    else:
        pager.feed(page(last))
    assert pager.done
    assert pager.next_params() is None
    assert pager.pages == 2


def test_pager_treats_the_start_cursor_as_seen() -> None:
    pager = Pager("conversations.replies", {"channel": CHANNEL, "ts": TS, "cursor": "s"})
    with pytest.raises(ResponseValidationError):
        pager.feed(page("s"))


def test_request_options_pass_through_checks() -> None:
    with Client(base_url=NOWHERE) as client, pytest.raises(TypeError, match="request_options"):
        WebApi(client).api_call("auth.test", TOKEN, None, "fast")  # type: ignore[arg-type]


def test_history_error_codes_are_request_errors() -> None:
    from slack_rtm import codes

    for code in (
        codes.CHANNEL_NOT_FOUND,
        codes.NOT_IN_CHANNEL,
        codes.INVALID_CURSOR,
        codes.THREAD_NOT_FOUND,
    ):
        assert code in codes.ALL_CODES
        assert not codes.is_fatal(code), code
        assert not codes.is_transient(code), code
