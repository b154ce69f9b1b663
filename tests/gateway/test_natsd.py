"""The local nats-server runner: starts, serves JetStream, stops and restarts on one port."""

from __future__ import annotations

import nats
import pytest

from slack_rtm.gateway.natsd import NatsServer, NatsServerError, find_nats_server


def test_binary_found() -> None:
    assert find_nats_server().endswith("nats-server")


async def test_jetstream_served_and_restart_keeps_port_and_data(nats_server: NatsServer) -> None:
    port = nats_server.port
    assert port > 0
    assert nats_server.running
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await js.add_stream(name="T", subjects=["t.>"])
    ack = await js.publish("t.x", b"1")
    assert ack.seq == 1
    await nc.close()
    nats_server.stop()
    assert not nats_server.running
    nats_server.start()
    assert nats_server.port == port
    nc = await nats.connect(nats_server.url)
    info = await nc.jetstream().stream_info("T")
    assert info.state.messages == 1
    await nc.close()


def test_url_before_start_is_an_error(tmp_path) -> None:
    server = NatsServer(tmp_path)
    with pytest.raises(NatsServerError):
        _ = server.url
    assert "stopped" in repr(server)
