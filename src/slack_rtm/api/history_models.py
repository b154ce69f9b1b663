"""Typed, frozen records for the history methods and the generic call (PROTOCOL.md §8).

Like :mod:`slack_rtm.api.models`: unknown keys are skipped while decoding and stay reachable as
``.raw``, every field Slack may omit has a default, ids and timestamps stay strings. Each
:class:`HistoryMessage` and :class:`Conversation` keeps its own JSON object too, so a field this
library does not model (``blocks``, ``files``, ``reactions``, ...) is one ``.raw[...]`` away.
"""

from __future__ import annotations

from typing import Any

from slack_rtm.api.models import ResponseMetadata, _Body, _Raw, keep_raw_items

__all__ = [
    "ApiCallSchema",
    "Conversation",
    "ConversationsHistorySchema",
    "ConversationsInfoSchema",
    "ConversationsRepliesSchema",
    "HistoryMessage",
    "UsersConversationsSchema",
]


def _cursor(metadata: ResponseMetadata | None) -> str:
    if metadata is None or metadata.next_cursor is None:
        return ""
    return metadata.next_cursor


class HistoryMessage(_Raw, frozen=True, dict=True, omit_defaults=True):
    """One message of ``conversations.history`` or ``conversations.replies``.

    The shape of the ``message`` event, without ``channel`` (it is the one asked for) and
    without a guarantee that ``type`` is there.

    Attributes:
        ts: the message's timestamp, its id within the channel, e.g. ``"1355517523.000005"``.
        type: ``"message"`` when Slack says so.
        subtype: e.g. ``"bot_message"``, ``"channel_join"``; None for a plain user message.
        user: the author's user id (None for some bot and system messages).
        bot_id: the bot's id for a bot message.
        text: the text ("" when absent).
        thread_ts: the thread's parent ts, on a parent and on its replies.
        reply_count: the number of replies, on a thread's parent.
        latest_reply: the ts of the thread's latest reply, on a thread's parent.
        raw: the whole JSON object of the message (a property).
    """

    ts: str
    type: str | None = None
    subtype: str | None = None
    user: str | None = None
    bot_id: str | None = None
    text: str = ""
    thread_ts: str | None = None
    reply_count: int | None = None
    latest_reply: str | None = None


class Conversation(_Raw, frozen=True, dict=True, omit_defaults=True):
    """A conversation as ``users.conversations`` and ``conversations.info`` describe it.

    The ``is_*`` flags are None when Slack leaves them out (an IM has no ``is_member``, say).

    Attributes:
        id: the conversation id: ``C...`` channel, ``G...`` private channel or group DM,
            ``D...`` direct message.
        name: the channel's name without ``#`` (None for a direct message).
        is_channel: a public channel.
        is_group: a private channel (legacy name).
        is_im: a direct message.
        is_mpim: a group direct message.
        is_private: a private channel or a group direct message.
        is_member: the token's user or bot is in it.
        is_archived: archived.
        user: for a direct message, the other user's id.
        num_members: the member count, when asked for (``conversations.info``).
        raw: the whole JSON object of the conversation (a property).
    """

    id: str
    name: str | None = None
    is_channel: bool | None = None
    is_group: bool | None = None
    is_im: bool | None = None
    is_mpim: bool | None = None
    is_private: bool | None = None
    is_member: bool | None = None
    is_archived: bool | None = None
    user: str | None = None
    num_members: int | None = None


class _MessagePage(_Body, frozen=True, dict=True, omit_defaults=True):
    """What a page of ``conversations.history`` and of ``conversations.replies`` share."""

    ok: bool
    messages: tuple[HistoryMessage, ...] = ()
    has_more: bool = False
    warning: str | None = None
    response_metadata: ResponseMetadata | None = None

    @property
    def next_cursor(self) -> str:
        """The cursor of the next page, or ``""`` when this is the last one."""
        return _cursor(self.response_metadata)

    def _keep_nested_raw(self, raw: dict[str, Any]) -> None:
        keep_raw_items(self.messages, raw.get("messages"))


class ConversationsHistorySchema(_MessagePage, frozen=True, dict=True, omit_defaults=True):
    """A successful ``conversations.history`` answer: one page of messages, **newest first**.

    Attributes:
        ok: always True for this schema.
        messages: the page's messages, newest first (thread replies only when also sent to
            the channel).
        has_more: True when older messages remain within the range asked for.
        warning: Slack's comma-separated ``warning`` string, if any.
        response_metadata: Slack's ``response_metadata``: ``next_cursor`` for the next page.
        pin_count: the number of pinned items, when Slack sends it.
    """

    pin_count: int | None = None


class ConversationsRepliesSchema(_MessagePage, frozen=True, dict=True, omit_defaults=True):
    """A successful ``conversations.replies`` answer: a thread's messages, **oldest first**.

    The first page starts with the parent message. Same attributes as
    :class:`ConversationsHistorySchema` but ``pin_count``.
    """


class UsersConversationsSchema(_Body, frozen=True, dict=True, omit_defaults=True):
    """A successful ``users.conversations`` answer: one page of the conversations of a user.

    Attributes:
        ok: always True for this schema.
        channels: the page's conversations.
        warning: Slack's comma-separated ``warning`` string, if any.
        response_metadata: Slack's ``response_metadata``: ``next_cursor`` for the next page.
    """

    ok: bool
    channels: tuple[Conversation, ...] = ()
    warning: str | None = None
    response_metadata: ResponseMetadata | None = None

    @property
    def next_cursor(self) -> str:
        """The cursor of the next page, or ``""`` when this is the last one."""
        return _cursor(self.response_metadata)

    def _keep_nested_raw(self, raw: dict[str, Any]) -> None:
        keep_raw_items(self.channels, raw.get("channels"))


class ConversationsInfoSchema(_Body, frozen=True, dict=True, omit_defaults=True):
    """A successful ``conversations.info`` answer.

    Attributes:
        ok: always True for this schema.
        channel: the conversation.
        warning: Slack's comma-separated ``warning`` string, if any.
        response_metadata: Slack's ``response_metadata``, if any.
    """

    ok: bool
    channel: Conversation
    warning: str | None = None
    response_metadata: ResponseMetadata | None = None

    def _keep_nested_raw(self, raw: dict[str, Any]) -> None:
        keep_raw_items((self.channel,), [raw.get("channel")])


class ApiCallSchema(_Body, frozen=True, dict=True, omit_defaults=True):
    """A successful answer of any method through ``api_call``: the whole JSON object kept.

    Read the method's fields from :attr:`data` (the same object as ``.raw``), e.g.
    ``response.result.data["channel"]["name"]``. The repr shows the top-level keys only: a
    generic answer may carry credentials (the ``url`` of ``rtm.connect``, say).

    Attributes:
        ok: always True for this schema.
        warning: Slack's comma-separated ``warning`` string, if any.
        response_metadata: Slack's ``response_metadata`` (``next_cursor`` for paginated
            methods), if any.
    """

    ok: bool
    warning: str | None = None
    response_metadata: ResponseMetadata | None = None

    @property
    def data(self) -> dict[str, Any]:
        """The whole decoded JSON object (``ok`` included); treat it as read-only."""
        return self.raw

    @property
    def next_cursor(self) -> str:
        """The cursor of the next page, or ``""`` when there is none."""
        return _cursor(self.response_metadata)

    def __repr__(self) -> str:
        return f"ApiCallSchema(ok={self.ok!r}, keys={sorted(self.raw)!r})"
