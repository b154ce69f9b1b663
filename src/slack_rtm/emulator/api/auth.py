"""The emulator's ``auth.test``: who the token is (PROTOCOL §1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from slack_rtm.emulator.api.common import authenticate, json_answer

if TYPE_CHECKING:
    from slack_rtm.emulator.state import EmulatorState

__all__ = ["auth_test"]


async def auth_test(emu: EmulatorState, request: web.Request) -> web.Response:
    """Answer ``auth.test``: the team and the user the token authenticates as."""
    _, _, user, error = await authenticate(emu, request)
    if error is not None or user is None:
        return json_answer({"ok": False, "error": error or "invalid_auth"})
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
    return json_answer(body)
