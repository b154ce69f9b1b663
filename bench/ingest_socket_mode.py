"""Socket Mode ingest process: one client receives envelopes and acks each one.

``python bench/ingest_socket_mode.py --client NAME --n N --api URL --app-token XAPP --token XOXB``
opens a Socket Mode socket (``apps.connections.open`` with the app token), writes
``{"event": "ready"}`` once ``hello`` has arrived (the runner then fires the emulator's Socket
Mode firehose at it: N ``events_api`` envelopes, each a ~300-byte ``message`` event), decodes
every envelope, sends its ack frame and counts it; then writes ``{"event": "result", ...}`` like
``ingest.py`` (first to N-th envelope; the process's CPU time). A client whose code or package
is missing writes ``{"event": "na", "reason"}``.

Clients (:data:`CLIENTS`): ``bare``: picows + msgspec typed structs, the ack encoded by msgspec
and sent from the frame callback (the yardstick); ``slack_sdk``: slack_sdk's aiohttp
``SocketModeClient`` with an async listener that acks; ``ours``: ``slack_rtm.SocketModeClient``
(``async for``, acked by the client itself), "not built" until it exists.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import os
import sys
import urllib.request
from collections.abc import Callable
from typing import Any

import msgspec
from child import NotBuilt, emit, fail
from ingest import Marks, calibrate

Count = Callable[[], bool]
OnHello = Callable[[], None]

#: client name -> (label, packages it needs beyond the runtime dependencies)
CLIENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "bare": ("bare picows + msgspec, acking each envelope", ()),
    "slack_sdk": ("slack_sdk socket_mode.aiohttp SocketModeClient", ("slack_sdk",)),
    "ours": ("slack_rtm SocketModeClient (async for)", ()),
}
YARDSTICK = "bare"
#: The "not built" reason of the ours row while slack_rtm.SocketModeClient does not exist.
NOT_BUILT = "not built: slack_rtm.SocketModeClient"


class Message(msgspec.Struct):
    """The ``message`` event inside an envelope: the fields a bot reads."""

    type: str = ""
    channel: str = ""
    user: str = ""
    text: str = ""
    ts: str = ""
    thread_ts: str | None = None


class Payload(msgspec.Struct):
    """An ``events_api`` payload: the callback around the event."""

    event: Message | None = None
    event_id: str = ""


class Envelope(msgspec.Struct):
    """A Socket Mode frame: ``hello`` and ``disconnect`` have a type and no envelope id."""

    type: str
    envelope_id: str = ""
    payload: Payload | None = None
    retry_attempt: int = 0


class Ack(msgspec.Struct):
    """``{"envelope_id": ...}``."""

    envelope_id: str


def connections_open(api_url: str, app_token: str, timeout: float = 10.0) -> str:
    """Call the emulator's ``apps.connections.open``; the WebSocket URL."""
    req = urllib.request.Request(  # noqa: S310 - the runner passes an http://127.0.0.1 URL
        api_url.rstrip("/") + "/apps.connections.open",
        data=b"",
        headers={"Authorization": f"Bearer {app_token}"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
        data = json.loads(resp.read())
    if not data.get("ok"):
        raise RuntimeError(f"apps.connections.open failed: {data.get('error')}")
    return str(data["url"])


async def bare(api_url: str, app_token: str, bot_token: str, on_hello: OnHello,
               count: Count) -> None:
    """picows + msgspec: decode each envelope into typed structs, ack it from the callback."""
    from picows import WSListener, WSMsgType, WSTransport, ws_connect

    url = connections_open(api_url, app_token)
    done = asyncio.get_running_loop().create_future()
    decode = msgspec.json.Decoder(Envelope).decode
    encode = msgspec.json.Encoder().encode
    text = WSMsgType.TEXT

    class Listener(WSListener):  # type: ignore[misc]
        def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
            if frame.msg_type is not text:
                return
            env = decode(frame.get_payload_as_memoryview())
            if not env.envelope_id:
                if env.type == "hello":
                    on_hello()
                return
            transport.send(text, encode(Ack(env.envelope_id)))
            if env.type == "events_api" and count() and not done.done():
                done.set_result(None)

        def on_ws_disconnected(self, transport: WSTransport) -> None:
            if not done.done():
                done.set_exception(ConnectionError("disconnected before the N-th envelope"))

    transport, _ = await ws_connect(Listener, url)
    try:
        await done
    finally:
        transport.disconnect()


async def slack_sdk(api_url: str, app_token: str, bot_token: str, on_hello: OnHello,
                    count: Count) -> None:
    """slack_sdk's aiohttp ``SocketModeClient``, an async listener acking each request."""
    from slack_sdk.socket_mode.aiohttp import SocketModeClient
    from slack_sdk.socket_mode.request import SocketModeRequest
    from slack_sdk.socket_mode.response import SocketModeResponse
    from slack_sdk.web.async_client import AsyncWebClient

    done = asyncio.get_running_loop().create_future()
    client = SocketModeClient(
        app_token=app_token, web_client=AsyncWebClient(base_url=api_url.rstrip("/") + "/"),
        ping_interval=30,
    )

    async def listener(client: SocketModeClient, req: SocketModeRequest) -> None:
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
        if req.type == "events_api" and count() and not done.done():
            done.set_result(None)

    client.socket_mode_request_listeners.append(listener)  # type: ignore[arg-type]
    await client.connect()  # the socket is open: the runner waits for the emulator to see it
    on_hello()
    try:
        await done
    finally:
        await client.close()


def socket_mode_client_class() -> Any:
    """``slack_rtm.SocketModeClient``, or NotBuilt (imported only when the ours row runs)."""
    for module in ("slack_rtm", "slack_rtm.aio"):
        try:
            return importlib.import_module(module).SocketModeClient
        except (ImportError, AttributeError):
            continue
    raise NotBuilt(NOT_BUILT)


async def ours(api_url: str, app_token: str, bot_token: str, on_hello: OnHello,
               count: Count) -> None:
    """Our Socket Mode client through its public API: ``async with``, then ``async for``.

    One socket, like the other rows (the runner fires at the only one open); acks at once
    (the default), sent by the client as each read buffer's envelopes are queued."""
    client = socket_mode_client_class()(app_token, bot_token=bot_token, base_url=api_url,
                                        connections=1)
    async with client:
        on_hello()
        async for event in client:
            if event.type == "message" and count():
                break


RUNNERS = {"bare": bare, "slack_sdk": slack_sdk, "ours": ours}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", required=True, choices=sorted(CLIENTS))
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--api", required=True)
    parser.add_argument("--app-token", required=True)
    parser.add_argument("--token", required=True, help="the bot token (ours: send/auth.test)")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    if args.n < 2:
        parser.error("--n must be >= 2")
    for package in CLIENTS[args.client][1]:
        if importlib.util.find_spec(package) is None:
            emit("na", reason=f"not installed: {package}")
            return
    marks = Marks(args.n)

    def ready() -> None:
        emit("ready", pid=os.getpid())

    main_coro = RUNNERS[args.client](args.api, args.app_token, args.token, ready,
                                     marks.counter())
    try:
        asyncio.run(asyncio.wait_for(main_coro, args.timeout))
    except NotBuilt as exc:
        emit("na", reason=str(exc))
        return
    except Exception as exc:
        fail(f"{type(exc).__name__}: {exc}")
    if marks.first is None or marks.last is None:
        fail(f"the client stopped after {marks.seen} of {marks.n} envelopes")
        return
    emit(
        "result",
        events=marks.n - 1,
        seconds=marks.last[0] - marks.first[0],
        cpu_seconds=marks.last[1] - marks.first[1],
        voluntary_switches=marks.switches[1][0] - marks.switches[0][0],
        involuntary_switches=marks.switches[1][1] - marks.switches[0][1],
        calib_cpu_seconds=calibrate(),
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
