"""2–3 real gateway processes against one emulator and one nats-server: placement, rebalancing
make-before-break, SIGTERM drain, kill -9 fail-over with catch-up, a process that loses NATS
fences itself. The emulator counts live sockets per token (``token_overlaps``)."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec
import nats.js.errors
import pytest
from cluster_helpers import (
    FAST_LEASE,
    Child,
    Proxy,
    assignments,
    connect,
    stream_messages,
    until,
)
from nats.aio.client import Client as NatsClient

from slack_rtm.emulator import Emulator
from slack_rtm.gateway.contract import ASSIGNMENTS_BUCKET, Assignment, Registration
from slack_rtm.gateway.kv import open_buckets
from slack_rtm.gateway.natsd import NatsServer
from slack_rtm.gateway.placement import place
from slack_rtm.gateway.registry import Registry
from slack_rtm.gateway.secrets import GatewayKey

HANDOVER_LIMIT = 5.0  # the promise: two sockets of one token never live longer than this


@dataclass
class World:
    emu: Emulator
    nats: NatsServer
    nc: NatsClient
    key: bytes
    regs: list[Registration]
    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, nats_url: str | None = None, **settings: object) -> Child:
        child = Child(
            name, nats_url or self.nats.url, self.key, self.emu.api_url, self.log_dir, **settings
        )
        self.children.append(child)
        return child

    @property
    def reg_ids(self) -> set[str]:
        return {r.id for r in self.regs}

    def token_keys(self) -> set[str]:
        """The emulator's token keys of the registered logins."""
        keys = set()
        for reg in self.regs:
            prefix = "xoxb" if reg.kind == "bot" else "xoxp"
            keys.add(f"{prefix}:{reg.user_id}")
        return keys

    async def held(self) -> dict[str, str]:
        return await assignments(self.nc)

    async def all_held_by(self, names: set[str]) -> dict[str, str]:
        held = await self.held()
        if set(held) == self.reg_ids and set(held.values()) <= names:
            return held
        return {}

    def one_socket_each(self) -> bool:
        live = self.emu.live_sockets_by_token()
        return all(live.get(k) == 1 for k in self.token_keys())

    def check_overlaps(self) -> None:
        """Only hand-over overlaps, each short and over."""
        for overlap in self.emu.token_overlaps:
            assert overlap.end is not None, overlap
            assert overlap.most == 2, overlap
            assert overlap.duration() < HANDOVER_LIMIT, overlap

    def split_names(self, first: str) -> str:
        """A second process name that placement gives some, not all, registrations."""
        for i in range(100):
            second = f"gw-b{i}"
            spots = place(self.reg_ids, {first: 100, second: 100})
            if 0 < sum(1 for v in spots.values() if v == second) < len(self.reg_ids):
                return second
        raise AssertionError("no name splits the registrations")

    def conn_ids_of(self, reg_ids: set[str]) -> set[int]:
        users = {r.user_id for r in self.regs if r.id in reg_ids}
        return {c.id for c in self.emu.connections if c.user.id in users}

    async def post_every(self, period: float, stop: asyncio.Event, posted: list[str]) -> None:
        alice = self.emu.workspace.people[0].id
        n = 0
        while not stop.is_set():
            n += 1
            posted.append(
                await self.emu.post_message(alice, self.emu.general_channel_id, f"tick {n}")
            )
            await asyncio.sleep(period)

    async def on_stream_once(self, posted: list[str], timeout: float = 15.0) -> list[object]:
        """Wait until every posted ts is on the stream once per registration; the messages."""
        want = {(reg, ts) for reg in self.reg_ids for ts in posted}

        async def check() -> list[object]:
            msgs = await stream_messages(self.nc)
            got = Counter(
                (m.session, m.data.get("ts")) for m in msgs if m.data.get("ts") in set(posted)
            )
            return list(msgs) if set(got) >= want else []

        msgs = await until(check, timeout, "every posted message on the stream")
        got = Counter(
            (m.session, m.data.get("ts"))
            for m in msgs  # type: ignore[attr-defined]
            if m.data.get("ts") in set(posted)
        )  # type: ignore[attr-defined]
        duplicated = {k: n for k, n in got.items() if n > 1}
        assert not duplicated, duplicated
        return msgs

    async def metrics_port(self, child: Child) -> int:
        """The /metrics port a child logged."""

        def find() -> int:
            match = re.search(r"/healthz on [0-9.]+:(\d+)", child.log())
            return int(match.group(1)) if match else 0

        port: int = await until(find, 20, f"{child.name}'s metrics port")
        return port

    def logs(self) -> str:
        return "\n".join(f"--- {c.name}\n{c.log()[-4000:]}" for c in self.children)


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
async def world(nats_server: NatsServer, log_dir: Path) -> AsyncIterator[World]:
    key = GatewayKey.generate()
    raw = GatewayKey.from_base64(key).raw
    async with Emulator(write_rate=None) as emu:
        nc = await connect(nats_server.url)
        try:
            buckets = await open_buckets(nc.jetstream())
            registry = Registry(buckets.registrations, GatewayKey(raw))
            regs = [await registry.register(emu.bot_token, None, api_url=emu.api_url)]
            for token in emu.user_tokens.values():
                regs.append(await registry.register(token, None, api_url=emu.api_url))
            w = World(emu, nats_server, nc, raw, regs, log_dir)
            try:
                yield w
            finally:
                for child in w.children:
                    child.close()
        finally:
            await nc.close()


async def test_each_registration_is_held_by_exactly_one_process(world: World) -> None:
    a = world.start("gw-a")
    held = await until(lambda: world.all_held_by({"gw-a"}), 20, "gw-a holding everything")
    assert set(held) == world.reg_ids
    await until(world.one_socket_each, 5, "one socket per token")
    # An event reaches the stream once per registration that sees it.
    alice = world.emu.workspace.people[0].id
    ts = await world.emu.post_message(alice, world.emu.general_channel_id, "hello cluster")

    async def seen() -> list[str]:
        msgs = await stream_messages(world.nc)
        return [m.session for m in msgs if m.data.get("ts") == ts]

    sessions = await until(lambda: _all_sessions(seen, world.reg_ids), 10, "the message")
    assert Counter(sessions) == Counter(world.reg_ids)
    world.check_overlaps()
    assert world.emu.token_overlaps == []
    a.terminate()
    assert await a.wait(15) == 0, world.logs()
    assert await world.held() == {}
    await until(lambda: world.emu.live_sockets_by_token() == {}, 5, "every socket closed")


async def _all_sessions(seen: object, want: set[str]) -> list[str]:
    sessions: list[str] = await seen()  # type: ignore[operator]
    return sessions if set(sessions) >= want else []


async def test_a_second_name_holder_is_refused(world: World) -> None:
    a = world.start("gw-a")
    await until(lambda: world.all_held_by({"gw-a"}), 20, "gw-a holding everything")
    twin = world.start("gw-a")
    assert await twin.wait(10) == 2
    assert "--name" in twin.log()
    a.terminate()
    assert await a.wait(15) == 0, world.logs()


async def test_a_joining_process_takes_its_share_make_before_break(world: World) -> None:
    a = world.start("gw-a")
    await until(lambda: world.all_held_by({"gw-a"}), 20, "gw-a holding everything")
    second = world.split_names("gw-a")
    expected = place(world.reg_ids, {"gw-a": 100, second: 100})
    moved = {r for r, p in expected.items() if p == second}
    b = world.start(second, capacity=100)

    async def placed() -> bool:
        return await world.held() == expected

    await until(placed, 20, f"the registrations placed {expected}")
    await until(world.one_socket_each, 5, "one socket per token")
    # Make-before-break: each moved registration had two sockets for a moment, never long.
    world.check_overlaps()
    moved_users = {r.user_id for r in world.regs if r.id in moved}
    overlapped = {o.user_id for o in world.emu.token_overlaps}
    assert overlapped == moved_users, world.logs()
    assert max(o.duration() for o in world.emu.token_overlaps) < 1.0
    for child in (a, b):
        child.terminate()
    assert [await a.wait(15), await b.wait(15)] == [0, 0], world.logs()


async def test_sigterm_drain_hands_everything_over_without_loss(world: World) -> None:
    a = world.start("gw-a")
    await until(lambda: world.all_held_by({"gw-a"}), 20, "gw-a holding everything")
    second = world.split_names("gw-a")
    b = world.start(second)
    expected = place(world.reg_ids, {"gw-a": 10_000, second: 10_000})

    async def placed() -> bool:
        return await world.held() == expected

    await until(placed, 20, "the split")
    stop = asyncio.Event()
    posted: list[str] = []
    poster = asyncio.create_task(world.post_every(0.02, stop, posted))
    await asyncio.sleep(0.3)
    started = time.monotonic()
    a.terminate()
    assert await a.wait(15) == 0, world.logs()
    drained = time.monotonic() - started
    await asyncio.sleep(0.3)
    stop.set()
    await poster
    assert drained < 5.0, world.logs()
    assert await world.all_held_by({second}), world.logs()
    await until(world.one_socket_each, 5, "one socket per token")
    world.check_overlaps()
    # Every message posted before, during and after the drain: once per registration.
    await world.on_stream_once(posted)
    b.terminate()
    assert await b.wait(15) == 0, world.logs()


@pytest.mark.slow
async def test_kill_9_survivors_take_over_and_catch_up(world: World) -> None:
    a = world.start("gw-a")
    await until(lambda: world.all_held_by({"gw-a"}), 20, "gw-a holding everything")
    second = world.split_names("gw-a")
    b = world.start(second)
    expected = place(world.reg_ids, {"gw-a": 10_000, second: 10_000})

    async def placed() -> bool:
        return await world.held() == expected

    await until(placed, 20, "the split")
    victim_regs = {r for r, p in expected.items() if p == "gw-a"}
    # A first message seen live, and time for its cursor to be saved (at least every 2 s).
    alice = world.emu.workspace.people[0].id
    first = await world.emu.post_message(alice, world.emu.general_channel_id, "before")
    await world.on_stream_once([first])
    await asyncio.sleep(2.5)
    overlaps_before = len(world.emu.token_overlaps)
    victim_conns = world.conn_ids_of(victim_regs)
    a.kill()
    killed = time.monotonic()
    await a.wait(5)
    await until(
        lambda: not victim_conns & {c.id for c in world.emu.connections},
        5,
        "the victim's sockets closed",
    )
    gap = [
        await world.emu.post_message(alice, world.emu.general_channel_id, f"gap {i}")
        for i in range(5)
    ]
    held = await until(lambda: world.all_held_by({second}), 15, "the survivor holding all")
    took = time.monotonic() - killed
    assert set(held) == world.reg_ids
    assert took < 4 * FAST_LEASE["expire_after"] + 3, took
    await until(world.one_socket_each, 5, "one socket per token")
    msgs = await world.on_stream_once([first, *gap])
    # What the victim's registrations missed came back by catch-up.
    backfilled = {
        (m.session, m.data["ts"])
        for m in msgs  # type: ignore[attr-defined]
        if m.backfilled
    }  # type: ignore[attr-defined]
    assert {(r, ts) for r in victim_regs for ts in gap} <= backfilled, world.logs()
    # No two live sockets of one token: the victim's were gone before the takeover.
    assert len(world.emu.token_overlaps) == overlaps_before
    world.check_overlaps()
    b.terminate()
    assert await b.wait(15) == 0, world.logs()


@pytest.mark.slow
async def test_a_process_cut_off_from_nats_fences_itself(world: World) -> None:
    proxy = await Proxy(world.nats.port).start()
    try:
        a = world.start("gw-a", nats_url=proxy.url, metrics_port=0)
        await until(lambda: world.all_held_by({"gw-a"}), 20, "gw-a holding everything")
        second = world.split_names("gw-a")
        b = world.start(second)
        expected = place(world.reg_ids, {"gw-a": 10_000, second: 10_000})

        async def placed() -> bool:
            return await world.held() == expected

        await until(placed, 20, "the split")
        fenced_regs = {r for r, p in expected.items() if p == "gw-a"}
        conns = world.conn_ids_of(fenced_regs)
        assert conns
        overlaps_before = len(world.emu.token_overlaps)
        proxy.cut()
        cut = time.monotonic()
        await until(
            lambda: not conns & {c.id for c in world.emu.connections},
            10,
            "the cut-off process's sockets closed",
        )
        closed_after = time.monotonic() - cut
        # Its last renewal was at most renew_every before the cut: fenced by fence_after.
        assert closed_after < FAST_LEASE["fence_after"] + 1.0, closed_after
        # The other process takes over only once the lease expired: no overlap.
        await until(lambda: world.all_held_by({second}), 15, "the survivor holding all")
        await until(world.one_socket_each, 5, "one socket per token")
        assert len(world.emu.token_overlaps) == overlaps_before
        assert "FENCED" in a.log()
        port = await world.metrics_port(a)
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"http://127.0.0.1:{port}/healthz")
        assert answer.status_code == 503
        assert "fenced" in answer.text
        # NATS back: the fenced process takes its lease again and its share back.
        proxy.restore()

        async def placed_again() -> bool:
            return await world.held() == expected

        await until(placed_again, 20, "the split again")
        await until(world.one_socket_each, 5, "one socket per token")
        world.check_overlaps()
        for child in (a, b):
            child.terminate()
        assert [await a.wait(15), await b.wait(15)] == [0, 0], world.logs()
    finally:
        await proxy.close()


async def test_healthz_fails_for_a_session_reconnecting_too_long(world: World) -> None:
    a = world.start("gw-a", metrics_port=0, health_timeout=1.0)
    await until(lambda: world.all_held_by({"gw-a"}), 20, "gw-a holding everything")
    port = await world.metrics_port(a)
    alice = world.emu.workspace.people[0].id
    alice_reg = next(r.id for r in world.regs if r.user_id == alice)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        assert (await http.get("/healthz")).status_code == 200

        async def metrics_text() -> str:
            text = (await http.get("/metrics")).text
            return text if 'slack_rtm_gateway_sessions{state="held"} 4.0' in text else ""

        metrics = await until(metrics_text, 5, "4 sessions held in /metrics")
        assert 'slack_rtm_gateway_sessions{state="connected"} 4.0' in metrics
        assert "slack_rtm_gateway_lease_renewals_total" in metrics
        assert world.emu.bot_token not in metrics
        # Alice's socket dropped and her reconnects refused: unhealthy past health_timeout.
        await world.emu.drop_and_hold(alice, 4.0)

        async def unhealthy() -> httpx.Response | None:
            answer = await http.get("/healthz")
            return answer if answer.status_code == 503 else None

        answer = await until(unhealthy, 10, "/healthz 503")
        assert alice_reg in answer.text
        for token in [world.emu.bot_token, *world.emu.user_tokens.values()]:
            assert token not in answer.text

        async def healthy() -> bool:
            return (await http.get("/healthz")).status_code == 200

        await until(healthy, 15, "/healthz 200 again")
    a.terminate()
    assert await a.wait(15) == 0, world.logs()
    log = a.log()
    for token in [world.emu.bot_token, *world.emu.user_tokens.values()]:
        assert token not in log


async def _failed_marker(world: World, reg_id: str) -> Assignment | None:
    kv = await world.nc.jetstream().key_value(ASSIGNMENTS_BUCKET)
    try:
        entry = await kv.get(reg_id)
    except nats.js.errors.KeyNotFoundError:
        return None
    record = msgspec.json.decode(entry.value or b"", type=Assignment)
    return record if record.failed and not record.holder else None


async def test_a_revoked_token_is_released_once_and_retried_when_registered_again(
    world: World,
) -> None:
    alice = world.emu.workspace.people[0].id
    alice_token = world.emu.user_tokens[alice]
    alice_reg = next(r.id for r in world.regs if r.user_id == alice)
    others = world.reg_ids - {alice_reg}
    world.emu.set_token_error(alice_token, "token_revoked")
    a = world.start("gw-a")

    async def others_held() -> bool:
        return set(await world.held()) == others

    await until(others_held, 20, "the others held")
    marker = await until(lambda: _failed_marker(world, alice_reg), 10, "the failed marker")
    assert marker.failed > 0
    await asyncio.sleep(1.0)  # several reconcile ticks: not tried again
    assert a.log().count(f"session {alice_reg} failed for good") == 1, a.log()
    assert alice_token not in a.log()
    # Registered again (the registration changes): tried again, and held.
    world.emu.set_token_error(alice_token, None)
    buckets = await open_buckets(world.nc.jetstream())
    await Registry(buckets.registrations, GatewayKey(world.key)).register(
        alice_token, None, api_url=world.emu.api_url
    )
    await until(lambda: world.all_held_by({"gw-a"}), 10, "alice held after re-registering")
    # Revoked while held: the session ends by itself, is released with the marker, once.
    world.emu.set_token_error(alice_token, "token_revoked")
    await world.emu.drop_connections(abrupt=True, user_id=alice)
    await until(lambda: _failed_marker(world, alice_reg), 15, "the failed marker again")
    await asyncio.sleep(1.0)
    assert a.log().count(f"session {alice_reg} failed for good") == 2, a.log()
    assert set(await world.held()) == others
    a.terminate()
    assert await a.wait(15) == 0, world.logs()


async def test_no_nats_at_start_exits_1(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    child = Child("gw-x", f"nats://127.0.0.1:{port}", bytes(32), "http://127.0.0.1:1/api", tmp_path)
    try:
        assert await child.wait(20) == 1
        assert "cannot start" in child.log()
    finally:
        child.close()
