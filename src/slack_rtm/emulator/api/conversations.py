"""The emulator's history methods (PROTOCOL §8): the conversations family of the Web API.

Each endpoint of :data:`ENDPOINTS` authenticates the call with :func:`.common.authenticate` (so
every token and cookie check applies) and hands the parameters to its handler in
:data:`METHODS`, which returns ``(status, body, headers)``.

=========================  ====================================================================
method                      answer
=========================  ====================================================================
``conversations.history``   ``{ok, messages (newest first), has_more, pin_count: 0,
                            response_metadata: {next_cursor}}``; params ``channel``,
                            ``oldest``, ``latest``, ``inclusive``, ``limit`` (default 100, at
                            most 999), ``cursor``
``conversations.replies``   ``{ok, messages (oldest first, the parent first), has_more,
                            response_metadata: {next_cursor}}``; params ``channel``, ``ts``,
                            ``oldest``, ``latest``, ``inclusive``, ``limit`` (default 1000, at
                            most 1000), ``cursor``
``users.conversations``     ``{ok, channels: [...], response_metadata: {next_cursor}}`` of the
                            caller (or ``user``); params ``types`` (default
                            ``public_channel``), ``exclude_archived``, ``limit`` (default 100,
                            at most 1000), ``cursor``, ``user``
``conversations.info``      ``{ok, channel: {...}}``; params ``channel``,
                            ``include_num_members``
=========================  ====================================================================

Errors are HTTP 200 ``{"ok": false, "error": ...}``: ``channel_not_found`` (unknown, or a
private channel or DM the caller is not in), ``not_in_channel`` (history of a public channel
the caller is not in), ``thread_not_found``, ``invalid_cursor``, ``invalid_ts_oldest``,
``invalid_ts_latest``, ``invalid_types``, ``user_not_found``, and ``invalid_arguments`` (a
missing required parameter or a ``limit`` that is not a whole number, with
``response_metadata.messages`` saying which). Over the rate limit of the two history methods
(:class:`~slack_rtm.emulator.history_controls.HistoryRateLimits`): HTTP 429, ``Retry-After``,
``{"ok": false, "error": "ratelimited"}``. A ``limit`` over the cap is lowered silently, as
Slack does; ``limit=0`` means the default.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from slack_rtm.emulator.api.common import Endpoint, authenticate, json_answer, parse_bool
from slack_rtm.emulator.history import DEFAULT_PAGE, HistoryError, Page
from slack_rtm.emulator.workspace import Channel, User

if TYPE_CHECKING:
    from slack_rtm.emulator.state import EmulatorState

__all__ = ["ENDPOINTS", "METHODS", "Answer", "channel_object"]

#: ``(HTTP status, JSON body, extra headers)``.
Answer = tuple[int, dict[str, Any], dict[str, str] | None]
Handler = Callable[["EmulatorState", str, str, User, dict[str, str]], Answer]

_TYPES: Final = {"public": "public_channel", "private": "private_channel", "im": "im"}
_KNOWN_TYPES: Final = frozenset({"public_channel", "private_channel", "mpim", "im"})
_MAX_LIST: Final = 1000
_REPLIES_DEFAULT: Final = 1000


class _BadArgument(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _error(code: str, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return status, {"ok": False, "error": code}, headers


def _bad(message: str) -> Answer:
    body = {"ok": False, "error": "invalid_arguments",
            "response_metadata": {"messages": [f"[ERROR] {message}"]}}  # fmt: skip
    return 200, body, None


def _limit(params: dict[str, str], default: int, cap: int) -> int:
    raw = params.get("limit", "").strip()
    if not raw:
        return min(default, cap)
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise _BadArgument("invalid value for limit: a whole number >= 0 is expected")
    value = int(raw)
    return min(value, cap) if value else min(default, cap)


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise _BadArgument(f"missing required field: {name}")
    return value


def _page_body(page: Page, **extra: Any) -> dict[str, Any]:
    return {
        "ok": True,
        "messages": page.messages,
        "has_more": page.has_more,
        **extra,
        "response_metadata": {"next_cursor": page.next_cursor},
    }


def _readable(emu: EmulatorState, channel_id: str, user: User) -> str | None:
    """The error for reading ``channel_id``'s messages as ``user``, or ``None``."""
    ch = emu.workspace.channels.get(channel_id)
    if ch is None:
        return "channel_not_found"
    if emu.workspace.is_member(channel_id, user.id):
        return None
    return "not_in_channel" if ch.kind == "public" else "channel_not_found"


def _throttled(emu: EmulatorState, method: str, token: str) -> Answer | None:
    wait = emu.history_limits.check(token, method, time.monotonic())
    if wait is None:
        return None
    return _error("ratelimited", 429, {"Retry-After": str(wait)})


def _history(
    emu: EmulatorState, method: str, token: str, user: User, params: dict[str, str]
) -> Answer:
    page = _paged(emu, method, token, user, params, DEFAULT_PAGE, emu.history.history)
    return page if not isinstance(page, Page) else (200, _page_body(page, pin_count=0), None)


def _replies(
    emu: EmulatorState, method: str, token: str, user: User, params: dict[str, str]
) -> Answer:
    page = _paged(emu, method, token, user, params, _REPLIES_DEFAULT, emu.history.replies,
                  ("ts",))
    return page if not isinstance(page, Page) else (200, _page_body(page), None)


def _paged(
    emu: EmulatorState,
    method: str,
    token: str,
    user: User,
    params: dict[str, str],
    default_limit: int,
    query: Callable[..., Page],
    required: tuple[str, ...] = (),
) -> Page | Answer:
    """What the two paged methods share: the rate limit, the arguments (``channel``, then
    ``required``, ``limit``, the range and ``cursor``), access, and the query's errors. Returns
    the page, or the answer to send instead."""
    throttled = _throttled(emu, method, token)
    if throttled is not None:
        return throttled
    try:
        channel = _required(params, "channel")
        extra = [_required(params, name) for name in required]
        limit = _limit(params, default_limit, emu.history_limits.max_limit(method))
    except _BadArgument as exc:
        return _bad(exc.message)
    error = _readable(emu, channel, user)
    if error is not None:
        return _error(error)
    try:
        return query(
            channel,
            *extra,
            oldest=params.get("oldest"),
            latest=params.get("latest"),
            inclusive=parse_bool(params.get("inclusive")),
            limit=limit,
            cursor=params.get("cursor") or None,
        )
    except HistoryError as exc:
        return _error(exc.code)


def channel_object(
    emu: EmulatorState, channel: Channel, viewer: str, *, num_members: bool = False
) -> dict[str, Any]:
    """``channel`` as ``conversations.info`` and ``users.conversations`` show it to the user
    ``viewer``. A DM has no ``name`` (as in Slack) but ``user``, the other member."""
    ws = emu.workspace
    members = ws.members(channel.id)
    created = emu.conversations_created
    if channel.kind == "im":
        others = sorted(members - {viewer}) or sorted(members)
        body: dict[str, Any] = {
            "id": channel.id,
            "created": created,
            "is_archived": False,
            "is_channel": False,
            "is_group": False,
            "is_im": True,
            "is_mpim": False,
            "is_private": True,
            "is_org_shared": False,
            "context_team_id": ws.team.id,
            "user": others[0] if others else "",
            "is_user_deleted": False,
            "priority": 0,
            "is_member": viewer in members,
        }
    else:
        private = channel.kind == "private"
        empty = {"value": "", "creator": "", "last_set": 0}
        body = {
            "id": channel.id,
            "name": channel.name,
            "is_channel": not private,
            "is_group": private,
            "is_im": False,
            "is_mpim": False,
            "is_private": private,
            "created": created,
            "is_archived": False,
            "is_general": channel.name == "general",
            "unlinked": 0,
            "name_normalized": channel.name,
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_pending_ext_shared": False,
            "context_team_id": ws.team.id,
            "creator": "",
            "is_member": viewer in members,
            "topic": dict(empty),
            "purpose": dict(empty),
            "previous_names": [],
        }
    if num_members:
        body["num_members"] = len(members)
    return body


def _info(
    emu: EmulatorState, method: str, token: str, user: User, params: dict[str, str]
) -> Answer:
    try:
        channel_id = _required(params, "channel")
    except _BadArgument as exc:
        return _bad(exc.message)
    ch = emu.workspace.channels.get(channel_id)
    if ch is None or (ch.kind != "public" and not emu.workspace.is_member(ch.id, user.id)):
        return _error("channel_not_found")
    num_members = parse_bool(params.get("include_num_members"))
    body = channel_object(emu, ch, user.id, num_members=num_members)
    return 200, {"ok": True, "channel": body}, None


def _user_conversations(
    emu: EmulatorState, method: str, token: str, user: User, params: dict[str, str]
) -> Answer:
    raw_types = params.get("types", "").strip() or "public_channel"
    types = {t.strip() for t in raw_types.split(",") if t.strip()}
    if not types <= _KNOWN_TYPES:
        return _error("invalid_types")
    who = params.get("user") or user.id
    if who not in emu.workspace.users:
        return _error("user_not_found")
    try:
        limit = _limit(params, DEFAULT_PAGE, _MAX_LIST)
    except _BadArgument as exc:
        return _bad(exc.message)
    ws = emu.workspace
    mine = [c for c in ws.channels.values()
            if _TYPES[c.kind] in types and ws.is_member(c.id, who)]  # fmt: skip
    # exclude_archived: the emulator has no archived channels, so it changes nothing.
    scope = f"users.conversations\x00{who}\x00{','.join(sorted(types))}"
    start = 0
    cursor = params.get("cursor")
    if cursor:
        try:
            start = emu.history.cursors.decode(cursor, scope)
        except HistoryError as exc:
            return _error(exc.code)
    page = mine[start : start + limit]
    more = start + limit < len(mine)
    body = {
        "ok": True,
        "channels": [channel_object(emu, c, who) for c in page],
        "response_metadata": {
            "next_cursor": emu.history.cursors.encode(scope, start + limit) if more else ""
        },
    }
    return 200, body, None


#: Web API method name -> handler ``(emu, method, token, user, params) -> Answer``.
METHODS: Final[dict[str, Handler]] = {
    "conversations.history": _history,
    "conversations.replies": _replies,
    "conversations.info": _info,
    "users.conversations": _user_conversations,
}


def _endpoint(method: str, handler: Handler) -> Endpoint:
    """The endpoint of one history method: authenticate, then answer with ``handler``."""

    async def endpoint(emu: EmulatorState, request: web.Request) -> web.StreamResponse:
        params, token, user, error = await authenticate(emu, request)
        if error is not None or user is None or token is None:
            return json_answer({"ok": False, "error": error or "invalid_auth"})
        status, body, headers = handler(emu, method, token, user, params)
        return json_answer(body, status, headers)

    return endpoint


#: Web API method name -> its endpoint ``(emu, request) -> response``.
ENDPOINTS: Final[dict[str, Endpoint]] = {name: _endpoint(name, h) for name, h in METHODS.items()}
