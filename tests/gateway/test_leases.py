"""The lease protocol (slack_rtm.gateway.leases): the pure tables without I/O, the lease,
claims and watches over a real nats-server."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable

import msgspec
import nats
import pytest
from nats.js.kv import KeyValue

from slack_rtm.gateway.contract import (
    ASSIGNMENTS_BUCKET,
    PROCESSES_BUCKET,
    Assignment,
    LeaseTimings,
    ProcessLease,
)
from slack_rtm.gateway.leases import (
    AssignmentTable,
    KvFollower,
    LeaseTakenError,
    OwnLease,
    ProcessTable,
    claim,
    release,
)
from slack_rtm.gateway.natsd import NatsServer

FAST = LeaseTimings(renew_every=0.1, fence_after=0.35, expire_after=0.6, handover_timeout=1.0)


def lease_bytes(name: str, **kw: object) -> bytes:
    return msgspec.json.encode(ProcessLease(name=name, capacity=10, **kw))  # type: ignore[arg-type]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# --- pure tables ----------------------------------------------------------------------------


def test_process_table_judges_by_revision_change_on_our_clock() -> None:
    table = ProcessTable(FAST)
    table.apply("a", lease_bytes("a"), 5, now=0.0)
    table.apply("b", lease_bytes("b", draining=True), 6, now=0.0)
    assert set(table.live(0.5)) == {"a", "b"}
    assert table.live(0.5)["b"].draining
    # The same revision again is no sign of life.
    table.apply("a", lease_bytes("a"), 5, now=0.5)
    table.apply("b", lease_bytes("b"), 9, now=0.5)
    assert not table.is_live("a", 0.7)
    assert table.is_live("b", 0.7)
    assert set(table.live(0.7)) == {"b"}
    assert table.revision("b") == 9
    assert table.lease("b") is not None
    assert table.revision("zz") is None
    assert table.lease("zz") is None
    # A deleted lease is gone at once.
    table.apply("b", None, 10, now=0.8)
    assert table.live(0.8) == {}
    assert table.names() == ["a"]
    # refresh: nobody judged dead on time this process could not see.
    table.refresh(5.0)
    assert table.is_live("a", 5.5)
    table.retain(["b"])
    assert table.names() == []


def test_process_table_ignores_junk() -> None:
    table = ProcessTable(FAST)
    table.apply("a", b"not json", 1, now=0.0)
    table.apply("b", b'{"name": 3}', 2, now=0.0)
    assert table.names() == []
    with pytest.raises(TypeError, match="timings"):
        ProcessTable(1.0)  # type: ignore[arg-type]


def test_assignment_table() -> None:
    table = AssignmentTable()
    table.apply("r1", msgspec.json.encode(Assignment(holder="a")), 3, now=1.0)
    assert table.holder("r1") == "a"
    held = table.get("r1")
    assert held is not None
    assert held.revision == 3
    assert held.changed == 1.0
    # Our own write is noted first; the watch's echo of it changes nothing.
    table.note("r1", Assignment(holder="b"), 4, now=2.0)
    table.apply("r1", msgspec.json.encode(Assignment(holder="b")), 4, now=3.0)
    held = table.get("r1")
    assert held is not None
    assert held.changed == 2.0
    assert table.holder("r1") == "b"
    # An older revision arriving late is ignored.
    table.apply("r1", msgspec.json.encode(Assignment(holder="a")), 3, now=3.0)
    assert table.holder("r1") == "b"
    # A failed session's marker names nobody.
    table.apply("r2", msgspec.json.encode(Assignment(holder="", failed=7)), 5, now=3.0)
    assert table.holder("r2") is None
    assert table.get("r2") is not None
    table.apply("r3", b"junk", 6, now=3.0)
    assert table.get("r3") is None
    table.apply("r1", None, 8, now=4.0)
    assert table.holder("r1") is None
    table.note("r4", Assignment(holder="a"), 9, now=4.0)
    table.note("r4", None, 10, now=4.0)
    assert table.get("r4") is None
    table.retain([])
    assert table.items() == []


# --- over NATS ------------------------------------------------------------------------------


@pytest.fixture
async def buckets(nats_url: str) -> AsyncIterator[tuple[KeyValue, KeyValue]]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    procs = await js.create_key_value(bucket=PROCESSES_BUCKET, history=1)
    assigns = await js.create_key_value(bucket=ASSIGNMENTS_BUCKET, history=1)
    try:
        yield procs, assigns
    finally:
        await nc.close()


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_own_lease_create_renew_fence_release(buckets: tuple[KeyValue, KeyValue]) -> None:
    procs, _ = buckets
    clock = FakeClock()
    lease = OwnLease(procs, "gw-a", 5, FAST, clock=clock)
    assert lease.fenced()
    await lease.acquire(held=0)
    first = lease.revision
    assert first is not None
    assert not lease.fenced()
    assert "gw-a" in repr(lease)
    assert lease.last_ok == clock.now
    record = msgspec.json.decode((await procs.get("gw-a")).value, type=ProcessLease)
    assert record.name == "gw-a"
    assert record.capacity == 5
    assert not record.draining
    assert await lease.renew(held=3, draining=True)
    assert lease.revision is not None
    assert lease.revision > first
    assert lease.renewals == 1
    record = msgspec.json.decode((await procs.get("gw-a")).value, type=ProcessLease)
    assert record.held == 3
    assert record.draining
    clock.now += FAST.fence_after + 0.01  # no successful renewal for fence_after: fenced
    assert lease.fenced()
    assert await lease.renew()
    assert not lease.fenced()
    assert await lease.release()
    assert not await lease.release()  # nothing to release any more
    entry_gone = False
    try:
        await procs.get("gw-a")
    except nats.js.errors.KeyNotFoundError:
        entry_gone = True
    assert entry_gone


async def test_a_live_namesake_refuses_the_start(buckets: tuple[KeyValue, KeyValue]) -> None:
    procs, _ = buckets
    live = OwnLease(procs, "gw-a", 5, FAST)
    await live.acquire()

    async def keep_renewing() -> None:
        while True:
            await live.renew()
            await asyncio.sleep(FAST.renew_every)

    task = asyncio.create_task(keep_renewing())
    try:
        other = OwnLease(procs, "gw-a", 5, FAST)
        with pytest.raises(LeaseTakenError, match="--name"):
            await other.acquire()
        assert other.revision is None
    finally:
        task.cancel()


async def test_a_dead_namesakes_lease_is_taken_after_expire_after(
    buckets: tuple[KeyValue, KeyValue],
) -> None:
    procs, _ = buckets
    dead = OwnLease(procs, "gw-a", 5, FAST)
    await dead.acquire()
    loop = asyncio.get_running_loop()
    start = loop.time()
    heir = OwnLease(procs, "gw-a", 7, FAST)
    await heir.acquire()
    assert loop.time() - start >= FAST.expire_after
    assert heir.revision is not None
    # The dead one's renewal now conflicts: it lost its lease and is fenced.
    assert not await dead.renew()
    assert dead.losses == 1
    assert dead.revision is None
    assert dead.fenced()
    # While the heir keeps renewing, the loser cannot take it back.
    for _ in range(8):
        assert await heir.renew()
        assert not await dead.renew()
        await asyncio.sleep(FAST.renew_every)
    assert dead.revision is None


async def test_a_lost_lease_that_is_still_ours_is_taken_back(
    buckets: tuple[KeyValue, KeyValue],
) -> None:
    procs, _ = buckets
    lease = OwnLease(procs, "gw-a", 5, FAST)
    await lease.acquire()
    # Our own write whose answer we never saw (the revision moved on with OUR record).
    await procs.put("gw-a", lease.record(held=1))
    assert not await lease.renew()
    assert lease.revision is None
    assert lease.losses == 1
    assert await lease.renew()  # recognised as ours: taken back at once
    assert lease.revision is not None
    # Deleted under us: created again.
    await procs.delete("gw-a")
    assert not await lease.renew()
    assert await lease.renew()


async def test_renewal_without_nats_fails_quietly_and_fences(nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.05)
    try:
        js = nc.jetstream()
        procs = await js.create_key_value(bucket=PROCESSES_BUCKET, history=1)
        lease = OwnLease(procs, "gw-a", 5, FAST)
        await lease.acquire()
        nats_server.stop()
        loop = asyncio.get_running_loop()
        start = loop.time()
        ok = await lease.renew()
        assert not ok
        assert loop.time() - start < FAST.renew_every + 0.5
        await asyncio.sleep(FAST.fence_after)
        assert lease.fenced()
        assert lease.losses == 0
        nats_server.start()
        await until(lambda: nc.is_connected, 10.0)
        # Back: renewing on the same revision works again (nobody touched it).
        for _ in range(50):
            if await lease.renew():
                break
            await asyncio.sleep(0.05)
        assert not lease.fenced()
    finally:
        await nc.close()


async def test_claim_and_release_by_compare_and_set(buckets: tuple[KeyValue, KeyValue]) -> None:
    _, assigns = buckets
    rev = await claim(assigns, "r1", Assignment(holder="a"), last=None)
    assert rev is not None
    assert await claim(assigns, "r1", Assignment(holder="b"), last=None) is None  # exists
    assert await claim(assigns, "r1", Assignment(holder="b"), last=rev + 100) is None
    rev_b = await claim(assigns, "r1", Assignment(holder="b"), last=rev)
    assert rev_b is not None
    assert rev_b > rev
    assert not await release(assigns, "r1", rev)  # no longer a's
    assert await release(assigns, "r1", rev_b)
    # Absent again: a create works after the delete.
    assert await claim(assigns, "r1", Assignment(holder="c"), last=None) is not None


async def test_follower_sees_snapshot_changes_and_deletes(
    buckets: tuple[KeyValue, KeyValue],
) -> None:
    procs, _ = buckets
    await procs.put("a", lease_bytes("a"))
    await procs.put("b", lease_bytes("b"))
    table = ProcessTable(FAST)
    loop = asyncio.get_running_loop()
    snapshots: list[set[str]] = []

    def on_snapshot(keys: set[str]) -> None:
        snapshots.append(keys)
        table.retain(keys)

    follower = KvFollower(
        procs, lambda k, v, r: table.apply(k, v, r, loop.time()), on_snapshot, name="processes"
    )
    await follower.start()
    try:
        assert snapshots == [{"a", "b"}]
        assert set(table.names()) == {"a", "b"}
        rev = await procs.put("c", lease_bytes("c"))
        await until(lambda: table.revision("c") == rev)
        await procs.delete("a")
        await until(lambda: "a" not in table.names())
        # A restart takes a fresh snapshot and forgets what vanished meanwhile.
        await follower.stop()
        await procs.delete("b")
        assert await follower.restart()
        assert snapshots[-1] == {"c"}
        assert table.names() == ["c"]
        assert follower.updates >= 4
    finally:
        await follower.stop()


async def test_follower_of_an_empty_bucket_is_ready(buckets: tuple[KeyValue, KeyValue]) -> None:
    _, assigns = buckets
    seen: list[set[str]] = []
    follower = KvFollower(assigns, lambda k, v, r: None, seen.append, name="assignments")
    await follower.start()
    await follower.stop()
    assert seen == [set()]


def test_own_lease_bad_arguments() -> None:
    with pytest.raises(TypeError, match="name"):
        OwnLease(None, "", 1, FAST)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="capacity"):
        OwnLease(None, "a", -1, FAST)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="timings"):
        OwnLease(None, "a", 1, None)  # type: ignore[arg-type]
    assert math.isinf(OwnLease(None, "a", 1, FAST).last_ok)  # type: ignore[arg-type]
