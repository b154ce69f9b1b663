"""Test helpers: a small scriptable HTTP server on 127.0.0.1 (port 0) for the Web API client tests.

The server runs on its own event loop in a background thread, so the sync client (blocking
calls in the test thread) and the async client (in the test's loop) both talk to it over real
loopback sockets. Tests queue canned responses and read back the recorded requests.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from slack_rtm.api import (
    ApiResponse,
    AsyncClient,
    AsyncRtmApi,
    Client,
    RtmApi,
    RtmConnectSchema,
)

TOKEN = "xoxb-1234567890-SECRETSECRETSECRET"
WS_SECRET = "AbC123opaqueSESSION"
WS_URL = f"wss://cerberus-xxxx.lb.slack-msgs.com/websocket/{WS_SECRET}"
SUCCESS: dict[str, Any] = {
    "ok": True,
    "url": WS_URL,
    "team": {"id": "T2U81E2FP", "name": "SlackDemo", "domain": "slackdemo"},
    "self": {"id": "U4X318ZMZ", "name": "robotoverlord"},
}


@dataclass(frozen=True)
class Canned:
    """One scripted response."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    raw_path: str
    query_string: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.monotonic() on arrival


class ScriptedServer:
    """An aiohttp server answering every path from a queue of :class:`Canned` responses.

    With nothing queued it answers HTTP 599 (a status no test expects).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Canned] = deque()
        self.requests: list[Recorded] = []
        self.cancelled = 0  # handlers cancelled because the client went away
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None

    # -- scripting --------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def push(
        self,
        status: int = 200,
        *,
        json_body: Any = None,
        body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        """Queue a response ``times`` times: JSON (``json_body``) or raw ``body``."""
        hdrs = dict(headers or {})
        if json_body is not None:
            raw = json.dumps(json_body).encode()
            hdrs.setdefault("Content-Type", "application/json; charset=utf-8")
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = body or b""
        with self._lock:
            for _ in range(times):
                self._queue.append(Canned(status, raw, hdrs, delay))

    def push_success(self, **extra: Any) -> None:
        self.push(json_body={**SUCCESS, **extra})

    def push_error(self, code: str, status: int = 200, times: int = 1, **extra: Any) -> None:
        self.push(status, json_body={"ok": False, "error": code, **extra}, times=times)

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(5)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _start(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, shutdown_timeout=0.5, handler_cancellation=True, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def _stop(self) -> None:
        assert self._stopping is not None
        assert self._runner is not None
        self._stopping.set()
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        with self._lock:
            self.requests.append(
                Recorded(
                    method=request.method,
                    path=request.path,
                    raw_path=request.raw_path,
                    query_string=request.query_string,
                    headers={k.lower(): v for k, v in request.headers.items()},
                    body=body,
                    at=time.monotonic(),
                )
            )
            canned = self._queue.popleft() if self._queue else Canned(599, b"nothing scripted")
        if canned.delay:
            assert self._stopping is not None
            try:
                await asyncio.wait_for(self._stopping.wait(), canned.delay)
            except asyncio.TimeoutError:
                pass
            except asyncio.CancelledError:
                with self._lock:
                    self.cancelled += 1
                raise
        return web.Response(status=canned.status, body=canned.body, headers=canned.headers)


def free_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# Building an SSL context (loading the CA bundle) is the slowest part of making a client: the
# loopback tests speak plain HTTP, so they share one context, built once.
SHARED_SSL = ssl.create_default_context()


class Twin:
    """Drives the sync or the async client through one async interface.

    The sync client makes its blocking call on a worker thread; the async client runs in the
    test's loop. Both get an instant, recording sleep and a fixed jitter draw by default.
    """

    def __init__(self, kind: str, base_url: str) -> None:
        self.kind = kind
        self.base_url = base_url
        self.sleeps: list[float] = []
        self.rand = 0.0
        self._clients: list[Client | AsyncClient] = []

    def client(self, *, real_sleep: bool = False, **kwargs: Any) -> Client | AsyncClient:
        kwargs.setdefault("base_url", self.base_url)
        kwargs.setdefault("timeout", 5.0)
        kwargs.setdefault("verify", SHARED_SSL)
        client: Client | AsyncClient
        if self.kind == "sync":
            client = Client(**kwargs)
            if not real_sleep:
                client._sleep = self.sleeps.append
        else:
            client = AsyncClient(**kwargs)
            if not real_sleep:
                client._sleep = self._async_sleep
        client._random = lambda: self.rand
        self._clients.append(client)
        return client

    async def _async_sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    async def connect(
        self, *args: Any, client: Client | AsyncClient | None = None, **kwargs: Any
    ) -> ApiResponse[RtmConnectSchema]:
        if not args:
            args = (TOKEN,)
        if client is None:
            client = self._clients[0] if self._clients else self.client()
        if isinstance(client, Client):
            return await asyncio.to_thread(RtmApi(client).rtm_connect, *args, **kwargs)
        return await AsyncRtmApi(client).rtm_connect(*args, **kwargs)

    async def close(self) -> None:
        for client in self._clients:
            if isinstance(client, Client):
                client.close()
            else:
                await client.aclose()


async def eventually(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    """Wait (polling) until ``predicate()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)

