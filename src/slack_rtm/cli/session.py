"""What ``listen``, ``send`` and ``demo`` share: building the client and stopping on a signal."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any

from slack_rtm.aio import RtmClient
from slack_rtm.cli.options import api_url_from, cookie_from, token_from, user_agent_from

__all__ = ["client_from", "on_signals"]


def client_from(args: argparse.Namespace, **options: Any) -> RtmClient:
    """An asyncio :class:`RtmClient` for the token, cookie and API URL the user gave."""
    return RtmClient(token_from(args), base_url=api_url_from(args), cookie=cookie_from(args),
                     user_agent=user_agent_from(args), **options)


@contextlib.contextmanager
def on_signals(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback`` (once per signal) on SIGINT or SIGTERM while the block runs."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, callback)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover - not main
            pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
