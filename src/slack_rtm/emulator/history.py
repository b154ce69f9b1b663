"""The emulator's message history: a bounded store per conversation, and its pure queries.

:class:`HistoryStore` keeps every ``message`` event the emulator produced (posted by a person,
sent by a client over its socket, or injected), as Slack's history methods show it (PROTOCOL
§8): the event without ``channel`` and ``event_ts``, ``"type"`` no longer its first key. Thread
replies (``thread_ts`` other than ``ts``) are kept under their parent, which carries Slack's
thread fields (``thread_ts``, ``reply_count``, ``reply_users``, ``reply_users_count``,
``latest_reply``); replies are not in :meth:`HistoryStore.history`, only in
:meth:`HistoryStore.replies`. A ``message_changed`` event edits the stored message and a
``message_deleted`` one removes it; other hidden messages are not stored.

Choices where Slack documents nothing (uncertain):

- a reply whose parent is unknown (never stored, or already dropped) is kept as a top-level
  message, with its ``thread_ts``;
- ``replies`` accepts the ``ts`` of a reply too, and answers its whole thread;
- the parent comes first on the first page of ``replies`` only, and counts towards ``limit``
  (``limit=1`` answers just the parent, with ``has_more`` if the thread has replies);
- ``history`` is always newest first and pages towards older messages, ``oldest`` or not.

Cursors are opaque: base64 of a position plus an HMAC over the query (channel, thread, oldest,
latest, inclusive) under a secret of this store, so a cursor this store did not issue, or one
for another query, is refused with ``invalid_cursor``. A position is a ``ts`` bound (below the
last message handed out for ``history``, past it for ``replies``), not an offset, so pages stay
stable while new messages arrive.

The store is bounded: at most ``limit`` messages (replies included) per conversation; the oldest
top-level message goes first, with its thread. The firehose benchmark's pre-encoded messages
bypass it (they are not recorded), so the store costs the firehose nothing.

No I/O and no clock: everything here is tested without sockets.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from bisect import bisect_left
from collections.abc import Mapping
from typing import Any, Final

import msgspec

__all__ = [
    "DEFAULT_PAGE",
    "HISTORY_LIMIT",
    "CursorCodec",
    "HistoryError",
    "HistoryStore",
    "Page",
    "history_message",
    "ts_key",
]

#: Messages kept per conversation unless the store is given another limit.
HISTORY_LIMIT: Final = 10_000
#: Messages per page when the caller gives no ``limit``.
DEFAULT_PAGE: Final = 100

_MAX_TS_LEN = 32
_MAX_CURSOR_LEN = 512
_THREAD_KEYS: Final = ("thread_ts", "reply_count", "reply_users_count", "latest_reply",
                       "reply_users")  # fmt: skip
_DROPPED: Final = frozenset({"type", "channel", "event_ts"})
_GONE: Final[dict[str, Any]] = {}


class HistoryError(Exception):
    """A query the store refuses; ``code`` is the Slack error code to answer with.

    Codes: ``invalid_cursor``, ``thread_not_found``, ``invalid_ts_oldest``,
    ``invalid_ts_latest``.
    """

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Page(msgspec.Struct, frozen=True, kw_only=True):
    """One page of messages.

    Attributes:
        messages: copies of the stored messages, in the method's order.
        has_more: whether more messages match the query beyond this page.
        next_cursor: the cursor of the next page, ``""`` when there is none.
    """

    messages: list[dict[str, Any]]
    has_more: bool = False
    next_cursor: str = ""


def ts_key(ts: object) -> int | None:
    """A Slack timestamp (``"1355517523.000005"``, ``"0"``, ``"1700000000.5"``) as whole
    microseconds, for ordering; ``None`` if it is not one (not a str, a sign, more than six
    decimals, ...)."""
    if not isinstance(ts, str) or not ts or len(ts) > _MAX_TS_LEN or not ts.isascii():
        return None
    whole, dot, frac = ts.partition(".")
    if not whole.isdigit():
        return None
    if not dot:
        return int(whole) * 1_000_000
    if not frac.isdigit() or len(frac) > 6:
        return None
    return int(whole) * 1_000_000 + int(frac.ljust(6, "0"))


def history_message(event: Mapping[str, Any]) -> dict[str, Any]:
    """The message as history shows it: the event without ``channel`` and ``event_ts``, with
    ``"type"`` moved after the first key (history keeps no key order promise)."""
    out: dict[str, Any] = {}
    for key, value in event.items():
        if key not in _DROPPED:
            out[key] = value
            if len(out) == 1:
                out["type"] = event.get("type", "message")
    if not out:
        out["type"] = event.get("type", "message")
    return out


class CursorCodec:
    """Opaque, tamper-evident pagination cursors bound to one query.

    Args:
        secret: the HMAC key (random when omitted; cursors of another codec are refused).
    """

    def __init__(self, secret: bytes | None = None) -> None:
        if secret is not None and not isinstance(secret, bytes):
            raise TypeError("secret must be bytes or None")
        self._secret = secret if secret is not None else secrets.token_bytes(16)

    def _mac(self, scope: str, position: int) -> str:
        msg = f"{scope}\x00{position}".encode()
        return hmac.new(self._secret, msg, "sha256").hexdigest()[:20]

    def encode(self, scope: str, position: int) -> str:
        """The cursor for ``position`` (an int) within the query ``scope``."""
        raw = f"next_ts:{position}:{self._mac(scope, position)}"
        return base64.urlsafe_b64encode(raw.encode()).decode()

    def decode(self, cursor: str, scope: str) -> int:
        """The position a cursor of :meth:`encode` holds.

        Raises:
            HistoryError: ``invalid_cursor``: not one of ours, altered, or for another scope.
        """
        if not isinstance(cursor, str) or len(cursor) > _MAX_CURSOR_LEN:
            raise HistoryError("invalid_cursor")
        try:
            raw = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
        except (binascii.Error, UnicodeError, ValueError):
            raise HistoryError("invalid_cursor") from None
        prefix, _, rest = raw.partition(":")
        position, _, mac = rest.partition(":")
        if prefix != "next_ts" or not position.isdigit() or len(position) > _MAX_TS_LEN:
            raise HistoryError("invalid_cursor")
        if not hmac.compare_digest(mac, self._mac(scope, int(position))):
            raise HistoryError("invalid_cursor")
        return int(position)


class _Timeline:
    """Messages sorted by ``ts``: parallel lists of keys and messages.

    Indices are absolute; the live entries are ``[head:]``. Dropping the oldest entry (the
    store's trimming, once per message when full) only moves ``head``; the dead prefix is cut
    off once it is as long as the rest, so trimming costs O(1) amortized, not a list shift.
    """

    __slots__ = ("head", "items", "keys")

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.items: list[dict[str, Any]] = []
        self.head = 0

    def __len__(self) -> int:
        return len(self.keys) - self.head

    def live(self) -> list[dict[str, Any]]:
        """The live messages, oldest first."""
        return self.items[self.head :]

    def add(self, key: int, item: dict[str, Any]) -> dict[str, Any] | None:
        """Insert (or replace the message with the same ``ts``); returns the replaced one."""
        keys = self.keys
        if len(keys) == self.head or key > keys[-1]:  # the usual case: newer than everything
            keys.append(key)
            self.items.append(item)
            return None
        i = bisect_left(keys, key, self.head)
        if i < len(keys) and keys[i] == key:
            old = self.items[i]
            self.items[i] = item
            return old
        keys.insert(i, key)
        self.items.insert(i, item)
        return None

    def index(self, key: int) -> int | None:
        i = bisect_left(self.keys, key, self.head)
        return i if i < len(self.keys) and self.keys[i] == key else None

    def pop(self, i: int) -> dict[str, Any]:
        if i != self.head:
            del self.keys[i]
            return self.items.pop(i)
        item = self.items[i]
        self.items[i] = _GONE  # let the message go now; its slot goes at the next cut
        self.head += 1
        if self.head >= 64 and self.head * 2 >= len(self.keys):
            del self.keys[: self.head]
            del self.items[: self.head]
            self.head = 0
        return item

    def span(self, lo: int, hi: int) -> tuple[int, int]:
        """Indices ``i, j``: ``keys[i:j]`` are the live keys with ``lo <= key < hi``."""
        i = bisect_left(self.keys, lo, self.head)
        return i, max(i, bisect_left(self.keys, hi, i))


class _Conversation:
    __slots__ = ("count", "reply_parent", "threads", "top")

    def __init__(self) -> None:
        self.top = _Timeline()
        self.threads: dict[int, _Timeline] = {}  # parent key -> its replies
        self.reply_parent: dict[int, int] = {}  # reply key -> parent key
        self.count = 0  # messages held, replies included


class HistoryStore:
    """Every conversation's messages and threads, bounded, with Slack's paginated queries.

    Args:
        limit: messages kept per conversation, replies included (>= 1); the oldest top-level
            message is dropped first, with its thread.
        secret: the cursor HMAC key (random when omitted).

    Raises:
        ValueError: ``limit`` is not an int >= 1.
    """

    def __init__(self, limit: int = HISTORY_LIMIT, *, secret: bytes | None = None) -> None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError("limit must be an int >= 1")
        self.limit = limit
        self.cursors = CursorCodec(secret)
        self._convs: dict[str, _Conversation] = {}

    def __repr__(self) -> str:
        return f"<HistoryStore conversations={len(self._convs)} limit={self.limit}>"

    # -- recording ---------------------------------------------------------------------------

    def record(self, event: Mapping[str, Any]) -> bool:
        """Store a ``message`` event (its ``channel`` says where); returns whether it changed
        the store. Events without a str ``channel`` or a valid ``ts`` are ignored, as are
        hidden messages other than ``message_changed``/``message_deleted``, which edit or remove
        the message they name."""
        if not isinstance(event, Mapping) or event.get("type") != "message":
            return False
        channel = event.get("channel")
        if not isinstance(channel, str):
            return False
        subtype = event.get("subtype")
        if subtype == "message_changed":
            return self._change(channel, event.get("message"))
        if subtype == "message_deleted":
            return self._delete(channel, ts_key(event.get("deleted_ts")))
        if event.get("hidden") is True:
            return False
        key = ts_key(event.get("ts"))
        if key is None:
            return False
        conv = self._convs.get(channel)
        if conv is None:
            conv = self._convs[channel] = _Conversation()
        message = history_message(event)
        parent_key = ts_key(event.get("thread_ts"))
        if parent_key is not None and parent_key != key:
            parent = conv.top.index(parent_key)
            if parent is not None:
                self._add_reply(conv, parent_key, conv.top.items[parent], key, message)
                self._trim(conv)
                return True
        old = conv.top.add(key, message)
        if old is None:
            conv.count += 1
        else:
            _keep_thread_fields(old, message)
        self._trim(conv)
        return True

    def _add_reply(
        self,
        conv: _Conversation,
        parent_key: int,
        parent: dict[str, Any],
        key: int,
        message: dict[str, Any],
    ) -> None:
        if "parent_user_id" not in message and isinstance(parent.get("user"), str):
            message["parent_user_id"] = parent["user"]
        thread = conv.threads.get(parent_key)
        if thread is None:
            thread = conv.threads[parent_key] = _Timeline()
        old = thread.add(key, message)
        conv.reply_parent[key] = parent_key
        if old is not None:
            return  # the same reply again: the thread's figures did not change
        conv.count += 1
        user = message.get("user")
        users = parent.get("reply_users")
        if not isinstance(users, list):
            users = []
        parent["thread_ts"] = parent["ts"]
        parent["reply_count"] = len(thread)
        if isinstance(user, str) and user not in users:
            users = [*users, user]  # a new list: pages handed out earlier keep theirs
        parent["reply_users"] = users
        parent["reply_users_count"] = len(users)
        parent["latest_reply"] = thread.items[-1]["ts"]

    def _trim(self, conv: _Conversation) -> None:
        while conv.count > self.limit:
            if len(conv.top) == 1 and conv.threads:  # one huge thread: drop its oldest reply
                ((parent_key, thread),) = conv.threads.items()
                conv.reply_parent.pop(thread.keys[thread.head], None)
                thread.pop(thread.head)
                conv.count -= 1
                if not thread:
                    del conv.threads[parent_key]
                continue
            self._drop_top(conv, conv.top.head)

    def _drop_top(self, conv: _Conversation, i: int) -> None:
        key = conv.top.keys[i]
        conv.top.pop(i)
        conv.count -= 1
        thread = conv.threads.pop(key, None)
        if thread is not None:
            conv.count -= len(thread)
            for reply_key in thread.keys[thread.head :]:
                conv.reply_parent.pop(reply_key, None)

    def _change(self, channel: str, message: object) -> bool:
        conv = self._convs.get(channel)
        if conv is None or not isinstance(message, Mapping):
            return False
        key = ts_key(message.get("ts"))
        if key is None:
            return False
        new = history_message(message)
        i = conv.top.index(key)
        if i is not None:
            _keep_thread_fields(conv.top.items[i], new)
            conv.top.items[i] = new
            return True
        parent_key = conv.reply_parent.get(key)
        thread = conv.threads.get(parent_key) if parent_key is not None else None
        j = thread.index(key) if thread is not None else None
        if thread is None or j is None:
            return False
        old = thread.items[j]
        if "parent_user_id" in old and "parent_user_id" not in new:
            new["parent_user_id"] = old["parent_user_id"]
        thread.items[j] = new
        return True

    def _delete(self, channel: str, key: int | None) -> bool:
        conv = self._convs.get(channel)
        if conv is None or key is None:
            return False
        i = conv.top.index(key)
        if i is not None:
            self._drop_top(conv, i)
            return True
        parent_key = conv.reply_parent.pop(key, None)
        thread = conv.threads.get(parent_key) if parent_key is not None else None
        j = thread.index(key) if thread is not None else None
        if parent_key is None or thread is None or j is None:
            return False
        thread.pop(j)
        conv.count -= 1
        p = conv.top.index(parent_key)
        if p is not None:
            conv.top.items[p] = _with_thread_fields(conv.top.items[p], thread)
        if not thread:
            del conv.threads[parent_key]
        return True

    def clear(self, channel_id: str | None = None) -> None:
        """Forget one conversation's messages, or every conversation's."""
        if channel_id is None:
            self._convs.clear()
        else:
            self._convs.pop(channel_id, None)

    def count(self, channel_id: str) -> int:
        """How many messages (replies included) ``channel_id`` holds."""
        conv = self._convs.get(channel_id)
        return conv.count if conv is not None else 0

    # -- queries -----------------------------------------------------------------------------

    def history(
        self,
        channel_id: str,
        *,
        oldest: str | None = None,
        latest: str | None = None,
        inclusive: bool = False,
        limit: int = DEFAULT_PAGE,
        cursor: str | None = None,
    ) -> Page:
        """``conversations.history``: top-level messages with ``oldest < ts < latest`` (``<=``
        both when ``inclusive``), newest first, ``limit`` at most per page.

        Raises:
            HistoryError: ``invalid_ts_oldest``, ``invalid_ts_latest``, ``invalid_cursor``.
            ValueError: ``limit`` is not an int >= 1.
        """
        lo, hi = _bounds(oldest, latest, inclusive)
        _check_limit(limit)
        scope = f"history\x00{channel_id}\x00{lo}\x00{hi}"
        if cursor:
            hi = min(hi, self.cursors.decode(cursor, scope))
        conv = self._convs.get(channel_id)
        if conv is None:
            return Page(messages=[])
        i, j = conv.top.span(lo, hi)
        first = max(i, j - limit)
        messages = [dict(m) for m in reversed(conv.top.items[first:j])]
        if first == i:
            return Page(messages=messages)
        return Page(
            messages=messages,
            has_more=True,
            next_cursor=self.cursors.encode(scope, conv.top.keys[first]),
        )

    def replies(
        self,
        channel_id: str,
        ts: str,
        *,
        oldest: str | None = None,
        latest: str | None = None,
        inclusive: bool = False,
        limit: int = DEFAULT_PAGE,
        cursor: str | None = None,
    ) -> Page:
        """``conversations.replies``: the thread of ``ts`` (a parent's, or one of its
        replies'), oldest first: the parent first on the first page, then the replies with
        ``oldest < ts < latest`` (``<=`` when ``inclusive``), ``limit`` at most per page.

        Raises:
            HistoryError: ``thread_not_found``, ``invalid_ts_oldest``, ``invalid_ts_latest``,
                ``invalid_cursor``.
            ValueError: ``limit`` is not an int >= 1.
        """
        lo, hi = _bounds(oldest, latest, inclusive)
        _check_limit(limit)
        conv = self._convs.get(channel_id)
        key = ts_key(ts)
        if conv is None or key is None:
            raise HistoryError("thread_not_found")
        parent_key = conv.reply_parent.get(key, key)
        p = conv.top.index(parent_key)
        if p is None:
            raise HistoryError("thread_not_found")
        scope = f"replies\x00{channel_id}\x00{parent_key}\x00{lo}\x00{hi}"
        messages: list[dict[str, Any]] = []
        if cursor:
            lo = max(lo, self.cursors.decode(cursor, scope))
        else:
            messages.append(dict(conv.top.items[p]))
        thread = conv.threads.get(parent_key) or _Timeline()
        i, j = thread.span(lo, hi)
        end = min(j, i + limit - len(messages))
        messages.extend(dict(m) for m in thread.items[i:end])
        if end == j:
            return Page(messages=messages)
        start = thread.keys[end - 1] + 1 if end > i else lo  # where the next page starts
        return Page(messages=messages, has_more=True, next_cursor=self.cursors.encode(scope, start))


def _keep_thread_fields(old: Mapping[str, Any], new: dict[str, Any]) -> None:
    for name in _THREAD_KEYS:
        if name in old:
            new[name] = old[name]


def _with_thread_fields(parent: dict[str, Any], thread: _Timeline) -> dict[str, Any]:
    """A copy of ``parent`` whose thread fields are counted again from ``thread``."""
    out = {k: v for k, v in parent.items() if k not in _THREAD_KEYS[1:]}
    if not thread:
        return out
    users: list[str] = []
    for reply in thread.live():
        user = reply.get("user")
        if isinstance(user, str) and user not in users:
            users.append(user)
    out["thread_ts"] = parent["ts"]
    out["reply_count"] = len(thread)
    out["reply_users"] = users
    out["reply_users_count"] = len(users)
    out["latest_reply"] = thread.items[-1]["ts"]
    return out


def _bounds(oldest: str | None, latest: str | None, inclusive: bool) -> tuple[int, int]:
    """``lo, hi`` keys: the messages wanted have ``lo <= key < hi``."""
    lo = 0
    if oldest is not None and oldest != "":
        key = ts_key(oldest)
        if key is None:
            raise HistoryError("invalid_ts_oldest")
        lo = key if inclusive else key + 1
    hi = 1 << 80  # no latest: everything ("now", and injected messages from the future)
    if latest is not None and latest != "":
        key = ts_key(latest)
        if key is None:
            raise HistoryError("invalid_ts_latest")
        hi = key + 1 if inclusive else key
    return lo, hi


def _check_limit(limit: object) -> None:
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError("limit must be an int >= 1")
