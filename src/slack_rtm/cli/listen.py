"""``slack-rtm listen``: stream events as JSON lines, or watch them live with ``--pretty``.

Over RTM, or over Socket Mode with an app token (see :func:`~slack_rtm.cli.session.client_from`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any, TextIO

import msgspec

from slack_rtm.aio import RtmClient
from slack_rtm.cli.options import add_connection_options, setup_logging
from slack_rtm.cli.session import SessionClient, client_from, on_signals
from slack_rtm.cli.view import LiveView
from slack_rtm.errors import SlackRtmError
from slack_rtm.redact import redact_url
from slack_rtm.session.events import Envelope, Event, ReconnectUrl

__all__ = ["EventFilter", "envelope_json", "event_json", "register", "run", "watch"]

_EXAMPLES = """\
examples:
  slack-rtm listen                                  # every event, one JSON object a line
  slack-rtm listen --type message --channel C0123 | jq -r .text
  slack-rtm listen --pretty                         # live view: counters, rtt, state
  slack-rtm listen --type connected --type closed   # lifecycle events are events too
  slack-rtm listen --state ~/.slack-rtm.db          # catch up on what was missed, across runs
  SLACK_APP_TOKEN=xapp-... slack-rtm listen         # a Socket Mode app (SLACK_TOKEN: its bot)

Ctrl-C stops cleanly (exit status 0) and prints a summary on stderr.
"""

_encode = msgspec.json.Encoder().encode


def register(sub: Any) -> None:
    """Add the ``listen`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "listen",
        help="stream events as JSON lines (or a live view with --pretty)",
        description="Connect and print every event as one JSON object a line, until Ctrl-C.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--type", action="append", default=[], metavar="TYPE", help="only this type (repeatable)"
    )
    parser.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="ID",
        help="only this channel (repeatable)",
    )
    parser.add_argument("--pretty", action="store_true", help="a live terminal view instead")
    parser.add_argument(
        "--state",
        metavar="FILE",
        help="catch up on missed messages, keeping cursors in this SQLite file across runs "
        "(backfilled lines carry \"backfilled\": true)",
    )
    add_connection_options(parser)
    parser.set_defaults(func=run)


class EventFilter:
    """Which events to print: by type and by channel (an empty list lets everything through)."""

    def __init__(self, types: list[str], channels: list[str]) -> None:
        self.types = frozenset(types)
        self.channels = frozenset(channels)

    def __call__(self, event: Event) -> bool:
        if self.types and event.type not in self.types:
            return False
        if self.channels:
            channel = getattr(event, "channel", None)
            if not isinstance(channel, str):
                channel = event.raw.get("channel") or event.raw.get("channel_id")
            if isinstance(channel, dict):  # an interaction's channel object
                channel = channel.get("id")
            return isinstance(channel, str) and channel in self.channels
        return True


def event_json(event: Event) -> bytes:
    """The event as one JSON line: the object as Slack sent it (lifecycle events: their fields).

    A message catch-up fetched from history carries ``"backfilled": true``; a
    ``reconnect_url`` event's URL (a credential) is shown redacted. An event that came in a
    Socket Mode envelope carries its metadata as ``"envelope"`` (``envelope_id``, ``type``,
    ``event_id`` for the Events API, ``retry_attempt``, ``retry_reason``,
    ``accepts_response_payload``); a command's or interaction's ``response_url`` (a
    credential) is shown redacted and its verification ``token`` hidden.
    """
    raw = event.raw
    if "type" not in raw:
        raw = {"type": event.type, **raw}
    if event.backfilled:
        raw = {**raw, "backfilled": True}
    if isinstance(event, ReconnectUrl) and isinstance(raw.get("url"), str):
        raw = {**raw, "url": redact_url(raw["url"])}
    envelope = event.envelope
    if envelope is not None:
        raw = {**_without_secrets(raw), "envelope": envelope_json(envelope)}
    return _encode(raw) + b"\n"


def envelope_json(envelope: Envelope) -> dict[str, Any]:
    """A Socket Mode envelope's metadata for a JSON line (no payload: the event is the line)."""
    out: dict[str, Any] = {"envelope_id": envelope.envelope_id, "type": envelope.type}
    if envelope.event_id is not None:
        out["event_id"] = envelope.event_id
    out["retry_attempt"] = envelope.retry_attempt
    out["retry_reason"] = envelope.retry_reason
    out["accepts_response_payload"] = envelope.accepts_response_payload
    return out


def _without_secrets(value: Any) -> Any:
    """``value`` with every ``response_url`` redacted and every ``token`` hidden, at any depth
    (a ``view_submission`` lists its ``response_urls``)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "response_url" and isinstance(item, str):
                out[key] = redact_url(item)
            elif key == "token" and isinstance(item, str):
                out[key] = "[redacted]"
            else:
                out[key] = _without_secrets(item)
        return out
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    return value


async def watch(
    rtm: SessionClient,
    *,
    on_event: Any,
    view: LiveView | None = None,
    out: TextIO = sys.stdout,
    redraw: float = 0.1,
    rtt_every: float = 2.0,
) -> None:
    """Connect, feed every event to ``on_event`` (and the live view), until closed or a signal.

    With a view, the screen is redrawn every ``redraw`` seconds and, over RTM, the round trip
    is measured every ``rtt_every`` seconds (Socket Mode's keepalive is WebSocket pings: no
    round trip to show).

    Raises:
        SlackRtmError: the error that stopped the session (e.g. ``invalid_auth``).
    """
    tasks: list[asyncio.Task[None]] = []

    async def draw() -> None:
        assert view is not None
        while True:
            out.write(view.frame())
            out.flush()
            await asyncio.sleep(redraw)

    async def measure() -> None:
        assert view is not None
        assert isinstance(rtm, RtmClient)
        while True:
            await asyncio.sleep(rtt_every)
            with contextlib.suppress(SlackRtmError):
                view.rtt = await rtm.ping()

    def stop() -> None:
        tasks.append(asyncio.ensure_future(rtm.close()))

    with on_signals(stop):
        if view is not None:
            tasks.append(asyncio.ensure_future(draw()))
        try:
            await rtm.connect()
            if view is not None and isinstance(rtm, RtmClient):
                tasks.append(asyncio.ensure_future(measure()))
            async for event in rtm:
                if view is not None:
                    view.feed(event)
                on_event(event)
        finally:
            await rtm.close()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if view is not None:
                view.set_state("closed")
                out.write(view.frame())
                out.flush()


def run(args: argparse.Namespace) -> int:
    """Run ``listen``; returns the exit status."""
    setup_logging(args)
    rtm = client_from(args, state=args.state)
    keep = EventFilter(args.type, args.channel)
    view = LiveView("slack-rtm listen") if args.pretty else None
    counted = LiveView("summary")  # counts for the summary on exit
    stdout = sys.stdout.buffer

    def on_event(event: Event) -> None:
        counted.feed(event)
        if view is None and keep(event):
            stdout.write(event_json(event))
            stdout.flush()

    try:
        asyncio.run(watch(rtm, on_event=on_event, view=view))
    finally:
        print(f"slack-rtm: {counted.summary()}", file=sys.stderr)
    return 0
