"""``slack-rtm emulator``: run the local Slack RTM emulator until Ctrl-C.

It prints the Web API URL and the default workspace's tokens. This is the one place slack-rtm
prints tokens, on purpose: they are the emulator's own fake tokens, made up at start, good for
nothing but this emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import signal
import sys
from typing import Any

from slack_rtm.emulator import Emulator

__all__ = ["register", "run"]

_EXAMPLES = """\
examples:
  slack-rtm emulator                       # http://127.0.0.1:8765/api
  slack-rtm emulator --port 0              # any free port
  slack-rtm emulator --write-rate 0        # no write limit on the sockets
"""


def register(sub: Any) -> None:
    """Add the ``emulator`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "emulator",
        help="run a local Slack RTM emulator",
        description="Run a local Slack-compatible RTM server (Web API + WebSocket) until Ctrl-C.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free)")
    parser.add_argument(
        "--connect-rate-limit",
        type=int,
        default=None,
        metavar="N",
        help="rtm.connect calls allowed per minute per token (default: no limit)",
    )
    parser.add_argument(
        "--write-rate",
        type=float,
        default=1.0,
        metavar="PER_SECOND",
        help="messages a socket may send per second after its burst (default 1; 0: no limit)",
    )
    parser.add_argument(
        "--write-burst", type=int, default=20, metavar="N", help="burst size (default 20)"
    )
    parser.add_argument(
        "--url-ttl", type=float, default=30.0, metavar="SECONDS", help="WebSocket URL lifetime"
    )
    parser.set_defaults(func=run)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _banner(emu: Emulator) -> str:
    ws = emu.workspace
    lines = [
        f"slack-rtm emulator listening on {emu.base_url}",
        f"API URL:      {emu.api_url}",
        f"Control API:  {emu.control_url}",
        f"Team:         {ws.team.id} {ws.team.name} ({ws.team.domain})",
    ]
    # Tokens printed on purpose: fake tokens of this emulator only (see the module docstring).
    for user in ws.users.values():
        kind = "bot   " if user.is_bot else "person"
        lines.append(f"{kind}        {user.id} {user.name:<8} token {user.token}")
    for ch in ws.channels.values():
        name = ch.name if ch.kind == "im" else f"#{ch.name}"
        lines.append(f"channel       {ch.id} {name} ({ch.kind})")
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


async def _serve(emu: Emulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await emu.start()
    try:
        print(_banner(emu), flush=True)
        await stop.wait()
    finally:
        await emu.stop()
        print("emulator stopped", flush=True)


def run(args: argparse.Namespace) -> int:
    """Run the emulator until SIGINT/SIGTERM; returns 0."""
    if not 0 <= args.port <= 65535:
        raise ValueError("--port must be between 0 and 65535")
    if not _is_loopback(args.host):
        print(
            f"slack-rtm: warning: binding {args.host}, not loopback: anyone who can reach it "
            "can read the tokens from the control API",
            file=sys.stderr,
        )
    emu = Emulator(
        host=args.host,
        port=args.port,
        connect_rate_limit=args.connect_rate_limit,
        write_rate=args.write_rate if args.write_rate > 0 else None,
        write_burst=args.write_burst,
        url_ttl=args.url_ttl,
    )
    asyncio.run(_serve(emu))
    return 0
