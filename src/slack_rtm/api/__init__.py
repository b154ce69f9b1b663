"""The ``rtm.connect`` Web API call: clients, the typed models, retries.

Example::

    from slack_rtm.api import Client, RtmApi

    with Client() as client:
        response = RtmApi(client).rtm_connect(token, batch_presence_aware=True)
        print(response.result.self_.name, response.result.team.domain)

Modules: :mod:`~slack_rtm.api.client` (the sync and async clients),
:mod:`~slack_rtm.api.rtm` (the method), :mod:`~slack_rtm.api.models` (the bodies),
:mod:`~slack_rtm.api.config` (retry and per-call options), :mod:`~slack_rtm.api.retry` (the pure
retry decisions), :mod:`~slack_rtm.api.call` (the I/O-free call shared by both clients),
:mod:`~slack_rtm.api.response` (``ApiResponse``). Everything logs on ``slack_rtm.api``.
"""

from __future__ import annotations

from slack_rtm.api.client import DEFAULT_BASE_URL, DEFAULT_TIMEOUT, AsyncClient, Client
from slack_rtm.api.config import RequestOptions, RetryConfig
from slack_rtm.api.models import (
    ResponseMetadata,
    RtmConnectErrorSchema,
    RtmConnectSchema,
    RtmConnectSelf,
    RtmConnectTeam,
)
from slack_rtm.api.response import ApiResponse
from slack_rtm.api.rtm import AsyncRtmApi, RtmApi

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "ApiResponse",
    "AsyncClient",
    "AsyncRtmApi",
    "Client",
    "RequestOptions",
    "ResponseMetadata",
    "RetryConfig",
    "RtmApi",
    "RtmConnectErrorSchema",
    "RtmConnectSchema",
    "RtmConnectSelf",
    "RtmConnectTeam",
]
