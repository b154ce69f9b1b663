"""Every exception slack-rtm raises, under one root.

The tree, split by where the error comes from::

    SlackRtmError                      root: catch this to catch everything below
    ├── ApiError                       a Web API call failed (status_code, headers, body)
    │   ├── RtmConnectErrorSchemaError Slack answered ok:false (HTTP 200 included); .result, .error
    │   │   │                          (also named SlackApiError: any method, not rtm.connect only)
    │   │   └── RateLimitedError       HTTP 429 / "ratelimited"; .retry_after seconds
    │   └── ResponseValidationError    a 2xx body that is not the documented schema
    ├── CursorStoreError               the catch-up cursor file cannot be used (slack_rtm.cursors)
    ├── TransportError                 network failure talking to Slack (HTTP or WebSocket)
    │   └── TransportTimeoutError      ... because a deadline passed
    ├── SessionError                   the real-time session
    │   ├── SendError                  Slack refused a frame we sent (.code, .msg from the reply)
    │   ├── SendOutcomeUnknownError    the link died before the reply: the frame may or may not
    │   │                              have been delivered
    │   ├── FrameTooLargeError         refused locally: over 16 KB or text over 4,000 characters
    │   ├── SendQueueFullError         refused locally: too many sends already waiting to go out
    │   ├── ConnectionClosedError      the session ended (closed by us, or a fatal error) before
    │   │                              the operation could complete
    │   ├── SocketAuthError            the socket refused the credentials in-band (error 401)
    │   │                              too many times in a row: fatal
    │   ├── SocketModeDisabledError    Slack turned Socket Mode off for the app (link_disabled)
    │   └── ProtocolError              the server sent something the protocol does not allow
    ├── NotSupportedError              the transport has no such operation (typing or
    │                                  presence over Socket Mode)
    └── StateError                     a call made in a state that does not allow it (misuse)

Arguments are checked before any I/O and raise the built-in ``TypeError`` / ``ValueError``
naming the argument. No message, repr or log line ever contains a token or a WebSocket URL
(the URL from rtm.connect is itself a credential): see :mod:`slack_rtm.redact`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_rtm.redact import redact_text

__all__ = [
    "ApiError",
    "ConnectionClosedError",
    "CursorStoreError",
    "FrameTooLargeError",
    "NotSupportedError",
    "ProtocolError",
    "RateLimitedError",
    "ResponseValidationError",
    "RtmConnectErrorSchemaError",
    "SendError",
    "SendOutcomeUnknownError",
    "SendQueueFullError",
    "SessionError",
    "SlackApiError",
    "SlackRtmError",
    "SocketAuthError",
    "SocketModeDisabledError",
    "StateError",
    "TransportError",
    "TransportTimeoutError",
]


class SlackRtmError(Exception):
    """Root of every exception raised by slack-rtm."""


class ApiError(SlackRtmError):
    """The ``rtm.connect`` Web API call did not succeed.

    Attributes:
        status_code: the HTTP status of the response.
        headers: the response headers (a case-insensitive mapping).
        body: the raw response text.
        retry_after: seconds from the answer's ``Retry-After`` header (None if absent): never
            call again sooner, whatever the status (429, 5xx or ``ok: false``).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        headers: Mapping[str, str],
        body: str,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.headers = headers
        self.body = body
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r}, status_code={self.status_code})"


class RtmConnectErrorSchemaError(ApiError):
    """Slack answered ``{"ok": false, "error": CODE}`` (usually with HTTP 200).

    Attributes:
        result: the typed error body (``RtmConnectErrorSchema``).
        error: the Slack error code, e.g. ``"invalid_auth"``; unknown codes are kept as given.
        fatal: True when retrying can never help (bad or revoked token, wrong token type, ...).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        headers: Mapping[str, str],
        body: str,
        result: Any,
        error: str,
        fatal: bool,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, headers=headers, body=body,
                         retry_after=retry_after)
        self.result = result
        self.error = error
        self.fatal = fatal

    @property
    def transient(self) -> bool:
        """True when the same call may succeed later (the opposite of :attr:`fatal`)."""
        return not self.fatal

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(error={redact_text(self.error)!r}, "
            f"status_code={self.status_code}, "
            f"fatal={self.fatal})"
        )


SlackApiError = RtmConnectErrorSchemaError
"""Another name for :class:`RtmConnectErrorSchemaError`, the error of every Web API method that
answers ``ok: false`` (``conversations.history`` as much as ``rtm.connect``)."""


class RateLimitedError(RtmConnectErrorSchemaError):
    """Slack rate-limited the call (HTTP 429, ``"ratelimited"``).

    Attributes:
        retry_after: seconds to wait before the next call, from ``Retry-After`` (None if absent).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        headers: Mapping[str, str],
        body: str,
        result: Any,
        retry_after: float | None,
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            headers=headers,
            body=body,
            result=result,
            error="ratelimited",
            fatal=False,
            retry_after=retry_after,
        )


class ResponseValidationError(ApiError):
    """A successful-looking response whose body is not the documented schema.

    For example an HTML page from a proxy, invalid JSON, or a success missing ``url``.
    """


class CursorStoreError(SlackRtmError):
    """The cursor file cannot be used: missing directory, not an SQLite cursor file, written by
    a newer slack-rtm, locked by another process for too long, or an SQLite I/O error.

    The message names the file and says what to do; the SQLite error, if any, is chained.
    """


class TransportError(SlackRtmError):
    """The network failed: connection refused or reset, DNS, TLS, proxy. Chained with ``from``."""


class TransportTimeoutError(TransportError):
    """A deadline passed: connect, read, or the whole call."""


class SessionError(SlackRtmError):
    """Something went wrong in the real-time session."""


class SendError(SessionError):
    """Slack answered a frame we sent with ``ok: false`` (or, over Socket Mode, refused the
    ``chat.postMessage`` call).

    Attributes:
        code: Slack's numeric error code over RTM (e.g. ``0`` invalid channel, ``2`` no text,
            ``-1`` too many messages); the Web API's error code over Socket Mode (e.g.
            ``"channel_not_found"``, ``"not_in_channel"``, ``"msg_too_long"``,
            ``"ratelimited"``); None when the reply had none.
        msg: Slack's message.
        reply_to: the id of the frame this answers (None over Socket Mode).
    """

    def __init__(self, code: int | str | None, msg: str, reply_to: int | None = None) -> None:
        super().__init__(
            f"Slack refused the message (code {code}): {msg}"
            if code is not None
            else f"Slack refused the message: {msg}"
        )
        self.code = code
        self.msg = msg
        self.reply_to = reply_to


class SendOutcomeUnknownError(SessionError):
    """The connection was lost after the frame was written and before its reply arrived.

    The message may or may not have been posted. Check the channel before sending it again.
    """


class FrameTooLargeError(SessionError, ValueError):
    """Refused before sending: Slack disconnects on a frame over 16 KB; text is capped at 4,000."""


class SendQueueFullError(SessionError):
    """Refused before queueing: too many sends are already waiting (rate limit or reconnect).

    Wait for earlier sends to complete before sending more, or raise ``max_queued_sends``.
    """


class ConnectionClosedError(SessionError):
    """The session is closed (by :meth:`close` or after a fatal error); the call cannot complete."""


class SocketAuthError(SessionError):
    """The WebSocket refused the credentials with an in-band error 401, too many times in a row.

    Slack sends ``{"type": "error", "error": {"code": 401, ...}}`` and closes when the token or,
    for a browser session (``xoxc-``), the ``d`` cookie is not accepted on the socket
    (PROTOCOL.md §7). The session stops instead of reconnecting forever.

    Attributes:
        refusals: how many refusals in a row ended the session.
    """

    def __init__(self, message: str, *, refusals: int) -> None:
        super().__init__(message)
        self.refusals = refusals


class SocketModeDisabledError(SessionError):
    """Slack ended the session with ``disconnect`` ``link_disabled``: Socket Mode was turned off
    for the app (PROTOCOL.md §9). Fatal: turn Socket Mode back on in the app's settings (or use
    another transport) before connecting again."""


class NotSupportedError(SlackRtmError):
    """The transport has no such operation: Socket Mode has no typing indicator and no
    presence subscription (only RTM has them). Nothing was sent."""


class ProtocolError(SessionError):
    """The server sent something the RTM protocol does not allow."""


class StateError(SlackRtmError, RuntimeError):
    """A method was called in a state that does not allow it, e.g. sending before connecting."""
