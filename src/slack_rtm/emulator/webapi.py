"""The emulator's Web API side: ``/api/rtm.connect``, ``/api/auth.test``, the history methods
of :mod:`.conversations` (``conversations.history`` and friends), and ``unknown_method``.

Tokens are read from ``Authorization: Bearer``, a ``token`` form field (POST), or the query
string (refused with ``invalid_auth`` when the emulator runs with ``reject_query_tokens``). A
browser session's ``xoxc-`` token authenticates only with its cookies (:mod:`.browser`).
Errors are HTTP 200 ``{"ok": false, "error": ...}`` except rate limiting (HTTP 429 with
``Retry-After``), as PROTOCOL §1 describes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from slack_rtm.emulator import conversations
from slack_rtm.emulator.history_controls import HOLD_ERROR
from slack_rtm.emulator.records import ConnectCall
from slack_rtm.emulator.workspace import User

if TYPE_CHECKING:
    from slack_rtm.emulator.server import Emulator

__all__ = ["handle_api", "parse_bool"]

_JSON = "application/json"


def parse_bool(value: str | None) -> bool:
    """A Slack boolean parameter: ``1``/``true`` (any case) are true, anything else false."""
    return value is not None and value.strip().lower() in ("1", "true")


def _json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(body),
        status=status,
        headers=headers,
        content_type=_JSON,
        charset="utf-8",
    )


async def _read_params(request: web.Request) -> tuple[dict[str, str], str | None, bool]:
    """The request's parameters (token removed), its token, and whether it came by query."""
    params: dict[str, str] = {k: v for k, v in request.query.items()}
    query_token = params.pop("token", None)
    body_token: str | None = None
    if request.method == "POST" and request.can_read_body:
        if request.content_type == _JSON:
            try:
                data = msgspec.json.decode(await request.read())
            except (msgspec.DecodeError, RecursionError):  # deep nesting: RecursionError
                data = None
            if isinstance(data, dict):
                params.update({str(k): _scalar(v) for k, v in data.items() if k != "token"})
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    if key == "token":
                        body_token = value
                    else:
                        params[key] = value
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return params, auth[7:].strip(), False
    if body_token:
        return params, body_token, False
    return params, query_token or None, bool(query_token)


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


async def handle_api(emu: Emulator, request: web.Request) -> web.StreamResponse:
    """Answer one ``/api/<method>`` request."""
    method = request.match_info["method"]
    if method == "rtm.connect":
        return await _rtm_connect(emu, request)
    if method == "auth.test":
        return await _auth_test(emu, request)
    if method in conversations.METHODS:  # PROTOCOL §8: conversations.history and friends
        return await _conversations(emu, request, method)
    return _json({"ok": False, "error": "unknown_method"})


async def _authenticate(
    emu: Emulator, request: web.Request
) -> tuple[dict[str, str], str | None, User | None, str | None]:
    """``(params, token, user, error)``: ``error`` is set when the token does not authenticate."""
    params, token, from_query = await _read_params(request)
    if token is None:
        return params, None, None, "not_authed"
    if from_query and emu.reject_query_tokens:
        return params, token, None, "invalid_auth"
    user = emu.workspace.user_by_token(token)
    if user is None:  # a browser session's token, with its cookie(s)?
        user = emu.browser_user(token, request.headers.get("Cookie"))
    if user is None:
        return params, token, None, "invalid_auth"
    configured = emu.token_errors.get(token)
    if configured is not None:
        return params, token, user, configured
    return params, token, user, None


async def _auth_test(emu: Emulator, request: web.Request) -> web.Response:
    _, _, user, error = await _authenticate(emu, request)
    if error is not None or user is None:
        return _json({"ok": False, "error": error or "invalid_auth"})
    team = emu.workspace.team
    body: dict[str, Any] = {
        "ok": True,
        "url": f"https://{team.domain}.slack.com/",
        "team": team.name,
        "user": user.name,
        "team_id": team.id,
        "user_id": user.id,
        "is_enterprise_install": False,
    }
    if user.bot_id is not None:
        body["bot_id"] = user.bot_id
    return _json(body)


async def _conversations(emu: Emulator, request: web.Request, method: str) -> web.Response:
    params, token, user, error = await _authenticate(emu, request)
    if error is not None or user is None or token is None:
        return _json({"ok": False, "error": error or "invalid_auth"})
    status, body, headers = conversations.METHODS[method](emu, method, token, user, params)
    return _json(body, status, headers)


async def _rtm_connect(emu: Emulator, request: web.Request) -> web.Response:
    params, token, user, error = await _authenticate(emu, request)
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
    emu: Emulator,
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
    return _json(body, status, headers)
