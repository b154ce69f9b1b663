"""What ``listen``, ``send`` and ``demo`` share: building the client and stopping on a signal.

:func:`client_from` is the one place that picks the transport: an app-level token
(``--app-token`` / ``SLACK_APP_TOKEN``) means a :class:`~slack_rtm.aio.SocketModeClient` with
``SLACK_TOKEN`` as its bot token; without one, an :class:`~slack_rtm.aio.RtmClient` exactly as
before. Both have the surface the commands use (``connect``, ``async for``, ``close``,
``send_message``, ``self`` / ``team``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Union

from slack_rtm.aio import RtmClient, SocketModeClient
from slack_rtm.cli.options import (
    api_url_from,
    app_token_from,
    bot_token_from,
    cookie_from,
    token_from,
    user_agent_from,
)

__all__ = ["SessionClient", "client_from", "on_signals", "socket_mode_tokens"]

#: What :func:`client_from` returns: an RTM or a Socket Mode client (asyncio).
SessionClient = Union[RtmClient, SocketModeClient]  # noqa: UP007 - a runtime alias on 3.10


def socket_mode_tokens(
    args: argparse.Namespace, *, sends: bool = False
) -> tuple[str, str | None] | None:
    """The Socket Mode tokens, ``(app_token, bot_token)``, or None for RTM (no app token).

    The app token comes from ``--app-token`` or ``$SLACK_APP_TOKEN``; the bot token that goes
    with it from ``--token`` or ``$SLACK_TOKEN`` (None when unset and not ``sends``).

    Args:
        args: the parsed command line.
        sends: the command posts (``chat.postMessage`` needs the bot token).

    Raises:
        ValueError: a token is of the wrong kind (never echoed), the bot token is missing while
            ``sends``, or a browser session's cookie is set (RTM only).
    """
    app_token = app_token_from(args)
    if app_token is None:
        return None
    if cookie_from(args) is not None:
        raise ValueError("a browser session's cookie (SLACK_COOKIE, --cookie) works over RTM "
                         "only: unset it, or unset SLACK_APP_TOKEN to use RTM")
    bot_token = bot_token_from(args)
    if bot_token is None:
        if sends:
            raise ValueError("over Socket Mode, messages go through chat.postMessage with the "
                             "app's bot token: set SLACK_TOKEN (xoxb-...) next to SLACK_APP_TOKEN")
    elif not bot_token.startswith(("xoxb-", "xoxp-")):
        raise ValueError("with SLACK_APP_TOKEN, SLACK_TOKEN (or --token) must be the app's bot "
                         "token (xoxb-...) or a user token (xoxp-...)")
    return app_token, bot_token


def client_from(
    args: argparse.Namespace, *, state: str | None = None, sends: bool = False
) -> SessionClient:
    """The asyncio client for the tokens, cookie and API URL the user gave (not connected).

    Args:
        args: the parsed command line (see :func:`~slack_rtm.cli.options.add_connection_options`).
        state: catch up on missed messages, with cursors kept in this SQLite file (RTM only).
        sends: the command posts messages (over Socket Mode the bot token is then required).

    Returns:
        A :class:`SocketModeClient` when an app token is set (``SLACK_TOKEN`` is its bot
        token), else an :class:`RtmClient`.

    Raises:
        ValueError: a token is missing or of the wrong kind, or an option does not exist on
            the chosen transport (a browser session's cookie or ``state`` with an app token).
    """
    tokens = socket_mode_tokens(args, sends=sends)
    base_url, user_agent = api_url_from(args), user_agent_from(args)
    if tokens is None:
        return RtmClient(token_from(args), base_url=base_url, cookie=cookie_from(args),
                         user_agent=user_agent, catch_up=state is not None, state=state)
    if state is not None:
        raise ValueError("--state catches up from history over RTM only (over Socket Mode, "
                         "Slack redelivers what was not acknowledged): drop --state, or unset "
                         "SLACK_APP_TOKEN to use RTM")
    app_token, bot_token = tokens
    return SocketModeClient(app_token, bot_token=bot_token, base_url=base_url,
                            user_agent=user_agent)


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
