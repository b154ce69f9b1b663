"""SocketModeCore fed frames and times: no sockets, no clock, no asyncio."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import pytest

from slack_rtm.backoff import Backoff
from slack_rtm.errors import (
    RateLimitedError,
    RtmConnectErrorSchemaError,
    SocketModeDisabledError,
    StateError,
    TransportError,
)
from slack_rtm.session.actions import (
    Action,
    CallConnect,
    CloseSocket,
    OpenSocket,
    SendFrame,
    SendFrames,
    SendPing,
    Stop,
)
from slack_rtm.session.events import (
    Envelope,
    Event,
    Interaction,
    MalformedFrame,
    Message,
    ReactionAdded,
    SlashCommand,
    UnknownEvent,
)
from slack_rtm.session.socket_mode import SocketModeCore
from slack_rtm.session.socket_mode_config import SocketModeConfig
from slack_rtm.session.state import State

URL = "wss://wss-primary.slack.test/link/?ticket=SECRETticket&app_id=A1"


class Harness:
    def __init__(self, **config: Any) -> None:
        config.setdefault("backoff", Backoff(initial=1.0, maximum=30.0))
        self.core = SocketModeCore(SocketModeConfig(**config), rand=lambda: 0.5)
        self.now = 1000.0
        self.actions: list[Action] = []
        self.events: list[Event] = []

    def pump(self) -> list[Action]:
        new = self.core.take_actions()
        self.actions.extend(new)
        self.events.extend(self.core.take_events())
        return new

    def of(self, kind: type) -> list[Any]:
        self.pump()
        return [a for a in self.actions if isinstance(a, kind)]

    def types(self) -> list[str]:
        self.pump()
        return [e.type for e in self.events]

    def acks(self, conn: int | None = None) -> list[dict[str, Any]]:
        self.pump()
        out = []
        for a in self.actions:
            if conn is not None and getattr(a, "conn_id", None) != conn:
                continue
            if isinstance(a, SendFrame):
                out.append(msgspec.json.decode(a.data))
            elif isinstance(a, SendFrames):
                out += [msgspec.json.decode(data) for data in a.frames]
        return out

    def recv(self, conn: int, frame: dict[str, Any] | bytes) -> None:
        data = msgspec.json.encode(frame) if isinstance(frame, dict) else frame
        self.core.receive(conn, data, self.now)
        self.pump()

    def open_one(self) -> int:
        """Answer the pending CallConnect, say hello on the new socket; its id."""
        assert isinstance(self.of(CallConnect)[-1], CallConnect)
        conn = self.core.connect_succeeded(URL, self.now)
        assert conn is not None
        self.core.socket_opened(conn, self.now)
        self.recv(conn, {"type": "hello", "num_connections": 1,
                         "debug_info": {"host": "applink-1"}})
        return conn

    def connected(self) -> tuple[int, int]:
        self.core.start(self.now)
        self.pump()
        first = self.open_one()
        second = self.open_one()
        return first, second

    def tick(self, to: float) -> None:
        self.now = to
        self.core.tick(to)
        self.pump()


def events_api(envelope_id: str, event_id: str, event: dict[str, Any], *,
               retry: int = 0) -> dict[str, Any]:
    return {
        "envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": False,
        "retry_attempt": retry, "retry_reason": "timeout" if retry else "",
        "payload": {"token": "verif", "team_id": "T1", "api_app_id": "A1", "event": event,
                    "type": "event_callback", "event_id": event_id, "event_time": 1700000000},
    }


MSG = {"type": "message", "channel": "C1", "user": "U1", "text": "hi", "ts": "1.000100"}


def command(envelope_id: str) -> dict[str, Any]:
    return {"envelope_id": envelope_id, "type": "slash_commands",
            "accepts_response_payload": True,
            "payload": {"token": "verif", "team_id": "T1", "api_app_id": "A1",
                        "command": "/deploy", "text": "now", "user_id": "U1",
                        "channel_id": "C1", "response_url": "https://hooks.slack.test/SECRET",
                        "trigger_id": "1.2.abc"}}


def test_pool_of_two_opens_one_after_the_other_and_connects_once() -> None:
    h = Harness()
    first, second = h.connected()
    assert h.core.state is State.CONNECTED
    assert h.types().count("connected") == 1
    assert h.types().count("hello") == 2
    assert len(h.of(CallConnect)) == 2
    assert h.core.live_count == 2
    assert first != second
    assert "SECRET" not in repr(h.of(OpenSocket))


def test_events_api_envelope_is_typed_and_acked_at_once() -> None:
    h = Harness()
    first, _ = h.connected()
    h.recv(first, events_api("env1", "Ev1", MSG))
    h.recv(first, events_api("env2", "Ev2", {"type": "reaction_added", "user": "U1",
                                              "reaction": "tada", "event_ts": "2.0"}))
    message, reaction = h.events[-2:]
    assert isinstance(message, Message)
    assert message.text == "hi"
    assert isinstance(reaction, ReactionAdded)
    env = message.envelope
    assert isinstance(env, Envelope)
    assert (env.envelope_id, env.event_id, env.type, env.retry_attempt) == (
        "env1", "Ev1", "events_api", 0)
    assert env.team_id == "T1"
    assert env.event_time == 1700000000
    assert env.raw["payload"]["event_id"] == "Ev1"
    assert message.raw == MSG  # the inner event, as over RTM
    assert h.acks(first) == [{"envelope_id": "env1"}, {"envelope_id": "env2"}]


def test_unknown_inner_event_and_unknown_envelope_type() -> None:
    h = Harness()
    first, _ = h.connected()
    h.recv(first, events_api("env1", "Ev1", {"type": "app_mention", "text": "x"}))
    h.recv(first, {"envelope_id": "env2", "type": "new_kind", "payload": {"a": 1}})
    mention, other = h.events[-2:]
    assert isinstance(mention, UnknownEvent)
    assert mention.type == "app_mention"
    assert mention.raw["text"] == "x"
    assert isinstance(other, UnknownEvent)
    assert other.type == "new_kind"
    assert other.raw == {"a": 1}
    assert [a["envelope_id"] for a in h.acks()] == ["env1", "env2"]


def test_redelivery_is_acked_and_not_delivered_twice() -> None:
    h = Harness()
    first, second = h.connected()
    h.recv(first, events_api("env1", "Ev1", MSG))
    h.recv(second, events_api("env1b", "Ev1", MSG, retry=1))
    assert [type(e) for e in h.events].count(Message) == 1
    assert h.acks(second) == [{"envelope_id": "env1b"}]


def test_dedup_memory_is_bounded() -> None:
    h = Harness(dedup_capacity=2)
    first, _ = h.connected()
    for n in range(3):
        h.recv(first, events_api(f"e{n}", f"Ev{n}", MSG))
    h.recv(first, events_api("again", "Ev0", MSG, retry=1))  # forgotten: delivered again
    h.recv(first, events_api("again2", "Ev2", MSG, retry=1))  # remembered: dropped
    assert [e.envelope.envelope_id for e in h.events if isinstance(e, Message)] == [
        "e0", "e1", "e2", "again"]


def test_ack_after_handler_waits_then_acks_with_redeliveries() -> None:
    h = Harness(ack_after_handler=True)
    first, second = h.connected()
    h.recv(first, events_api("env1", "Ev1", MSG))
    assert h.acks() == []
    assert h.core.pending_acks == 1
    h.recv(second, events_api("env1b", "Ev1", MSG, retry=1))  # its handler still runs
    assert [type(e) for e in h.events].count(Message) == 1
    assert h.core.ack("env1", h.now, {"ignored": True}) is True
    h.pump()
    assert h.acks(first) == [{"envelope_id": "env1"}]  # no payload: events_api accepts none
    assert h.acks(second) == [{"envelope_id": "env1b"}]
    assert h.core.ack("env1", h.now) is False
    assert h.core.pending_acks == 0


def test_ack_after_handler_release_leaves_it_for_redelivery() -> None:
    h = Harness(ack_after_handler=True)
    first, _ = h.connected()
    h.recv(first, events_api("env1", "Ev1", MSG))
    assert h.core.release("env1", h.now) is True
    assert h.core.release("env1", h.now) is False
    h.pump()
    assert h.acks() == []
    h.recv(first, events_api("env1b", "Ev1", MSG, retry=1))
    assert [e.envelope.envelope_id for e in h.events if isinstance(e, Message)] == [
        "env1", "env1b"]
    with pytest.raises(TypeError, match="envelope_id"):
        h.core.ack(1, h.now)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="payload"):
        h.core.ack("env1b", h.now, [1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="envelope_id"):
        h.core.release(None, h.now)  # type: ignore[arg-type]


def test_slash_command_answered_in_its_ack() -> None:
    h = Harness()
    first, _ = h.connected()
    h.recv(first, command("cmd1"))
    cmd = h.events[-1]
    assert isinstance(cmd, SlashCommand)
    assert (cmd.command, cmd.text, cmd.user_id, cmd.channel_id, cmd.team_id) == (
        "/deploy", "now", "U1", "C1", "T1")
    assert cmd.envelope is not None
    assert cmd.envelope.accepts_response_payload
    assert "SECRET" not in repr(cmd)
    assert h.acks() == []
    assert h.core.next_deadline() == pytest.approx(h.now + 2.5)
    h.core.ack("cmd1", h.now + 1, {"text": "deploying"})
    assert h.acks() == [{"envelope_id": "cmd1", "payload": {"text": "deploying"}}]


def test_slash_command_without_answer_in_time_is_acked_bare(
        caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(response_timeout=1.0)
    first, _ = h.connected()
    h.recv(first, command("cmd1"))
    h.tick(h.now + 0.9)
    assert h.acks() == []
    with caplog.at_level(logging.WARNING, logger="slack_rtm.socket_mode"):
        h.tick(h.now + 0.2)
    assert h.acks() == [{"envelope_id": "cmd1"}]
    assert "without a response payload" in caplog.text
    assert h.core.ack("cmd1", h.now, {"text": "late"}) is False


def test_unencodable_payload_still_acks() -> None:
    h = Harness()
    first, _ = h.connected()
    h.recv(first, command("cmd1"))
    assert h.core.ack("cmd1", h.now, {"bad": object()}) is True
    assert h.acks() == [{"envelope_id": "cmd1"}]


def test_interaction_is_typed() -> None:
    h = Harness()
    first, _ = h.connected()
    h.recv(first, {"envelope_id": "i1", "type": "interactive", "accepts_response_payload": True,
                   "payload": {"type": "block_actions", "trigger_id": "t", "team": {"id": "T1"},
                               "user": {"id": "U1"}, "actions": [{"action_id": "go"}]}})
    item = h.events[-1]
    assert isinstance(item, Interaction)
    assert item.type == "interactive"
    assert item.interaction_type == "block_actions"
    assert item.user == {"id": "U1"}
    assert item.raw["actions"] == [{"action_id": "go"}]
    h.core.ack("i1", h.now)
    assert h.acks() == [{"envelope_id": "i1"}]


def test_malformed_frames_become_events_and_never_raise() -> None:
    h = Harness()
    first, _ = h.connected()
    before = len(h.events)
    for junk in (b"not json", b"[1,2]", b'{"envelope_id": 5}',
                 msgspec.json.encode({"envelope_id": "x1", "type": "events_api",
                                      "payload": {"event": None}}),
                 msgspec.json.encode({"envelope_id": "x2", "type": "slash_commands",
                                      "payload": {"text": 5}}),
                 msgspec.json.encode({"envelope_id": "x3", "type": "events_api",
                                      "payload": [1]})):
        h.recv(first, junk)
    new = h.events[before:]
    assert len(new) == 6
    assert all(isinstance(e, MalformedFrame) for e in new), new
    # an envelope with a usable id is acked all the same: Slack would redeliver junk forever
    assert [a["envelope_id"] for a in h.acks()] == ["x1", "x2", "x3"]


def test_refresh_is_make_before_break() -> None:
    h = Harness()
    first, second = h.connected()
    h.recv(first, {"type": "disconnect", "reason": "refresh_requested",
                   "debug_info": {"host": "applink-1"}})
    assert h.types()[-1] == "disconnect"
    assert len(h.of(CallConnect)) == 3  # the replacement, at once
    assert h.of(CloseSocket) == []
    h.recv(first, events_api("late", "EvL", MSG))  # still read and acked on the old one
    assert h.acks(first) == [{"envelope_id": "late"}]
    assert h.core.state is State.CONNECTED
    third = h.open_one()
    closes = h.of(CloseSocket)
    assert [c.conn_id for c in closes] == [first]
    h.core.socket_closed(first, h.now, 1000)
    h.pump()
    assert h.core.live_count == 2
    assert third not in (first, second)
    assert "disconnected" not in h.types()
    assert "reconnecting" not in h.types()
    assert len(h.of(CallConnect)) == 3  # nothing more to open


def test_retired_socket_waits_for_its_owed_acks() -> None:
    h = Harness(ack_after_handler=True, drain_timeout=2.0)
    first, _ = h.connected()
    h.recv(first, events_api("e1", "Ev1", MSG))
    h.recv(first, {"type": "disconnect", "reason": "warning"})
    h.open_one()
    assert h.of(CloseSocket) == []  # an ack is still owed on it
    h.core.ack("e1", h.now)
    h.pump()
    assert h.acks(first) == [{"envelope_id": "e1"}]
    assert [c.conn_id for c in h.of(CloseSocket)] == [first]


def test_retired_socket_closes_at_drain_timeout() -> None:
    h = Harness(ack_after_handler=True, drain_timeout=2.0)
    first, _ = h.connected()
    h.recv(first, events_api("e1", "Ev1", MSG))
    h.recv(first, {"type": "disconnect", "reason": "warning"})
    h.open_one()
    h.tick(h.now + 2.0)
    assert [c.conn_id for c in h.of(CloseSocket)] == [first]


def test_link_disabled_is_fatal() -> None:
    h = Harness()
    first, second = h.connected()
    h.recv(first, {"type": "disconnect", "reason": "link_disabled"})
    assert h.core.state is State.CLOSING
    assert sorted(c.conn_id for c in h.of(CloseSocket)) == [first, second]
    assert isinstance(h.core.error, SocketModeDisabledError)
    assert "Socket Mode" in str(h.core.error)
    h.core.socket_closed(first, h.now)
    h.core.socket_closed(second, h.now)
    h.pump()
    assert h.core.state is State.CLOSED
    stop = h.of(Stop)[-1]
    assert isinstance(stop.error, SocketModeDisabledError)
    assert h.types()[-2:] == ["disconnected", "closed"]


def test_keepalive_ping_and_dead_link() -> None:
    h = Harness(ping_interval=5.0, ping_timeout=2.0)
    first, second = h.connected()
    start = h.now
    assert h.core.next_deadline() == pytest.approx(start + 5.0)
    h.core.pong_received(second, start)  # no effect on the schedule yet
    h.tick(start + 5.0)
    assert sorted(p.conn_id for p in h.of(SendPing)) == [first, second]
    h.core.pong_received(second, h.now + 0.1)
    h.tick(start + 7.0)
    dropped = h.of(CloseSocket)
    assert [(c.conn_id, c.abort) for c in dropped] == [(first, True)]
    assert h.core.live_count == 1
    assert h.core.state is State.CONNECTED
    # the socket lived 5 s (healthy_after): replaced at once
    assert len(h.of(CallConnect)) == 3


def test_ping_lead_moves_the_ping_earlier_never_the_pong_timeout() -> None:
    h = Harness(ping_interval=5.0, ping_timeout=2.0)
    first, _ = h.connected()
    start = h.now
    h.core.ping_lead = 0.5  # a shared coarse timer (aio.wheel) may tick up to 0.25 s late
    assert h.core.ping_lead == pytest.approx(0.5)
    assert h.core.next_deadline() == pytest.approx(start + 4.5)
    h.tick(start + 4.4)
    assert h.of(SendPing) == []
    h.tick(start + 4.5)
    assert len(h.of(SendPing)) == 2
    h.tick(start + 4.5 + 1.9)
    assert h.of(CloseSocket) == []
    h.tick(start + 4.5 + 2.0)
    assert {c.conn_id for c in h.of(CloseSocket)} >= {first}
    with pytest.raises(ValueError, match="less than half of ping_interval"):
        h.core.ping_lead = 2.5
    with pytest.raises(TypeError, match="ping_lead must be a number"):
        h.core.ping_lead = "1"  # type: ignore[assignment]


def test_losing_every_socket_reconnects_with_backoff() -> None:
    h = Harness(healthy_after=60.0)
    first, second = h.connected()
    h.core.socket_closed(first, h.now, 1006)
    h.pump()
    assert h.core.state is State.CONNECTED
    h.core.socket_closed(second, h.now)
    h.pump()
    assert h.core.state is State.RECONNECTING
    assert "disconnected" in h.types()
    # the first loss scheduled a retry with backoff (unhealthy): 0.5 x 1 s
    assert h.core.next_deadline() == pytest.approx(h.now + 0.5)
    h.tick(h.now + 0.5)
    assert len(h.of(CallConnect)) == 3
    h.open_one()
    assert h.core.state is State.CONNECTED
    assert h.types().count("connected") == 2


def test_fatal_code_stops_at_once() -> None:
    h = Harness()
    h.core.start(h.now)
    error = RtmConnectErrorSchemaError(
        "apps.connections.open: not_allowed_token_type", status_code=200, headers={},
        body="", result=None, error="not_allowed_token_type", fatal=True)
    h.core.connect_failed(error, h.now)
    h.pump()
    assert h.core.state is State.CLOSED
    assert h.core.error is error
    assert h.of(Stop)[-1].error is error
    assert h.types() == ["connecting", "closed"]


def test_retry_after_is_a_floor_and_transport_errors_back_off() -> None:
    h = Harness()
    h.core.start(h.now)
    limited = RateLimitedError("rate limited", status_code=429, headers={}, body="",
                               result=None, retry_after=7.0)
    h.core.connect_failed(limited, h.now)
    h.pump()
    assert h.core.next_deadline() == pytest.approx(h.now + 7.0)
    h.tick(h.now + 7.0)
    conn = h.core.connect_succeeded(URL, h.now)
    assert conn is not None
    h.core.socket_failed(conn, TransportError("refused"), h.now)
    h.pump()
    assert h.types().count("reconnecting") == 2
    assert h.core.state is State.CONNECTING


def test_hello_timeout_and_max_attempts() -> None:
    h = Harness(hello_timeout=1.0, max_attempts=2)
    h.core.start(h.now)
    conn = h.core.connect_succeeded(URL, h.now)
    assert conn is not None
    h.tick(h.now + 1.0)
    assert (conn, True) in [(c.conn_id, c.abort) for c in h.of(CloseSocket)]
    h.tick(h.now + 1.0)  # the backoff (0.5 s) is over: second attempt
    h.core.connect_failed(TransportError("down"), h.now)
    h.pump()
    assert h.core.state is State.CLOSED
    assert isinstance(h.core.error, TransportError)


def test_close_before_and_after_connecting() -> None:
    h = Harness()
    with pytest.raises(StateError):
        h.core.close(h.now) or h.core.start(h.now) or h.core.start(h.now)
    h2 = Harness()
    first, second = h2.connected()
    h2.core.close(h2.now)
    h2.core.close(h2.now)  # idempotent
    assert h2.core.state is State.CLOSING
    assert h2.core.connect_succeeded(URL, h2.now) is None
    h2.core.socket_closed(first, h2.now)
    h2.core.socket_closed(second, h2.now)
    h2.pump()
    assert h2.core.state is State.CLOSED
    assert h2.types()[-2:] == ["disconnected", "closed"]


def test_reading_paused_suspends_keepalive() -> None:
    h = Harness(ping_interval=1.0)
    h.connected()
    h.core.set_reading_paused(True, h.now)
    assert h.core.next_deadline() is None
    h.tick(h.now + 10)
    assert h.of(SendPing) == []
    h.core.set_reading_paused(False, h.now)
    assert h.core.next_deadline() == pytest.approx(h.now + 1.0)


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="connections"):
        SocketModeConfig(connections=11)
    with pytest.raises(ValueError, match="response_timeout"):
        SocketModeConfig(response_timeout=3.0)
    with pytest.raises(TypeError, match="ack_after_handler"):
        SocketModeConfig(ack_after_handler=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ping_interval"):
        SocketModeConfig(ping_interval="5")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="config"):
        SocketModeCore(object())  # type: ignore[arg-type]


def test_one_pass_event_keeps_its_text_byte_for_byte_and_no_cycle() -> None:
    h = Harness()
    first, _ = h.connected()
    inner = b'{"type":"message","channel":"C1","user":"U1","text":"caf\\u00e9 ok","ts":"1.5"}'
    frame = (b'{"envelope_id":"env1","type":"events_api","accepts_response_payload":false,'
             b'"payload":{"team_id":"T1","event":' + inner + b',"event_id":"Ev1"}}')
    h.recv(first, frame)
    message = h.events[-1]
    assert isinstance(message, Message)
    assert message.text == "café ok"
    envelope = message.envelope
    assert isinstance(envelope, Envelope)
    assert envelope.event_id == "Ev1"
    assert getattr(envelope.ids, "event", None) is None  # the event does not point back at it
    assert message.frame == inner  # cut from the envelope's text on first use
    assert message.raw["text"] == "café ok"
    assert envelope.raw["payload"]["event"] == message.raw
    assert h.acks(first) == [{"envelope_id": "env1"}]


def test_envelope_that_one_pass_refuses_is_decoded_in_two() -> None:
    h = Harness()
    first, _ = h.connected()
    # a known type whose field has the wrong type: refused by the one-pass decode and by the
    # typed event decode, delivered as what decode_frame makes of it, acked all the same
    h.recv(first, events_api("env1", "Ev1", {"type": "message", "text": 5}))
    h.recv(first, events_api("env2", "Ev2", MSG))
    odd, message = h.events[-2:]
    assert isinstance(message, Message)
    assert isinstance(odd, MalformedFrame)  # as over RTM (decode_frame)
    assert odd.event_type == "message"
    assert odd.envelope is not None
    assert odd.envelope.envelope_id == "env1"
    assert [a["envelope_id"] for a in h.acks(first)] == ["env1", "env2"]


def test_events_api_envelope_without_an_event_is_malformed_and_acked() -> None:
    h = Harness()
    first, _ = h.connected()
    frame = events_api("env1", "Ev1", MSG)
    del frame["payload"]["event"]
    h.recv(first, frame)
    assert isinstance(h.events[-1], MalformedFrame)
    assert h.acks(first) == [{"envelope_id": "env1"}]


def test_dedup_forgets_the_oldest_first_after_a_release() -> None:
    h = Harness(dedup_capacity=3, ack_after_handler=True)
    first, _ = h.connected()
    h.recv(first, events_api("e0", "Ev0", MSG))
    assert h.core.release("e0", h.now) is True  # forgotten: its redelivery is delivered
    h.recv(first, events_api("e0b", "Ev0", MSG, retry=1))
    assert h.core.ack("e0b", h.now) is True
    for n in range(1, 3):
        h.recv(first, events_api(f"e{n}", f"Ev{n}", MSG))
        h.core.ack(f"e{n}", h.now)
    h.recv(first, events_api("again", "Ev2", MSG, retry=1))  # remembered: dropped
    delivered = [e.envelope.envelope_id for e in h.events if isinstance(e, Message)]
    assert delivered == ["e0", "e0b", "e1", "e2"]
