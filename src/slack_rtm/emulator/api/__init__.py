"""The emulator's Web API: ``/api/<method>``, one module per family of methods.

=========================  ====================================================================
module                      methods
=========================  ====================================================================
:mod:`.rtm`                 ``rtm.connect``
:mod:`.auth`                ``auth.test``
:mod:`.apps`                ``apps.connections.open`` (Socket Mode's connect call, PROTOCOL §9)
:mod:`.chat`                ``chat.postMessage``
:mod:`.conversations`       ``conversations.history``, ``conversations.replies``,
                            ``conversations.info``, ``users.conversations`` (PROTOCOL §8)
:mod:`.common`              what they share: reading parameters and the token, authenticating
                            (browser-session cookies included), the JSON answer
=========================  ====================================================================

Any other method answers ``{"ok": false, "error": "unknown_method"}``. Errors are HTTP 200
``{"ok": false, "error": ...}`` except rate limiting (HTTP 429 with ``Retry-After``), as
PROTOCOL §1 describes. The handlers work on
:class:`~slack_rtm.emulator.state.EmulatorState`; the server mounts :func:`handle_api`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from aiohttp import web

from slack_rtm.emulator.api import conversations
from slack_rtm.emulator.api.apps import apps_connections_open
from slack_rtm.emulator.api.auth import auth_test
from slack_rtm.emulator.api.chat import chat_post_message
from slack_rtm.emulator.api.common import Endpoint, json_answer
from slack_rtm.emulator.api.rtm import rtm_connect

if TYPE_CHECKING:
    from slack_rtm.emulator.state import EmulatorState

__all__ = ["ENDPOINTS", "handle_api"]

#: Web API method name -> its endpoint ``(emu, request) -> response``.
ENDPOINTS: Final[Mapping[str, Endpoint]] = {
    "rtm.connect": rtm_connect,
    "auth.test": auth_test,
    "apps.connections.open": apps_connections_open,
    "chat.postMessage": chat_post_message,
    **conversations.ENDPOINTS,
}


async def handle_api(emu: EmulatorState, request: web.Request) -> web.StreamResponse:
    """Answer one ``/api/<method>`` request."""
    endpoint = ENDPOINTS.get(request.match_info["method"])
    if endpoint is None:
        return json_answer({"ok": False, "error": "unknown_method"})
    return await endpoint(emu, request)
