"""The history methods and a generic call: :class:`WebApi` (sync) and :class:`AsyncWebApi`.

The same surface twice, on the same call machinery as ``rtm.connect`` (:mod:`slack_rtm.api.rtm`):
POST with a form body, the token only in ``Authorization: Bearer``, the client's session cookie
(if any) as ``Cookie``, retries with ``Retry-After`` as a floor, typed errors, no secret in a
log line or message.

Pagination (PROTOCOL.md §8): each ``iter_*`` method yields **pages** (one
:class:`~slack_rtm.api.ApiResponse` per call), following ``response_metadata.next_cursor``
until it is empty; flatten with ``for page in ...: for message in page.result.messages``.
Pages rather than items, so that the HTTP details, warnings and ``has_more`` of each call stay
visible and the caller sees where each call (and its rate-limit wait) happens. Arguments are
checked when the ``iter_*`` method is called, before any I/O; the first request is sent when
the first page is asked for. A ``next_cursor`` already seen raises
:class:`~slack_rtm.ResponseValidationError` (after the page that carried it was yielded)
rather than looping forever.

Errors: ``ok: false`` raises :class:`~slack_rtm.errors.SlackApiError` (the same class as
``RtmConnectErrorSchemaError``) with ``.error`` such as ``"channel_not_found"``,
``"not_in_channel"``, ``"invalid_cursor"``; these are request errors, neither fatal nor
retried. Rate limiting raises :class:`~slack_rtm.RateLimitedError` once retries are exhausted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import TypeVar

from slack_rtm.api.client import AsyncClient, Client
from slack_rtm.api.config import RequestOptions
from slack_rtm.api.history_models import (
    ApiCallSchema,
    ConversationsHistorySchema,
    ConversationsInfoSchema,
    ConversationsRepliesSchema,
    UsersConversationsSchema,
)
from slack_rtm.api.models import _Body
from slack_rtm.api.params import (
    Pager,
    check_method,
    check_options,
    check_token,
    generic_params,
    history_params,
    info_params,
    replies_params,
    users_conversations_params,
)
from slack_rtm.api.response import ApiResponse

__all__ = ["AsyncWebApi", "WebApi"]

T = TypeVar("T", bound=_Body)

CONVERSATIONS_HISTORY = "conversations.history"
CONVERSATIONS_REPLIES = "conversations.replies"
CONVERSATIONS_INFO = "conversations.info"
USERS_CONVERSATIONS = "users.conversations"


def _checked(token: object, request_options: object) -> str:
    check_options(request_options)
    return check_token(token)


class WebApi:
    """The history methods and a generic call, over a sync :class:`~slack_rtm.api.Client`.

    Every method raises, besides what it lists: ``TypeError``/``ValueError`` for bad arguments
    (before any I/O); :class:`~slack_rtm.errors.SlackApiError` when Slack answers
    ``ok: false`` (``.error``, ``.fatal``), :class:`~slack_rtm.RateLimitedError` when rate
    limited; :class:`~slack_rtm.ResponseValidationError` for a body that is not the documented
    schema; :class:`~slack_rtm.ApiError` for another HTTP failure;
    :class:`~slack_rtm.TransportError` when the network fails; :class:`~slack_rtm.StateError`
    when the client is closed.

    Raises:
        TypeError: ``client`` is not a :class:`~slack_rtm.api.Client`.
    """

    def __init__(self, client: Client) -> None:
        if not isinstance(client, Client):
            hint = (
                " (use AsyncWebApi for an AsyncClient)" if isinstance(client, AsyncClient) else ""
            )
            raise TypeError(
                f"client must be a slack_rtm.api.Client, got {type(client).__name__}{hint}"
            )
        self.client = client

    def __repr__(self) -> str:
        return f"WebApi({self.client!r})"

    def conversations_history(
        self,
        token: str,
        channel: str,
        *,
        oldest: str | None = None,
        latest: str | None = None,
        inclusive: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiResponse[ConversationsHistorySchema]:
        """Call ``conversations.history``: one page of a conversation's messages, newest first.

        Args:
            token: the token (``xoxc-`` needs the client's ``cookie``); header only.
            channel: the conversation id, e.g. ``"C0123ABCD"``.
            oldest: only messages after this ts, e.g. ``"1355517523.000005"``.
            latest: only messages before this ts.
            inclusive: include messages at exactly ``oldest``/``latest`` (sent as ``1``/``0``).
            limit: the page size, 1 to 999 (Slack's default 100; some apps get at most 15).
            cursor: the ``next_cursor`` of the previous page (None: the first page).
            request_options: per-call timeout, headers or retry policy.

        Returns:
            The page; ``.result.messages``, ``.result.has_more``, ``.result.next_cursor``.
        """
        token = _checked(token, request_options)
        params = history_params(
            channel, oldest=oldest, latest=latest, inclusive=inclusive, limit=limit, cursor=cursor
        )
        return self.client._send(
            CONVERSATIONS_HISTORY, token, params, request_options, ConversationsHistorySchema
        )

    def iter_conversations_history(
        self,
        token: str,
        channel: str,
        *,
        oldest: str | None = None,
        latest: str | None = None,
        inclusive: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> Iterator[ApiResponse[ConversationsHistorySchema]]:
        """Every page of ``conversations.history`` (newest messages first), one call each.

        Same arguments as :meth:`conversations_history`; ``cursor`` is where to start.

        Raises:
            slack_rtm.ResponseValidationError: a ``next_cursor`` came back a second time.
        """
        token = _checked(token, request_options)
        params = history_params(
            channel, oldest=oldest, latest=latest, inclusive=inclusive, limit=limit, cursor=cursor
        )
        return self._pages(
            CONVERSATIONS_HISTORY, token, params, request_options, ConversationsHistorySchema
        )

    def conversations_replies(
        self,
        token: str,
        channel: str,
        ts: str,
        *,
        oldest: str | None = None,
        latest: str | None = None,
        inclusive: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiResponse[ConversationsRepliesSchema]:
        """Call ``conversations.replies``: one page of a thread, oldest first, parent first.

        Args:
            token: the token; header only.
            channel: the conversation id.
            ts: the ts of the thread's parent message.
            oldest, latest, inclusive, limit, cursor, request_options: as for
                :meth:`conversations_history`.

        Returns:
            The page; ``.result.messages``, ``.result.has_more``, ``.result.next_cursor``.
        """
        token = _checked(token, request_options)
        params = replies_params(
            channel,
            ts,
            oldest=oldest,
            latest=latest,
            inclusive=inclusive,
            limit=limit,
            cursor=cursor,
        )
        return self.client._send(
            CONVERSATIONS_REPLIES, token, params, request_options, ConversationsRepliesSchema
        )

    def iter_conversations_replies(
        self,
        token: str,
        channel: str,
        ts: str,
        *,
        oldest: str | None = None,
        latest: str | None = None,
        inclusive: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> Iterator[ApiResponse[ConversationsRepliesSchema]]:
        """Every page of ``conversations.replies``: see :meth:`conversations_replies`.

        Raises:
            slack_rtm.ResponseValidationError: a ``next_cursor`` came back a second time.
        """
        token = _checked(token, request_options)
        params = replies_params(
            channel,
            ts,
            oldest=oldest,
            latest=latest,
            inclusive=inclusive,
            limit=limit,
            cursor=cursor,
        )
        return self._pages(
            CONVERSATIONS_REPLIES, token, params, request_options, ConversationsRepliesSchema
        )

    def users_conversations(
        self,
        token: str,
        *,
        types: str | Iterable[str] | None = None,
        exclude_archived: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        user: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiResponse[UsersConversationsSchema]:
        """Call ``users.conversations``: one page of the conversations a user is in.

        Args:
            token: the token; header only.
            types: ``"public_channel,private_channel,mpim,im"`` or an iterable of those
                (Slack's default: public channels only).
            exclude_archived: leave archived conversations out (sent as ``1``/``0``).
            limit: the page size, 1 to 999.
            cursor: the ``next_cursor`` of the previous page.
            user: another user's id (default: the token's own user).
            request_options: per-call timeout, headers or retry policy.

        Returns:
            The page; ``.result.channels``, ``.result.next_cursor``.
        """
        token = _checked(token, request_options)
        params = users_conversations_params(
            types=types, exclude_archived=exclude_archived, limit=limit, cursor=cursor, user=user
        )
        return self.client._send(
            USERS_CONVERSATIONS, token, params, request_options, UsersConversationsSchema
        )

    def iter_users_conversations(
        self,
        token: str,
        *,
        types: str | Iterable[str] | None = None,
        exclude_archived: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        user: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> Iterator[ApiResponse[UsersConversationsSchema]]:
        """Every page of ``users.conversations``: see :meth:`users_conversations`.

        Raises:
            slack_rtm.ResponseValidationError: a ``next_cursor`` came back a second time.
        """
        token = _checked(token, request_options)
        params = users_conversations_params(
            types=types, exclude_archived=exclude_archived, limit=limit, cursor=cursor, user=user
        )
        return self._pages(
            USERS_CONVERSATIONS, token, params, request_options, UsersConversationsSchema
        )

    def conversations_info(
        self,
        token: str,
        channel: str,
        *,
        include_locale: bool | None = None,
        include_num_members: bool | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiResponse[ConversationsInfoSchema]:
        """Call ``conversations.info``: one conversation's details (``.result.channel``).

        Args:
            token: the token; header only.
            channel: the conversation id.
            include_locale: add the ``locale`` (sent as ``1``/``0``).
            include_num_members: add ``num_members`` (sent as ``1``/``0``).
            request_options: per-call timeout, headers or retry policy.
        """
        token = _checked(token, request_options)
        params = info_params(
            channel, include_locale=include_locale, include_num_members=include_num_members
        )
        return self.client._send(
            CONVERSATIONS_INFO, token, params, request_options, ConversationsInfoSchema
        )

    def api_call(
        self,
        method: str,
        token: str,
        params: Mapping[str, object] | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiResponse[ApiCallSchema]:
        """Call any Web API method; the answer's whole JSON is ``.result.data``.

        Args:
            method: the method name, e.g. ``"chat.postMessage"``.
            token: the token; header only (a ``token`` in ``params`` is refused).
            params: the form: str values as is, bools as ``1``/``0``, numbers in decimal,
                lists and dicts as JSON, None left out.
            request_options: per-call timeout, headers or retry policy.

        Returns:
            The answer; ``.result.ok``, ``.result.data`` (the whole JSON object).
        """
        method = check_method(method)
        token = _checked(token, request_options)
        form = generic_params(params)
        return self.client._send(method, token, form, request_options, ApiCallSchema)

    def _pages(
        self,
        api_method: str,
        token: str,
        params: dict[str, str],
        request_options: RequestOptions | None,
        result_type: type[T],
    ) -> Iterator[ApiResponse[T]]:
        pager = Pager(api_method, params)
        while (form := pager.next_params()) is not None:
            response = self.client._send(api_method, token, form, request_options, result_type)
            yield response
            pager.feed(response)


class AsyncWebApi:
    """The asyncio twin of :class:`WebApi`, over an :class:`~slack_rtm.api.AsyncClient`.

    Same methods, arguments and errors; the calls are coroutines and each ``iter_*`` method
    returns an async iterator (``async for page in api.iter_conversations_history(...)``).
    Cancelling the awaiting task cancels the request in flight cleanly.

    Raises:
        TypeError: ``client`` is not an :class:`~slack_rtm.api.AsyncClient`.
    """

    def __init__(self, client: AsyncClient) -> None:
        if not isinstance(client, AsyncClient):
            hint = " (use WebApi for a Client)" if isinstance(client, Client) else ""
            raise TypeError(
                f"client must be a slack_rtm.api.AsyncClient, got {type(client).__name__}{hint}"
            )
        self.client = client

    def __repr__(self) -> str:
        return f"AsyncWebApi({self.client!r})"

    async def conversations_history(
        self,
        token: str,
        channel: str,
        *,
        oldest: str | None = None,
        latest: str | None = None,
        inclusive: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiResponse[ConversationsHistorySchema]:
        """See :meth:`WebApi.conversations_history`."""
        token = _checked(token, request_options)
        params = history_params(
            channel, oldest=oldest, latest=latest, inclusive=inclusive, limit=limit, cursor=cursor
        )
        return await self.client._send(
            CONVERSATIONS_HISTORY, token, params, request_options, ConversationsHistorySchema
        )

    def iter_conversations_history(
        self,
        token: str,
        channel: str,
        *,
        oldest: str | None = None,
        latest: str | None = None,
        inclusive: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> AsyncIterator[ApiResponse[ConversationsHistorySchema]]:
        """See :meth:`WebApi.iter_conversations_history` (checks the arguments at once)."""
        token = _checked(token, request_options)
        params = history_params(
            channel, oldest=oldest, latest=latest, inclusive=inclusive, limit=limit, cursor=cursor
        )
        return self._pages(
            CONVERSATIONS_HISTORY, token, params, request_options, ConversationsHistorySchema
        )

    async def conversations_replies(
        self,
        token: str,
        channel: str,
        ts: str,
        *,
        oldest: str | None = None,
        latest: str | None = None,
        inclusive: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiResponse[ConversationsRepliesSchema]:
        """See :meth:`WebApi.conversations_replies`."""
        token = _checked(token, request_options)
        params = replies_params(
            channel,
            ts,
            oldest=oldest,
            latest=latest,
            inclusive=inclusive,
            limit=limit,
            cursor=cursor,
        )
        return await self.client._send(
            CONVERSATIONS_REPLIES, token, params, request_options, ConversationsRepliesSchema
        )

    def iter_conversations_replies(
        self,
        token: str,
        channel: str,
        ts: str,
        *,
        oldest: str | None = None,
        latest: str | None = None,
        inclusive: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> AsyncIterator[ApiResponse[ConversationsRepliesSchema]]:
        """See :meth:`WebApi.iter_conversations_replies` (checks the arguments at once)."""
        token = _checked(token, request_options)
        params = replies_params(
            channel,
            ts,
            oldest=oldest,
            latest=latest,
            inclusive=inclusive,
            limit=limit,
            cursor=cursor,
        )
        return self._pages(
            CONVERSATIONS_REPLIES, token, params, request_options, ConversationsRepliesSchema
        )

    async def users_conversations(
        self,
        token: str,
        *,
        types: str | Iterable[str] | None = None,
        exclude_archived: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        user: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiResponse[UsersConversationsSchema]:
        """See :meth:`WebApi.users_conversations`."""
        token = _checked(token, request_options)
        params = users_conversations_params(
            types=types, exclude_archived=exclude_archived, limit=limit, cursor=cursor, user=user
        )
        return await self.client._send(
            USERS_CONVERSATIONS, token, params, request_options, UsersConversationsSchema
        )

    def iter_users_conversations(
        self,
        token: str,
        *,
        types: str | Iterable[str] | None = None,
        exclude_archived: bool | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        user: str | None = None,
        request_options: RequestOptions | None = None,
    ) -> AsyncIterator[ApiResponse[UsersConversationsSchema]]:
        """See :meth:`WebApi.iter_users_conversations` (checks the arguments at once)."""
        token = _checked(token, request_options)
        params = users_conversations_params(
            types=types, exclude_archived=exclude_archived, limit=limit, cursor=cursor, user=user
        )
        return self._pages(
            USERS_CONVERSATIONS, token, params, request_options, UsersConversationsSchema
        )

    async def conversations_info(
        self,
        token: str,
        channel: str,
        *,
        include_locale: bool | None = None,
        include_num_members: bool | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiResponse[ConversationsInfoSchema]:
        """See :meth:`WebApi.conversations_info`."""
        token = _checked(token, request_options)
        params = info_params(
            channel, include_locale=include_locale, include_num_members=include_num_members
        )
        return await self.client._send(
            CONVERSATIONS_INFO, token, params, request_options, ConversationsInfoSchema
        )

    async def api_call(
        self,
        method: str,
        token: str,
        params: Mapping[str, object] | None = None,
        request_options: RequestOptions | None = None,
    ) -> ApiResponse[ApiCallSchema]:
        """See :meth:`WebApi.api_call`."""
        method = check_method(method)
        token = _checked(token, request_options)
        form = generic_params(params)
        return await self.client._send(method, token, form, request_options, ApiCallSchema)

    async def _pages(
        self,
        api_method: str,
        token: str,
        params: dict[str, str],
        request_options: RequestOptions | None,
        result_type: type[T],
    ) -> AsyncIterator[ApiResponse[T]]:
        pager = Pager(api_method, params)
        while (form := pager.next_params()) is not None:
            response = await self.client._send(
                api_method, token, form, request_options, result_type
            )
            yield response
            pager.feed(response)
