"""The durable cursor store: both homes against one contract, the SQLite file, a crash."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import slack_rtm
from slack_rtm.cursors import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    CursorStore,
    CursorStoreError,
    MemoryCursorStore,
    SQLiteCursorStore,
    newer,
    open_cursor_store,
    ts_key,
)
from slack_rtm.errors import SlackRtmError, StateError

CHILD = Path(__file__).with_name("cursors_child.py")
_spec = importlib.util.spec_from_file_location("cursors_child", CHILD)
assert _spec is not None
assert _spec.loader is not None
child = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(child)

T1 = "1355517523.000005"
T2 = "1355517523.000006"
T3 = "1355517524.000000"

BAD_TS = [
    "",
    "1",
    "1.",
    ".1",
    "1.1234567",  # more than micro-seconds
    "1" * 19 + ".000001",  # over a 64-bit integer of seconds
    "a.b",
    " 1.2",
    "1.2 ",
    "1.2\n",
    "+1.2",
    "-1.2",
    "1e5",
    "1_0.2",
    "1.2.3",
    "\u0661.\u0662",  # Arabic-Indic digits: not ASCII
]


# --- ts_key / newer: pure ---------------------------------------------------------------------


def test_ts_key_orders_like_slack() -> None:
    assert ts_key(T1) == (1355517523, 5)
    assert ts_key("1.5") == (1, 500000) == ts_key("1.500000")
    assert ts_key("0.0") == (0, 0)
    assert ts_key("1.5") > ts_key("1.000005")  # a fraction is a fraction, not an integer
    assert ts_key(T1) < ts_key(T2) < ts_key(T3)
    assert ts_key("9" * 18 + ".999999") == (10**18 - 1, 999999)
    assert ts_key("0001.000001") == (1, 1)


@pytest.mark.parametrize("bad", BAD_TS)
def test_ts_key_refuses_garbage(bad: str) -> None:
    with pytest.raises(ValueError, match="ts must be a Slack timestamp"):
        ts_key(bad)


@pytest.mark.parametrize("bad", [None, 1355517523.000005, 1, b"1.2"])
def test_ts_key_refuses_non_strings(bad: Any) -> None:
    with pytest.raises(TypeError, match="ts must be a str"):
        ts_key(bad)


def test_newer() -> None:
    assert newer(T2, T1)
    assert not newer(T1, T2)
    assert not newer(T1, T1)
    assert not newer("1.5", "1.500000")  # the same instant
    assert newer(T1, None)
    with pytest.raises(ValueError, match=r"^a: ts must"):
        newer("x", T1)
    with pytest.raises(ValueError, match=r"^b: ts must"):
        newer(T1, "x")
    with pytest.raises(TypeError, match=r"^b: ts must be a str"):
        newer(T1, 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^a: ts must be a str"):
        newer(None, T1)  # type: ignore[arg-type]


# --- one contract, both homes -----------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CursorStore]:
    s: CursorStore
    s = MemoryCursorStore() if request.param == "memory" else SQLiteCursorStore(tmp_path / "c.db")
    try:
        yield s
    finally:
        await s.aclose()


async def test_contract_load_save(store: CursorStore) -> None:
    assert isinstance(store, CursorStore)
    assert await store.load("T1:U1") == {}
    await store.save("T1:U1", {"C1": T1, "C2": T2})
    assert await store.load("T1:U1") == {"C1": T1, "C2": T2}
    # Upsert: only the given channels change; the others stay.
    await store.save("T1:U1", {"C2": T3, "C3": T1})
    assert await store.load("T1:U1") == {"C1": T1, "C2": T3, "C3": T1}
    await store.save("T1:U1", {})
    assert await store.load("T1:U1") == {"C1": T1, "C2": T3, "C3": T1}


async def test_contract_never_backwards(store: CursorStore) -> None:
    await store.save("s", {"C1": T2, "C2": T2})
    await store.save("s", {"C1": T1, "C2": T3})  # C1 older: kept at T2; C2 newer: moves
    assert await store.load("s") == {"C1": T2, "C2": T3}
    await store.save("s", {"C1": "1355517523.000006"})  # the same ts again: a no-op
    await store.save("s", {"C1": "1355517522.999999"})  # replay of an older batch
    assert await store.load("s") == {"C1": T2, "C2": T3}
    # Equal instants spelled differently: the stored spelling stays.
    await store.save("s", {"C9": "1.5"})
    await store.save("s", {"C9": "1.500000"})
    assert (await store.load("s"))["C9"] == "1.5"


async def test_contract_scopes_are_separate(store: CursorStore) -> None:
    await store.save("T1:U1", {"C1": T1})
    await store.save("T1:U2", {"C1": T3, "D1": T2})
    await store.save("T2:U1", {"C1": T2})
    assert await store.load("T1:U1") == {"C1": T1}
    assert await store.load("T1:U2") == {"C1": T3, "D1": T2}
    assert await store.load("T2:U1") == {"C1": T2}
    assert await store.load("T3:U1") == {}


async def test_contract_load_returns_a_copy(store: CursorStore) -> None:
    await store.save("s", {"C1": T1})
    got = await store.load("s")
    got["C1"] = T3
    got["C2"] = T3
    assert await store.load("s") == {"C1": T1}


class _Cursors(Mapping[str, str]):
    """A Mapping that is not a dict."""

    def __init__(self, data: dict[str, str]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Any:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


async def test_contract_any_mapping(store: CursorStore) -> None:
    await store.save("s", _Cursors({"C1": T1}))
    assert await store.load("s") == {"C1": T1}


@pytest.mark.parametrize(
    ("scope", "error", "match"),
    [
        (None, TypeError, "scope must be a str"),
        (b"s", TypeError, "scope must be a str"),
        ("", ValueError, "scope must not be empty"),
    ],
)
async def test_contract_validates_scope(
    store: CursorStore, scope: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        await store.load(scope)
    with pytest.raises(error, match=match):
        await store.save(scope, {"C1": T1})


@pytest.mark.parametrize(
    ("cursors", "error", "match"),
    [
        ([("C1", T1)], TypeError, "cursors must be a mapping"),
        (None, TypeError, "cursors must be a mapping"),
        ({"C0": T1, 5: T1}, TypeError, "cursors: channel ids must be str"),
        ({"C0": T1, "": T1}, ValueError, "cursors: a channel id must not be empty"),
        ({"C0": T1, "C1": "soon"}, ValueError, r"cursors\['C1'\]: ts must be a Slack"),
        ({"C0": T1, "C1": 1.5}, TypeError, r"cursors\['C1'\]: ts must be a str"),
    ],
)
async def test_contract_validates_cursors_and_saves_nothing(
    store: CursorStore, cursors: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        await store.save("s", cursors)
    assert await store.load("s") == {}  # a batch is all or nothing: C0 was not saved either


async def test_contract_closed(store: CursorStore) -> None:
    await store.save("s", {"C1": T1})
    await store.aclose()
    await store.aclose()  # idempotent
    with pytest.raises(StateError, match="closed"):
        await store.load("s")
    with pytest.raises(StateError, match="closed"):
        await store.save("s", {"C1": T2})
    with pytest.raises(StateError, match="closed"):
        await store.save("s", {})
    assert "closed" in repr(store)


async def test_contract_async_with(tmp_path: Path) -> None:
    for s in (MemoryCursorStore(), SQLiteCursorStore(tmp_path / "c.db")):
        async with s as entered:
            assert entered is s
            await s.save("s", {"C1": T1})
        with pytest.raises(StateError):
            await s.load("s")


# --- the SQLite file --------------------------------------------------------------------------


async def test_sqlite_reopen_keeps_every_scope(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    s = SQLiteCursorStore(path)
    await s.save("T1:U1", {"C1": T1, "C2": T2})
    await s.save("T1:U2", {"C1": T3})
    await s.aclose()
    s = SQLiteCursorStore(str(path))
    try:
        assert s.path == str(path)
        assert await s.load("T1:U1") == {"C1": T1, "C2": T2}
        assert await s.load("T1:U2") == {"C1": T3}
        await s.save("T1:U1", {"C1": T3})
    finally:
        await s.aclose()
    s = SQLiteCursorStore(path)
    try:
        assert await s.load("T1:U1") == {"C1": T3, "C2": T2}
    finally:
        await s.aclose()


async def test_sqlite_file_format(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    s = SQLiteCursorStore(path)
    await s.save("T1:U1", {"C1": "1.5"})
    await s.aclose()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (1,)
        assert conn.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
        columns = conn.execute("PRAGMA table_info(cursors)").fetchall()
        assert [(c[1], c[2], c[3], c[5]) for c in columns] == [
            ("scope", "TEXT", 1, 1),
            ("channel", "TEXT", 1, 2),
            ("ts", "TEXT", 1, 0),
            ("ts_sec", "INTEGER", 1, 0),
            ("ts_frac", "INTEGER", 1, 0),
        ]
        assert conn.execute("SELECT * FROM cursors").fetchall() == [
            ("T1:U1", "C1", "1.5", 1, 500000)
        ]
    finally:
        conn.close()


async def test_sqlite_synchronous_normal(tmp_path: Path) -> None:
    s = SQLiteCursorStore(tmp_path / "c.db")
    try:
        conn = s._check_open("test")
        assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        await s.aclose()


def _raw(path: Path, *sql: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in sql:
            conn.execute(statement)
    finally:
        conn.close()


async def test_sqlite_refuses_a_newer_version(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    s = SQLiteCursorStore(path)
    await s.save("s", {"C1": T1})
    await s.aclose()
    _raw(path, "PRAGMA user_version = 2")
    with pytest.raises(CursorStoreError, match=r"schema version 2, newer than this slack-rtm") as e:
        SQLiteCursorStore(path)
    assert str(path) in str(e.value)
    assert isinstance(e.value, SlackRtmError)
    conn = sqlite3.connect(path)
    try:  # refused, not altered
        assert conn.execute("PRAGMA user_version").fetchone() == (2,)
        assert conn.execute("SELECT ts FROM cursors").fetchall() == [(T1,)]
    finally:
        conn.close()


async def test_sqlite_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    text = "not a database, just notes\n" * 100
    path.write_text(text)
    with pytest.raises(CursorStoreError, match="is not an SQLite database") as e:
        SQLiteCursorStore(path)
    assert str(path) in str(e.value)
    assert isinstance(e.value.__cause__, sqlite3.DatabaseError)
    assert path.read_text() == text  # untouched


async def test_sqlite_refuses_another_applications_file(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    _raw(path, "PRAGMA application_id = 42", "CREATE TABLE t (x)")
    with pytest.raises(CursorStoreError, match="another application") as e:
        SQLiteCursorStore(path)
    assert str(path) in str(e.value)


async def test_sqlite_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    s = SQLiteCursorStore(path)
    try:
        await s.save("s", {"C1": T1})
        assert await s.load("s") == {"C1": T1}
    finally:
        await s.aclose()


def test_sqlite_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "c.db"
    with pytest.raises(CursorStoreError, match="is not an existing directory") as e:
        SQLiteCursorStore(path)
    assert str(path) in str(e.value)
    assert not path.parent.exists()  # not created


def test_sqlite_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    path = tmp_path / "file" / "c.db"
    with pytest.raises(CursorStoreError, match="is not an existing directory") as e:
        SQLiteCursorStore(path)
    assert str(path) in str(e.value)


def test_sqlite_file_that_cannot_be_opened(tmp_path: Path) -> None:
    path = tmp_path / ("x" * 300)  # a name longer than any file system allows
    with pytest.raises(CursorStoreError, match="cannot be opened") as e:
        SQLiteCursorStore(path)
    assert str(path) in str(e.value)


def test_sqlite_locked_at_open(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    _raw(path, "PRAGMA journal_mode = WAL")  # an empty file still to be given its table
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(CursorStoreError, match=r"held its lock for more than 0.1 s") as e:
            SQLiteCursorStore(path, lock_timeout=0.1)
        assert 0.1 <= time.monotonic() - started < 1.5
        assert str(path) in str(e.value)
        other.execute("ROLLBACK")
    finally:
        other.close()
    s = SQLiteCursorStore(path)  # once the lock is gone
    asyncio.run(s.aclose())
    # A file that has its table opens without the write lock, even while another writes.
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        s = SQLiteCursorStore(path, lock_timeout=0.1)
        asyncio.run(s.aclose())
    finally:
        other.close()


@pytest.mark.parametrize(
    ("path", "error", "match"),
    [
        (None, TypeError, "path must be a str or os.PathLike"),
        (3, TypeError, "path must be a str or os.PathLike"),
        (b"c.db", TypeError, "path must be a str or os.PathLike"),
        ("", ValueError, "path must not be empty"),
        (":memory:", ValueError, "use MemoryCursorStore"),
        ("c\x00.db", ValueError, "NUL"),
    ],
)
def test_sqlite_validates_path(path: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        SQLiteCursorStore(path)


class _BytesPath(os.PathLike):  # type: ignore[type-arg]
    def __fspath__(self) -> bytes:
        return b"c.db"


def test_sqlite_validates_path_more(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="path must be a str path, got bytes"):
        SQLiteCursorStore(_BytesPath())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="is a directory"):
        SQLiteCursorStore(tmp_path)
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="lock_timeout must be a finite number > 0"):
            SQLiteCursorStore(tmp_path / "c.db", lock_timeout=bad)
    for wrong in ("1", None, True):
        with pytest.raises(TypeError, match="lock_timeout must be a number"):
            SQLiteCursorStore(tmp_path / "c.db", lock_timeout=wrong)  # type: ignore[arg-type]
    assert not (tmp_path / "c.db").exists()  # arguments are checked before the file is touched


async def test_sqlite_two_writers_never_lose_ground(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    a, b = SQLiteCursorStore(path), SQLiteCursorStore(path)
    try:
        await a.save("s", {"C1": T2})
        await b.save("s", {"C1": T1, "C2": T1})  # b is behind on C1
        await a.save("s", {"C2": T3})
        await b.save("s", {"C2": T2})  # ... and on C2
        assert await a.load("s") == await b.load("s") == {"C1": T2, "C2": T3}
    finally:
        await a.aclose()
        await b.aclose()


async def test_sqlite_batch_is_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    s = SQLiteCursorStore(path)
    try:
        await s.save("s", {"C1": T1})
        # A trigger makes the write of one channel fail inside SQLite, after others were written.
        _raw(
            path,
            "CREATE TRIGGER boom BEFORE INSERT ON cursors WHEN NEW.channel = 'BAD' "
            "BEGIN SELECT RAISE(ABORT, 'boom'); END",
        )
        with pytest.raises(CursorStoreError, match="save failed: boom") as e:
            await s.save("s", {"C1": T3, "C2": T3, "BAD": T3, "C4": T3})
        assert str(path) in str(e.value)
        assert isinstance(e.value.__cause__, sqlite3.Error)
        assert await s.load("s") == {"C1": T1}
        await s.save("s", {"C1": T2})  # the connection is still usable
        assert await s.load("s") == {"C1": T2}
    finally:
        await s.aclose()


async def _ticks_while(coro: Any) -> tuple[Any, int]:
    """Run ``coro``; count how often a 5 ms ticker ran meanwhile (the loop was not blocked)."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        return await coro, ticks
    finally:
        task.cancel()


async def test_sqlite_waits_for_another_writer_without_blocking_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    s = SQLiteCursorStore(path, lock_timeout=5)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process writing
        asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
        started = time.monotonic()
        _, ticks = await _ticks_while(s.save("s", {"C1": T1}))
        assert time.monotonic() - started >= 0.25
        assert ticks >= 10  # the loop ran all along (~60 ticks if never blocked)
        assert await s.load("s") == {"C1": T1}
        other.execute("BEGIN IMMEDIATE")
        assert await s.load("s") == {"C1": T1}  # WAL: a reader beside a writer does not wait
        other.execute("ROLLBACK")
    finally:
        other.close()
        await s.aclose()


async def test_sqlite_gives_up_after_lock_timeout(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    s = SQLiteCursorStore(path, lock_timeout=0.2)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(CursorStoreError, match=r"save gave up after 0.2 s") as e:
            await s.save("s", {"C1": T1})
        assert 0.2 <= time.monotonic() - started < 1.5
        assert str(path) in str(e.value)
        other.execute("ROLLBACK")
        assert await s.load("s") == {}
        await s.save("s", {"C1": T1})
        assert await s.load("s") == {"C1": T1}
    finally:
        other.close()
        await s.aclose()


async def test_sqlite_close_while_waiting(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    s = SQLiteCursorStore(path)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        asyncio.get_running_loop().call_later(0.1, asyncio.ensure_future, s.aclose())
        with pytest.raises(StateError, match="closed"):
            await s.save("s", {"C1": T1})
    finally:
        other.close()
        await s.aclose()


async def test_sqlite_save_of_50_channels_is_quick(tmp_path: Path) -> None:
    s = SQLiteCursorStore(tmp_path / "c.db")
    try:
        channels = [f"C{n:08d}" for n in range(50)]
        best = float("inf")
        for i in range(1, 21):
            started = time.perf_counter()
            await s.save("T1:U1", dict.fromkeys(channels, f"{1_700_000_000 + i}.000001"))
            best = min(best, time.perf_counter() - started)
        print(f"best save of 50 channels: {best * 1e3:.3f} ms")
        assert best < 0.05  # inline on the event loop: must stay far below a tick of 1 s
        assert (await s.load("T1:U1"))[channels[0]] == "1700000020.000001"
    finally:
        await s.aclose()


async def test_sqlite_crash_keeps_every_committed_batch(tmp_path: Path) -> None:
    """A writer killed with SIGKILL mid-run: the file opens and holds at least the last batch it
    reported committed (at-least-once, never less), and every batch is whole."""
    path = tmp_path / "c.db"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), str(path), "T1:U1", stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    reported = 0
    reader: SQLiteCursorStore | None = None

    async def follow() -> None:
        # Read what the child reports; every 10th batch, a reader beside the writer must see
        # whole batches, never older than reported and never going back.
        nonlocal reported, reader
        seen = child.batch_ts(0)
        while reported < 200:
            line = await proc.stdout.readline()
            assert line, "the child ended before it was killed"
            reported = int(line)
            if reported % 10 == 0:
                if reader is None:
                    reader = SQLiteCursorStore(path)
                got = await reader.load("T1:U1")
                assert len(set(got.values())) == 1, got
                value = next(iter(got.values()))
                assert ts_key(value) >= max(ts_key(seen), ts_key(child.batch_ts(reported)))
                seen = value

    try:
        await asyncio.wait_for(follow(), 20)
        proc.send_signal(signal.SIGKILL)
        rest, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if reader is not None:
            await reader.aclose()
    assert proc.returncode == -signal.SIGKILL
    for line in rest.split():
        reported = int(line)  # lines printed before the kill: committed too
    s = SQLiteCursorStore(path)
    try:
        got = await s.load("T1:U1")
    finally:
        await s.aclose()
    assert set(got) == set(child.CHANNELS)
    assert len(set(got.values())) == 1, got  # the batch in flight is all or nothing
    last = ts_key(next(iter(got.values())))
    assert ts_key(child.batch_ts(reported)) <= last <= ts_key(child.batch_ts(reported + 1))


# --- open_cursor_store ------------------------------------------------------------------------


class _DuckStore:
    """A home of its own (say, NATS KV): only the three methods."""

    async def load(self, scope: str) -> dict[str, str]:
        return {}

    async def save(self, scope: str, cursors: Mapping[str, str]) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def test_open_cursor_store_dispatch(tmp_path: Path) -> None:
    assert open_cursor_store(None) is None
    memory = MemoryCursorStore()
    assert open_cursor_store(memory) is memory
    duck = _DuckStore()
    assert open_cursor_store(duck) is duck
    for state in (tmp_path / "a.db", str(tmp_path / "b.db")):
        s = open_cursor_store(state)
        assert isinstance(s, SQLiteCursorStore)
        assert s.path == os.fspath(state)
        await s.save("s", {"C1": T1})
        await s.aclose()
    assert (tmp_path / "a.db").exists()
    assert (tmp_path / "b.db").exists()


@pytest.mark.parametrize("state", [3, b"c.db", object(), {"C1": T1}, MemoryCursorStore, _DuckStore])
def test_open_cursor_store_refuses(state: Any) -> None:
    with pytest.raises(TypeError, match=r"^state must be None, a file path or a CursorStore"):
        open_cursor_store(state)


def test_open_cursor_store_path_errors_name_state(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^state must not be empty"):
        open_cursor_store("")
    with pytest.raises(TypeError, match=r"^state must be a str path"):
        open_cursor_store(_BytesPath())  # type: ignore[arg-type]
    with pytest.raises(CursorStoreError, match="is not an existing directory"):
        open_cursor_store(tmp_path / "nope" / "c.db")


def test_exported_from_the_package() -> None:
    for name in (
        "CursorStore",
        "CursorStoreError",
        "MemoryCursorStore",
        "SQLiteCursorStore",
        "open_cursor_store",
    ):
        assert name in slack_rtm.__all__
        assert getattr(slack_rtm, name) is getattr(sys.modules["slack_rtm.cursors"], name)


def test_reprs_name_the_file(tmp_path: Path) -> None:
    s = SQLiteCursorStore(tmp_path / "c.db")
    assert repr(s) == f"<SQLiteCursorStore {str(tmp_path / 'c.db')!r} open>"
    asyncio.run(s.aclose())
    assert "closed" in repr(s)
    assert repr(MemoryCursorStore()) == "<MemoryCursorStore 0 scopes>"
