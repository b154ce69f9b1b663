"""The emulator's ``apps.connections.open``: Socket Mode's connect call (PROTOCOL §9).

Only the app-level token (:attr:`Emulator.app_token`, ``xapp-...``) is accepted, from the
``Authorization: Bearer`` header or a ``token`` form field like every method (a token in the
query string is refused when the emulator runs with ``reject_query_tokens``). Answers, in order:

- the shared ``rtm.connect`` faults first: :meth:`fail_next_connects` and
  :meth:`rate_limit_next_connects` answers are taken from the same queue;
- no token: ``not_authed``; a bot, user or browser-session token: ``not_allowed_token_type``;
  any other token: ``invalid_auth``; an error set with :meth:`set_token_error` for the app token;
- Socket Mode disabled (``socket_mode_disconnect("link_disabled")``): ``no_permission``
  (:data:`~slack_rtm.emulator.socket_mode.LINK_DISABLED_ERROR`, fatal for clients);
- over :meth:`set_connect_rate_limit`: HTTP 429, ``Retry-After``, ``ratelimited``;
- else ``{"ok": true, "url": "ws://HOST:PORT/socket-mode/<ticket>?app_id=A..."}``: a single-use
  ticket valid ``url_ttl`` seconds (already expired after :meth:`expire_next_urls`).

Every answer is recorded in ``connect_log`` with ``method="apps.connections.open"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from slack_rtm.emulator.api.common import json_answer, read_params
from slack_rtm.emulator.records import ConnectCall
from slack_rtm.emulator.socket_mode import LINK_DISABLED_ERROR

if TYPE_CHECKING:
    from slack_rtm.emulator.state import EmulatorState

__all__ = ["METHOD", "apps_connections_open"]

METHOD = "apps.connections.open"


def _token_error(emu: EmulatorState, token: str | None, from_query: bool) -> str | None:
    if token is None:
        return "not_authed"
    if from_query and emu.reject_query_tokens:
        return "invalid_auth"
    if token == emu.app_token:
        return emu.token_errors.get(token)
    if emu.workspace.user_by_token(token) is not None or emu.session_for_token(token) is not None:
        return "not_allowed_token_type"
    return "invalid_auth"


async def apps_connections_open(emu: EmulatorState, request: web.Request) -> web.Response:
    """Answer ``apps.connections.open`` (see the module docstring)."""
    params, token, from_query = await read_params(request)
    app = token is not None and token == emu.app_token
    forced = emu.take_forced_connect_failure()
    if forced is not None:
        status, body, headers = forced
        return _answer(emu, request, app, params, status, body, headers)
    error = _token_error(emu, token, from_query)
    if error is not None or token is None:
        return _answer(emu, request, app, params, 200, {"ok": False, "error": error})
    if not emu.socket_mode_enabled:
        return _answer(emu, request, app, params, 200, {"ok": False, "error": LINK_DISABLED_ERROR})
    wait = emu.check_connect_rate(token)
    if wait is not None:
        body = {"ok": False, "error": "ratelimited"}
        return _answer(emu, request, app, params, 429, body, {"Retry-After": str(wait)})
    url = emu.issue_socket_mode_url(request.host)
    return _answer(emu, request, app, params, 200, {"ok": True, "url": url})


def _answer(
    emu: EmulatorState,
    request: web.Request,
    app: bool,
    params: dict[str, str],
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> web.Response:
    error = body.get("error")
    emu.record_connect_call(
        ConnectCall(
            emu.bot_user_id if app else None,
            status,
            bool(body.get("ok")),
            error if isinstance(error, str) else None,
            params,
            request.headers.get("Cookie"),
            request.headers.get("User-Agent"),
            method=METHOD,
        )
    )
    return json_answer(body, status, headers)
