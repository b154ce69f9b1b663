"""The emulated workspace: one team, its users (people and bots), channels and membership.

The records (:class:`Team`, :class:`User`, :class:`Channel`) are frozen; the mutable parts
(membership, presence) live in :class:`Workspace`, which validates every argument and raises
``ValueError`` naming it when an id is unknown. :meth:`Workspace.default` builds the workspace an
``Emulator()`` starts with: a bot, three people, two public channels, a private channel and a DM.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable
from typing import Literal

import msgspec

from slack_rtm.redact import redact_token

__all__ = ["Channel", "ChannelKind", "Presence", "Team", "User", "Workspace"]

ChannelKind = Literal["public", "private", "im"]
Presence = Literal["active", "away"]

_ALNUM = string.ascii_uppercase + string.digits


class Team(msgspec.Struct, frozen=True):
    """The workspace's team: ``id`` (``T...``), display ``name`` and ``domain``."""

    id: str
    name: str
    domain: str


class User(msgspec.Struct, frozen=True):
    """A member of the workspace, person or bot, with the token it connects with.

    People get user tokens (``xoxp-``); bots get bot tokens (``xoxb-``) and a ``bot_id``.
    """

    id: str
    name: str
    token: str
    is_bot: bool = False
    bot_id: str | None = None
    real_name: str = ""

    def __repr__(self) -> str:
        # Even fake tokens stay out of reprs (they end up in test failure output and logs).
        return (
            f"User(id={self.id!r}, name={self.name!r}, token={redact_token(self.token)!r}, "
            f"is_bot={self.is_bot!r}, bot_id={self.bot_id!r})"
        )


class Channel(msgspec.Struct, frozen=True):
    """A conversation: a public channel (``C...``), a private one (``G...``) or a DM (``D...``)."""

    id: str
    name: str
    kind: ChannelKind = "public"


def _fake_token(prefix: str) -> str:
    digits = "".join(secrets.choice(string.digits) for _ in range(12))
    more = "".join(secrets.choice(string.digits) for _ in range(13))
    tail = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24))
    return f"{prefix}-{digits}-{more}-{tail}"


def _fake_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(10))


class Workspace:
    """A team with users, channels and membership; every user has its own token.

    Args:
        team_name: the team's display name.
        domain: the team's domain (``<domain>.slack.com``).
    """

    def __init__(self, team_name: str = "Emulated Team", domain: str = "emulated") -> None:
        if not isinstance(team_name, str) or not team_name:
            raise TypeError("team_name must be a non-empty str")
        if not isinstance(domain, str) or not domain:
            raise TypeError("domain must be a non-empty str")
        self.team = Team(id=_fake_id("T"), name=team_name, domain=domain)
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.presence: dict[str, Presence] = {}
        self._members: dict[str, set[str]] = {}
        self._by_token: dict[str, User] = {}

    @classmethod
    def default(cls) -> Workspace:
        """The default workspace: bot ``rtmbot``; people ``alice``, ``bob``, ``carol``.

        Channels: ``#general`` and ``#random`` (everyone), private ``#secret`` (bot and alice),
        and a DM between the bot and alice.
        """
        ws = cls()
        bot = ws.add_user("rtmbot", bot=True, real_name="RTM Bot")
        people = [ws.add_user(n, real_name=n.title()) for n in ("alice", "bob", "carol")]
        everyone = [bot.id, *(p.id for p in people)]
        ws.add_channel("general", everyone)
        ws.add_channel("random", everyone)
        ws.add_channel("secret", [bot.id, people[0].id], private=True)
        ws.open_dm(bot.id, people[0].id)
        return ws

    # -- users -------------------------------------------------------------------------------

    def add_user(self, name: str, *, bot: bool = False, real_name: str = "") -> User:
        """Add a person (user token) or a bot (bot token and ``bot_id``); returns it."""
        if not isinstance(name, str) or not name:
            raise TypeError("name must be a non-empty str")
        user = User(
            id=_fake_id("U"),
            name=name,
            token=_fake_token("xoxb" if bot else "xoxp"),
            is_bot=bot,
            bot_id=_fake_id("B") if bot else None,
            real_name=real_name or name,
        )
        self.users[user.id] = user
        self.presence[user.id] = "active"
        self._by_token[user.token] = user
        return user

    def user(self, user_id: str) -> User:
        """The user with this id; raises ``ValueError`` naming ``user_id`` if unknown."""
        user = self.users.get(user_id) if isinstance(user_id, str) else None
        if user is None:
            raise ValueError(f"user_id: no such user {user_id!r}")
        return user

    def user_by_token(self, token: str) -> User | None:
        """The user a token belongs to, or ``None``."""
        return self._by_token.get(token)

    @property
    def bots(self) -> list[User]:
        """Every bot user, in creation order."""
        return [u for u in self.users.values() if u.is_bot]

    @property
    def people(self) -> list[User]:
        """Every person (non-bot user), in creation order."""
        return [u for u in self.users.values() if not u.is_bot]

    def set_presence(self, user_id: str, presence: Presence) -> None:
        """Record a user's presence (``"active"`` or ``"away"``)."""
        self.user(user_id)
        if presence not in ("active", "away"):
            raise ValueError("presence must be 'active' or 'away'")
        self.presence[user_id] = presence

    # -- channels ----------------------------------------------------------------------------

    def add_channel(
        self, name: str, members: Iterable[str] = (), *, private: bool = False
    ) -> Channel:
        """Add a public (or ``private``) channel with these member ids; returns it."""
        if not isinstance(name, str) or not name:
            raise TypeError("name must be a non-empty str")
        ids = list(members)
        for uid in ids:
            self.user(uid)
        channel = Channel(
            _fake_id("G" if private else "C"), name, "private" if private else "public"
        )
        self.channels[channel.id] = channel
        self._members[channel.id] = set(ids)
        return channel

    def open_dm(self, user_a: str, user_b: str) -> Channel:
        """The DM channel between two users, created if needed."""
        name = f"{self.user(user_a).name}-{self.user(user_b).name}"
        pair = {user_a, user_b}
        for cid, ch in self.channels.items():
            if ch.kind == "im" and self._members[cid] == pair:
                return ch
        channel = Channel(_fake_id("D"), name, "im")
        self.channels[channel.id] = channel
        self._members[channel.id] = pair
        return channel

    def channel(self, channel_id: str) -> Channel:
        """The channel with this id; raises ``ValueError`` naming ``channel_id`` if unknown."""
        ch = self.channels.get(channel_id) if isinstance(channel_id, str) else None
        if ch is None:
            raise ValueError(f"channel_id: no such channel {channel_id!r}")
        return ch

    def channel_by_name(self, name: str) -> Channel:
        """The first channel with this name; raises ``ValueError`` if none."""
        for ch in self.channels.values():
            if ch.name == name:
                return ch
        raise ValueError(f"name: no channel named {name!r}")

    def members(self, channel_id: str) -> frozenset[str]:
        """The member ids of a channel."""
        self.channel(channel_id)
        return frozenset(self._members[channel_id])

    def is_member(self, channel_id: str, user_id: str) -> bool:
        """Whether ``user_id`` belongs to ``channel_id`` (False for unknown channels)."""
        return user_id in self._members.get(channel_id, ())

    def join(self, channel_id: str, user_id: str) -> None:
        """Add a user to a public or private channel."""
        if self.channel(channel_id).kind == "im":
            raise ValueError("channel_id: cannot join a DM")
        self.user(user_id)
        self._members[channel_id].add(user_id)

    def leave(self, channel_id: str, user_id: str) -> None:
        """Remove a user from a public or private channel (no-op if not a member)."""
        if self.channel(channel_id).kind == "im":
            raise ValueError("channel_id: cannot leave a DM")
        self.user(user_id)
        self._members[channel_id].discard(user_id)

    def to_dict(self, *, include_tokens: bool = True) -> dict[str, object]:
        """A JSON-ready snapshot (used by the HTTP control API)."""
        users = []
        for u in self.users.values():
            d: dict[str, object] = msgspec.to_builtins(u)
            if not include_tokens:
                d.pop("token")
            d["presence"] = self.presence[u.id]
            users.append(d)
        channels = []
        for c in self.channels.values():
            cd: dict[str, object] = msgspec.to_builtins(c)
            cd["members"] = sorted(self._members[c.id])
            channels.append(cd)
        return {"team": msgspec.to_builtins(self.team), "users": users, "channels": channels}
