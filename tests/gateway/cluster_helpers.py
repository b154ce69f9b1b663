"""Helpers for the cluster tests: gateway child processes, a cuttable TCP proxy, reading the
stream and the assignments from the test process."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient

from slack_rtm.gateway.contract import (
    ASSIGNMENTS_BUCKET,
    HEADER_BACKFILLED,
    HEADER_SESSION,
    STREAM,
    Assignment,
)

# Fast lease timings so that the tests take seconds (the ratios of the defaults kept).
FAST_LEASE = {"renew_every": 0.2, "fence_after": 0.7, "expire_after": 1.2, "handover_timeout": 1.0}


async def until(check: Callable[[], Any], timeout: float, what: str, step: float = 0.02) -> Any:
    """Poll ``check`` (sync or async) until it returns something true; its result."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(step)


class Child:
    """One gateway process: ``slack-rtm gateway`` (the CLI), the key in its environment.

    ``settings`` are run options by their GatewayConfig names (``capacity=100`` becomes
    ``--capacity 100``)."""

    def __init__(
        self, name: str, nats_url: str, key: bytes, api_url: str, log_dir: Path, **settings: Any
    ) -> None:
        self.name = name
        options = {
            "name": name,
            "api_url": api_url,
            "drain_timeout": 5.0,
            "takeover_rate": 50.0,
            "connect_rate": 20.0,
            "log_level": "info",
            **FAST_LEASE,
            **settings,
        }
        argv = [sys.executable, "-m", "slack_rtm", "gateway", "--nats", nats_url]
        for option, value in options.items():
            if option != "handover_timeout":  # not a CLI option (its default suits)
                argv += [f"--{option.replace('_', '-')}", str(value)]
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in wait()
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "SLACK_RTM_GATEWAY_KEY": base64.b64encode(key).decode(),
        }
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.proc.kill()

    async def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} did not exit within {timeout} s:\n" + self.log()[-3000:]
                )
            await asyncio.sleep(0.02)
        self._log.close()
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


class Proxy:
    """A TCP proxy on 127.0.0.1 that can be cut (every connection dropped, new ones refused
    at once) and restored: one process loses NATS while the others keep it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.cut_off = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> Proxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def cut(self) -> None:
        self.cut_off = True
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self.cut_off = False

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def assignments(nc: NatsClient) -> dict[str, str]:
    """Registration id → holder, as the assignments bucket says (failed markers left out)."""
    kv = await nc.jetstream().key_value(ASSIGNMENTS_BUCKET)
    out: dict[str, str] = {}
    try:
        keys = await kv.keys()
    except nats.js.errors.NoKeysError:
        return out
    for key in keys:
        try:
            entry = await kv.get(key)
        except nats.js.errors.KeyNotFoundError:
            continue
        record = msgspec.json.decode(entry.value or b"", type=Assignment)
        if record.holder:
            out[key] = record.holder
    return out


class StreamMessage(msgspec.Struct, frozen=True):
    subject: str
    data: dict[str, Any]
    session: str
    backfilled: bool


async def stream_messages(nc: NatsClient, stream: str = STREAM) -> list[StreamMessage]:
    """Every message stored in the stream, in order."""
    js = nc.jetstream()
    try:
        info = await js.stream_info(stream)
    except nats.js.errors.NotFoundError:
        return []
    out = []
    if not info.state.messages:
        return []
    for seq in range(max(1, info.state.first_seq), info.state.last_seq + 1):
        try:
            msg = await js.get_msg(stream, seq)
        except nats.js.errors.NotFoundError:
            continue
        headers = msg.headers or {}
        out.append(
            StreamMessage(
                msg.subject,
                json.loads(msg.data or b"{}"),
                headers.get(HEADER_SESSION, ""),
                headers.get(HEADER_BACKFILLED) == "true",
            )
        )
    return out


async def connect(url: str) -> NatsClient:
    return await nats.connect(url)
