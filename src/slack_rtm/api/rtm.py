"""``rtm.connect``: :class:`RtmApi` (sync) and :class:`AsyncRtmApi`, the same surface twice.

Why POST with a form body, when Slack's docs list GET: every Web API method accepts POST, and a
POST keeps the parameters out of URLs and so out of proxy and server access logs. The token
never travels in the URL or the body: only in ``Authorization: Bearer`` (PROTOCOL.md §1).
"""

from __future__ import annotations

from slack_rtm.api.client import AsyncClient, Client
from slack_rtm.api.config import RequestOptions
from slack_rtm.api.models import RtmConnectSchema
from slack_rtm.api.response import ApiResponse

__all__ = ["AsyncRtmApi", "RtmApi"]

RTM_CONNECT = "rtm.connect"


def _rtm_connect_params(
    token: object,
    batch_presence_aware: object,
    presence_sub: object,
    request_options: object,
) -> dict[str, str]:
    """Check the arguments of ``rtm_connect`` (before any I/O) and build the form parameters.

    Raises:
        TypeError: a wrong type (the argument is named; the token is never echoed).
        ValueError: an empty token, or one that cannot be sent in a header.
    """
    if not isinstance(token, str):
        raise TypeError(f"token must be a str, got {type(token).__name__}")
    if not token:
        raise ValueError("token must not be empty")
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise ValueError("token must be printable ASCII without spaces or line breaks")
    params: dict[str, str] = {}
    for name, value in (
        ("batch_presence_aware", batch_presence_aware),
        ("presence_sub", presence_sub),
    ):
        if value is None:
            continue
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool or None, got {type(value).__name__}")
        params[name] = "1" if value else "0"
    if request_options is not None and not isinstance(request_options, RequestOptions):
        raise TypeError(
            f"request_options must be a RequestOptions or None, got "
            f"{type(request_options).__name__}"
        )
    return params


class RtmApi:
    """The RTM methods of the Web API, over a sync :class:`~slack_rtm.api.Client`.

    Raises:
        TypeError: ``client`` is not a :class:`~slack_rtm.api.Client`.
    """

    def __init__(self, client: Client) -> None:
        if not isinstance(client, Client):
            hint = ""
            if isinstance(client, AsyncClient):
                hint = " (use AsyncRtmApi for an AsyncClient)"
            raise TypeError(
                f"client must be a slack_rtm.api.Client, got {type(client).__name__}{hint}"
            )
        self.client = client

    def __repr__(self) -> str:
        return f"RtmApi({self.client!r})"

    def rtm_connect(
        self,
        token: str,
        batch_presence_aware: bool | None = None,
        presence_sub: bool | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiResponse[RtmConnectSchema]:
        """Call ``rtm.connect``: get a WebSocket URL for a new RTM session.

        Call it for every (re)connect: the URL is single-use and expires after about 30 s.

        Args:
            token: a classic bot (``xoxb-``) or user (``xoxp-``) token; sent only in the
                ``Authorization`` header.
            batch_presence_aware: True for ``presence_change`` events carrying a ``users``
                array (sent as ``1``/``0``; None: not sent).
            presence_sub: True to get presence events only for users subscribed to with
                ``presence_sub`` (sent as ``1``/``0``; None: not sent).
            request_options: per-call timeout, headers or retry policy.

        Returns:
            The typed answer; ``.result.url`` is the WebSocket URL (a credential).

        Raises:
            TypeError, ValueError: bad arguments, before any I/O.
            slack_rtm.RtmConnectErrorSchemaError: Slack answered ``ok: false`` (``.error``,
                ``.fatal``); a :class:`~slack_rtm.RateLimitedError` when rate limited.
            slack_rtm.ResponseValidationError: a 2xx body that is not the documented schema.
            slack_rtm.ApiError: another HTTP failure (5xx after retries, 404, ...).
            slack_rtm.TransportError: the network failed (``TransportTimeoutError`` on timeout).
            slack_rtm.StateError: the client is closed.
        """
        params = _rtm_connect_params(token, batch_presence_aware, presence_sub, request_options)
        return self.client._send(RTM_CONNECT, token, params, request_options, RtmConnectSchema)


class AsyncRtmApi:
    """The asyncio twin of :class:`RtmApi`, over an :class:`~slack_rtm.api.AsyncClient`.

    Raises:
        TypeError: ``client`` is not an :class:`~slack_rtm.api.AsyncClient`.
    """

    def __init__(self, client: AsyncClient) -> None:
        if not isinstance(client, AsyncClient):
            hint = " (use RtmApi for a Client)" if isinstance(client, Client) else ""
            raise TypeError(
                f"client must be a slack_rtm.api.AsyncClient, got {type(client).__name__}{hint}"
            )
        self.client = client

    def __repr__(self) -> str:
        return f"AsyncRtmApi({self.client!r})"

    async def rtm_connect(
        self,
        token: str,
        batch_presence_aware: bool | None = None,
        presence_sub: bool | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiResponse[RtmConnectSchema]:
        """Call ``rtm.connect``: see :meth:`RtmApi.rtm_connect` (same arguments and errors).

        Cancelling the awaiting task cancels the request in flight cleanly.
        """
        params = _rtm_connect_params(token, batch_presence_aware, presence_sub, request_options)
        return await self.client._send(
            RTM_CONNECT, token, params, request_options, RtmConnectSchema
        )
