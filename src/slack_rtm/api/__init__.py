"""The Web API: ``rtm.connect``, the history methods, a generic call; clients, models, retries.

Example::

    from slack_rtm.api import Client, RtmApi, WebApi

    with Client() as client:
        response = RtmApi(client).rtm_connect(token, batch_presence_aware=True)
        print(response.result.self_.name, response.result.team.domain)
        for page in WebApi(client).iter_conversations_history(token, "C0123ABCD", limit=200):
            for message in page.result.messages:
                print(message.ts, message.user, message.text)

A browser session (an ``xoxc-`` token) also needs its cookie: ``Client(cookie="xoxd-...")``
(see :class:`~slack_rtm.cookies.SessionCookie`).

Modules: :mod:`~slack_rtm.api.client` (the sync and async clients),
:mod:`~slack_rtm.api.rtm` (rtm.connect), :mod:`~slack_rtm.api.web` (the history methods and
``api_call``), :mod:`~slack_rtm.api.params` (their argument checks and the pager),
:mod:`~slack_rtm.api.models` and :mod:`~slack_rtm.api.history_models` (the bodies),
:mod:`~slack_rtm.api.config` (retry and per-call options), :mod:`~slack_rtm.api.retry` (the pure
retry decisions), :mod:`~slack_rtm.api.call` (the I/O-free call shared by both clients),
:mod:`~slack_rtm.api.response` (``ApiResponse``). Everything logs on ``slack_rtm.api``.
"""

from __future__ import annotations

from slack_rtm.api.client import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, AsyncClient, Client
from slack_rtm.api.config import RequestOptions, RetryConfig
from slack_rtm.api.history_models import (
    ApiCallSchema,
    Conversation,
    ConversationsHistorySchema,
    ConversationsInfoSchema,
    ConversationsRepliesSchema,
    HistoryMessage,
    UsersConversationsSchema,
)
from slack_rtm.api.models import (
    ResponseMetadata,
    RtmConnectErrorSchema,
    RtmConnectSchema,
    RtmConnectSelf,
    RtmConnectTeam,
)
from slack_rtm.api.response import ApiResponse
from slack_rtm.api.rtm import AsyncRtmApi, RtmApi
from slack_rtm.api.web import AsyncWebApi, WebApi

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "ApiCallSchema",
    "ApiResponse",
    "AsyncClient",
    "AsyncRtmApi",
    "AsyncWebApi",
    "Client",
    "Conversation",
    "ConversationsHistorySchema",
    "ConversationsInfoSchema",
    "ConversationsRepliesSchema",
    "HistoryMessage",
    "RequestOptions",
    "ResponseMetadata",
    "RetryConfig",
    "RtmApi",
    "RtmConnectErrorSchema",
    "RtmConnectSchema",
    "RtmConnectSelf",
    "RtmConnectTeam",
    "UsersConversationsSchema",
    "WebApi",
]
