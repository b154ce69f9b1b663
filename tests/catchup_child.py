"""A child process for the crash/restart catch-up tests: a client with catch_up=True and
state=$CURSOR_STATE, printing "connected" once and then "<ts> <1|0>" per message (1 when
backfilled), flushed, until killed. Reads SLACK_API_URL and SLACK_TOKEN; runs the asyncio client,
or the sync one with ``--sync`` on the command line."""

from __future__ import annotations

import asyncio
import os
import sys

from slack_rtm import sync
from slack_rtm.aio import RtmClient


async def main() -> None:
    rtm = RtmClient(
        os.environ["SLACK_TOKEN"],
        base_url=os.environ["SLACK_API_URL"],
        catch_up=True,
        state=os.environ["CURSOR_STATE"],
    )
    async with rtm:
        print("connected", flush=True)
        async for event in rtm:
            if event.type == "message":
                print(event.ts, int(event.backfilled), flush=True)


def main_sync() -> None:
    with sync.RtmClient(
        os.environ["SLACK_TOKEN"],
        base_url=os.environ["SLACK_API_URL"],
        catch_up=True,
        state=os.environ["CURSOR_STATE"],
    ) as rtm:
        print("connected", flush=True)
        for event in rtm:
            if event.type == "message":
                print(event.ts, int(event.backfilled), flush=True)


if __name__ == "__main__":
    try:
        if sys.argv[1:] == ["--sync"]:
            main_sync()
        else:
            asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
