"""Options shared by the subcommands that talk to Slack: the token and the API URL.

The token comes from ``--token`` or ``SLACK_TOKEN`` and is never printed; prefer the environment
variable, since a command-line argument is visible to other users in the process list.
"""

from __future__ import annotations

import argparse
import os

__all__ = ["DEFAULT_API_URL", "add_connection_options", "api_url_from", "token_from"]

DEFAULT_API_URL = "https://slack.com/api"


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--token`` and ``--api-url`` to a subcommand's parser."""
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help="bot (xoxb-) or user (xoxp-) token; default: $SLACK_TOKEN (preferred: not in ps)",
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


def api_url_from(args: argparse.Namespace) -> str:
    """The Web API base URL from ``--api-url``, ``$SLACK_API_URL`` or the default."""
    url: str = getattr(args, "api_url", None) or os.environ.get("SLACK_API_URL", "")
    return url.strip() or DEFAULT_API_URL
