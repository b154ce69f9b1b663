"""slack-rtm: a fast, reliable client for Slack's Real Time Messaging API, with a local emulator.

Layers (each a subpackage or module):

- :mod:`slack_rtm.api` — the ``rtm.connect`` Web API call (``RtmApi``, ``AsyncRtmApi``, clients).
- :mod:`slack_rtm.session` — the I/O-free session core and the typed events.
- :mod:`slack_rtm.aio` — the asyncio ``RtmClient`` over picows; :mod:`slack_rtm.sync` its twin.
- :mod:`slack_rtm.emulator` — a local Slack-compatible RTM server with fault injection.
- :mod:`slack_rtm.cli` — the ``slack-rtm`` command.
"""

from __future__ import annotations

from slack_rtm import codes
from slack_rtm.api import (
    ApiResponse,
    AsyncClient,
    AsyncRtmApi,
    Client,
    RequestOptions,
    ResponseMetadata,
    RetryConfig,
    RtmApi,
    RtmConnectErrorSchema,
    RtmConnectSchema,
    RtmConnectSelf,
    RtmConnectTeam,
)
from slack_rtm.backoff import Backoff
from slack_rtm.errors import (
    ApiError,
    ConnectionClosedError,
    FrameTooLargeError,
    ProtocolError,
    RateLimitedError,
    ResponseValidationError,
    RtmConnectErrorSchemaError,
    SendError,
    SendOutcomeUnknownError,
    SessionError,
    SlackRtmError,
    StateError,
    TransportError,
    TransportTimeoutError,
)

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "ApiResponse",
    "AsyncClient",
    "AsyncRtmApi",
    "Backoff",
    "Client",
    "ConnectionClosedError",
    "FrameTooLargeError",
    "ProtocolError",
    "RateLimitedError",
    "RequestOptions",
    "ResponseMetadata",
    "ResponseValidationError",
    "RetryConfig",
    "RtmApi",
    "RtmConnectErrorSchema",
    "RtmConnectErrorSchemaError",
    "RtmConnectSchema",
    "RtmConnectSelf",
    "RtmConnectTeam",
    "SendError",
    "SendOutcomeUnknownError",
    "SessionError",
    "SlackRtmError",
    "StateError",
    "TransportError",
    "TransportTimeoutError",
    "__version__",
    "codes",
]
