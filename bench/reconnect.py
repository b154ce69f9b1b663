"""Reconnect scenario process: our asyncio client, kept connected while the server cuts it.

``python bench/reconnect.py --api URL --token TOKEN`` connects a ``slack_rtm.RtmClient``, writes
``{"event": "hello", "t"}`` (``time.monotonic()``, shared with the server process on Linux) at
every ``hello`` it sees and ``{"event": "ready"}`` after the first, and records the numbered
events (``message`` text ``seq <i>``) the user receives, duplicates included. On the command
``{"cmd": "report"}`` it writes ``{"event": "report", "seqs": [...]}`` and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from child import emit, run_scenario


async def _stdin_lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def run(args: argparse.Namespace) -> None:
    from ingest_ours import async_client_class

    cls = async_client_class()
    rtm = cls(args.token, base_url=args.api)
    seqs: list[int] = []

    @rtm.on("hello")  # type: ignore[misc]
    def on_hello(event: Any) -> None:
        emit("hello", t=time.monotonic())

    @rtm.on("message")  # type: ignore[misc]
    def on_message(event: Any) -> None:
        text = getattr(event, "text", None) or ""
        if text.startswith("seq "):
            seqs.append(int(text[4:]))

    commands = await _stdin_lines()
    async with rtm:
        await asyncio.sleep(0.05)  # the first hello's handler has run
        emit("ready")
        while True:
            line = await commands.readline()
            if not line:
                return
            if json.loads(line).get("cmd") == "report":
                emit("report", seqs=seqs)
                return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    run_scenario(run(args))


if __name__ == "__main__":
    main()
