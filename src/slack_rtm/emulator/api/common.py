"""What every Web API method of the emulator shares: reading the parameters, authenticating the
caller, and the JSON answer.

Tokens are read from ``Authorization: Bearer``, a ``token`` form field (POST), or the query
string (refused with ``invalid_auth`` when the emulator runs with ``reject_query_tokens``). A
browser session's ``xoxc-`` token authenticates only with its cookies (:mod:`..browser`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import msgspec
from aiohttp import web

from slack_rtm.emulator.workspace import User

if TYPE_CHECKING:
    from slack_rtm.emulator.state import EmulatorState

__all__ = ["Endpoint", "authenticate", "json_answer", "parse_bool", "read_params"]

#: One Web API method: answers an ``/api/<method>`` request.
Endpoint = Callable[["EmulatorState", web.Request], Awaitable[web.StreamResponse]]

_JSON: Final = "application/json"


def parse_bool(value: str | None) -> bool:
    """A Slack boolean parameter: ``1``/``true`` (any case) are true, anything else false."""
    return value is not None and value.strip().lower() in ("1", "true")


def json_answer(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """``body`` as a JSON response (UTF-8) with ``status`` and extra ``headers``."""
    return web.Response(
        body=msgspec.json.encode(body),
        status=status,
        headers=headers,
        content_type=_JSON,
        charset="utf-8",
    )


async def read_params(request: web.Request) -> tuple[dict[str, str], str | None, bool]:
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


async def authenticate(
    emu: EmulatorState, request: web.Request
) -> tuple[dict[str, str], str | None, User | None, str | None]:
    """``(params, token, user, error)``: ``error`` is set when the token does not authenticate
    (``not_authed``, ``invalid_auth``, or the error set by ``set_token_error``)."""
    params, token, from_query = await read_params(request)
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
