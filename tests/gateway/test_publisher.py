"""EventPublisher against a real nats-server: what is published (byte-exact, with the contract's
headers), what is not, de-duplication, retries through a NATS outage, back-pressure, flush."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from gw_helpers import connect, stream_messages, wait_stream
from msgspec.structs import force_setattr
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from slack_rtm.gateway import contract as c
from slack_rtm.gateway.natsd import NatsServer
from slack_rtm.gateway.publisher import EventPublisher, PublishTimeoutError, stream_config
from slack_rtm.session.events import Connected, Event, Reconnecting, decode_frame

TEAM = "T0TEAM"
SESSION = "r00112233445566ff"

MESSAGE = b'{"type":"message","channel":"C1","user":"U1","text":"hi","ts":"1700000000.000100"}'
REACTION = (
    b'{"type":"reaction_added","user":"U1","reaction":"+1",'
    b'"item":{"type":"message","channel":"C1","ts":"1700000000.000100"},'
    b'"event_ts":"1700000001.000200"}'
)
UNKNOWN = b'{"type":"brand_new_thing","channel":"C2","ts":"1700000002.000300","x":[1,2]}'
CHATTER = [
    b'{"type":"hello"}',
    b'{"type":"pong","reply_to":3,"time":1}',
    b'{"type":"reconnect_url","url":"wss://example.invalid/websocket/SECRET-TICKET"}',
    b'{"type":"goodbye"}',
    b'{"ok":true,"reply_to":4,"ts":"1.2","text":"x"}',
    b'{"type":"error","error":{"code":1,"msg":"Socket URL has expired"}}',
]


def backfilled(frame: bytes) -> Event:
    event = decode_frame(frame)
    force_setattr(event, "_backfilled", True)
    return event


async def make(url: str, **kwargs: Any) -> tuple[NatsClient, JetStreamContext, EventPublisher]:
    nc, js = await connect(url)
    publisher = EventPublisher(js, **kwargs)
    return nc, js, publisher


async def test_published_byte_exact_with_headers_and_chatter_left_out(nats_url: str) -> None:
    nc, js, pub = await make(nats_url)
    await pub.ensure_stream(max_age=3600, duplicate_window=60)
    for frame in [*CHATTER, MESSAGE, REACTION, b'{"type": 5}', b"not json", UNKNOWN]:
        await pub.publish(TEAM, SESSION, decode_frame(frame))
    for lifecycle in (Connected(), Reconnecting(reason="x")):
        await pub.publish(TEAM, SESSION, lifecycle)
    await pub.flush()
    stored = await stream_messages(js)
    assert [m.data for m in stored] == [MESSAGE, REACTION, UNKNOWN]
    assert [m.subject for m in stored] == [
        c.event_subject(TEAM, t) for t in ("message", "reaction_added", "brand_new_thing")
    ]
    assert stored[0].headers == c.event_headers(
        TEAM, SESSION, f"{SESSION}:C1:1700000000.000100:message"
    )
    assert stored[1].headers == c.event_headers(
        TEAM, SESSION, c.message_id(SESSION, "reaction_added", None, None, REACTION)
    )
    assert stored[2].headers is not None
    assert stored[2].headers[c.HEADER_MSG_ID] == f"{SESSION}:C2:1700000002.000300:brand_new_thing"
    assert (pub.published, pub.skipped, pub.malformed, pub.failed) == (3, 8, 2, 0)
    assert pub.in_flight == 0
    await nc.close()


def test_not_published_covers_every_lifecycle_event() -> None:
    from slack_rtm.session.events import LIFECYCLE_EVENTS, ReconnectUrl, Reply

    for cls in (*LIFECYCLE_EVENTS, Reply, ReconnectUrl):
        assert vars(cls)["type"] in c.NOT_PUBLISHED


async def test_twice_and_a_backfilled_copy_are_stored_once(nats_url: str) -> None:
    nc, js, pub = await make(nats_url)
    await pub.ensure_stream(max_age=3600, duplicate_window=60)
    history_copy = (
        b'{"type":"message","channel":"C1","user":"U1","text":"hi","ts":"1700000000.000100"}'
    )
    await pub.publish(TEAM, SESSION, decode_frame(MESSAGE))
    await pub.publish(TEAM, SESSION, decode_frame(MESSAGE))
    await pub.publish(TEAM, SESSION, backfilled(history_copy))
    await pub.publish(TEAM, SESSION, decode_frame(REACTION))
    await pub.publish(TEAM, SESSION, decode_frame(REACTION))
    # another session of the same team sees the same message: stored for it too
    await pub.publish(TEAM, "rffffffffffffffff", decode_frame(MESSAGE))
    await pub.flush()
    stored = await stream_messages(js)
    assert [m.data for m in stored] == [MESSAGE, REACTION, MESSAGE]
    assert (pub.published, pub.duplicates) == (3, 3)
    await nc.close()


async def test_backfilled_header(nats_url: str) -> None:
    nc, js, pub = await make(nats_url)
    await pub.ensure_stream(max_age=3600, duplicate_window=60)
    await pub.publish(TEAM, SESSION, backfilled(MESSAGE))
    await pub.flush()
    (stored,) = await stream_messages(js)
    assert stored.headers is not None
    assert stored.headers[c.HEADER_BACKFILLED] == "true"
    assert c.parse_event_headers(stored.headers).backfilled is True
    await nc.close()


async def test_ensure_stream_creates_once_and_leaves_a_different_one_alone(
    nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    nc, js, pub = await make(nats_url)
    await pub.ensure_stream(max_age=3600, duplicate_window=60)
    info = await js.stream_info(c.STREAM)
    wanted = stream_config(c.STREAM, max_age=3600, duplicate_window=60)
    for name in ("subjects", "retention", "storage", "max_age", "duplicate_window"):
        assert getattr(info.config, name) == getattr(wanted, name), name
    with caplog.at_level(logging.WARNING, logger="slack_rtm.gateway.publisher"):
        await pub.ensure_stream(max_age=3600, duplicate_window=60)
        assert not caplog.records
        await pub.ensure_stream(max_age=7200, duplicate_window=60)
    assert "max_age 3600" in caplog.text
    assert (await js.stream_info(c.STREAM)).config.max_age == 3600
    with pytest.raises(ValueError, match="duplicate_window"):
        await pub.ensure_stream(max_age=10, duplicate_window=60)
    with pytest.raises(TypeError):
        await pub.ensure_stream(max_age="1", duplicate_window=60)  # type: ignore[arg-type]
    await nc.close()


async def test_failed_publish_is_retried_until_the_stream_exists(nats_url: str) -> None:
    nc, js, pub = await make(nats_url, retry_delay=0.05, max_attempts=20)
    await pub.publish(TEAM, SESSION, decode_frame(MESSAGE))  # no stream yet: no responders
    await asyncio.sleep(0.2)
    assert pub.retries >= 1
    assert pub.in_flight == 1
    await pub.ensure_stream(max_age=3600, duplicate_window=60)
    await pub.flush(5.0)
    assert [m.data for m in await stream_messages(js)] == [MESSAGE]
    assert (pub.published, pub.failed) == (1, 0)
    await nc.close()


async def test_gives_up_loudly_and_flush_times_out(
    nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    nc, _js, pub = await make(nats_url, retry_delay=0.02, max_attempts=3)
    with caplog.at_level(logging.WARNING, logger="slack_rtm.gateway.publisher"):
        await pub.publish(TEAM, SESSION, decode_frame(MESSAGE))
        with pytest.raises(PublishTimeoutError, match="1 publishes"):
            await pub.flush(0.01)
        await pub.flush(5.0, session=SESSION)
    assert (pub.failed, pub.retries, pub.in_flight, pub.pending(SESSION)) == (1, 2, 0, 0)
    assert f"gave up publishing slack.rtm.evt.{TEAM}.message ({SESSION}:C1:" in caplog.text
    assert '"hi"' not in caplog.text  # never the payload
    await nc.close()


async def test_nats_outage_loses_nothing_and_stores_once(nats_server: NatsServer) -> None:
    nc, js, pub = await make(nats_server.url, ack_timeout=0.3, retry_delay=0.05, max_attempts=50)
    await pub.ensure_stream(max_age=3600, duplicate_window=60)
    frames = [MESSAGE.replace(b"000100", f"{i:06d}".encode()) for i in range(10)]
    for frame in frames[:5]:
        await pub.publish(TEAM, SESSION, decode_frame(frame))
    nats_server.stop()
    for frame in frames[5:]:
        await pub.publish(TEAM, SESSION, decode_frame(frame))
    await asyncio.sleep(0.5)
    nats_server.start()
    await pub.flush(10.0)
    stored = await wait_stream(js, lambda m: len(m) >= 10)
    assert sorted(m.data for m in stored) == sorted(frames)
    assert pub.failed == 0
    await pub.aclose()
    await nc.close()


async def test_back_pressure_bounds_what_is_in_flight(nats_url: str) -> None:
    nc, js, pub = await make(nats_url, max_pending=3)
    await pub.ensure_stream(max_age=3600, duplicate_window=60)
    seen = []
    for i in range(40):
        await pub.publish(TEAM, SESSION, decode_frame(MESSAGE.replace(b"000100", b"%06d" % i)))
        seen.append(pub.in_flight)
    assert max(seen) <= 3
    await pub.flush()
    assert len(await stream_messages(js)) == 40
    await nc.close()


async def test_arguments_checked(nats_url: str) -> None:
    nc, js = await connect(nats_url)
    with pytest.raises(TypeError, match="js"):
        EventPublisher(nc)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_pending"):
        EventPublisher(js, max_pending=0)
    with pytest.raises(TypeError, match="ack_timeout"):
        EventPublisher(js, ack_timeout="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="observe_latency"):
        EventPublisher(js, observe_latency=3)  # type: ignore[arg-type]
    pub = EventPublisher(js)
    with pytest.raises(ValueError, match="timeout"):
        await pub.flush(0)
    assert "EventPublisher" in repr(pub)
    await nc.close()


async def test_latency_observed(nats_url: str) -> None:
    seen: list[float] = []
    nc, _js, pub = await make(nats_url, observe_latency=seen.append)
    await pub.ensure_stream(max_age=3600, duplicate_window=60)
    await pub.publish(TEAM, SESSION, decode_frame(MESSAGE))
    await pub.flush()
    assert len(seen) == 1
    assert 0 < seen[0] < 2
    await nc.close()
