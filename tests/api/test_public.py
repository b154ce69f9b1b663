"""The public surface of slack_rtm.api, and the README example run against a loopback server."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from importlib import metadata

import pytest

import slack_rtm.api
from slack_rtm.api import client as client_module

from .server import TOKEN, ScriptedServer


def test_all_is_importable_sorted_and_unique() -> None:
    names = slack_rtm.api.__all__
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(slack_rtm.api, name), name
    assert {"Client", "AsyncClient", "RtmApi", "AsyncRtmApi", "RetryConfig"} <= set(names)
    assert {
        "WebApi",
        "AsyncWebApi",
        "ApiCallSchema",
        "Conversation",
        "ConversationsHistorySchema",
        "ConversationsInfoSchema",
        "ConversationsRepliesSchema",
        "HistoryMessage",
        "UsersConversationsSchema",
    } <= set(names)


def test_top_level_exports_of_the_web_layer() -> None:
    import slack_rtm
    from slack_rtm.cookies import SessionCookie
    from slack_rtm.errors import RtmConnectErrorSchemaError

    for name in ("WebApi", "AsyncWebApi", "SessionCookie", "SlackApiError"):
        assert name in slack_rtm.__all__, name
    assert slack_rtm.WebApi is slack_rtm.api.WebApi
    assert slack_rtm.SessionCookie is SessionCookie
    assert slack_rtm.SlackApiError is RtmConnectErrorSchemaError  # one class, two names


def test_user_agent_without_installed_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)  # the module client.py reads it from
    client_module.default_user_agent.cache_clear()  # computed once per process otherwise
    try:
        assert client_module.default_user_agent().startswith("slack-rtm/0 python/")
    finally:
        client_module.default_user_agent.cache_clear()


README_EXAMPLE = '''
from slack_rtm.api import Client, RtmApi
from slack_rtm.errors import RtmConnectErrorSchemaError

with Client(base_url=emu.api_url) as client:
    rtm_api = RtmApi(client)
    response = rtm_api.rtm_connect(emu.bot_token, batch_presence_aware=True)
    print(response.status_code, response.result.self_.name, response.result.team.domain)
    try:
        rtm_api.rtm_connect("xoxb-not-a-real-token")
    except RtmConnectErrorSchemaError as exc:
        print("refused:", exc.error, "fatal:", exc.fatal)
'''


@dataclass
class FakeEmulator:
    api_url: str
    bot_token: str


def test_readme_example_runs(server: ScriptedServer) -> None:
    server.push_success()
    server.push_error("invalid_auth")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(README_EXAMPLE, {"emu": FakeEmulator(server.api_url, TOKEN)})  # noqa: S102
    assert out.getvalue().splitlines() == [
        "200 robotoverlord slackdemo",
        "refused: invalid_auth fatal: True",
    ]
    assert server.requests[1].headers["authorization"] == "Bearer xoxb-not-a-real-token"
