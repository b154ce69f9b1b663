"""SessionCore.ping_lead: a ping may go out early (for a driver whose timer runs late), the ping
timeout is never shortened, and a dead link is noticed within ping_interval + ping_timeout even
when every tick runs up to half the lead late."""

from __future__ import annotations

import math

import pytest
from core_harness import Harness

from slack_rtm.session.core import SessionCore
from slack_rtm.session.state import State


def test_the_default_is_no_lead() -> None:
    h = Harness(ping_interval=5.0, ping_timeout=3.0)
    assert h.core.ping_lead == 0
    conn = h.connect()
    assert h.core.next_deadline() == pytest.approx(h.now + 5.0)
    h.advance(4.99)
    assert not h.frames(conn)


def test_a_lead_moves_the_ping_earlier_but_not_its_timeout() -> None:
    h = Harness(ping_interval=5.0, ping_timeout=3.0)
    h.core.ping_lead = 0.5
    assert h.core.ping_lead == pytest.approx(0.5)
    assert h.core.timers_dirty
    conn = h.connect()
    start = h.now
    assert h.core.next_deadline() == pytest.approx(start + 4.5)
    h.advance(4.49)
    assert not h.frames(conn)
    h.advance(0.01)
    (ping,) = h.frames(conn)
    assert ping["type"] == "ping"
    sent = h.now
    # the timeout counts from the ping, in full
    assert h.core.next_deadline() == pytest.approx(sent + 3.0)
    h.advance(2.99)
    assert not h.closes(conn)
    assert h.core.state is State.CONNECTED
    h.advance(0.01)
    assert h.closes(conn)
    assert h.core.state is State.RECONNECTING


def test_frames_received_push_the_early_ping_back() -> None:
    h = Harness(ping_interval=5.0, ping_timeout=3.0)
    h.core.ping_lead = 1.0
    conn = h.connect()
    for _ in range(5):
        h.advance(3.9)
        h.recv(conn, {"type": "user_typing", "channel": "C1", "user": "U1"})
    assert not h.frames(conn)
    assert h.core.next_deadline() == pytest.approx(h.now + 4.0)


def _silent_until_given_up(lead: float, slack: float, phase: float) -> float:
    """Seconds from the last frame to the dead link's close, for a driver that runs every
    deadline ``d`` at the next multiple of ``slack`` (up to ``slack`` late, as the wheel does)."""
    h = Harness(ping_interval=5.0, ping_timeout=3.0)
    h.core.ping_lead = lead
    h.now = 1000.0 + phase
    conn = h.connect()
    last_rx = h.now
    for _ in range(100):
        deadline = h.core.next_deadline()
        assert deadline is not None
        h.now = max(h.now, math.ceil(deadline / slack) * slack)
        h.core.tick(h.now)
        h.pump()
        if h.closes(conn):
            assert h.closes(conn)[-1].reason == "keepalive timeout"
            return h.now - last_rx
    raise AssertionError("never given up")


PHASES = [i * 0.013 for i in range(16)]


def test_ticks_up_to_half_the_lead_late_still_notice_a_dead_link_in_time() -> None:
    # With ping_lead = 2 * slack, the link silent from its last frame on is given up within
    # ping_interval + ping_timeout of that frame, whatever the phase of the ticks...
    slack = 0.2
    took = [_silent_until_given_up(2 * slack, slack, phase) for phase in PHASES]
    assert max(took) <= 5.0 + 3.0 + 1e-9
    # ...and never before ping_interval - lead + ping_timeout
    assert min(took) >= 5.0 - 2 * slack + 3.0 - 1e-9
    # without the lead, the same late ticks overshoot (what the lead is for)
    late = [_silent_until_given_up(0.0, slack, phase) for phase in PHASES]
    assert max(late) > 5.0 + 3.0 + slack / 2


@pytest.mark.parametrize(("value", "error"), [
    ("1", TypeError), (True, TypeError), (None, TypeError),
    (-0.1, ValueError), (2.5, ValueError), (float("nan"), ValueError),
    (float("inf"), ValueError),
])
def test_bad_leads_are_refused(value: object, error: type[Exception]) -> None:
    core = SessionCore()  # ping_interval 5: the lead must stay under 2.5
    with pytest.raises(error, match="ping_lead"):
        core.ping_lead = value  # type: ignore[assignment]
    assert core.ping_lead == 0
