"""``slack-rtm connect``: call rtm.connect and say who we are and on which team.

With an app token (``SLACK_APP_TOKEN``) it checks a Socket Mode app instead: it calls
``apps.connections.open`` with the app token and ``auth.test`` with the bot token
(``SLACK_TOKEN``, optional here) and says who and where. No socket is opened either way.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from urllib.parse import urlsplit

from slack_rtm.cli.options import (
    add_connection_options,
    api_url_from,
    cookie_from,
    setup_logging,
    token_from,
    user_agent_from,
)
from slack_rtm.cli.session import socket_mode_tokens

__all__ = ["register", "run"]

_EXAMPLES = """\
examples:
  SLACK_TOKEN=xoxb-... slack-rtm connect
  slack-rtm connect --api-url http://127.0.0.1:8765/api --json
  slack-rtm connect --json --show-url | jq -r .url   # the URL is a 30-second credential
  SLACK_APP_TOKEN=xapp-... SLACK_TOKEN=xoxb-... slack-rtm connect   # a Socket Mode app
"""


def register(sub: Any) -> None:
    """Add the ``connect`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "connect",
        help="call rtm.connect (or apps.connections.open) and print who and which team",
        description="Call rtm.connect and print the bot/user and team it connects as. With an "
        "app token (SLACK_APP_TOKEN): call apps.connections.open with it and auth.test with "
        "the bot token (SLACK_TOKEN) and print the bot and team.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_connection_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--show-url",
        action="store_true",
        help="also print the WebSocket URL (a single-use credential, valid for 30 seconds "
        "over RTM)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``connect``; returns the exit status."""
    from slack_rtm.api import Client, RtmApi

    setup_logging(args)
    tokens = socket_mode_tokens(args)
    if tokens is not None:
        return _run_socket_mode(args, *tokens)
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


def _run_socket_mode(args: argparse.Namespace, app_token: str, bot_token: str | None) -> int:
    """``connect`` for a Socket Mode app: ``apps.connections.open``, then ``auth.test``."""
    from slack_rtm.api import Client, WebApi

    out: dict[str, Any] = {"transport": "socket_mode"}
    with Client(base_url=api_url_from(args), user_agent=user_agent_from(args)) as client:
        web = WebApi(client)
        opened = web.api_call("apps.connections.open", app_token).result.data
        if bot_token is not None:
            who = web.api_call("auth.test", bot_token).result.data
            host = urlsplit(str(who.get("url") or "")).hostname or ""
            out["self"] = {"id": who.get("user_id"), "name": who.get("user")}
            out["team"] = {"id": who.get("team_id"), "name": who.get("team"),
                           "domain": host.split(".", 1)[0]}
            if who.get("enterprise_id"):
                out["team"]["enterprise_id"] = who["enterprise_id"]
    url = opened.get("url")
    if args.show_url and isinstance(url, str):
        out["url"] = url
    if bot_token is None:
        print("slack-rtm: set SLACK_TOKEN to the app's bot token (xoxb-) to see who and which "
              "team, and to send", file=sys.stderr)
    if args.json:
        print(json.dumps(out))
        return 0
    print("socket mode: the app token opens connections (apps.connections.open)")
    if bot_token is not None:
        me, team = out["self"], out["team"]
        print(f"connected as {me['name']} ({me['id']})")
        print(f"team {team['name']} ({team['id']}, {team['domain']})")
    if "url" in out:
        print(f"url {out['url']}  (single-use, short-lived)")
    return 0
