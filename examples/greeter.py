"""A bot that says hello back to anyone who says hello.

Run it against Slack, or against the bundled emulator::

    SLACK_TOKEN=xoxb-... python examples/greeter.py
    SLACK_TOKEN=... SLACK_API_URL=http://127.0.0.1:PORT/api python examples/greeter.py

Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import logging
import os
import re
import sys

from slack_rtm.aio import RtmClient
from slack_rtm.session.events import Message

GREETING = re.compile(r"\b(hello|hi|hey)\b", re.IGNORECASE)


def make_bot(token: str, base_url: str) -> RtmClient:
    """The client with its handler registered (not connected yet)."""
    rtm = RtmClient(token, base_url=base_url)

    @rtm.on("message")
    async def greet(event: Message) -> None:
        # Skip edits, joins, bot posts (subtypes) and our own messages.
        if event.subtype is not None or not event.user or event.user == rtm.self.id:
            return
        if event.channel and GREETING.search(event.text or ""):
            await rtm.send_message(event.channel, f"Hello <@{event.user}>!",
                                   thread_ts=event.thread_ts)

    @rtm.on("connected")
    def ready(event: object) -> None:
        logging.info("connected as %s in %s", rtm.self.name, rtm.team.domain)

    return rtm


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    token = os.environ.get("SLACK_TOKEN")
    if not token:
        print("set SLACK_TOKEN to a bot token (xoxb-...)", file=sys.stderr)
        return 2
    base_url = os.environ.get("SLACK_API_URL", "https://slack.com/api")
    make_bot(token, base_url).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
