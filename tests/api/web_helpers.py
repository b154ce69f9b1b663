"""Helpers for the WebApi tests: drive WebApi or AsyncWebApi through one async interface."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_rtm.api import ApiResponse, AsyncClient, AsyncWebApi, Client, WebApi
from slack_rtm.errors import SlackRtmError

CHANNEL = "C0123ABCD"
TS = "1355517523.000005"


def message(ts: str, text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"type": "message", "user": "U0AUTHOR", "text": text, "ts": ts, **extra}


def history_page(
    messages: list[dict[str, Any]], cursor: str = "", has_more: bool | None = None
) -> dict[str, Any]:
    return {
        "ok": True,
        "messages": messages,
        "has_more": bool(cursor) if has_more is None else has_more,
        "pin_count": 0,
        "response_metadata": {"next_cursor": cursor},
    }


def channels_page(ids: list[str], cursor: str = "") -> dict[str, Any]:
    return {
        "ok": True,
        "channels": [{"id": i, "name": f"n-{i.lower()}", "is_channel": True} for i in ids],
        "response_metadata": {"next_cursor": cursor},
    }


class Web:
    """One WebApi or AsyncWebApi, whichever fits the client, called the same way."""

    def __init__(self, client: Client | AsyncClient) -> None:
        self.api: WebApi | AsyncWebApi = (
            WebApi(client) if isinstance(client, Client) else AsyncWebApi(client)
        )

    async def call(self, name: str, *args: Any, **kwargs: Any) -> ApiResponse[Any]:
        method = getattr(self.api, name)
        if isinstance(self.api, WebApi):
            return await asyncio.to_thread(method, *args, **kwargs)  # type: ignore[no-any-return]
        return await method(*args, **kwargs)  # type: ignore[no-any-return]

    async def pages(
        self, name: str, *args: Any, **kwargs: Any
    ) -> tuple[list[ApiResponse[Any]], SlackRtmError | None]:
        """Every page of an ``iter_*`` method, and the error that ended it, if any."""
        iterator = getattr(self.api, name)(*args, **kwargs)
        got: list[ApiResponse[Any]] = []
        if isinstance(self.api, WebApi):

            def run() -> SlackRtmError | None:
                try:
                    for page in iterator:
                        got.append(page)
                except SlackRtmError as exc:
                    return exc
                return None

            return got, await asyncio.to_thread(run)
        try:
            async for page in iterator:
                got.append(page)
        except SlackRtmError as exc:
            return got, exc
        return got, None
