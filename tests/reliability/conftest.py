"""Fixtures for the reliability and security tests: a loopback echo server and a leak check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from .chaos import _reset
from .leakcheck import LeakCheck


class EchoServer:
    """A TCP echo server on 127.0.0.1 that records what it received and can reset its clients."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.eofs = 0
        self.resets = 0
        self.port = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while data := await reader.read(65536):
                self.received += data
                writer.write(data)
                await writer.drain()
            self.eofs += 1
        except ConnectionResetError:
            self.resets += 1
        finally:
            self._writers.discard(writer)
            writer.close()

    def reset_all(self) -> None:
        """Send RST on every open connection."""
        for writer in list(self._writers):
            _reset(writer)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()


@pytest.fixture
async def echo_server() -> AsyncIterator[EchoServer]:
    server = EchoServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        await asyncio.sleep(0)


@pytest.fixture
def leakcheck(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Iterator[
    LeakCheck
]:
    """A :class:`LeakCheck` wired to caplog (DEBUG, root and ``slack_rtm``) and captured fds."""
    check = LeakCheck(caplog, capfd)
    with check:
        yield check
