"""The emulator's ``rtm.connect``: a single-use WebSocket URL for an authenticated caller.

Before the URL, in this order: a failure forced by ``fail_next_connects`` or
``rate_limit_next_connects``, the token check, a reconnect held by ``hold_reconnects``
(:data:`~slack_rtm.emulator.history_controls.HOLD_ERROR`), a migration in progress
(``migration_in_progress``) and the per-token rate limit (HTTP 429 with ``Retry-After``). Every
answer is recorded as a :class:`~slack_rtm.emulator.records.ConnectCall`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from slack_rtm.emulator.api.common import authenticate, json_answer, parse_bool
from slack_rtm.emulator.history_controls import HOLD_ERROR
from slack_rtm.emulator.records import ConnectCall

if TYPE_CHECKING:
    from slack_rtm.emulator.state import EmulatorState

__all__ = ["rtm_connect"]


async def rtm_connect(emu: EmulatorState, request: web.Request) -> web.Response:
    """Answer ``rtm.connect`` (params ``batch_presence_aware``, ``presence_sub``)."""
    params, token, user, error = await authenticate(emu, request)
    uid = user.id if user is not None else None
    forced = emu.take_forced_connect_failure()
    if forced is not None:
        status, body, headers = forced
        return _answer(emu, request, uid, params, status, body, headers)
    if error is not None or user is None or token is None:
        body = {"ok": False, "error": error or "invalid_auth"}
        return _answer(emu, request, uid, params, 200, body)
    if emu.reconnect_held(uid):  # hold_reconnects(): a transient error, clients retry
        return _answer(emu, request, uid, params, 200, {"ok": False, "error": HOLD_ERROR})
    if emu.migrating:
        body = {"ok": False, "error": "migration_in_progress"}
        return _answer(emu, request, uid, params, 200, body)
    wait = emu.check_connect_rate(token)
    if wait is not None:
        body = {"ok": False, "error": "ratelimited"}
        return _answer(emu, request, uid, params, 429, body, {"Retry-After": str(wait)})
    url = emu.issue_url(
        request.host,
        user,
        batch_presence_aware=parse_bool(params.get("batch_presence_aware")),
        presence_sub=parse_bool(params.get("presence_sub")),
        session=emu.session_for_token(token),
    )
    team = emu.workspace.team
    body = {
        "ok": True,
        "url": url,
        "team": {"id": team.id, "name": team.name, "domain": team.domain},
        "self": {"id": user.id, "name": user.name},
    }
    scopes = "bot" if user.is_bot else "client"
    headers = {"X-OAuth-Scopes": scopes, "X-Accepted-OAuth-Scopes": "rtm:stream"}
    return _answer(emu, request, uid, params, 200, body, headers)


def _answer(
    emu: EmulatorState,
    request: web.Request,
    user_id: str | None,
    params: dict[str, str],
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> web.Response:
    ok = bool(body.get("ok"))
    error = body.get("error")
    emu.record_connect_call(
        ConnectCall(
            user_id,
            status,
            ok,
            error if isinstance(error, str) else None,
            params,
            request.headers.get("Cookie"),
            request.headers.get("User-Agent"),
        )
    )
    return json_answer(body, status, headers)
