"""Fault injection: the :class:`Emulator` controls that make Slack misbehave on purpose.

``goodbye``, team migration, dropped sockets, unanswered pings, failing or rate-limited
``rtm.connect`` calls, per-token errors, connect rate limits and already-expired URLs.
:class:`FaultControls` is a mixin of :class:`~slack_rtm.emulator.state.EmulatorState`, which owns
the state declared here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from slack_rtm.emulator.connection import Connection
from slack_rtm.emulator.limits import WindowLimiter
from slack_rtm.emulator.validate import check_count, check_number

if TYPE_CHECKING:
    from slack_rtm.emulator.workspace import User

__all__ = ["FaultControls", "ForcedAnswer"]

#: A configured ``rtm.connect`` answer: HTTP status, JSON body, extra headers.
ForcedAnswer = tuple[int, dict[str, Any], dict[str, str] | None]


class FaultControls:
    """Fault-injection controls, mixed into :class:`~slack_rtm.emulator.state.EmulatorState`."""

    # State owned and initialised by the Emulator.
    connect_rate_limit: int | None
    pong_enabled: bool
    token_errors: dict[str, str]
    _conns: dict[int, Connection]
    _forced: list[ForcedAnswer]
    _expire_next: int
    _migrating_until: float
    _connect_limiters: dict[str, WindowLimiter]
    _token_rate_limits: dict[str, int | None]
    _tasks: set[asyncio.Task[Any]]
    _sm_conns: dict[int, Connection]

    if TYPE_CHECKING:

        @property
        def bot(self) -> User: ...  # the Emulator's: the app's bot user, for Socket Mode

    @property
    def migrating(self) -> bool:
        """Whether a team migration is in progress (``rtm.connect`` answers
        ``migration_in_progress``)."""
        return time.monotonic() < self._migrating_until

    def take_forced_connect_failure(
        self,
    ) -> tuple[int, dict[str, Any], dict[str, str] | None] | None:
        """The next configured ``rtm.connect`` failure, if any (consumes it)."""
        return self._forced.pop(0) if self._forced else None

    def check_connect_rate(self, token: str) -> int | None:
        """Count an ``rtm.connect`` for ``token``; seconds to wait if over the limit."""
        limit = self._token_rate_limits.get(token, self.connect_rate_limit)
        if limit is None:
            return None
        limiter = self._connect_limiters.get(token)
        if limiter is None or limiter.limit != limit:
            limiter = self._connect_limiters[token] = WindowLimiter(limit)
        return limiter.hit(time.monotonic())

    async def _send_all(self, conns: Iterable[Connection], event: dict[str, Any]) -> int:
        text = msgspec.json.encode(event).decode()
        sent = 0
        for conn in conns:
            if await conn.send_text(text):
                sent += 1
        return sent

    def _targets(self, user_id: str | None) -> list[Connection]:
        return [c for c in self._conns.values() if user_id is None or c.user.id == user_id]

    async def send_goodbye(self, close_after: float | None = None) -> int:
        """Send ``goodbye`` to every socket; close them (1001) after ``close_after`` seconds if
        given. Returns sockets reached."""
        check_number("close_after", close_after, optional=True)
        conns = list(self._conns.values())
        sent = await self._send_all(conns, {"type": "goodbye"})
        if close_after is not None:
            self._spawn(self._close_later(conns, close_after))
        return sent

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close_later(self, conns: list[Connection], delay: float) -> None:
        await asyncio.sleep(delay)
        await asyncio.gather(*(c.close(1001, b"going away") for c in conns))

    async def start_migration(self, duration: float = 3.0) -> int:
        """Send ``team_migration_started``, close every socket, and answer ``rtm.connect`` with
        ``migration_in_progress`` for ``duration`` seconds. Returns sockets reached."""
        check_number("duration", duration)
        self._migrating_until = time.monotonic() + duration
        conns = list(self._conns.values())
        sent = await self._send_all(conns, {"type": "team_migration_started"})
        await asyncio.gather(*(c.close(1001, b"team migration") for c in conns))
        return sent

    async def drop_connections(self, abrupt: bool = True, user_id: str | None = None) -> int:
        """Drop every socket (or ``user_id``'s): ``abrupt`` resets TCP with no close frame,
        otherwise a close frame 1001. Socket Mode sockets count as the app's bot user's: they
        go too without ``user_id`` or with the bot's. Returns how many were dropped."""
        conns = self._targets(user_id)
        if user_id is None or user_id == self.bot.id:
            conns += list(self._sm_conns.values())
        if abrupt:
            for conn in conns:
                conn.abort()
        else:
            await asyncio.gather(*(c.close(1001, b"going away") for c in conns))
        return len(conns)

    def set_pong(self, enabled: bool) -> None:
        """Answer (``True``) or ignore (``False``) JSON pings and WebSocket protocol pings, on
        RTM and Socket Mode sockets alike."""
        self.pong_enabled = bool(enabled)

    def fail_next_connects(
        self, n: int, error: str = "internal_error", status: int = 200,
        retry_after: int | None = None,
    ) -> None:
        """Make the next ``n`` ``rtm.connect`` calls answer ``{"ok": false, "error": error}``
        with HTTP ``status`` and, if ``retry_after`` is set, a ``Retry-After`` header (seconds).

        Raises:
            ValueError: ``n`` or ``retry_after`` not an int >= 0, ``status`` not an int >= 100,
                or ``error`` not a non-empty str.
        """
        check_count("n", n)
        if not isinstance(error, str) or not error:
            raise ValueError("error must be a non-empty str")
        check_count("status", status, 100)
        headers = None
        if retry_after is not None:
            check_count("retry_after", retry_after)
            headers = {"Retry-After": str(retry_after)}
        self._forced.extend(
            (status, {"ok": False, "error": error}, None if headers is None else dict(headers))
            for _ in range(n)
        )

    def rate_limit_next_connects(self, n: int, retry_after: int = 1) -> None:
        """Make the next ``n`` ``rtm.connect`` calls answer HTTP 429 with ``Retry-After``."""
        check_count("n", n)
        check_count("retry_after", retry_after)
        headers = {"Retry-After": str(retry_after)}
        body = {"ok": False, "error": "ratelimited"}
        self._forced.extend((429, body, headers) for _ in range(n))

    def expire_next_urls(self, n: int = 1) -> None:
        """Make the next ``n`` URLs that ``rtm.connect`` hands out already expired: opening one
        gets the ``error`` event (code 1, ``Socket URL has expired``) and a close (1008).
        Failed ``rtm.connect`` calls hand out no URL and do not count. Adds to any earlier
        request; ``n=0`` changes nothing.

        Raises:
            ValueError: ``n`` is not an int >= 0.
        """
        check_count("n", n)
        self._expire_next += n

    def set_connect_rate_limit(self, per_minute: int | None, token: str | None = None) -> None:
        """Limit ``rtm.connect`` to ``per_minute`` calls a minute for ``token`` (or, with no
        token, for every token without its own limit); ``None`` lifts the limit."""
        if per_minute is not None:
            check_count("per_minute", per_minute, 1)
        if token is None:
            self.connect_rate_limit = per_minute
        elif not isinstance(token, str) or not token:
            raise ValueError("token must be a non-empty str or None")
        else:
            self._token_rate_limits[token] = per_minute

    def set_token_error(self, token: str, error: str | None) -> None:
        """Make every call with ``token`` answer ``error`` (e.g. ``account_inactive``);
        ``None`` clears it."""
        if not isinstance(token, str) or not token:
            raise ValueError("token must be a non-empty str")
        if error is None:
            self.token_errors.pop(token, None)
        elif not isinstance(error, str) or not error:
            raise ValueError("error must be a non-empty str or None")
        else:
            self.token_errors[token] = error
