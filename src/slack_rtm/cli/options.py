"""Options shared by the subcommands that talk to Slack: the token, cookie and API URL.

The token comes from ``--token`` or ``SLACK_TOKEN``, a browser session's cookie from
``--cookie`` or ``SLACK_COOKIE``; neither is ever printed. Prefer the environment variables,
since a command-line argument is visible to other users in the process list.
"""

from __future__ import annotations

import argparse
import os

__all__ = [
    "DEFAULT_API_URL",
    "add_connection_options",
    "api_url_from",
    "cookie_from",
    "token_from",
    "user_agent_from",
]

DEFAULT_API_URL = "https://slack.com/api"


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--token`` and ``--api-url`` to a subcommand's parser."""
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help="bot (xoxb-) or user (xoxp-) token; default: $SLACK_TOKEN (preferred: not in ps)",
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


def token_from(args: argparse.Namespace) -> str:
    """The token from ``--token`` or ``$SLACK_TOKEN``.

    Raises:
        ValueError: neither is set (the message says how to set one).
    """
    token = getattr(args, "token", None) or os.environ.get("SLACK_TOKEN", "")
    token = token.strip()
    if not token:
        raise ValueError("no token: set SLACK_TOKEN or pass --token")
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
