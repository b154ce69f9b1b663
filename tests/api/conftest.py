"""Fixtures for the Web API client tests: a scripted loopback server and the client twins."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from .server import ScriptedServer, Twin


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(params=["sync", "async"])
async def twin(request: pytest.FixtureRequest, server: ScriptedServer) -> AsyncIterator[Twin]:
    tw = Twin(request.param, server.api_url)
    try:
        yield tw
    finally:
        await tw.close()
