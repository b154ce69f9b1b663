"""A bot that says hello back to anyone who says hello, over RTM or as a Socket Mode app.

The same handlers run on either transport: :func:`make_client` picks it from the tokens.
Run it against Slack, or against the bundled emulator::

    SLACK_TOKEN=xoxb-... python examples/greeter.py                            # RTM
    SLACK_APP_TOKEN=xapp-... SLACK_TOKEN=xoxb-... python examples/greeter.py   # Socket Mode
    SLACK_TOKEN=... SLACK_API_URL=http://127.0.0.1:PORT/api python examples/greeter.py

Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Union

from slack_rtm.aio import RtmClient, SocketModeClient
from slack_rtm.session.events import Message

GREETING = re.compile(r"\b(hello|hi|hey)\b", re.IGNORECASE)

Client = Union[RtmClient, SocketModeClient]  # noqa: UP007 - a runtime alias on 3.10


def make_client(token: str, base_url: str, app_token: str | None = None) -> Client:
    """The transport: a Socket Mode app when there is an app token (``token`` is then its bot
    token, for ``chat.postMessage``), else RTM with ``token``."""
    if app_token:
        return SocketModeClient(app_token, bot_token=token, base_url=base_url)
    return RtmClient(token, base_url=base_url)


def make_bot(token: str, base_url: str, app_token: str | None = None) -> Client:
    """The client with its handlers registered (not connected yet); the same on both transports."""
    rtm = make_client(token, base_url, app_token)

    @rtm.on("message")
    async def greet(event: Message) -> None:
        # Skip edits, joins (subtypes), bots' posts and our own messages.
        if event.subtype is not None or event.bot_id or not event.user:
            return
        if event.user == rtm.self.id:
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
        print("set SLACK_TOKEN to a bot token (xoxb-...), and SLACK_APP_TOKEN (xapp-...) "
              "for a Socket Mode app", file=sys.stderr)
        return 2
    base_url = os.environ.get("SLACK_API_URL", "https://slack.com/api")
    make_bot(token, base_url, os.environ.get("SLACK_APP_TOKEN")).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
