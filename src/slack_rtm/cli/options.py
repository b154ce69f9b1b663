"""Options shared by the subcommands that talk to Slack: the tokens, cookie and API URL.

The token comes from ``--token`` or ``SLACK_TOKEN``, a browser session's cookie from
``--cookie`` or ``SLACK_COOKIE``, a Socket Mode app's app-level token from ``--app-token`` or
``SLACK_APP_TOKEN``; none is ever printed. Prefer the environment variables, since a
command-line argument is visible to other users in the process list.

With an app token the commands use Socket Mode, and ``SLACK_TOKEN`` is the app's bot token
(for ``auth.test`` and ``chat.postMessage``); without one, RTM with ``SLACK_TOKEN``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

__all__ = [
    "DEFAULT_API_URL",
    "LOG_LEVELS",
    "add_connection_options",
    "api_url_from",
    "app_token_from",
    "bot_token_from",
    "cookie_from",
    "setup_logging",
    "token_from",
    "user_agent_from",
]

DEFAULT_API_URL = "https://slack.com/api"

#: The values ``--log-level`` accepts.
LOG_LEVELS = ("debug", "info", "warning", "error")


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--token`` and ``--api-url`` to a subcommand's parser."""
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help="bot (xoxb-) or user (xoxp-) token; default: $SLACK_TOKEN (preferred: not in ps); "
        "with an app token, the app's bot token",
    )
    parser.add_argument(
        "--app-token",
        metavar="TOKEN",
        help="a Socket Mode app's app-level token (xapp-): use Socket Mode instead of RTM; "
        "default: $SLACK_APP_TOKEN (preferred: not in ps)",
    )
    parser.add_argument(
        "--cookie",
        metavar="COOKIE",
        help="a browser session's cookie for an xoxc- token: the d value, or 'd=...; d-s=...'; "
        "default: $SLACK_COOKIE (preferred: not in ps)",
    )
    parser.add_argument(
        "--user-agent",
        metavar="UA",
        help="the User-Agent on both legs; default: $SLACK_USER_AGENT or slack-rtm's own",
    )
    parser.add_argument(
        "--api-url",
        metavar="URL",
        help=f"Web API base URL; default: $SLACK_API_URL or {DEFAULT_API_URL}",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        metavar="LEVEL",
        help="log the client's own lines on stderr at this level (debug, info, warning, error; "
        "secrets are never logged); default: $SLACK_RTM_LOG_LEVEL, else warnings only",
    )


def token_from(args: argparse.Namespace) -> str:
    """The token from ``--token`` or ``$SLACK_TOKEN``.

    Raises:
        ValueError: neither is set (the message says how to set one).
    """
    token = bot_token_from(args)
    if token is None:
        raise ValueError("no token: set SLACK_TOKEN or pass --token")
    if token.startswith("xapp-"):
        raise ValueError("SLACK_TOKEN holds an app-level token (xapp-): for Socket Mode put it "
                         "in SLACK_APP_TOKEN, and the app's bot token (xoxb-) in SLACK_TOKEN")
    return token


def bot_token_from(args: argparse.Namespace) -> str | None:
    """The token from ``--token`` or ``$SLACK_TOKEN``, None when neither is set (Socket Mode's
    bot token is optional for ``listen`` and ``connect``)."""
    token = getattr(args, "token", None) or os.environ.get("SLACK_TOKEN", "")
    return token.strip() or None


def app_token_from(args: argparse.Namespace) -> str | None:
    """The app-level token from ``--app-token`` or ``$SLACK_APP_TOKEN`` (None: use RTM).

    Raises:
        ValueError: it is set but is not an app-level token (``xapp-...``; never echoed).
    """
    token = getattr(args, "app_token", None) or os.environ.get("SLACK_APP_TOKEN", "")
    token = token.strip()
    if not token:
        return None
    if not token.startswith("xapp-"):
        raise ValueError("SLACK_APP_TOKEN (or --app-token) must be an app-level token (xapp-...); "
                         "a bot token (xoxb-) goes in SLACK_TOKEN")
    return token


def cookie_from(args: argparse.Namespace) -> str | None:
    """The session cookie from ``--cookie`` or ``$SLACK_COOKIE`` (None when neither is set)."""
    cookie = getattr(args, "cookie", None) or os.environ.get("SLACK_COOKIE", "")
    return cookie.strip() or None


def user_agent_from(args: argparse.Namespace) -> str | None:
    """The User-Agent from ``--user-agent`` or ``$SLACK_USER_AGENT`` (None: the default)."""
    agent = getattr(args, "user_agent", None) or os.environ.get("SLACK_USER_AGENT", "")
    return agent.strip() or None


def api_url_from(args: argparse.Namespace) -> str:
    """The Web API base URL from ``--api-url``, ``$SLACK_API_URL`` or the default."""
    url: str = getattr(args, "api_url", None) or os.environ.get("SLACK_API_URL", "")
    return url.strip() or DEFAULT_API_URL


def setup_logging(args: argparse.Namespace) -> None:
    """Send slack-rtm's log lines (the ``slack_rtm`` loggers) to stderr at ``--log-level`` or
    ``$SLACK_RTM_LOG_LEVEL``, other libraries' at warning; neither set: leave logging alone
    (Python prints warnings and errors).

    Raises:
        ValueError: ``$SLACK_RTM_LOG_LEVEL`` is not one of :data:`LOG_LEVELS`.
    """
    level = getattr(args, "log_level", None) or os.environ.get("SLACK_RTM_LOG_LEVEL", "")
    level = level.strip().lower()
    if not level:
        return
    if level not in LOG_LEVELS:
        raise ValueError(f"SLACK_RTM_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("slack_rtm").setLevel(getattr(logging, level.upper()))
