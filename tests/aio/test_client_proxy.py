"""The proxy setting reaches both rtm.connect (HTTP) and the WebSocket (HTTP CONNECT)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace

import pytest
from aio_helpers import FAST, next_event, person

from slack_rtm.aio import RtmClient, State
from slack_rtm.emulator import Emulator
from slack_rtm.errors import TransportError


class HttpProxy:
    """A minimal HTTP proxy on loopback: CONNECT tunnels and absolute-form requests."""

    def __init__(self, *, refuse_connect: bool = False) -> None:
        self.refuse_connect = refuse_connect
        self.connects: list[str] = []
        self.requests: list[str] = []
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> HttpProxy:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, version = head.split(b"\r\n", 1)[0].decode().split(" ")
            if method == "CONNECT":
                self.connects.append(target)
                if self.refuse_connect:
                    writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                    await writer.drain()
                    return
                host, port = target.rsplit(":", 1)
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:  # absolute-form: http://host:port/path
                self.requests.append(target)
                rest = target.split("://", 1)[1]
                hostport, _, path = rest.partition("/")
                host, port = hostport.rsplit(":", 1)
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
                first = f"{method} /{path} {version}\r\n".encode()
                up_writer.write(first + head.split(b"\r\n", 1)[1])
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()


async def test_proxy_carries_rtm_connect_and_the_websocket(emu: Emulator) -> None:
    alice = person(emu)
    async with HttpProxy() as proxy:
        rtm = RtmClient(emu.bot_token, base_url=emu.api_url, proxy=proxy.url, config=FAST)
        async with rtm:
            assert rtm.state is State.CONNECTED
            assert any(r.endswith("/api/rtm.connect") for r in proxy.requests)
            assert proxy.connects == [f"127.0.0.1:{emu.port}"]
            it = aiter(rtm)
            await emu.post_message(alice, emu.general_channel_id, "via the proxy")
            msg = await next_event(it, "message")
            assert msg.text == "via the proxy"
            assert (await rtm.send_message(emu.general_channel_id, "back through it")).ok


async def test_unreachable_proxy_is_a_transport_error(emu: Emulator) -> None:
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, proxy="http://127.0.0.1:9",
                    config=replace(FAST, max_attempts=2))
    with pytest.raises(TransportError):
        await rtm.connect()
    assert rtm.state is State.CLOSED
    assert emu.connect_calls == 0


async def test_proxy_refusing_the_websocket_is_retried_then_reported(emu: Emulator) -> None:
    async with HttpProxy(refuse_connect=True) as proxy:
        rtm = RtmClient(emu.bot_token, base_url=emu.api_url, proxy=proxy.url,
                        config=replace(FAST, max_attempts=2))
        with pytest.raises(TransportError, match="WebSocket") as info:
            await rtm.connect()
        assert "/websocket/" not in str(info.value)  # the session URL never shows
        assert emu.connect_calls == 2  # rtm.connect went through; each socket was refused
        assert len(proxy.connects) == 2
