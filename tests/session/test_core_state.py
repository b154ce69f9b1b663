"""The state machine, and a property: whatever happens, every send resolves exactly once."""

from __future__ import annotations

import logging

import pytest
from core_harness import Harness
from hypothesis import given, settings
from hypothesis import strategies as st

from slack_rtm.errors import SlackRtmError, StateError
from slack_rtm.session.actions import SendDone, Stop
from slack_rtm.session.state import State, StateMachine, can_transition


def test_legal_path_and_illegal_transitions_raise(caplog: pytest.LogCaptureFixture) -> None:
    sm = StateMachine()
    with caplog.at_level(logging.DEBUG, logger="slack_rtm.session"):
        for target in (
            State.CONNECTING,
            State.CONNECTED,
            State.RECONNECTING,
            State.CONNECTED,
            State.CLOSING,
            State.CLOSED,
        ):
            sm.to(target, "test")
    assert sm.state is State.CLOSED
    assert not sm.is_open
    assert caplog.text.count("session state") == 6
    assert "connected -> reconnecting (test)" in caplog.text
    with pytest.raises(StateError, match="closed -> connecting"):
        sm.to(State.CONNECTING)
    sm2 = StateMachine()
    with pytest.raises(StateError):
        sm2.to(State.CONNECTED)
    assert sm2.state is State.IDLE
    assert sm2.is_open


def test_transition_table() -> None:
    assert can_transition(State.IDLE, State.CONNECTING)
    assert not can_transition(State.CLOSING, State.CONNECTED)
    assert not any(can_transition(State.CLOSED, s) for s in State)
    assert str(State.CONNECTED) == "connected"


_ops = st.lists(
    st.sampled_from(
        [
            "send",
            "typing",
            "ping",
            "presence",
            "ack",
            "nack",
            "hello",
            "goodbye",
            "drop",
            "connect_ok",
            "connect_fail",
            "fatal",
            "tick",
            "error1",
            "migration",
            "pause",
            "resume",
            "garbage",
        ]
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ops=_ops, rand=st.floats(min_value=0.0, max_value=0.999))
def test_any_sequence_resolves_every_send_exactly_once(ops: list[str], rand: float) -> None:
    from slack_rtm.errors import RtmConnectErrorSchemaError

    h = Harness(rand=rand, send_burst=2, max_queued_sends=5, healthy_after=2.0)
    h.start()
    sends = []
    for op in ops:
        core = h.core
        conn = core.current_conn
        opening = core._opening
        try:
            if op == "send":
                sends.append(core.send_message("C1", "hi", h.now))
            elif op == "typing":
                sends.append(core.send_typing("C1", h.now))
            elif op == "ping":
                sends.append(core.ping(h.now))
            elif op == "presence":
                sends.append(core.subscribe_presence(["U1"], h.now))
            elif op in ("ack", "nack") and conn is not None and core._sends.pending:
                fid = next(iter(core._sends.pending))
                h.recv(conn, {"ok": op == "ack", "reply_to": fid, "ts": "1.0"})
            elif op == "hello" and opening is not None:
                h.hello(opening)
            elif op == "goodbye" and conn is not None:
                h.recv(conn, {"type": "goodbye"})
            elif op == "drop" and core._conns:
                h.closed(next(iter(core._conns)), 1006)
            elif op == "connect_ok":
                core.connect_succeeded("wss://x.test/ws/abc", h.now)
            elif op == "connect_fail":
                core.connect_failed(OSError("refused"), h.now)
            elif op == "fatal":
                core.connect_failed(
                    RtmConnectErrorSchemaError(
                        "x",
                        status_code=200,
                        headers={},
                        body="",
                        result=None,
                        error="invalid_auth",
                        fatal=True,
                    ),
                    h.now,
                )
            elif op == "tick":
                h.advance(1.5)
            elif op == "error1" and opening is not None:
                h.recv(opening, {"type": "error", "error": {"code": 1, "msg": "expired"}})
            elif op == "migration" and conn is not None:
                h.recv(conn, {"type": "team_migration_started"})
            elif op == "pause":
                core.set_reading_paused(True, h.now)
            elif op == "resume":
                core.set_reading_paused(False, h.now)
            elif op == "garbage" and core._conns:
                h.recv(next(iter(core._conns)), b"\xff{not json")
        except SlackRtmError:
            pass  # refusals (queue full, closed) are allowed; crashes are not
        h.pump()
    h.advance(100.0)
    h.core.close(h.now)
    h.pump()
    for conn_id in list(h.core._conns):
        h.closed(conn_id)
    assert h.core.state is State.CLOSED
    assert h.core.pending_count == 0
    assert all(s.done for s in sends)
    user_sends = [s for s in sends]
    resolved = [a.send for a in h.of(SendDone)]
    for s in user_sends:
        assert sum(1 for r in resolved if r is s) == 1
    assert len(h.stops()) == 1
    assert isinstance(h.stops()[0], Stop)
