"""Send scenario process: acked round trips, one at a time, then pipelined.

``python bench/send.py --kind KIND --api URL --token TOKEN --channel C --sequential K
--pipelined M`` measures K round trips one after the other (after a short warm-up), then sends M
at once and times until the last reply. Kinds:

- ``picows_ping``: bare picows, JSON ``ping`` -> ``pong`` (the echo the target compares to);
- ``picows_message``: bare picows, ``message`` -> ack (the same server work as ours);
- ``ours_ping``: ``await rtm.ping()``;
- ``ours_message``: ``await rtm.send_message(channel, text)`` -> ack.

The result line holds the round trips in seconds (``rtts``) and ``pipelined_seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from child import NotBuilt, emit, rtm_connect_url, run_scenario

WARMUP = 20
Op = Callable[[int], Awaitable[Any]]


class Reply(msgspec.Struct):
    """Any frame with ``reply_to`` (a pong or an ack)."""

    reply_to: int | None = None
    type: str | None = None


async def picows_ops(url: str, channel: str, message: bool) -> tuple[Op, Callable[[], None]]:
    """A bare picows client that sends JSON frames by id and resolves futures by ``reply_to``."""
    from picows import WSListener, WSMsgType, WSTransport, ws_connect

    loop = asyncio.get_running_loop()
    pending: dict[int, asyncio.Future[Reply]] = {}
    hello = loop.create_future()
    decode = msgspec.json.Decoder(Reply).decode
    encode = msgspec.json.Encoder().encode

    class Listener(WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
            if frame.msg_type != WSMsgType.TEXT:
                return
            reply = decode(frame.get_payload_as_memoryview())
            if reply.reply_to is not None:
                fut = pending.pop(reply.reply_to, None)
                if fut is not None and not fut.done():
                    fut.set_result(reply)
            elif reply.type == "hello" and not hello.done():
                hello.set_result(None)

    transport, _ = await ws_connect(Listener, url)
    await hello

    async def op(i: int) -> Reply:
        fut = loop.create_future()
        pending[i] = fut
        if message:
            frame = {"id": i, "type": "message", "channel": channel, "text": f"m {i}"}
        else:
            frame = {"id": i, "type": "ping", "time": i}
        transport.send(WSMsgType.TEXT, encode(frame))
        return await fut

    return op, transport.disconnect


async def run(args: argparse.Namespace) -> None:
    close: Callable[[], Any]
    if args.kind.startswith("picows"):
        url = rtm_connect_url(args.api, args.token)
        op, close = await picows_ops(url, args.channel, args.kind == "picows_message")
        await _measure(op, args)
        close()
        return
    from ingest_ours import async_client_class

    cls = async_client_class()
    rtm = _relaxed_client(cls, args.token, args.api)
    async with rtm:
        if args.kind == "ours_ping":
            async def op(i: int) -> Any:
                return await rtm.ping()
        else:
            async def op(i: int) -> Any:
                return await rtm.send_message(args.channel, f"m {i}")
        await _measure(op, args)


def _relaxed_client(cls: Any, token: str, api: str) -> Any:
    """Our client with its outgoing rate limiter relaxed (huge burst and rate)."""
    import inspect

    params = inspect.signature(cls).parameters
    if "send_rate" not in params or "send_burst" not in params:
        raise NotBuilt("not built: RtmClient(send_rate=, send_burst=)")
    big = 1_000_000
    return cls(token, base_url=api, send_rate=float(big), send_burst=big)


async def _measure(op: Op, args: argparse.Namespace) -> None:
    i = 0
    for _ in range(WARMUP):
        i += 1
        await op(i)
    rtts = []
    clock = time.perf_counter
    for _ in range(args.sequential):
        i += 1
        t0 = clock()
        await op(i)
        rtts.append(clock() - t0)
    pipelined_seconds = None
    if args.pipelined:
        t0 = clock()
        await asyncio.gather(*(op(i + k + 1) for k in range(args.pipelined)))
        pipelined_seconds = clock() - t0
    emit("result", rtts=rtts, pipelined=args.pipelined, pipelined_seconds=pipelined_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", required=True,
                        choices=("picows_ping", "picows_message", "ours_ping", "ours_message"))
    parser.add_argument("--api", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--channel", required=True)
    parser.add_argument("--sequential", type=int, default=1000)
    parser.add_argument("--pipelined", type=int, default=0)
    args = parser.parse_args()
    run_scenario(run(args))
    os._exit(0)


if __name__ == "__main__":
    main()
