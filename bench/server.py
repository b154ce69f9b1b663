"""The benchmark server: the project's emulator in its own process, driven over stdin.

``python bench/server.py [--write-rate R|none] [--write-burst B]`` starts
:class:`slack_rtm.emulator.Emulator` on 127.0.0.1 (any free port), raises its file-descriptor
limit, prints one JSON line ``{"event": "ready", "api_url": ..., "bot_token": ..., ...}`` and then
answers JSON command lines from stdin, each ``{"id": N, "cmd": NAME, ...}``, with
``{"id": N, "ok": true, ...}`` (or ``"ok": false, "error"``). Commands run concurrently (a
``stream`` keeps going while a ``drop`` arrives); every answer carries ``t``, the server's
``time.monotonic()`` when the action happened (on Linux the clock is shared by all processes).

Commands: ``firehose {n, user_id?}``, ``stream {count, interval, start_seq, user_id?}`` (events
``message`` with text ``seq <i>`` one by one; answers the seqs that reached no socket),
``drop {abrupt?, user_id?}``, ``goodbye {close_after?}``, ``state``, ``wait_connections {n,
timeout?}``, ``quit``; Socket Mode: ``sm_firehose {n}`` (N ``events_api`` envelopes at the one
Socket Mode socket, encoded before the clock starts), ``sm_wait {n, timeout?}`` (exactly N
Socket Mode sockets open), ``sm_acks {n, timeout?}`` (waits for N acks in all; answers
``count``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from child import raise_fd_limit

from slack_rtm.emulator import Emulator


def _write(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Server:
    """Runs the commands against one emulator."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.stop = asyncio.Event()

    async def firehose(self, cmd: dict[str, Any]) -> dict[str, Any]:
        cpu0, t0 = time.process_time(), time.monotonic()
        sent = await self.emu.firehose(int(cmd["n"]), user_id=cmd.get("user_id"))
        return {
            "sent": sent,
            "seconds": time.monotonic() - t0,
            "cpu_seconds": time.process_time() - cpu0,
        }

    async def stream(self, cmd: dict[str, Any]) -> dict[str, Any]:
        emu = self.emu
        user_id = cmd.get("user_id")
        speaker = emu.workspace.people[0]
        channel = emu.general_channel_id
        interval = float(cmd.get("interval", 0.001))
        start = int(cmd.get("start_seq", 0))
        unreached = []
        t0 = time.monotonic()
        for i in range(start, start + int(cmd["count"])):
            event = emu.make_message_event(speaker, channel, f"seq {i}", None)
            if await emu.inject_event(event, user_id=user_id) == 0:
                unreached.append(i)
            await asyncio.sleep(interval)
        return {"unreached": unreached, "seconds": time.monotonic() - t0}

    async def drop(self, cmd: dict[str, Any]) -> dict[str, Any]:
        t = time.monotonic()
        n = await self.emu.drop_connections(
            abrupt=bool(cmd.get("abrupt", True)), user_id=cmd.get("user_id")
        )
        return {"dropped": n, "t": t}

    async def goodbye(self, cmd: dict[str, Any]) -> dict[str, Any]:
        t = time.monotonic()
        n = await self.emu.send_goodbye(close_after=cmd.get("close_after"))
        return {"reached": n, "t": t}

    async def state(self, cmd: dict[str, Any]) -> dict[str, Any]:
        return {
            "connection_count": self.emu.connection_count,
            "connect_calls": self.emu.connect_calls,
            "cpu_seconds": time.process_time(),
        }

    async def wait_connections(self, cmd: dict[str, Any]) -> dict[str, Any]:
        await self.emu.wait_connections(int(cmd["n"]), timeout=float(cmd.get("timeout", 30.0)))
        return {}

    async def sm_firehose(self, cmd: dict[str, Any]) -> dict[str, Any]:
        n = int(cmd["n"])
        self.emu.prepare_socket_mode_firehose(n)
        cpu0, t0 = time.process_time(), time.monotonic()
        sent = await self.emu.socket_mode_firehose(n)
        return {
            "sent": sent,
            "seconds": time.monotonic() - t0,
            "cpu_seconds": time.process_time() - cpu0,
        }

    async def sm_wait(self, cmd: dict[str, Any]) -> dict[str, Any]:
        await self.emu.wait_socket_mode_connections(
            int(cmd["n"]), timeout=float(cmd.get("timeout", 30.0))
        )
        return {}

    async def sm_acks(self, cmd: dict[str, Any]) -> dict[str, Any]:
        n, timeout = int(cmd["n"]), float(cmd.get("timeout", 30.0))
        await self.emu.wait_socket_mode_acks(n, timeout=timeout)
        return {"count": self.emu.socket_mode_ack_count}

    async def quit(self, cmd: dict[str, Any]) -> dict[str, Any]:
        self.stop.set()
        return {}

    async def run_one(self, cmd: dict[str, Any]) -> None:
        answer: dict[str, Any] = {"id": cmd.get("id")}
        try:
            action = {
                "firehose": self.firehose,
                "stream": self.stream,
                "drop": self.drop,
                "goodbye": self.goodbye,
                "state": self.state,
                "wait_connections": self.wait_connections,
                "sm_firehose": self.sm_firehose,
                "sm_wait": self.sm_wait,
                "sm_acks": self.sm_acks,
                "quit": self.quit,
            }[str(cmd.get("cmd"))]
            result = await action(cmd)
            answer.update(ok=True, t=time.monotonic())
            answer.update(result)  # an action's own "t" (when it acted) wins
        except Exception as exc:  # reported to the runner, which decides
            answer.update(ok=False, error=f"{type(exc).__name__}: {exc}")
        _write(answer)


async def _stdin_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def main_async(args: argparse.Namespace) -> None:
    write_rate = None if args.write_rate == "none" else float(args.write_rate)
    emu = Emulator(
        connect_rate_limit=None,
        write_rate=write_rate,
        write_burst=args.write_burst,
        url_ttl=300.0,
        reconnect_url_interval=None,  # no reconnect_url frames among the measured events
    )
    async with emu:
        server = Server(emu)
        _write(
            {
                "event": "ready",
                "api_url": emu.api_url,
                "control_url": emu.control_url,
                "bot_token": emu.bot_token,
                "app_token": emu.app_token,
                "bot_user_id": emu.bot_user_id,
                "general_channel_id": emu.general_channel_id,
                "fd_limit": args.fd_limit,
            }
        )
        reader = await _stdin_reader()
        tasks: set[asyncio.Task[None]] = set()
        stop_wait = asyncio.ensure_future(server.stop.wait())
        while not server.stop.is_set():
            read = asyncio.ensure_future(reader.readline())
            await asyncio.wait({read, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if not read.done():
                read.cancel()
                break
            line = read.result()
            if not line:
                break
            task = asyncio.ensure_future(server.run_one(json.loads(line)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        for task in list(tasks):
            task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-rate", default="none", help="messages/s per socket, or none")
    parser.add_argument("--write-burst", type=int, default=20)
    args = parser.parse_args()
    args.fd_limit = raise_fd_limit()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
