"""``slack-rtm demo``: the emulator, people chatting, and a bot answering them, all in-process.

It shows the whole SDK with no Slack account: the emulator's default workspace, a few simulated
people posting in ``#general`` and ``#random`` (with typing indicators and presence changes), and
an example bot on :class:`~slack_rtm.aio.RtmClient` that greets whoever says hello and answers
``ping``. Half-way through, the emulator says ``goodbye`` and the bot reconnects without losing
an event. On a terminal it shows the live view; otherwise one line per event.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from typing import Any

from slack_rtm.aio import RtmClient
from slack_rtm.backoff import Backoff
from slack_rtm.cli.listen import watch
from slack_rtm.cli.view import LiveView
from slack_rtm.emulator import Emulator
from slack_rtm.session.events import Event, Message

__all__ = ["bot_reply", "register", "run"]

_LINES = (
    "hello everyone",
    "has anyone seen the build logs?",
    "hi bot",
    "ping",
    "lunch at noon?",
    "the deploy is green",
    "hello there",
    "who is on call this week?",
    "ping",
    "coffee?",
)


def register(sub: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="run the emulator, simulated people and an example bot, with the live view",
        description=(
            "Start the bundled emulator with its default workspace, simulated people chatting, "
            "and an example bot that answers them; watch it live. No Slack account needed."
        ),
        epilog="examples:\n  slack-rtm demo\n  slack-rtm demo --seconds 5 --plain",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="how long to run (default 20; Ctrl-C stops)"
    )
    parser.add_argument(
        "--plain", action="store_true", help="one line per event even on a terminal"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed the simulated chatter")
    parser.set_defaults(func=run)


def bot_reply(event: Event, bot_id: str) -> str | None:
    """What the example bot says to ``event``, or None. Pure, so it is easy to test."""
    if not isinstance(event, Message) or event.subtype or not event.text or event.user == bot_id:
        return None
    text = event.text.lower()
    if "hello" in text or text.startswith("hi "):
        return f"Hello <@{event.user}>! :wave:"
    if text.strip() == "ping":
        return "pong"
    return None


async def _chatter(emu: Emulator, rng: random.Random, seconds: float) -> None:
    people = [u.id for u in emu.workspace.people]
    channels = [emu.workspace.channel_by_name(n).id for n in ("general", "random")]
    goodbye_at = seconds / 2
    loop = asyncio.get_running_loop()
    start = loop.time()
    said_goodbye = False
    for line in rng.sample(_LINES, len(_LINES)) * 1000:
        await asyncio.sleep(rng.uniform(0.3, 0.9))
        who, where = rng.choice(people), rng.choice(channels)
        await emu.inject_event({"type": "user_typing", "channel": where, "user": who})
        if rng.random() < 0.2:
            await emu.set_presence(rng.choice(people), rng.choice(("active", "away")))
        await asyncio.sleep(0.15)
        await emu.post_message(who, where, line)
        if not said_goodbye and loop.time() - start > goodbye_at:
            said_goodbye = True
            await emu.send_goodbye(close_after=0.5)  # the bot reconnects make-before-break


async def _demo(seconds: float, plain: bool, seed: int | None) -> LiveView:
    rng = random.Random(seed)
    async with Emulator() as emu:
        ws = emu.workspace
        names = {u.id: u.name for u in ws.users.values()}
        names.update({c.id: c.name for c in ws.channels.values()})
        view = LiveView("slack-rtm demo — emulator + example bot (Ctrl-C to stop)", names=names)
        bot = RtmClient(
            emu.bot_token, base_url=emu.api_url, ping_interval=5.0, reconnect=Backoff(0.05, 2.0)
        )

        replies: set[asyncio.Task[None]] = set()

        async def say(channel: str, text: str) -> None:
            ack = await bot.send_message(channel, text)
            line = f"  bot → #{names.get(channel, channel)}: {text} (ts {ack.ts})"
            view.note(line)
            if plain:
                print(line, flush=True)

        @bot.on("message")
        def answer(event: Message) -> None:
            reply = bot_reply(event, bot.self.id)
            if reply is not None and event.channel:
                # Reply in a task of its own: the handler returns at once, the ack comes later.
                task = asyncio.ensure_future(say(event.channel, reply))
                replies.add(task)
                task.add_done_callback(replies.discard)

        def on_event(event: Event) -> None:
            if plain:  # otherwise watch() feeds the live view
                print(view.feed(event), flush=True)

        async def stop_later() -> None:
            await asyncio.sleep(seconds)
            await bot.close()

        tasks = [
            asyncio.ensure_future(_chatter(emu, rng, seconds)),
            asyncio.ensure_future(stop_later()),
        ]
        try:
            await watch(bot, on_event=on_event, view=None if plain else view)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, *replies, return_exceptions=True)
    return view


def run(args: argparse.Namespace) -> int:
    """Run ``demo``; returns the exit status."""
    if not args.seconds > 0:
        raise ValueError("--seconds must be > 0")
    plain = args.plain or not sys.stdout.isatty()
    view = asyncio.run(_demo(args.seconds, plain, args.seed))
    print(f"demo finished: the bot saw {view.summary()}", file=sys.stderr)
    return 0
