"""KvCursorStore (the cursor protocol's NATS KV home) over a real nats-server.

The contract tests the memory and SQLite homes pass (``tests/test_cursors.py``,
``test_contract_*``) run here unchanged against this home, through this module's ``store``
fixture; then what is particular to KV: the stored format, concurrent writers, a batch written
once, a bad value, NATS going away.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.kv import KeyValue

from slack_rtm.cursors import CursorStore, ts_key
from slack_rtm.errors import CursorStoreError, SlackRtmError, StateError
from slack_rtm.gateway.contract import CURSORS_BUCKET, kv_key
from slack_rtm.gateway.cursor_store import KvCursorStore
from slack_rtm.gateway.kv import open_buckets
from slack_rtm.gateway.natsd import NatsServer

_spec = importlib.util.spec_from_file_location(
    "cursor_contract", Path(__file__).parent.parent / "test_cursors.py"
)
assert _spec is not None
assert _spec.loader is not None
_contract = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_contract)

# The shared contract, collected here with this module's ``store`` fixture.
test_contract_load_save = _contract.test_contract_load_save
test_contract_never_backwards = _contract.test_contract_never_backwards
test_contract_scopes_are_separate = _contract.test_contract_scopes_are_separate
test_contract_load_returns_a_copy = _contract.test_contract_load_returns_a_copy
test_contract_any_mapping = _contract.test_contract_any_mapping
test_contract_validates_scope = _contract.test_contract_validates_scope
test_contract_validates_cursors_and_saves_nothing = (
    _contract.test_contract_validates_cursors_and_saves_nothing
)
test_contract_closed = _contract.test_contract_closed

T1 = "1355517523.000005"
T2 = "1355517523.000006"
T3 = "1355517524.000000"


@pytest.fixture
async def bucket(nc: NatsClient) -> KeyValue:
    return (await open_buckets(nc.jetstream())).cursors


@pytest.fixture
async def store(bucket: KeyValue) -> AsyncIterator[CursorStore]:
    s = KvCursorStore(bucket)
    try:
        yield s
    finally:
        await s.aclose()


def test_every_contract_test_runs_here() -> None:
    shared = {name for name in vars(_contract) if name.startswith("test_contract_")}
    shared.discard("test_contract_async_with")  # builds the other homes itself; see below
    assert shared <= set(globals())


async def test_async_with_and_repr(bucket: KeyValue, nc: NatsClient) -> None:
    async with KvCursorStore(bucket) as s:
        assert isinstance(s, CursorStore)
        await s.save("s", {"C1": T1})
        assert repr(s) == f"<KvCursorStore {CURSORS_BUCKET} open>"
    with pytest.raises(StateError, match="closed"):
        await s.load("s")
    assert repr(s) == f"<KvCursorStore {CURSORS_BUCKET} closed>"
    assert nc.is_connected  # the shared connection stays open
    assert await KvCursorStore(bucket).load("s") == {"C1": T1}


def test_bucket_type() -> None:
    with pytest.raises(TypeError, match=r"bucket must be a nats\.js\.kv\.KeyValue"):
        KvCursorStore({})  # type: ignore[arg-type]


async def test_format_one_key_per_scope_json_object(bucket: KeyValue) -> None:
    s = KvCursorStore(bucket)
    await s.save("T1:U1", {"D9": T2, "C1": T1})
    entry = await bucket.get(kv_key("T1:U1"))
    assert entry.key == "T1=3AU1"
    assert entry.value == b'{"C1":"1355517523.000005","D9":"1355517523.000006"}'
    revision = entry.revision
    # A batch with nothing newer writes nothing.
    await s.save("T1:U1", {"C1": T1, "D9": "1.0"})
    assert (await bucket.get(kv_key("T1:U1"))).revision == revision
    # A batch of several channels is one write.
    await s.save("T1:U1", {"C1": T3, "C2": T3, "C3": T3})
    entry = await bucket.get(kv_key("T1:U1"))
    assert entry.revision == revision + 1
    assert json.loads(entry.value or b"") == {"C1": T3, "C2": T3, "C3": T3, "D9": T2}
    # Any scope maps to its own key, clash-free.
    await s.save("a.b", {"C1": T1})
    await s.save("a=2Eb", {"C1": T2})
    assert await s.load("a.b") == {"C1": T1}
    assert await s.load("a=2Eb") == {"C1": T2}


async def test_a_deleted_scope_starts_again(bucket: KeyValue) -> None:
    s = KvCursorStore(bucket)
    await s.save("s", {"C1": T2})
    await bucket.delete(kv_key("s"))
    assert await s.load("s") == {}
    await s.save("s", {"C1": T1})
    assert await s.load("s") == {"C1": T1}


async def test_two_writers_never_move_a_cursor_back(bucket: KeyValue, nats_url: str) -> None:
    other_nc = await nats.connect(nats_url)
    try:
        other_bucket = (await open_buckets(other_nc.jetstream())).cursors
        stores = [KvCursorStore(bucket), KvCursorStore(other_bucket)]
        channels = [f"C{i}" for i in range(5)]
        rng = random.Random(1234)
        batches: list[dict[str, str]] = [
            {c: f"1700000000.{rng.randrange(1, 999999):06d}" for c in rng.sample(channels, 3)}
            for _ in range(60)
        ]
        seen_max: dict[str, str] = {}
        for batch in batches:
            for channel, ts in batch.items():
                if channel not in seen_max or ts_key(ts) > ts_key(seen_max[channel]):
                    seen_max[channel] = ts
        watched: list[dict[str, str]] = []
        stop = asyncio.Event()

        async def watch() -> None:
            # Every value ever stored, in order: no cursor in it may go back.
            while not stop.is_set():
                watched.append(await stores[0].load("T1:U1"))
                await asyncio.sleep(0)

        async def writer(index: int) -> None:
            for batch in batches[index::2]:
                await stores[index].save("T1:U1", batch)

        watcher = asyncio.create_task(watch())
        await asyncio.gather(writer(0), writer(1), *(writer(i % 2) for i in range(2)))
        stop.set()
        await watcher
        final = await stores[1].load("T1:U1")
        assert final == seen_max  # the newest of every batch, whoever wrote it
        for before, after in itertools.pairwise(watched):
            for channel, ts in before.items():
                assert ts_key(after[channel]) >= ts_key(ts)
        history = await bucket.history(kv_key("T1:U1"))
        assert len(history) == 1  # history 1: the latest value only
    finally:
        await other_nc.close()


async def test_a_foreign_value_is_refused(bucket: KeyValue) -> None:
    s = KvCursorStore(bucket)
    for raw, what in (
        (b"not json", "not a JSON object"),
        (b'["C1"]', "not a JSON object"),
        (b'{"C1": 5}', "not a JSON object"),
        (b'{"C1": "soon"}', "not a Slack timestamp"),
    ):
        await bucket.put(kv_key("s"), raw)
        with pytest.raises(CursorStoreError, match=what):
            await s.load("s")
        with pytest.raises(CursorStoreError, match=what):
            await s.save("s", {"C1": T1})
        assert (await bucket.get(kv_key("s"))).value == raw  # refused, not altered


async def test_nats_down_is_a_cursor_store_error(nats_server: NatsServer) -> None:
    client = await nats.connect(nats_server.url, max_reconnect_attempts=1, reconnect_time_wait=0.05)
    try:
        s = KvCursorStore((await open_buckets(client.jetstream(timeout=1))).cursors)
        await s.save("T1:U1", {"C1": T1})
        nats_server.stop()
        for call in (s.load("T1:U1"), s.save("T1:U1", {"C1": T2})):
            with pytest.raises(CursorStoreError, match=r"of scope 'T1:U1' failed") as e:
                await asyncio.wait_for(call, 15)
            assert isinstance(e.value, SlackRtmError)
    finally:
        await client.close()
