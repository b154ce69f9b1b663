"""Density scenario process: many idle connected sessions in one process; RSS, threads, CPU.

``python bench/density.py --kind ours|ours_shared_ssl|picows --sessions N --api URL --token T``
raises its file-descriptor limit, opens a few warm-up sessions (so one-time costs such as lazy
imports are not charged to every session), then the rest (stopping early, and saying so, past
``--max-rss-mib`` or ``--max-seconds``), lets them settle, and writes one result line: RSS per
session (``(rss_after - rss_warm) / (N - warm)``), OS threads before and after, and the
process's CPU while every session sits idle for ``--idle`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from child import (
    cpu_seconds,
    emit,
    raise_fd_limit,
    rss_bytes,
    run_scenario,
    thread_count,
)


async def _open_many(opener: Callable[[], Awaitable[Any]], n: int, concurrency: int) -> list[Any]:
    sem = asyncio.Semaphore(concurrency)

    async def one() -> Any:
        async with sem:
            return await opener()

    return list(await asyncio.gather(*(one() for _ in range(n))))


def ours_opener(api: str, token: str, stack: contextlib.AsyncExitStack,
                shared_ssl: bool = False, keepalive: tuple[float, float] | None = None,
                ) -> Callable[[], Any]:
    """Each call connects one ``slack_rtm.RtmClient`` (``async with``: until ``hello``);
    with ``shared_ssl`` every client gets the same ``ssl.SSLContext``; ``keepalive`` is
    ``(ping_interval, ping_timeout)`` (None: the client's defaults)."""
    import ssl

    from ingest_ours import async_client_class

    cls = async_client_class()
    options: dict[str, Any] = {"ssl": ssl.create_default_context()} if shared_ssl else {}
    if keepalive is not None:
        options["ping_interval"], options["ping_timeout"] = keepalive

    async def open_one() -> Any:
        rtm = cls(token, base_url=api, **options)
        await stack.enter_async_context(rtm)
        return rtm

    return open_one


def picows_opener(api: str, token: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """Each call does ``rtm.connect`` (one shared HTTP client) and a bare picows connection
    that waits for ``hello``; the second callable closes the HTTP client."""
    import httpx
    from picows import WSListener, WSMsgType, WSTransport, ws_connect

    http = httpx.AsyncClient(timeout=30.0, limits=httpx.Limits(max_connections=50))
    connect_url = api.rstrip("/") + "/rtm.connect"
    headers = {"Authorization": f"Bearer {token}"}

    class Listener(WSListener):  # type: ignore[misc]
        def __init__(self) -> None:
            self.hello = asyncio.get_running_loop().create_future()

        def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
            if frame.msg_type == WSMsgType.TEXT and not self.hello.done():
                self.hello.set_result(None)

    async def open_one() -> Any:
        resp = await http.post(connect_url, headers=headers)
        url = resp.json()["url"]
        transport, listener = await ws_connect(Listener, url)
        await listener.hello
        return transport

    return open_one, http.aclose


async def run(args: argparse.Namespace) -> dict[str, Any]:
    warm = min(10, max(1, args.sessions // 10))
    if args.no_wheel:
        from slack_rtm.aio.wheel import set_timer_wheel

        set_timer_wheel(asyncio.get_running_loop(), None)  # one precise timer per session
    async with contextlib.AsyncExitStack() as stack:
        if args.kind in ("ours", "ours_shared_ssl"):
            keepalive = None if args.ping_interval is None else (args.ping_interval,
                                                                  args.ping_timeout)
            opener = ours_opener(args.api, args.token, stack, args.kind == "ours_shared_ssl",
                                 keepalive)
            after_connect: Callable[[], Any] | None = None
        else:
            opener, after_connect = picows_opener(args.api, args.token)
        gc.collect()
        rss0, threads0 = rss_bytes(), thread_count()
        held = await _open_many(opener, warm, args.concurrency)
        gc.collect()
        rss_warm = rss_bytes()
        t0 = time.monotonic()
        stopped = ""
        while len(held) < args.sessions:
            step = min(args.sessions - len(held), max(args.concurrency, args.sessions // 20))
            held += await _open_many(opener, step, args.concurrency)
            if rss_bytes() > args.max_rss_mib * 1024 * 1024:
                stopped = f"stopped at {len(held):,} sessions: RSS over {args.max_rss_mib} MiB"
            elif time.monotonic() - t0 > args.max_seconds:
                stopped = f"stopped at {len(held):,} sessions: connecting took over " \
                          f"{args.max_seconds:.0f} s"
            if stopped:
                break
        connect_seconds = time.monotonic() - t0
        if after_connect is not None:
            await after_connect()
        await asyncio.sleep(1.0)
        gc.collect()
        rss1, threads1 = rss_bytes(), thread_count()
        cpu0, w0 = cpu_seconds(), time.monotonic()
        await asyncio.sleep(args.idle)
        idle_cpu, idle_wall = cpu_seconds() - cpu0, time.monotonic() - w0
        result = {
            "sessions": len(held),
            "requested": args.sessions,
            "stopped": stopped,
            "warm": warm,
            "rss_before": rss0,
            "rss_warm": rss_warm,
            "rss_after": rss1,
            "rss_per_session": (rss1 - rss_warm) / max(1, len(held) - warm),
            "threads_before": threads0,
            "threads_after": threads1,
            "threads_per_session": (threads1 - threads0) / max(1, len(held)),
            "connect_seconds": connect_seconds,
            "idle_seconds": idle_wall,
            "idle_cpu_seconds": idle_cpu,
            "idle_cpu_percent": idle_cpu / idle_wall * 100,
            "idle_cpu_us_per_session_s": idle_cpu / idle_wall / max(1, len(held)) * 1e6,
            "fd_limit": args.fd_limit,
            "ping_interval": args.ping_interval,
            "ping_timeout": args.ping_timeout,
            "wheel": not args.no_wheel,
        }
        emit("result", **result)
        # Hold the sessions until the runner has counted them on the server (it then closes
        # stdin); closing thousands of sessions one by one would measure nothing.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        os._exit(0)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("ours", "ours_shared_ssl", "picows"), required=True)
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--api", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--idle", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--ping-interval", type=float, default=None,
                        help="our clients' ping_interval (default: the client's own)")
    parser.add_argument("--ping-timeout", type=float, default=10.0,
                        help="our clients' ping_timeout, with --ping-interval")
    parser.add_argument("--no-wheel", action="store_true",
                        help="no loop-wide keepalive timer: one precise timer per session "
                             "(as before slack_rtm.aio.wheel)")
    parser.add_argument("--max-rss-mib", type=int, default=3072,
                        help="stop opening sessions past this RSS (protects a shared machine)")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="stop opening sessions after this long")
    args = parser.parse_args()
    args.fd_limit = raise_fd_limit()
    run_scenario(run(args))


if __name__ == "__main__":
    main()
