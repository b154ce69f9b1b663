"""The sync client's reconnects against the emulator on its own thread: fast resume on the last
``reconnect_url`` (no ``rtm.connect``), and ``Retry-After`` on a reconnect's ``rtm.connect``
as a floor under the backoff."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from slack_rtm.backoff import Backoff
from slack_rtm.emulator import EmulatorThread
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.events import Event
from slack_rtm.sync import RtmClient, State

QUICK = SessionConfig(
    ping_interval=1.0,
    ping_timeout=1.0,
    backoff=Backoff(initial=0.01, maximum=0.05),
    healthy_after=0.2,
)


@pytest.fixture
def remu() -> Iterator[EmulatorThread]:
    """An emulator that sends a reconnect_url every 0.2 s."""
    with EmulatorThread(write_rate=None, reconnect_url_interval=0.2) as emulator:
        yield emulator


class Seen:
    """Events taken from a sync client's iterator, with the time each was taken."""

    def __init__(self, rtm: RtmClient) -> None:
        self.it = iter(rtm)
        self.events: list[tuple[float, Event]] = []

    def of(self, type_: str) -> list[Event]:
        return [e for _, e in self.events if e.type == type_]

    def until(self, predicate: object, timeout: float = 5.0) -> None:
        assert callable(predicate)
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, [e.type for _, e in self.events]
            event = next(self.it)  # the client pings every second: never blocks for long
            self.events.append((time.monotonic(), event))

    def count(self, type_: str, n: int, timeout: float = 5.0) -> None:
        self.until(lambda: len(self.of(type_)) >= n, timeout)

    def texts(self) -> list[str]:
        return [getattr(e, "text", "") for e in self.of("message")]


def test_sync_fast_resume_skips_rtm_connect_and_keeps_receiving(remu: EmulatorThread) -> None:
    emu = remu
    me, other = (u.id for u in emu.workspace.people[:2])
    session = emu.browser_session(me)
    with RtmClient(session.token, base_url=emu.api_url, cookie=session.cookie, config=QUICK) as rtm:
        seen = Seen(rtm)
        seen.count("reconnect_url", 1)
        assert emu.connect_calls == 1
        assert emu.resumes == 0
        assert emu.drop_connections(abrupt=True) == 1
        seen.count("connected", 2)  # the resumed socket's hello (connect() took the first)
        emu.wait_connections(1)
        assert emu.resumes == 1
        assert emu.connect_calls == 1  # no rtm.connect
        up = emu.upgrades[-1]
        assert (up.resume, up.outcome) == (True, "hello")
        assert up.cookie == f"d={quote(session.cookie, safe='')}"
        emu.post_message(other, emu.general_channel_id, "after the resume")
        seen.until(lambda: "after the resume" in seen.texts())
        assert rtm.send_message(emu.general_channel_id, "still me").ok
        # a second drop resumes again, on the newer URL
        seen.count("reconnect_url", len(seen.of("reconnect_url")) + 1)
        assert emu.drop_connections(abrupt=True) == 1
        seen.count("connected", 3)
        assert (emu.resumes, emu.connect_calls) == (2, 1)
        emu.post_message(other, emu.general_channel_id, "after the second")
        seen.until(lambda: "after the second" in seen.texts())
        assert rtm.state is State.CONNECTED
    assert rtm.state is State.CLOSED


def test_sync_retry_after_on_reconnect_is_a_floor(remu: EmulatorThread) -> None:
    emu = remu
    config = SessionConfig(
        ping_interval=1.0,
        ping_timeout=1.0,
        backoff=Backoff(initial=0.01, maximum=0.05),
        healthy_after=0.2,
        fast_resume=False,
    )
    with RtmClient(emu.bot_token, base_url=emu.api_url, config=config) as rtm:
        seen = Seen(rtm)
        seen.count("reconnect_url", 1)  # a resume would be possible: fast_resume=False
        time.sleep(0.1)  # healthy (0.2 s after hello): the reconnect starts at once
        emu.fail_next_connects(1, error="service_unavailable", status=503, retry_after=1)
        assert emu.drop_connections(abrupt=True) == 1
        seen.count("connected", 2)  # connect() took the first one's place in the queue
        starts = [t for t, e in seen.events if e.type == "connecting"][1:]  # after the drop
        assert len(starts) == 2, [e.type for _, e in seen.events]
        assert emu.connect_calls == 3
        assert [c.status for c in emu.connect_log] == [200, 503, 200]
        assert starts[1] - starts[0] >= 0.95, starts  # the backoff alone is at most 0.05 s
        assert emu.resumes == 0
        assert len(emu.issued_urls) == 2
        emu.post_message(emu.workspace.people[0].id, emu.general_channel_id, "after")
        seen.until(lambda: "after" in seen.texts())
