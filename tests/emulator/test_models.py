"""Pure parts of the emulator, no I/O: workspace model, rate limits, timestamps, arguments."""

from __future__ import annotations

import re
from typing import Any

import pytest

from slack_rtm.emulator import Emulator, Workspace
from slack_rtm.emulator.limits import TokenBucket, TsClock, WindowLimiter
from slack_rtm.emulator.webapi import parse_bool


def test_default_workspace() -> None:
    ws = Workspace.default()
    assert re.fullmatch(r"T[A-Z0-9]{2,}", ws.team.id)
    assert [u.name for u in ws.bots] == ["rtmbot"]
    assert [u.name for u in ws.people] == ["alice", "bob", "carol"]
    bot = ws.bots[0]
    assert bot.token.startswith("xoxb-")
    assert bot.bot_id is not None
    assert bot.bot_id.startswith("B")
    assert all(p.token.startswith("xoxp-") and p.bot_id is None for p in ws.people)
    assert all(re.fullmatch(r"U[A-Z0-9]{2,}", uid) for uid in ws.users)
    assert len({u.token for u in ws.users.values()}) == 4
    general = ws.channel_by_name("general")
    assert ws.members(general.id) == frozenset(ws.users)
    secret = ws.channel_by_name("secret")
    assert secret.kind == "private"
    assert secret.id.startswith("G")
    assert ws.members(secret.id) == {bot.id, ws.people[0].id}
    dms = [c for c in ws.channels.values() if c.kind == "im"]
    assert len(dms) == 1
    assert dms[0].id.startswith("D")
    assert ws.user_by_token(bot.token) == bot
    assert bot.token not in repr(bot)
    assert "xoxb-" in repr(bot)
    assert ws.user_by_token("xoxb-nope") is None


def test_workspace_mutations_and_errors() -> None:
    ws = Workspace("Acme", "acme")
    dana = ws.add_user("dana")
    bot = ws.add_user("helper", bot=True)
    ch = ws.add_channel("ops", [dana.id])
    assert not ws.is_member(ch.id, bot.id)
    ws.join(ch.id, bot.id)
    assert ws.is_member(ch.id, bot.id)
    ws.leave(ch.id, bot.id)
    assert not ws.is_member(ch.id, bot.id)
    dm = ws.open_dm(dana.id, bot.id)
    assert ws.open_dm(bot.id, dana.id) == dm
    assert dm.name == "dana-helper"
    ws.set_presence(dana.id, "away")
    assert ws.presence[dana.id] == "away"
    snapshot = ws.to_dict(include_tokens=False)
    assert snapshot["team"] == {"id": ws.team.id, "name": "Acme", "domain": "acme"}
    assert all("token" not in u for u in snapshot["users"])  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="user_id"):
        ws.user("UNOPE")
    with pytest.raises(ValueError, match="channel_id"):
        ws.channel("CNOPE")
    with pytest.raises(ValueError, match="name"):
        ws.channel_by_name("nope")
    with pytest.raises(ValueError, match="DM"):
        ws.join(dm.id, dana.id)
    with pytest.raises(ValueError, match="DM"):
        ws.leave(dm.id, dana.id)
    with pytest.raises(ValueError, match="presence"):
        ws.set_presence(dana.id, "busy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="user_id"):
        ws.add_channel("x", ["UNOPE"])
    with pytest.raises(TypeError, match="name"):
        ws.add_user("")
    with pytest.raises(TypeError, match="name"):
        ws.add_channel("")
    with pytest.raises(TypeError, match="team_name"):
        Workspace("")
    with pytest.raises(TypeError, match="domain"):
        Workspace("x", "")
    assert not ws.is_member("CNOPE", dana.id)


def test_token_bucket() -> None:
    bucket = TokenBucket(1.0, 3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.5) is False
    assert bucket.take(1.0) is True
    assert bucket.take(100.0) is True  # capped at the burst
    assert [bucket.take(100.0) for _ in range(3)] == [True, True, False]
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0, 1, 0.0)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(1, 0, 0.0)


def test_window_limiter() -> None:
    lim = WindowLimiter(2, window=60.0)
    assert lim.hit(0.0) is None
    assert lim.hit(10.0) is None
    assert lim.hit(20.0) == 40
    assert lim.hit(59.5) == 1
    assert lim.hit(60.0) is None  # the first call left the window
    with pytest.raises(ValueError, match="limit"):
        WindowLimiter(0)
    with pytest.raises(ValueError, match="window"):
        WindowLimiter(1, window=0)


def test_ts_clock_strictly_increasing() -> None:
    clock = TsClock()
    a = clock.next(1_700_000_000.5)
    b = clock.next(1_700_000_000.5)
    c = clock.next(1_600_000_000.0)  # the clock went back
    assert (a, b, c) == ("1700000000.500000", "1700000000.500001", "1700000000.500002")
    first = clock.reserve(3, 0.0)
    assert first == 1_700_000_000_500_003
    assert clock.next(0.0) == "1700000000.500006"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", True),
        ("true", True),
        (" True ", True),
        ("0", False),
        ("false", False),
        ("x", False),
        (None, False),
    ],
)
def test_parse_bool(value: str | None, expected: bool) -> None:
    assert parse_bool(value) is expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"port": -1}, "port"),
        ({"port": 70000}, "port"),
        ({"host": ""}, "host"),
        ({"url_ttl": -1}, "url_ttl"),
        ({"connect_rate_limit": 0}, "connect_rate_limit"),
        ({"write_rate": 0}, "write_rate"),
        ({"write_burst": 0}, "write_burst"),
        ({"write_abuse_limit": -1}, "write_abuse_limit"),
        ({"max_frame_bytes": 0}, "max_frame_bytes"),
        ({"workspace": "nope"}, "workspace"),
    ],
)
def test_emulator_arguments_checked(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        Emulator(**kwargs)


async def test_control_arguments_checked() -> None:
    emu = Emulator()
    assert "stopped" in repr(emu)
    with pytest.raises(ValueError, match="n"):
        emu.fail_next_connects(-1)
    with pytest.raises(ValueError, match="error"):
        emu.fail_next_connects(1, error="")
    with pytest.raises(ValueError, match="retry_after"):
        emu.rate_limit_next_connects(1, retry_after=-1)
    with pytest.raises(ValueError, match="token"):
        emu.set_token_error("", "x")
    with pytest.raises(ValueError, match="error"):
        emu.set_token_error("xoxb-1", "")
    with pytest.raises(TypeError, match="event"):
        await emu.inject_event("nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="user_id"):
        await emu.inject_event({}, user_id="UNOPE")
    with pytest.raises(TypeError, match="text"):
        await emu.post_message(emu.bot_user_id, emu.general_channel_id, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="thread_ts"):
        await emu.post_message(emu.bot_user_id, emu.general_channel_id, "x", 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="close_after"):
        await emu.send_goodbye(close_after=-1)
    with pytest.raises(ValueError, match="duration"):
        await emu.start_migration(duration=-1)
    with pytest.raises(TypeError, match="predicate"):
        await emu.wait_for_frame("nope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        await emu.wait_connections(1, timeout=-1)
    with pytest.raises(ValueError, match="n"):
        emu.prepare_firehose(-1)
    await emu.stop()  # never started: a no-op


async def test_workspace_without_bot_or_general() -> None:
    ws = Workspace()
    person = ws.add_user("solo")
    ch = ws.add_channel("lobby", [person.id])
    emu = Emulator(ws)
    assert emu.bot_user_id in ws.users  # a bot is added so bot_token always exists
    assert emu.general_channel_id == ch.id
    assert emu.user_tokens == {person.id: person.token}
    with pytest.raises(LookupError):
        Emulator(Workspace()).general_channel_id  # noqa: B018
    async with emu:
        with pytest.raises(RuntimeError, match="already"):
            await emu.start()


def test_package_exports_resolve_lazily() -> None:
    import slack_rtm.emulator as pkg

    for name in pkg.__all__:
        assert getattr(pkg, name) is not None
    assert set(pkg.__all__) <= set(dir(pkg))
    with pytest.raises(AttributeError, match="Nope"):
        pkg.Nope  # noqa: B018
