"""SessionCore: frame ids, pending replies, local refusals, the rate limiter and the send queue."""

from __future__ import annotations

import pytest
from core_harness import Harness

from slack_rtm.errors import (
    ConnectionClosedError,
    FrameTooLargeError,
    SendError,
    SendOutcomeUnknownError,
    SendQueueFullError,
)
from slack_rtm.session.actions import SendDone, SendFrame
from slack_rtm.session.events import Reply
from slack_rtm.session.limits import MAX_FRAME_BYTES, TokenBucket, check_frame_size
from slack_rtm.session.state import State


def test_message_frame_ack_and_result() -> None:
    h = Harness()
    conn = h.connect()
    send = h.core.send_message(
        "C1", "hello <@U1>", h.now, thread_ts="1.000001", reply_broadcast=True
    )
    frame = h.frames(conn)[-1]
    assert frame == {
        "id": frame["id"],
        "type": "message",
        "channel": "C1",
        "text": "hello <@U1>",
        "thread_ts": "1.000001",
        "reply_broadcast": True,
    }
    assert isinstance(frame["id"], int)
    assert frame["id"] > 0
    assert send.frame_id == frame["id"]
    assert not send.done
    assert "written" in repr(send)
    h.reply_ok(conn, frame["id"], ts="1355517523.000005", text="hello @bob")
    assert send.done
    assert send.error is None
    assert isinstance(send.result, Reply)
    assert (send.result.ts, send.result.text) == ("1355517523.000005", "hello @bob")
    assert [d.send for d in h.of(SendDone)] == [send]
    assert h.core.pending_count == 0
    assert "done" in repr(send)


def test_ids_are_positive_unique_and_increasing_across_reconnects() -> None:
    h = Harness(send_burst=10, healthy_after=0.0)
    conn = h.connect()
    for i in range(3):
        h.core.send_message("C1", f"m{i}", h.now)
    h.closed(conn)  # healthy: reconnect at once
    conn2 = h.answer_connect()
    h.hello(conn2)
    for i in range(3):
        h.core.send_message("C1", f"n{i}", h.now)
    ids = [f["id"] for f in h.frames()]
    assert len(ids) == 6
    assert ids == sorted(ids)
    assert len(set(ids)) == 6
    assert ids[0] > 0
    assert all(f["id"] > max(ids[:3]) for f in h.frames(conn2))


def test_error_reply_raises_send_error_with_code_and_msg() -> None:
    h = Harness()
    conn = h.connect()
    send = h.core.send_message("CNOPE", "hi", h.now)
    h.recv(
        conn,
        {"ok": False, "reply_to": send.frame_id, "error": {"code": 0, "msg": "invalid channel id"}},
    )
    assert isinstance(send.error, SendError)
    assert (send.error.code, send.error.msg, send.error.reply_to) == (
        0,
        "invalid channel id",
        send.frame_id,
    )


def test_error_reply_without_detail_and_reply_without_ok_fail() -> None:
    h = Harness()
    conn = h.connect()
    a = h.core.send_message("C1", "a", h.now)
    b = h.core.send_message("C1", "b", h.now)
    h.recv(conn, {"ok": False, "reply_to": a.frame_id})
    h.recv(conn, {"reply_to": b.frame_id})
    assert isinstance(a.error, SendError)
    assert a.error.code is None
    assert isinstance(b.error, SendError)


def test_each_send_resolves_exactly_once() -> None:
    h = Harness()
    conn = h.connect()
    send = h.core.send_message("C1", "hi", h.now)
    h.reply_ok(conn, send.frame_id)
    first = send.result
    h.recv(conn, {"ok": False, "reply_to": send.frame_id, "error": {"code": 2, "msg": "x"}})
    h.recv(conn, {"ok": True, "reply_to": 12345})  # unknown id: ignored
    assert send.result is first
    assert send.error is None
    assert len(h.of(SendDone)) == 1
    h.core.close(h.now)
    h.pump()
    assert len(h.of(SendDone)) == 1


def test_message_echo_with_reply_to_is_an_event_not_the_ack() -> None:
    h = Harness()
    conn = h.connect()
    send = h.core.send_message("C1", "hi", h.now)
    h.recv(
        conn,
        {"type": "message", "channel": "C1", "text": "hi", "reply_to": send.frame_id, "ts": "1.1"},
    )
    assert not send.done
    assert h.types()[-1] == "message"
    h.reply_ok(conn, send.frame_id)
    assert send.done


@pytest.mark.parametrize(
    ("channel", "text", "thread_ts", "exc"),
    [
        (1, "x", None, TypeError),
        ("", "x", None, ValueError),
        ("C1", None, None, TypeError),
        ("C1", "  ", None, ValueError),
        ("C1", "x", 1.5, TypeError),
        ("C1", "x", "", ValueError),
    ],
)
def test_send_message_validates_arguments_before_anything(
    channel: object, text: object, thread_ts: object, exc: type[Exception]
) -> None:
    h = Harness()
    conn = h.connect()
    with pytest.raises(exc):
        h.core.send_message(channel, text, h.now, thread_ts=thread_ts)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="reply_broadcast"):
        h.core.send_message("C1", "x", h.now, reply_broadcast="yes")  # type: ignore[arg-type]
    h.pump()
    assert not h.frames(conn)


def test_text_over_4000_characters_is_refused_locally() -> None:
    h = Harness()
    conn = h.connect()
    h.core.send_message("C1", "x" * 4000, h.now)
    with pytest.raises(FrameTooLargeError, match="4001 characters"):
        h.core.send_message("C1", "x" * 4001, h.now)
    assert len(h.frames(conn)) == 1


def test_frame_over_16_kb_is_refused_locally() -> None:
    h = Harness()
    conn = h.connect()
    # 4,000 characters that JSON escapes as \\u0001: 24,000 bytes on the wire.
    with pytest.raises(FrameTooLargeError, match="16384"):
        h.core.send_message("C1", "\x01" * 4000, h.now)
    with pytest.raises(FrameTooLargeError):
        h.core.subscribe_presence([f"U{i:030d}" for i in range(600)], h.now)
    assert not h.frames(conn)
    assert h.core.pending_count == 0
    check_frame_size(MAX_FRAME_BYTES)
    with pytest.raises(FrameTooLargeError):
        check_frame_size(MAX_FRAME_BYTES + 1)


def test_rate_limiter_allows_a_burst_then_one_a_second() -> None:
    h = Harness(send_burst=3, send_rate=1.0, ping_interval=100.0)
    conn = h.connect()
    sends = [h.core.send_message("C1", f"m{i}", h.now) for i in range(6)]
    h.pump()
    assert len(h.frames(conn)) == 3
    assert h.core.next_deadline() == pytest.approx(h.now + 1.0)
    h.advance(0.99)
    assert len(h.frames(conn)) == 3
    h.advance(0.02)
    assert len(h.frames(conn)) == 4
    h.advance(2.0)
    assert len(h.frames(conn)) == 6
    assert [f["text"] for f in h.frames(conn)] == [f"m{i}" for i in range(6)]  # order kept
    assert all(s.frame_id is not None for s in sends)


def test_queue_full_is_a_clear_error() -> None:
    h = Harness(send_burst=1, max_queued_sends=2)
    h.connect()
    h.core.send_message("C1", "goes out", h.now)
    h.core.send_message("C1", "waits 1", h.now)
    h.core.send_message("C1", "waits 2", h.now)
    with pytest.raises(SendQueueFullError, match="max_queued_sends=2"):
        h.core.send_message("C1", "one too many", h.now)


def test_sends_while_reconnecting_wait_and_go_out_after_hello() -> None:
    h = Harness(rand=0.0, healthy_after=1000.0)
    conn = h.connect()
    h.closed(conn)
    assert h.core.state is State.RECONNECTING
    queued = h.core.send_message("C1", "while away", h.now)
    typing = h.core.send_typing("C1", h.now)
    h.pump()
    assert not h.frames()
    assert not queued.done
    assert not typing.done
    h.advance(0)
    conn2 = h.answer_connect()
    assert not h.frames()
    h.hello(conn2)
    frames = h.frames(conn2)
    assert [f["type"] for f in frames] == ["message", "typing"]
    assert typing.done
    assert typing.error is None
    h.reply_ok(conn2, queued.frame_id)
    assert queued.done
    assert queued.error is None


def test_link_lost_after_write_is_outcome_unknown_after_the_grace() -> None:
    h = Harness(rand=0.0, reply_grace=2.0, healthy_after=1000.0)
    conn = h.connect()
    send = h.core.send_message("C1", "in flight", h.now)
    h.closed(conn)
    h.advance(1.9)
    assert not send.done
    h.advance(0.2)
    assert isinstance(send.error, SendOutcomeUnknownError)
    assert "may or may not" in str(send.error)
    assert h.core.pending_count == 0


def test_reply_for_the_old_socket_arriving_on_the_new_one_is_matched() -> None:
    h = Harness(rand=0.0, reply_grace=2.0, healthy_after=1000.0)
    conn = h.connect()
    send = h.core.send_message("C1", "in flight", h.now)
    h.closed(conn)
    h.advance(1.5)
    conn2 = h.answer_connect()
    h.hello(conn2)  # the grace restarts at the new hello
    h.advance(1.9)
    assert not send.done
    h.reply_ok(conn2, send.frame_id)
    assert send.done
    assert isinstance(send.result, Reply)


def test_no_reply_at_all_times_out_as_outcome_unknown() -> None:
    h = Harness(reply_timeout=5.0, ping_interval=100.0)
    h.connect()
    send = h.core.send_message("C1", "into the void", h.now)
    h.advance(4.9)
    assert not send.done
    h.advance(0.2)
    assert isinstance(send.error, SendOutcomeUnknownError)
    assert "no reply" in str(send.error)


def test_close_resolves_queued_and_pending_sends_with_connection_closed() -> None:
    h = Harness(send_burst=1)
    conn = h.connect()
    written = h.core.send_message("C1", "written", h.now)
    queued = h.core.send_message("C1", "queued", h.now)
    ping = h.core.ping(h.now)
    h.core.close(h.now)
    h.pump()
    for send in (written, queued, ping):
        assert send.done
        assert isinstance(send.error, ConnectionClosedError)
    assert h.core.pending_count == 0
    assert sorted(id(d.send) for d in h.of(SendDone)) == sorted(map(id, (written, queued, ping)))
    h.closed(conn)
    with pytest.raises(ConnectionClosedError):
        h.core.send_typing("C1", h.now)


def test_ping_resolves_with_the_round_trip() -> None:
    h = Harness(send_burst=1)
    conn = h.connect()
    h.core.send_message("C1", "uses the only token", h.now)
    ping = h.core.ping(h.now)  # not rate limited
    frame = h.frames(conn)[-1]
    assert frame["type"] == "ping"
    assert frame["id"] == ping.frame_id
    h.now += 0.25
    h.recv(conn, {"type": "pong", "reply_to": ping.frame_id, "time": frame["time"]})
    assert ping.result == pytest.approx(0.25)
    assert "pong" not in h.types()


def test_ping_queue_is_bounded() -> None:
    h = Harness(max_queued_sends=1, rand=0.0, healthy_after=1000)
    conn = h.connect()
    h.closed(conn)
    h.core.ping(h.now)
    with pytest.raises(SendQueueFullError):
        h.core.ping(h.now)


def test_typing_and_presence_query_frames() -> None:
    h = Harness(send_burst=5)
    conn = h.connect()
    t = h.core.send_typing("C9", h.now)
    q = h.core.query_presence(["U1", "W2"], h.now)
    assert h.frames(conn)[-2:] == [
        {"id": t.frame_id, "type": "typing", "channel": "C9"},
        {"id": q.frame_id, "type": "presence_query", "ids": ["U1", "W2"]},
    ]
    assert t.done
    assert q.done
    with pytest.raises(ValueError, match="at most 500"):
        h.core.query_presence([f"U{i}" for i in range(501)], h.now)
    with pytest.raises(ValueError, match="empty"):
        h.core.query_presence([], h.now)
    with pytest.raises(TypeError):
        h.core.query_presence("U1", h.now)
    with pytest.raises(TypeError):
        h.core.query_presence([1], h.now)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        h.core.send_typing(None, h.now)  # type: ignore[arg-type]


def test_late_error_reply_to_typing_is_only_logged() -> None:
    h = Harness()
    conn = h.connect()
    t = h.core.send_typing("C1", h.now)
    h.recv(conn, {"ok": False, "reply_to": t.frame_id, "error": {"code": -1, "msg": "slow"}})
    assert t.error is None
    assert h.core.state is State.CONNECTED


def test_token_bucket() -> None:
    b = TokenBucket(2.0, 2, now=0.0)
    assert b.try_take(0.0)
    assert b.try_take(0.0)
    assert not b.try_take(0.0)
    assert b.ready_at(0.0) == pytest.approx(0.5)
    assert b.next_ready() == pytest.approx(0.5)
    assert b.tokens(10.0) == 2.0
    assert b.ready_at(10.0) == 10.0
    assert b.next_ready() == 10.0
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0, 1)
    with pytest.raises(TypeError):
        TokenBucket("1", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(1, 0)
    with pytest.raises(TypeError):
        TokenBucket(1, 1.0)  # type: ignore[arg-type]


def test_sendframe_repr_has_no_content() -> None:
    h = Harness()
    h.connect()
    h.core.send_message("C1", "secret-ish text", h.now)
    frame = h.of(SendFrame)[-1]
    assert "secret-ish" not in repr(frame)


def test_messages_are_queued_raw_and_decoded_on_delivery() -> None:
    from slack_rtm.session.core import MESSAGE_PREFIX
    from slack_rtm.session.events import Message

    h = Harness()
    conn = h.connect()
    frame = b'{"type":"message","channel":"C1","user":"U1","text":"raw","ts":"1.5"}'
    assert frame.startswith(MESSAGE_PREFIX)
    h.core.receive_messages(conn, [frame], h.now)
    h.core.receive(conn, b'{"type":"user_typing","channel":"C1","user":"U1"}', h.now)
    raw = h.core.take_raw()
    assert raw[0] == frame  # kept as bytes: decoded only when delivered
    assert raw[1].type == "user_typing"
    h.core.receive_many(conn, [frame, "not json"], h.now)
    events = h.core.take_events()
    assert isinstance(events[0], Message)
    assert events[0].text == "raw"
    assert events[1].type == "malformed"
    # while de-duplicating (after a goodbye) messages are decoded at once, and duplicates drop
    h.recv(conn, {"type": "goodbye"})
    h.core.take_raw()
    h.core.receive_messages(conn, [frame, frame], h.now)
    after = h.core.take_raw()
    assert len(after) == 1
    assert isinstance(after[0], Message)


def test_receive_reply_settles_the_send_and_leaves_the_waking_to_the_caller() -> None:
    from slack_rtm.session.core import REPLY_PREFIX

    h = Harness()
    conn = h.connect()
    ok = h.core.send_message("C1", "hi", h.now)
    refused = h.core.send_message("C404", "hi", h.now)
    h.pump()
    ack = b'{"ok":true,"reply_to":%d,"ts":"1.000001","text":"hi"}' % ok.frame_id
    assert ack.startswith(REPLY_PREFIX)
    assert h.core.receive_reply(conn, ack, h.now) is ok
    assert isinstance(ok.result, Reply)
    assert ok.result.ts == "1.000001"
    nack = b'{"ok":false,"reply_to":%d,"error":{"code":1,"msg":"bad channel"}}' % (
        refused.frame_id)
    assert h.core.receive_reply(conn, nack, h.now) is refused
    assert isinstance(refused.error, SendError)
    assert refused.error.code == 1
    assert not h.core.take_actions()  # no SendDone: the caller wakes the waiters
    assert h.core.pending_count == 0
    assert h.core.receive_reply(conn, ack, h.now) is None  # answered already: ignored
    assert not h.core.take_actions()
    assert not h.core.take_events()


def test_answered_sends_leave_no_deadlines_behind() -> None:
    # Acks settled the short way never ask for the next deadline; the heap of reply deadlines
    # must still shrink as they come, not grow until the next timer.
    h = Harness(send_rate=1e6, send_burst=1_000_000)
    conn = h.connect()
    h.pump()
    for i in range(1000):
        send = h.core.send_message("C1", f"m{i}", h.now)
        ack = b'{"ok":true,"reply_to":%d,"ts":"1.%06d","text":"m"}' % (send.frame_id, i)
        assert h.core.receive_reply(conn, ack, h.now) is send
    assert h.core.pending_count == 0
    assert len(h.core._sends._deadlines) <= 1  # the heap itself: no public view of it


def test_receive_reply_hands_anything_else_to_the_general_path() -> None:
    h = Harness()
    conn = h.connect()
    h.pump()
    assert h.core.receive_reply(conn, b'{"ok":true,"type":"surprise","n":1}', h.now) is None
    assert h.core.receive_reply(conn, b'{"ok":true,"reply_to":', h.now) is None
    assert h.core.receive_reply(conn, b'{"ok":true,"reply_to":"seven"}', h.now) is None
    events = h.core.take_events()
    assert [e.type for e in events] == ["surprise", "malformed", "malformed"]
    assert events[0].raw == {"ok": True, "type": "surprise", "n": 1}


def _armed(h: Harness) -> float | None:
    """What a driver does after a call with timers_dirty set: ask, and clear the flag."""
    h.core.timers_dirty = False
    return h.core.next_deadline()


def test_a_send_written_at_once_leaves_the_armed_timer_alone() -> None:
    h = Harness()  # keepalive after 5 s, reply timeout 30 s
    conn = h.connect()
    armed = _armed(h)
    assert armed == pytest.approx(h.now + h.config.ping_interval)
    h.core.send_message("C1", "hi", h.now)
    h.core.ping(h.now)
    h.pump()
    assert len(h.frames(conn)) == 2
    assert not h.core.timers_dirty  # their reply deadlines come after the armed keepalive
    assert h.core.next_deadline() == armed


def test_a_send_whose_reply_deadline_comes_first_asks_for_a_new_timer() -> None:
    h = Harness(reply_timeout=1.0)  # earlier than the 5 s keepalive
    h.connect()
    _armed(h)
    send = h.core.send_message("C1", "hi", h.now)
    assert h.core.timers_dirty
    assert _armed(h) == pytest.approx(h.now + 1.0)
    h.advance(1.01)
    assert isinstance(send.error, SendOutcomeUnknownError)


def test_a_queued_send_asks_for_a_new_timer() -> None:
    h = Harness(send_burst=1, send_rate=1.0)
    conn = h.connect()
    h.core.send_message("C1", "m0", h.now)
    _armed(h)
    h.core.send_message("C1", "m1", h.now)  # no token left: queued until one is
    assert h.core.timers_dirty
    assert _armed(h) == pytest.approx(h.now + 1.0)
    h.advance(1.01)
    assert [f["text"] for f in h.frames(conn)] == ["m0", "m1"]


def test_a_send_before_any_deadline_was_asked_for_sets_the_flag() -> None:
    h = Harness()
    h.connect()
    h.core.send_message("C1", "hi", h.now)
    assert h.core.timers_dirty
