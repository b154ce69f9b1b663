"""slack-rtm: a fast, reliable client for Slack's real-time APIs (RTM and Socket Mode), with a local
emulator.

Layers (each a subpackage or module):

- :mod:`slack_rtm.api` — the Web API: ``rtm.connect`` (``RtmApi``, ``AsyncRtmApi``), the history
  methods and a generic call (``WebApi``, ``AsyncWebApi``), the clients.
- :mod:`slack_rtm.cookies` — the browser session cookie (``SessionCookie``) ``xoxc-`` tokens need.
- :mod:`slack_rtm.session` — the I/O-free session cores (RTM, Socket Mode) and the typed events.
- :mod:`slack_rtm.aio` — the asyncio ``RtmClient`` and ``SocketModeClient`` over picows
  (re-exported here); :mod:`slack_rtm.sync` their synchronous twins.
- :mod:`slack_rtm.cursors` — the durable cursor store (``CursorStore``, SQLite and in-memory homes).
- :mod:`slack_rtm.emulator` — a local Slack-compatible RTM server with fault injection.
- :mod:`slack_rtm.cli` — the ``slack-rtm`` command.
- :mod:`slack_rtm.gateway` — ``slack-rtm gateway`` on NATS JetStream (the ``gateway`` extra; never
  imported by the client).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_rtm import codes
from slack_rtm.lazy import lazy_exports

if TYPE_CHECKING:
    from slack_rtm.aio import (
        MessageAck,
        RtmClient,
        SessionConfig,
        SocketModeClient,
        SocketModeConfig,
        State,
    )
    from slack_rtm.api import (
        ApiResponse,
        AsyncClient,
        AsyncRtmApi,
        AsyncWebApi,
        Client,
        RequestOptions,
        ResponseMetadata,
        RetryConfig,
        RtmApi,
        RtmConnectErrorSchema,
        RtmConnectSchema,
        RtmConnectSelf,
        RtmConnectTeam,
        WebApi,
    )
    from slack_rtm.backoff import (
        Backoff,
    )
    from slack_rtm.cookies import (
        SessionCookie,
    )
    from slack_rtm.cursors import (
        CursorStore,
        MemoryCursorStore,
        SQLiteCursorStore,
        open_cursor_store,
    )
    from slack_rtm.errors import (
        ApiError,
        ConnectionClosedError,
        CursorStoreError,
        FrameTooLargeError,
        NotSupportedError,
        ProtocolError,
        RateLimitedError,
        ResponseValidationError,
        RtmConnectErrorSchemaError,
        SendError,
        SendOutcomeUnknownError,
        SendQueueFullError,
        SessionError,
        SlackApiError,
        SlackRtmError,
        SocketModeDisabledError,
        StateError,
        TransportError,
        TransportTimeoutError,
    )
    from slack_rtm.session.events import (
        Closed,
        Connected,
        Connecting,
        Disconnected,
        Envelope,
        Event,
        HandlerError,
        Interaction,
        MalformedFrame,
        Message,
        PresenceChange,
        ReactionAdded,
        Reconnecting,
        Reply,
        ReplyError,
        SlashCommand,
        UnknownEvent,
        UserTyping,
        decode_frame,
        event_type_names,
    )

__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "ApiResponse",
    "AsyncClient",
    "AsyncRtmApi",
    "AsyncWebApi",
    "Backoff",
    "Client",
    "Closed",
    "Connected",
    "Connecting",
    "ConnectionClosedError",
    "CursorStore",
    "CursorStoreError",
    "Disconnected",
    "Envelope",
    "Event",
    "FrameTooLargeError",
    "HandlerError",
    "Interaction",
    "MalformedFrame",
    "MemoryCursorStore",
    "Message",
    "MessageAck",
    "NotSupportedError",
    "PresenceChange",
    "ProtocolError",
    "RateLimitedError",
    "ReactionAdded",
    "Reconnecting",
    "Reply",
    "ReplyError",
    "RequestOptions",
    "ResponseMetadata",
    "ResponseValidationError",
    "RetryConfig",
    "RtmApi",
    "RtmClient",
    "RtmConnectErrorSchema",
    "RtmConnectErrorSchemaError",
    "RtmConnectSchema",
    "RtmConnectSelf",
    "RtmConnectTeam",
    "SQLiteCursorStore",
    "SendError",
    "SendOutcomeUnknownError",
    "SendQueueFullError",
    "SessionConfig",
    "SessionCookie",
    "SessionError",
    "SlackApiError",
    "SlackRtmError",
    "SlashCommand",
    "SocketModeClient",
    "SocketModeConfig",
    "SocketModeDisabledError",
    "State",
    "StateError",
    "TransportError",
    "TransportTimeoutError",
    "UnknownEvent",
    "UserTyping",
    "WebApi",
    "__version__",
    "codes",
    "decode_frame",
    "event_type_names",
    "open_cursor_store",
]

# Every public name and the module that defines it, imported on first use.
_HOMES = {
    "ApiError": "slack_rtm.errors",
    "ApiResponse": "slack_rtm.api",
    "AsyncClient": "slack_rtm.api",
    "AsyncRtmApi": "slack_rtm.api",
    "AsyncWebApi": "slack_rtm.api",
    "Backoff": "slack_rtm.backoff",
    "Client": "slack_rtm.api",
    "Closed": "slack_rtm.session.events",
    "Connected": "slack_rtm.session.events",
    "Connecting": "slack_rtm.session.events",
    "ConnectionClosedError": "slack_rtm.errors",
    "CursorStore": "slack_rtm.cursors",
    "CursorStoreError": "slack_rtm.errors",
    "Disconnected": "slack_rtm.session.events",
    "Envelope": "slack_rtm.session.events",
    "Event": "slack_rtm.session.events",
    "FrameTooLargeError": "slack_rtm.errors",
    "HandlerError": "slack_rtm.session.events",
    "Interaction": "slack_rtm.session.events",
    "MalformedFrame": "slack_rtm.session.events",
    "MemoryCursorStore": "slack_rtm.cursors",
    "Message": "slack_rtm.session.events",
    "MessageAck": "slack_rtm.aio",
    "NotSupportedError": "slack_rtm.errors",
    "PresenceChange": "slack_rtm.session.events",
    "ProtocolError": "slack_rtm.errors",
    "RateLimitedError": "slack_rtm.errors",
    "ReactionAdded": "slack_rtm.session.events",
    "Reconnecting": "slack_rtm.session.events",
    "Reply": "slack_rtm.session.events",
    "ReplyError": "slack_rtm.session.events",
    "RequestOptions": "slack_rtm.api",
    "ResponseMetadata": "slack_rtm.api",
    "ResponseValidationError": "slack_rtm.errors",
    "RetryConfig": "slack_rtm.api",
    "RtmApi": "slack_rtm.api",
    "RtmClient": "slack_rtm.aio",
    "RtmConnectErrorSchema": "slack_rtm.api",
    "RtmConnectErrorSchemaError": "slack_rtm.errors",
    "RtmConnectSchema": "slack_rtm.api",
    "RtmConnectSelf": "slack_rtm.api",
    "RtmConnectTeam": "slack_rtm.api",
    "SQLiteCursorStore": "slack_rtm.cursors",
    "SendError": "slack_rtm.errors",
    "SendOutcomeUnknownError": "slack_rtm.errors",
    "SendQueueFullError": "slack_rtm.errors",
    "SessionConfig": "slack_rtm.aio",
    "SessionCookie": "slack_rtm.cookies",
    "SessionError": "slack_rtm.errors",
    "SlackApiError": "slack_rtm.errors",
    "SlackRtmError": "slack_rtm.errors",
    "SlashCommand": "slack_rtm.session.events",
    "SocketModeClient": "slack_rtm.aio",
    "SocketModeConfig": "slack_rtm.aio",
    "SocketModeDisabledError": "slack_rtm.errors",
    "State": "slack_rtm.aio",
    "StateError": "slack_rtm.errors",
    "TransportError": "slack_rtm.errors",
    "TransportTimeoutError": "slack_rtm.errors",
    "UnknownEvent": "slack_rtm.session.events",
    "UserTyping": "slack_rtm.session.events",
    "WebApi": "slack_rtm.api",
    "decode_frame": "slack_rtm.session.events",
    "event_type_names": "slack_rtm.session.events",
    "open_cursor_store": "slack_rtm.cursors",
}

__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
