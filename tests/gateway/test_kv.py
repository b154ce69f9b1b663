"""slack_rtm.gateway.kv over a real nats-server: connect, credentials kept out, the buckets."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import nats
import pytest
from nats.js.api import StorageType

from slack_rtm.errors import SlackRtmError
from slack_rtm.gateway import contract
from slack_rtm.gateway.kv import (
    BUCKET_NAMES,
    Buckets,
    NatsUnavailableError,
    connect,
    open_bucket,
    open_buckets,
    public_nats_url,
)
from slack_rtm.gateway.natsd import NatsServer

PASSWORD = "PaSsW0rdLEAK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_public_nats_url() -> None:
    assert public_nats_url("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"
    assert public_nats_url(f"nats://me:{PASSWORD}@h:4222") == "nats://h:4222"
    assert public_nats_url(f"tls://{PASSWORD}@h") == "tls://h"
    assert public_nats_url(f" nats://a:{PASSWORD}@h1:1, nats://h2:2 ") == "nats://h1:1,nats://h2:2"
    assert public_nats_url("h3:5") == "nats://h3:5"
    assert public_nats_url("nats://[::1]:4222") == "nats://[::1]:4222"
    assert public_nats_url("nats://h:99999") == "<invalid url>"
    assert public_nats_url(",") == "<no servers>"


async def test_connect_unreachable_is_one_clear_error_without_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"nats://admin:{PASSWORD}@127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with pytest.raises(NatsUnavailableError, match="cannot connect to NATS at nats://127") as e:
        await connect(url, connect_timeout=1.0, reconnect_time_wait=0.1)
    assert time.monotonic() - started < 5
    assert isinstance(e.value, SlackRtmError)
    assert PASSWORD not in str(e.value)
    assert "admin" not in str(e.value)
    assert caplog.records  # the failed attempts were logged ...
    assert PASSWORD not in caplog.text  # ... without the password
    assert all(r.levelno <= logging.WARNING for r in caplog.records)


async def test_connect_and_log_lines(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = nats_server.url.replace("nats://", f"nats://admin:{PASSWORD}@")
    nc = await connect(url, name="gw-test", reconnect_time_wait=0.05)
    try:
        assert nc.is_connected
        assert nc.options["name"] == "gw-test"
        nats_server.stop()
        deadline = time.monotonic() + 10
        while nc.is_connected:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        nats_server.start()
        while not nc.is_connected:
            assert time.monotonic() < deadline, "did not reconnect"
            await asyncio.sleep(0.02)
    finally:
        await nc.close()
    assert "disconnected" in caplog.text
    assert "reconnected" in caplog.text
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"nats_url": 5}, TypeError, "nats_url must be a str"),
        ({"nats_url": " , "}, ValueError, "at least one server"),
        ({"name": ""}, ValueError, "name must be"),
        ({"connect_timeout": 0}, ValueError, "connect_timeout must be"),
        ({"connect_timeout": "1"}, TypeError, "connect_timeout must be a number"),
        ({"reconnect_time_wait": float("inf")}, ValueError, "reconnect_time_wait"),
        ({"max_reconnect_attempts": 1.5}, TypeError, "max_reconnect_attempts"),
    ],
)
async def test_connect_checks_arguments(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    args: dict[str, object] = {"nats_url": "nats://127.0.0.1:1", **kwargs}
    with pytest.raises(error, match=match):
        await connect(**args)  # type: ignore[arg-type]


async def test_open_buckets_creates_them_once(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    other = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        # Two processes opening at the same moment: both get the same buckets.
        first, second = await asyncio.gather(open_buckets(js), open_buckets(other.jetstream()))
        assert isinstance(first, Buckets)
        assert BUCKET_NAMES == (
            contract.REGISTRATIONS_BUCKET,
            contract.PROCESSES_BUCKET,
            contract.ASSIGNMENTS_BUCKET,
            contract.CURSORS_BUCKET,
        )
        for name, kv in zip(
            BUCKET_NAMES,
            (first.registrations, first.processes, first.assignments, first.cursors),
            strict=True,
        ):
            status = await kv.status()
            assert status.bucket == name
            assert status.history == 1
            assert status.stream_info.config.storage == StorageType.FILE
        await first.processes.put("p1", b"one")
        assert (await second.processes.get("p1")).value == b"one"
        again = await open_buckets(js)  # opening again keeps what is there
        assert (await again.processes.get("p1")).value == b"one"
        # Compare-and-set works on the processes bucket.
        revision = (await again.processes.get("p1")).revision
        assert revision is not None
        await again.processes.update("p1", b"two", last=revision)
        with pytest.raises(nats.js.errors.KeyWrongLastSequenceError):
            await again.processes.update("p1", b"three", last=revision)
    finally:
        await other.close()
        await nc.close()


async def test_open_buckets_checks_its_argument() -> None:
    with pytest.raises(TypeError, match="js must be a JetStreamContext"):
        await open_buckets(object())  # type: ignore[arg-type]


async def test_open_bucket_without_jetstream_answer(nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.url, max_reconnect_attempts=1, reconnect_time_wait=0.05)
    try:
        js = nc.jetstream(timeout=0.5)
        nats_server.stop()
        with pytest.raises(NatsUnavailableError, match="JetStream KV bucket"):
            await open_bucket(js, contract.CURSORS_BUCKET)
    finally:
        await nc.close()
