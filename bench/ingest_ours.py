"""Ingest with this project's clients, through their public API only.

``slack_rtm.RtmClient`` (asyncio) with ``async for`` and with a handler, and
``slack_rtm.sync.RtmClient``. Code that is not built yet raises :class:`child.NotBuilt`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from child import NotBuilt

Count = Callable[[], bool]
OnHello = Callable[[], None]


def async_client_class() -> Any:
    """``slack_rtm.RtmClient`` (the asyncio client), or NotBuilt."""
    import importlib

    for module in ("slack_rtm", "slack_rtm.aio", "slack_rtm.aio.client"):
        try:
            return importlib.import_module(module).RtmClient
        except (ImportError, AttributeError):
            continue
    raise NotBuilt("not built: slack_rtm.aio.RtmClient")


def sync_client_class() -> Any:
    """``slack_rtm.sync.RtmClient``, or NotBuilt."""
    try:
        from slack_rtm.sync import RtmClient
    except ImportError as exc:
        raise NotBuilt("not built: slack_rtm.sync.RtmClient") from exc
    return RtmClient


async def ours_iter(api_url: str, token: str, on_hello: OnHello, count: Count) -> None:
    """Our asyncio client, consuming ``async for event in rtm``."""
    rtm = async_client_class()(token, base_url=api_url)
    async with rtm:
        on_hello()
        async for event in rtm:
            if event.type == "message" and count():
                break


async def ours_catchup(api_url: str, token: str, on_hello: OnHello, count: Count) -> None:
    """``ours_iter`` with ``catch_up=True``: what tracking the cursors costs on the ingest path."""
    rtm = async_client_class()(token, base_url=api_url, catch_up=True)
    async with rtm:
        on_hello()
        async for event in rtm:
            if event.type == "message" and count():
                break


async def ours_handler(api_url: str, token: str, on_hello: OnHello, count: Count) -> None:
    """Our asyncio client, with a plain (sync) handler registered by ``rtm.on("message")``."""
    rtm = async_client_class()(token, base_url=api_url)
    done = asyncio.get_running_loop().create_future()

    @rtm.on("message")  # type: ignore[misc]
    def on_message(event: Any) -> None:
        if count() and not done.done():
            done.set_result(None)

    async with rtm:
        on_hello()
        await done


def ours_sync(api_url: str, token: str, on_hello: OnHello, count: Count) -> None:
    """Our sync client, iterating ``for event in rtm``."""
    rtm = sync_client_class()(token, base_url=api_url)
    with rtm:
        on_hello()
        for event in rtm:
            if event.type == "message" and count():
                break
