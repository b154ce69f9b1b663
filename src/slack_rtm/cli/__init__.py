"""The ``slack-rtm`` command: one module per subcommand, each with ``register(subparsers)``.

A subcommand module defines ``register(subparsers: argparse._SubParsersAction) -> None`` which adds
its parser and sets ``func`` (``Callable[[argparse.Namespace], int]``) as the parser default. Errors
reach the user as one clear line on stderr and a non-zero exit status; Ctrl-C exits with 0.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from slack_rtm import __version__
from slack_rtm.errors import SlackRtmError
from slack_rtm.redact import redact_text

__all__ = ["build_parser", "main"]

_EXAMPLES = """\
examples:
  slack-rtm demo                        # no Slack account needed: emulator + bot, live
  slack-rtm emulator --port 8765        # a local Slack RTM server for your own bot
  export SLACK_TOKEN=xoxb-...           # then, against Slack (or SLACK_API_URL=emulator):
  slack-rtm connect
  slack-rtm listen --type message | jq -r .text
  slack-rtm send C0123456789 "hello"

'slack-rtm COMMAND --help' shows each command's options and examples.
"""

# Subcommand modules, in the order they appear in --help.
_COMMANDS: tuple[str, ...] = ("connect", "listen", "send", "emulator", "demo", "gateway")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="slack-rtm",
        description="Slack Real Time Messaging: connect, listen, send, and a local emulator.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"slack-rtm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(f"slack_rtm.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return func(args)
    except KeyboardInterrupt:
        return 0
    except (SlackRtmError, OSError, ValueError) as exc:
        print(f"slack-rtm: error: {redact_text(str(exc))}", file=sys.stderr)
        return 1
