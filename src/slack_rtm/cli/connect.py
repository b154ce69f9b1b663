"""``slack-rtm connect``: call rtm.connect and say who we are and on which team."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from slack_rtm.cli.options import (
    add_connection_options,
    api_url_from,
    cookie_from,
    token_from,
    user_agent_from,
)

__all__ = ["register", "run"]

_EXAMPLES = """\
examples:
  SLACK_TOKEN=xoxb-... slack-rtm connect
  slack-rtm connect --api-url http://127.0.0.1:8765/api --json
  slack-rtm connect --json --show-url | jq -r .url   # the URL is a 30-second credential
"""


def register(sub: Any) -> None:
    """Add the ``connect`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "connect",
        help="call rtm.connect and print who and which team",
        description="Call rtm.connect and print the bot/user and team it connects as.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_connection_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--show-url",
        action="store_true",
        help="also print the WebSocket URL (a single-use credential valid for 30 seconds)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``connect``; returns the exit status."""
    from slack_rtm.api import Client, RtmApi

    token = token_from(args)
    with Client(base_url=api_url_from(args), cookie=cookie_from(args),
                user_agent=user_agent_from(args)) as client:
        response = RtmApi(client).rtm_connect(token)
    result = response.result
    team = result.team
    out: dict[str, Any] = {
        "self": {"id": result.self_.id, "name": result.self_.name},
        "team": {"id": team.id, "name": team.name, "domain": team.domain},
    }
    if team.enterprise_id:
        out["team"]["enterprise_id"] = team.enterprise_id
    if args.show_url:
        out["url"] = result.url
    if args.json:
        print(json.dumps(out))
    else:
        print(f"connected as {result.self_.name} ({result.self_.id})")
        print(f"team {team.name} ({team.id}, {team.domain})")
        if args.show_url:
            print(f"url {result.url}  (single-use, valid for 30 seconds)")
    for warning in response.warnings:
        print(f"slack-rtm: warning: {warning}", file=sys.stderr)
    return 0
