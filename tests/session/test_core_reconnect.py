"""SessionCore: keepalive, reconnect decisions, goodbye make-before-break, presence re-subscribe."""

from __future__ import annotations

import pytest
from core_harness import Harness

from slack_rtm.session.actions import CallConnect, OpenSocket
from slack_rtm.session.events import Disconnected, Message, Reconnecting
from slack_rtm.session.state import State


def msg(ts: str, text: str = "x", channel: str = "C1") -> dict[str, object]:
    return {"type": "message", "channel": channel, "user": "U1", "text": text, "ts": ts}


# ---------------------------------------------------------------- keepalive


def test_ping_when_idle_and_pong_keeps_the_link() -> None:
    h = Harness(ping_interval=5.0, ping_timeout=3.0)
    conn = h.connect()
    h.advance(4.9)
    assert not h.frames(conn)
    h.advance(0.2)
    ping = h.frames(conn)[-1]
    assert ping["type"] == "ping"
    assert ping["id"] > 0
    assert isinstance(ping["time"], int)
    h.advance(1.0)
    h.recv(conn, {"type": "pong", "reply_to": ping["id"], "time": ping["time"]})
    h.advance(2.5)
    assert h.core.state is State.CONNECTED
    assert not h.closes()
    assert "pong" not in h.types()


def test_traffic_means_no_ping() -> None:
    h = Harness(ping_interval=5.0)
    conn = h.connect()
    for i in range(10):
        h.advance(1.0)
        h.recv(conn, msg(f"{i}.0"))
    assert not h.frames(conn)


def test_no_pong_within_the_timeout_means_a_dead_link_and_a_reconnect() -> None:
    h = Harness(ping_interval=2.0, ping_timeout=3.0, healthy_after=1.0)
    conn = h.connect()
    h.advance(2.0)
    assert h.frames(conn)[-1]["type"] == "ping"
    h.advance(2.9)
    assert not h.closes()
    h.advance(0.2)
    close = h.closes(conn)
    assert close
    assert close[0].abort
    disc = [e for e in h.events if isinstance(e, Disconnected)]
    assert disc
    assert "no pong" in disc[-1].reason
    assert h.core.state is State.RECONNECTING
    assert len(h.of(CallConnect)) == 2  # a healthy session: reconnect at once
    h.closed(conn)  # the aborted socket reports in: nothing more happens
    assert len(h.of(CallConnect)) == 2


def test_any_frame_after_the_ping_proves_the_link_alive() -> None:
    h = Harness(ping_interval=2.0, ping_timeout=3.0)
    conn = h.connect()
    h.advance(2.0)
    h.advance(1.0)
    h.recv(conn, msg("1.0"))
    h.advance(2.5)
    assert not h.closes()


def test_paused_reading_suspends_the_keepalive_deadline() -> None:
    h = Harness(ping_interval=2.0, ping_timeout=3.0)
    conn = h.connect()
    h.advance(2.0)  # ping out
    h.core.set_reading_paused(True, h.now)
    h.core.set_reading_paused(True, h.now)  # idempotent
    h.advance(60.0)
    assert not h.closes()
    h.core.set_reading_paused(False, h.now)
    h.advance(2.9)
    assert not h.closes()
    h.advance(0.2)
    assert h.closes(conn)


# ---------------------------------------------------------------- reconnect decisions


def test_drop_of_a_healthy_session_reconnects_at_once_and_resets_backoff() -> None:
    h = Harness(rand=0.5, healthy_after=5.0)
    conn = h.connect()
    # two quick failures build up backoff ...
    h.closed(conn)
    # (not healthy: connected 0 s) -> backoff attempt
    rec = [e for e in h.events if isinstance(e, Reconnecting)][-1]
    assert rec.delay == pytest.approx(0.5)
    h.advance(0.5)
    conn = h.answer_connect()
    h.hello(conn)
    h.advance(10.0)  # healthy now
    h.closed(conn, 1006)
    disc = [e for e in h.events if isinstance(e, Disconnected)][-1]
    assert disc.code == 1006
    assert "1006" in disc.reason
    rec = [e for e in h.events if isinstance(e, Reconnecting)][-1]
    assert rec.delay == 0.0
    assert h.of(CallConnect)[-1].attempt == 1
    conn = h.answer_connect()
    h.core.socket_failed(conn, OSError("refused"), h.now)
    h.pump()
    rec = [e for e in h.events if isinstance(e, Reconnecting)][-1]
    assert rec.delay == pytest.approx(0.5)  # backoff restarted from the first step


def test_server_close_frame_reason_is_reported() -> None:
    h = Harness(rand=0.0)
    conn = h.connect()
    h.closed(conn, 1001, "going away")
    disc = [e for e in h.events if isinstance(e, Disconnected)][-1]
    assert disc.code == 1001
    assert "going away" in disc.reason
    assert h.core.state is State.RECONNECTING


def test_team_migration_started_closes_and_reconnects() -> None:
    h = Harness(rand=0.0, migration_delay=2.0)
    conn = h.connect()
    h.recv(conn, {"type": "team_migration_started"})
    assert "team_migration_started" in h.types()
    assert h.closes(conn)
    assert h.core.state is State.RECONNECTING
    h.advance(0.0)
    assert len(h.of(CallConnect)) == 2


# ---------------------------------------------------------------- goodbye: make before break


def test_goodbye_opens_the_new_socket_before_closing_the_old_and_loses_nothing() -> None:
    h = Harness(dedup_grace=2.0)
    old = h.connect()
    h.recv(old, msg("1.0", "before"))
    h.recv(old, {"type": "goodbye"})
    assert h.core.state is State.RECONNECTING
    assert len(h.of(CallConnect)) == 2
    assert not h.closes(old)  # the old socket stays open
    queued = h.core.send_message("C1", "during the switch", h.now)
    h.recv(old, msg("2.0", "after goodbye, old only"))
    new = h.answer_connect()
    h.recv(old, msg("3.0", "old, before new hello"))
    h.hello(new)
    assert h.core.state is State.CONNECTED
    assert h.closes(old)
    assert not h.closes(old)[0].abort
    assert h.frames(new)[-1]["text"] == "during the switch"  # queued send went out on the new
    # both sockets deliver the same events for a while
    h.recv(new, msg("3.0", "old, before new hello"))  # dup of one the old delivered
    h.recv(old, msg("4.0", "both"))
    h.recv(new, msg("4.0", "both"))
    h.recv(new, msg("5.0", "both, new first"))
    h.recv(old, msg("5.0", "both, new first"))
    h.recv(old, {"type": "user_typing", "channel": "C1", "user": "U2"})
    h.recv(new, {"type": "user_typing", "channel": "C1", "user": "U2"})
    h.recv(
        new,
        {
            "type": "reaction_added",
            "user": "U2",
            "reaction": "x",
            "item": {"type": "message", "channel": "C1", "ts": "1.0"},
            "event_ts": "9.1",
        },
    )
    h.recv(
        old,
        {
            "type": "reaction_added",
            "user": "U2",
            "reaction": "x",
            "item": {"type": "message", "channel": "C1", "ts": "1.0"},
            "event_ts": "9.1",
        },
    )
    h.closed(old, 1000)
    h.recv(new, msg("6.0", "new only"))
    texts = [e.text for e in h.events if isinstance(e, Message)]
    assert texts == [
        "before",
        "after goodbye, old only",
        "old, before new hello",
        "both",
        "both, new first",
        "new only",
    ]
    assert h.types().count("user_typing") == 1
    assert h.types().count("reaction_added") == 1
    assert "disconnected" not in h.types()
    h.reply_ok(new, queued.frame_id)
    assert queued.done
    # after the grace, de-duplication stops (and its memory is freed)
    h.advance(2.5)
    h.recv(new, msg("6.0", "new only"))
    assert [e.text for e in h.events if isinstance(e, Message)][-1] == "new only"
    assert [e.text for e in h.events if isinstance(e, Message)].count("new only") == 2


def test_goodbye_then_the_old_socket_closes_first_is_a_normal_reconnect() -> None:
    h = Harness(rand=0.0)
    old = h.connect()
    h.recv(old, {"type": "goodbye"})
    h.closed(old, 1000)
    assert h.core.state is State.RECONNECTING
    new = h.answer_connect()
    h.hello(new)
    assert h.core.state is State.CONNECTED
    assert not h.closes(old)


def test_dedup_memory_is_bounded() -> None:
    h = Harness(dedup_capacity=10)
    old = h.connect()
    h.recv(old, {"type": "goodbye"})
    for i in range(50):
        h.recv(old, msg(f"{i}.0"))
    seen = h.core._dedup
    assert seen is not None
    assert len(seen) == 10


def test_goodbye_while_the_new_connect_fails_keeps_reading_the_old() -> None:
    h = Harness(rand=0.0)
    old = h.connect()
    h.recv(old, {"type": "goodbye"})
    h.core.connect_failed(OSError("refused"), h.now)
    h.pump()
    h.recv(old, msg("1.0", "still here"))
    assert [e.text for e in h.events if isinstance(e, Message)] == ["still here"]
    h.advance(0)
    assert len(h.of(OpenSocket)) == 1
    assert len(h.of(CallConnect)) == 3


# ---------------------------------------------------------------- presence


def test_presence_subscription_replaces_and_is_resent_after_every_hello() -> None:
    h = Harness(rand=0.0, healthy_after=0.0, send_burst=5)
    h.start()
    early = h.core.subscribe_presence(["U1"], h.now)
    assert early.done  # kept; goes out after hello
    conn = h.answer_connect()
    h.hello(conn)
    assert h.frames(conn)[0] == {
        "id": h.frames(conn)[0]["id"],
        "type": "presence_sub",
        "ids": ["U1"],
    }
    sub = h.core.subscribe_presence(["U2", "W3"], h.now)
    assert h.frames(conn)[-1]["ids"] == ["U2", "W3"]
    assert sub.done
    h.closed(conn)
    conn2 = h.answer_connect()
    h.core.send_message("C1", "queued before the new hello", h.now)
    h.hello(conn2)
    frames = h.frames(conn2)
    assert frames[0]["type"] == "presence_sub"
    assert frames[0]["ids"] == ["U2", "W3"]
    assert frames[1]["type"] == "message"
    h.core.subscribe_presence([], h.now)  # unsubscribe everything
    assert h.frames(conn2)[-1]["ids"] == []
    h.closed(conn2)
    conn3 = h.answer_connect()
    h.hello(conn3)
    assert not h.frames(conn3)  # nothing to re-send for an empty list
    with pytest.raises(TypeError):
        h.core.subscribe_presence("U1", h.now)
