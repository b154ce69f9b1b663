from types import SimpleNamespace

import pytest

from slack_rtm.cli.view import LiveView, describe_event


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_describe_message_and_raw_fallback() -> None:
    ev = SimpleNamespace(type="message", subtype=None, channel="C1", user="U1", text="hi  there")
    assert describe_event(ev) == "message #C1 U1 : hi there"
    raw_only = SimpleNamespace(raw={"type": "x_event", "subtype": "s", "text": "y" * 100})
    line = describe_event(raw_only)
    assert line.startswith("x_event/s : ")
    assert line.endswith("…")


def test_counts_state_countdown_and_summary() -> None:
    clock = FakeClock()
    view = LiveView("demo", recent=2, clock=clock)
    for t in ("message", "message", "user_typing"):
        view.on_event(SimpleNamespace(type=t, channel="C1"))
    assert view.total == 3
    assert view.counts["message"] == 2
    assert len(view.recent) == 2
    view.set_state("reconnecting", reconnect_in=5.0)
    clock.now += 2.0
    screen = view.frame()
    assert screen.startswith("\x1b[H\x1b[2J")
    assert "reconnecting in 3.0s" in screen
    assert "message" in screen
    view.set_state("connected")
    view.rtt = 0.0042
    screen = view.frame()
    assert "rtt: 4.2 ms" in screen
    assert "reconnects: 1" in screen
    summary = view.summary()
    assert "3 events" in summary
    assert "message=2" in summary


def test_recent_must_be_positive() -> None:
    with pytest.raises(ValueError, match="recent"):
        LiveView("x", recent=0)
