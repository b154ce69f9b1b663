"""Typed events about channels, private groups and DMs, and the items in them.

Membership and channel lifecycle (``member_joined_channel``, ``channel_created``, ``im_open``...)
and items (``reaction_added``, ``pin_added``, ``star_added``, ``file_shared``...). See
:mod:`slack_rtm.session.event_types` for the conventions shared by every event.
"""

from __future__ import annotations

from typing import Any, ClassVar

from slack_rtm.session.event_types import WireEvent, _Model

__all__ = [
    "ChannelArchive",
    "ChannelCreated",
    "ChannelDeleted",
    "ChannelHistoryChanged",
    "ChannelInfo",
    "ChannelJoined",
    "ChannelLeft",
    "ChannelMarked",
    "ChannelRename",
    "ChannelUnarchive",
    "FileChange",
    "FileCreated",
    "FileDeleted",
    "FilePublic",
    "FileShared",
    "GroupArchive",
    "GroupClose",
    "GroupJoined",
    "GroupLeft",
    "GroupOpen",
    "GroupRename",
    "GroupUnarchive",
    "ImClose",
    "ImCreated",
    "ImOpen",
    "MemberJoinedChannel",
    "MemberLeftChannel",
    "MpimJoined",
    "PinAdded",
    "PinRemoved",
    "ReactionAdded",
    "ReactionItem",
    "ReactionRemoved",
    "StarAdded",
    "StarRemoved",
]


# --- nested objects -----------------------------------------------------------------------------


class ChannelInfo(_Model, frozen=True):
    """A channel as a full object (``channel_created``, ``channel_joined``, ``im_created``...)."""

    id: str | None = None
    name: str | None = None
    created: int | None = None
    creator: str | None = None
    user: str | None = None
    is_channel: bool = False
    is_group: bool = False
    is_im: bool = False
    is_mpim: bool = False
    is_private: bool = False
    is_archived: bool = False
    is_member: bool = False
    is_open: bool = False


class ReactionItem(_Model, frozen=True):
    """What a reaction is on: a message (``channel`` + ``ts``), a file or a file comment."""

    type: str | None = None
    channel: str | None = None
    ts: str | None = None
    file: str | None = None
    file_comment: str | None = None


# --- connection ---------------------------------------------------------------------------------


# --- channels, groups, DMs ----------------------------------------------------------------------


class MemberJoinedChannel(WireEvent, frozen=True, tag="member_joined_channel"):
    """``user`` joined ``channel`` (``channel_type`` ``C`` public, ``G`` private)."""

    type: ClassVar[str] = "member_joined_channel"
    user: str | None = None
    channel: str | None = None
    channel_type: str | None = None
    team: str | None = None
    inviter: str | None = None
    event_ts: str | None = None


class MemberLeftChannel(WireEvent, frozen=True, tag="member_left_channel"):
    """``user`` left ``channel``."""

    type: ClassVar[str] = "member_left_channel"
    user: str | None = None
    channel: str | None = None
    channel_type: str | None = None
    team: str | None = None
    event_ts: str | None = None


class _ChannelObject(WireEvent, frozen=True):
    # Events whose ``channel`` is a full object (PROTOCOL §4.1).
    channel: ChannelInfo | None = None
    channel_id: str | None = None
    user: str | None = None
    event_ts: str | None = None


class ChannelCreated(_ChannelObject, frozen=True, tag="channel_created"):
    """A public channel was created; ``channel`` is an object."""

    type: ClassVar[str] = "channel_created"


class ChannelJoined(_ChannelObject, frozen=True, tag="channel_joined"):
    """You joined a channel; ``channel`` is an object."""

    type: ClassVar[str] = "channel_joined"


class ChannelRename(_ChannelObject, frozen=True, tag="channel_rename"):
    """A channel was renamed; ``channel`` is an object with the new name."""

    type: ClassVar[str] = "channel_rename"


class GroupJoined(_ChannelObject, frozen=True, tag="group_joined"):
    """You joined a private channel; ``channel`` is an object."""

    type: ClassVar[str] = "group_joined"


class GroupRename(_ChannelObject, frozen=True, tag="group_rename"):
    """A private channel was renamed; ``channel`` is an object."""

    type: ClassVar[str] = "group_rename"


class MpimJoined(_ChannelObject, frozen=True, tag="mpim_joined"):
    """You joined a multi-person DM; ``channel`` is an object."""

    type: ClassVar[str] = "mpim_joined"


class ImCreated(_ChannelObject, frozen=True, tag="im_created"):
    """A DM was opened with ``user``; ``channel`` is an object."""

    type: ClassVar[str] = "im_created"


class _ChannelId(WireEvent, frozen=True):
    # Events whose ``channel`` is an id string.
    channel: str | None = None
    user: str | None = None
    ts: str | None = None
    event_ts: str | None = None


class ChannelLeft(_ChannelId, frozen=True, tag="channel_left"):
    """You left ``channel``."""

    type: ClassVar[str] = "channel_left"


class ChannelDeleted(_ChannelId, frozen=True, tag="channel_deleted"):
    """``channel`` was deleted."""

    type: ClassVar[str] = "channel_deleted"


class ChannelArchive(_ChannelId, frozen=True, tag="channel_archive"):
    """``channel`` was archived by ``user``."""

    type: ClassVar[str] = "channel_archive"


class ChannelUnarchive(_ChannelId, frozen=True, tag="channel_unarchive"):
    """``channel`` was unarchived by ``user``."""

    type: ClassVar[str] = "channel_unarchive"


class ChannelMarked(_ChannelId, frozen=True, tag="channel_marked"):
    """Your read cursor in ``channel`` moved to ``ts``."""

    type: ClassVar[str] = "channel_marked"


class ChannelHistoryChanged(_ChannelId, frozen=True, tag="channel_history_changed"):
    """Bulk changes to ``channel``'s history: reload it."""

    type: ClassVar[str] = "channel_history_changed"
    latest: str | None = None


class GroupLeft(_ChannelId, frozen=True, tag="group_left"):
    """You left a private channel."""

    type: ClassVar[str] = "group_left"


class GroupOpen(_ChannelId, frozen=True, tag="group_open"):
    """You opened a private channel."""

    type: ClassVar[str] = "group_open"


class GroupClose(_ChannelId, frozen=True, tag="group_close"):
    """You closed a private channel."""

    type: ClassVar[str] = "group_close"


class GroupArchive(_ChannelId, frozen=True, tag="group_archive"):
    """A private channel was archived."""

    type: ClassVar[str] = "group_archive"


class GroupUnarchive(_ChannelId, frozen=True, tag="group_unarchive"):
    """A private channel was unarchived."""

    type: ClassVar[str] = "group_unarchive"


class ImOpen(_ChannelId, frozen=True, tag="im_open"):
    """You opened a DM with ``user``."""

    type: ClassVar[str] = "im_open"


class ImClose(_ChannelId, frozen=True, tag="im_close"):
    """You closed a DM with ``user``."""

    type: ClassVar[str] = "im_close"


# --- items: reactions, pins, stars, files -------------------------------------------------------


class _Reaction(WireEvent, frozen=True):
    user: str | None = None
    reaction: str | None = None
    item: ReactionItem | None = None
    item_user: str | None = None
    event_ts: str | None = None
    ts: str | None = None


class ReactionAdded(_Reaction, frozen=True, tag="reaction_added"):
    """``user`` reacted with ``reaction`` (emoji name, no colons) to ``item``."""

    type: ClassVar[str] = "reaction_added"


class ReactionRemoved(_Reaction, frozen=True, tag="reaction_removed"):
    """``user`` removed ``reaction`` from ``item``."""

    type: ClassVar[str] = "reaction_removed"


class _PinOrStar(WireEvent, frozen=True):
    # ``item`` varies with what is pinned or starred (message, file, ...): kept as a dict.
    user: str | None = None
    channel_id: str | None = None
    item: dict[str, Any] | None = None
    event_ts: str | None = None


class PinAdded(_PinOrStar, frozen=True, tag="pin_added"):
    """``user`` pinned ``item`` in ``channel_id``."""

    type: ClassVar[str] = "pin_added"


class PinRemoved(_PinOrStar, frozen=True, tag="pin_removed"):
    """``user`` unpinned ``item`` in ``channel_id``."""

    type: ClassVar[str] = "pin_removed"


class StarAdded(_PinOrStar, frozen=True, tag="star_added"):
    """``user`` starred ``item``."""

    type: ClassVar[str] = "star_added"


class StarRemoved(_PinOrStar, frozen=True, tag="star_removed"):
    """``user`` un-starred ``item``."""

    type: ClassVar[str] = "star_removed"


class _FileEvent(WireEvent, frozen=True):
    # ``file`` is an object (at least ``{"id": ...}``); some payloads also carry ``file_id``.
    file_id: str | None = None
    file: dict[str, Any] | None = None
    user_id: str | None = None
    channel_id: str | None = None
    event_ts: str | None = None


class FileCreated(_FileEvent, frozen=True, tag="file_created"):
    """A file was created."""

    type: ClassVar[str] = "file_created"


class FileShared(_FileEvent, frozen=True, tag="file_shared"):
    """A file was shared."""

    type: ClassVar[str] = "file_shared"


class FilePublic(_FileEvent, frozen=True, tag="file_public"):
    """A file was made public."""

    type: ClassVar[str] = "file_public"


class FileChange(_FileEvent, frozen=True, tag="file_change"):
    """A file was changed."""

    type: ClassVar[str] = "file_change"


class FileDeleted(_FileEvent, frozen=True, tag="file_deleted"):
    """A file was deleted."""

    type: ClassVar[str] = "file_deleted"
