"""``slack-rtm send CHANNEL TEXT``: post one message and print its ``ts``.

Over RTM; with an app token, as a Socket Mode app through ``chat.postMessage`` with its bot
token (see :func:`~slack_rtm.cli.session.client_from`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from slack_rtm.cli.options import add_connection_options, setup_logging
from slack_rtm.cli.session import client_from

__all__ = ["register", "run"]

_EXAMPLES = """\
examples:
  slack-rtm send C0123456789 "deploy finished"
  slack-rtm send C0123456789 "in the thread" --thread-ts 1700000000.000100
  slack-rtm send C0123456789 hi --json     # the whole ack as JSON
  SLACK_APP_TOKEN=xapp-... slack-rtm send C0123456789 hi   # a Socket Mode app: chat.postMessage
                                                           # with its bot token (SLACK_TOKEN)

exit status: 0 acked; 1 refused by Slack (the code and message are printed) or failed.
"""


def register(sub: Any) -> None:
    """Add the ``send`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "send",
        help="send a message (over RTM, or as a Socket Mode app) and print its ts",
        description="Connect, send one message, wait for Slack's ack and print its ts. With an "
        "app token (SLACK_APP_TOKEN) the message goes through chat.postMessage with the bot "
        "token (SLACK_TOKEN), as Socket Mode has no sending over the socket.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("channel", metavar="CHANNEL", help="channel, group or DM id (C…, G…, D…)")
    parser.add_argument("text", metavar="TEXT",
                        help="plain text, at most 4,000 characters over RTM")
    parser.add_argument("--thread-ts", metavar="TS", help="reply in this thread")
    parser.add_argument("--json", action="store_true", help="print the ack as JSON")
    add_connection_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``send``; returns the exit status."""
    setup_logging(args)
    rtm = client_from(args, sends=True)

    async def main() -> Any:
        async with rtm:
            return await rtm.send_message(args.channel, args.text, thread_ts=args.thread_ts)

    ack = asyncio.run(main())
    if args.json:
        print(json.dumps({"ok": ack.ok, "ts": ack.ts, "text": ack.text, "channel": args.channel}))
    else:
        print(ack.ts)
    return 0
