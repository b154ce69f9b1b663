"""History and gap controls of the :class:`~slack_rtm.emulator.state.EmulatorState` (PROTOCOL §8).

- :class:`HistoryControls` (a mixin of the Emulator): the message store ``history`` and its
  recording hook, the Tier-3 rate limit of ``conversations.history``/``conversations.replies``,
  and the controls that keep one user's clients without a socket for a while (a "gap"), so
  that a test can post during it and check the client's catch-up.
- :class:`HistoryRateLimits`: the pure per-token, per-method rate arithmetic (the time is passed
  in), on :class:`~slack_rtm.emulator.limits.WindowLimiter`.

A held user's ``rtm.connect`` answers HTTP 200 ``{"ok": false, "error": "service_unavailable"}``:
a transient code (PROTOCOL §1) that clients retry with backoff, unlike the fatal ones. A
WebSocket upgrade on a URL handed out to the held user before the hold is refused with HTTP
503 (the URL stays unused, so it works again after the hold if it has not expired).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from slack_rtm.emulator.history import HistoryStore
from slack_rtm.emulator.limits import WindowLimiter
from slack_rtm.emulator.validate import check_count, check_number

if TYPE_CHECKING:
    from slack_rtm.emulator.workspace import Workspace

__all__ = [
    "HISTORY_METHODS",
    "HISTORY_RATE_PER_MINUTE",
    "HOLD_ERROR",
    "MAX_HISTORY_LIMIT",
    "HistoryControls",
    "HistoryRateLimits",
]

#: The rate-limited history methods.
HISTORY_METHODS: Final = ("conversations.history", "conversations.replies")
#: Calls a minute per token and method by default (Slack's Tier 3: about 50).
HISTORY_RATE_PER_MINUTE: Final = 50
#: The largest ``limit`` honoured without a tighter ``max_limit`` (Slack caps silently).
MAX_HISTORY_LIMIT: Final = {"conversations.history": 999, "conversations.replies": 1000}
#: The ``rtm.connect`` error a held user gets (transient: retried by clients).
HOLD_ERROR: Final = "service_unavailable"


class HistoryRateLimits:
    """Per token and method: a calls-a-minute window, a cap on ``limit``, forced 429s.

    Every method of :data:`HISTORY_METHODS` starts at :data:`HISTORY_RATE_PER_MINUTE` calls a
    minute with the normal ``limit`` cap (:data:`MAX_HISTORY_LIMIT`).
    """

    def __init__(self) -> None:
        self._per_minute: dict[str, int | None] = dict.fromkeys(
            HISTORY_METHODS, HISTORY_RATE_PER_MINUTE
        )
        self._max_limit: dict[str, int] = dict(MAX_HISTORY_LIMIT)
        self._windows: dict[tuple[str, str], WindowLimiter] = {}
        self._forced: deque[int] = deque()

    def configure(
        self, per_minute: int | None, *, max_limit: int | None = None, method: str | None = None
    ) -> None:
        """Allow ``per_minute`` calls a minute (``None``: no limit) and a ``limit`` of at most
        ``max_limit`` (``None``: Slack's usual cap) for ``method`` (``None``: both).

        Raises:
            ValueError: a bad argument (named).
        """
        if per_minute is not None:
            check_count("per_minute", per_minute, 1)
        if max_limit is not None:
            check_count("max_limit", max_limit, 1)
        if method is not None and method not in HISTORY_METHODS:
            raise ValueError(f"method must be one of {', '.join(HISTORY_METHODS)} or None")
        for name in HISTORY_METHODS if method is None else (method,):
            self._per_minute[name] = per_minute
            self._max_limit[name] = max_limit or MAX_HISTORY_LIMIT[name]

    def force(self, n: int, retry_after: int = 1) -> None:
        """Answer the next ``n`` calls (either method) with 429 and ``Retry-After:
        retry_after``.

        Raises:
            ValueError: a bad argument (named).
        """
        check_count("n", n)
        check_count("retry_after", retry_after)
        self._forced.extend([retry_after] * n)

    def max_limit(self, method: str) -> int:
        """The largest ``limit`` ``method`` honours now."""
        return self._max_limit[method]

    def check(self, token: str, method: str, now: float) -> int | None:
        """Count one call; ``None`` if allowed, else the seconds for ``Retry-After``."""
        if self._forced:
            return self._forced.popleft()
        per_minute = self._per_minute[method]
        if per_minute is None:
            return None
        window = self._windows.get((token, method))
        if window is None or window.limit != per_minute:
            window = self._windows[token, method] = WindowLimiter(per_minute)
        return window.hit(now)


class HistoryControls:
    """History and gap controls, mixed into :class:`~slack_rtm.emulator.state.EmulatorState`.

    Attributes:
        history: every conversation's stored messages (:class:`HistoryStore`).
        history_limits: the history methods' rate limits (:class:`HistoryRateLimits`).
    """

    # State owned by the Emulator (declared here for the type checker).
    workspace: Workspace
    _tickets: dict[str, Any]
    _resume_tickets: dict[str, Any]

    if TYPE_CHECKING:

        async def drop_connections(self, abrupt: bool = True, user_id: str | None = None) -> int:
            """Provided by FaultControls."""

        async def post_message(
            self, user_id: str, channel_id: str, text: str, thread_ts: str | None = None
        ) -> str:
            """Provided by the Emulator."""

    def _init_history(self, history_limit: int) -> None:
        """Create the state of this mixin (called by the Emulator's constructor)."""
        check_count("history_limit", history_limit, 1)
        self.history = HistoryStore(history_limit)
        self.history_limits = HistoryRateLimits()
        self._held_until: dict[str, float] = {}
        #: The ``created`` time (whole seconds) the Web API gives every conversation.
        self.conversations_created = int(time.time())

    # -- hooks for the handlers --------------------------------------------------------------

    def record_message(self, event: Mapping[str, Any]) -> bool:
        """Store a ``message`` event of a known channel in :attr:`history`; returns whether it
        was stored (or edited/removed a stored one). Called for every message the emulator
        delivers to a channel and every injected event; the firehose is not recorded."""
        if not isinstance(event, Mapping) or event.get("type") != "message":
            return False
        if event.get("channel") not in self.workspace.channels:
            return False
        return self.history.record(event)

    def reconnect_held(self, user_id: str | None) -> bool:
        """Whether ``user_id``'s reconnects are refused now (:meth:`hold_reconnects`)."""
        if user_id is None or user_id not in self._held_until:
            return False
        if time.monotonic() < self._held_until[user_id]:
            return True
        del self._held_until[user_id]
        return False

    def upgrade_held(self, ticket: str) -> bool:
        """Whether the WebSocket upgrade on ``ticket`` is refused now: its user is held. The
        ticket is not used up."""
        grant = self._tickets.get(ticket) or self._resume_tickets.get(ticket)  # either kind
        user = getattr(grant, "user", None)
        return user is not None and self.reconnect_held(user.id)

    # -- controls ----------------------------------------------------------------------------

    def set_history_rate_limit(
        self, per_minute: int | None, *, max_limit: int | None = None, method: str | None = None
    ) -> None:
        """Limit ``conversations.history`` and ``conversations.replies`` (or only ``method``)
        to ``per_minute`` calls a minute per token (``None`` lifts the limit), and cap their
        ``limit`` at ``max_limit`` silently (``None``: Slack's usual 999/1000). Over the rate:
        HTTP 429, ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``. The default is
        50 a minute; since 2025 Slack gives some apps 1 a minute with ``limit`` at most 15
        (``set_history_rate_limit(1, max_limit=15)``).

        Raises:
            ValueError: a bad argument (named), e.g. an unknown ``method``.
        """
        self.history_limits.configure(per_minute, max_limit=max_limit, method=method)

    def rate_limit_next_history_calls(self, n: int, retry_after: int = 1) -> None:
        """Answer the next ``n`` ``conversations.history``/``conversations.replies`` calls
        (with a valid token) with HTTP 429 and ``Retry-After: retry_after`` at once.

        Raises:
            ValueError: a bad argument (named).
        """
        self.history_limits.force(n, retry_after)

    def hold_reconnects(self, user_id: str, seconds: float) -> None:
        """For ``seconds`` from now, keep ``user_id``'s clients without a new socket:
        ``rtm.connect`` answers HTTP 200 ``{"ok": false, "error": "service_unavailable"}``
        (transient, so clients retry) and upgrades on URLs already handed out to the user get
        HTTP 503. Open sockets stay open. After the hold everything works again. A new call
        replaces the previous hold; ``seconds=0`` lifts it.

        Raises:
            ValueError: unknown ``user_id`` or a bad ``seconds``.
        """
        self.workspace.user(user_id)
        check_number("seconds", seconds)
        if seconds > 0:
            self._held_until[user_id] = time.monotonic() + seconds
        else:
            self._held_until.pop(user_id, None)

    async def drop_and_hold(self, user_id: str, seconds: float, *, abrupt: bool = True) -> int:
        """Drop ``user_id``'s sockets (like :meth:`drop_connections`: ``abrupt`` resets TCP,
        otherwise a close 1001) and :meth:`hold_reconnects` for ``seconds``; posting during the
        gap is then :meth:`post_message`. Returns how many sockets were dropped.

        Raises:
            ValueError: unknown ``user_id`` or a bad ``seconds``.
        """
        self.hold_reconnects(user_id, seconds)  # first: the drop must not beat the hold
        return await self.drop_connections(bool(abrupt), user_id)

    async def post_messages(self, messages: Sequence[Mapping[str, Any]]) -> list[str]:
        """Post several messages in order (each ``{"user_id", "channel_id", "text",
        "thread_ts"?}``, as :meth:`post_message`); returns their ``ts``. Every item is checked
        before the first is posted.

        Raises:
            TypeError, ValueError: a bad item (its index named), as :meth:`post_message`.
        """
        if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
            raise TypeError("messages must be a list of objects")
        checked: list[tuple[str, str, str, str | None]] = []
        for i, item in enumerate(messages):
            checked.append(self._check_post(i, item))
        return [await self.post_message(*args) for args in checked]

    def _check_post(self, i: int, item: object) -> tuple[str, str, str, str | None]:
        if not isinstance(item, Mapping):
            raise TypeError(f"messages[{i}] must be an object")
        unknown = set(item) - {"user_id", "channel_id", "text", "thread_ts"}
        if unknown:
            raise ValueError(f"messages[{i}]: unknown keys {sorted(map(str, unknown))}")
        user_id, channel_id = item.get("user_id"), item.get("channel_id")
        text, thread_ts = item.get("text"), item.get("thread_ts")
        if not isinstance(user_id, str) or user_id not in self.workspace.users:
            raise ValueError(f"messages[{i}]: user_id: no such user {user_id!r}")
        if not isinstance(channel_id, str) or channel_id not in self.workspace.channels:
            raise ValueError(f"messages[{i}]: channel_id: no such channel {channel_id!r}")
        if not self.workspace.is_member(channel_id, user_id):
            raise ValueError(f"messages[{i}]: {user_id!r} is not a member of {channel_id!r}")
        if not isinstance(text, str):
            raise TypeError(f"messages[{i}]: text must be a str")
        if thread_ts is not None and not isinstance(thread_ts, str):
            raise TypeError(f"messages[{i}]: thread_ts must be a str or None")
        return user_id, channel_id, text, thread_ts
