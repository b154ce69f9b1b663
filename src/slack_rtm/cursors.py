"""The durable cursor store: per conversation, the newest message ``ts`` delivered (STYLE §16).

After a reconnect or a restart the client fetches history *after* each conversation's cursor
(PROTOCOL §8), so what it delivered before is not delivered again and what it missed is. This
module is the one owner of that state and of its on-disk format; nothing else writes cursors.

The protocol (:class:`CursorStore`) is three coroutines, so another home (a NATS KV bucket, a
Redis hash) is a class with the same methods and the same guarantees:

- ``load(scope) -> dict[channel, ts]``: every cursor of ``scope``; ``{}`` for an unknown scope.
- ``save(scope, cursors)``: upsert the given channels only, **never moving a stored cursor
  backwards** (the newer of stored and given wins, by :func:`ts_key`), so two writers, a replay
  or a late batch cannot lose ground; a batch is saved all or nothing.
- ``aclose()``: release the store; idempotent; any later ``load`` / ``save`` raises
  :class:`~slack_rtm.errors.StateError`.

``scope`` is an opaque session identity (the client passes ``"<team_id>:<user_id>"``); one
store may hold many scopes. Channel ids are non-empty strings; a ``ts`` is a Slack timestamp
string, ``"<seconds>.<micro-seconds>"`` such as ``"1355517523.000005"``, and stays a string.

The guarantee: across a crash, delivery is **at-least-once from the last saved cursor**. The
client saves in batches (about once a second) and on close, so after a crash it may deliver
again what it delivered after the last save, never less than that.

Homes here:

- :class:`MemoryCursorStore`: a dict in this process, for tests and as a default.
- :class:`SQLiteCursorStore`: one SQLite file (stdlib :mod:`sqlite3`), WAL journal,
  ``synchronous=NORMAL``: a committed save survives the process being killed; a power loss may
  take back the last saves since the latest checkpoint (the cursor then moves back, which
  at-least-once allows). Two processes may use the file at once (WAL lets readers run beside a
  writer; a writer waits for another's lock, up to ``lock_timeout``, without blocking the event
  loop for more than a few milliseconds at a time).
- ``slack_rtm.gateway.cursor_store.KvCursorStore`` (the ``gateway`` extra; this module never
  imports it): a NATS JetStream KV bucket, one key per scope whose value is the JSON object
  channel -> ts, written by compare-and-set so that concurrent writers never move a cursor
  back. Its format is documented in that module and in ``docs/gateway.md``.

The SQLite file format, schema version 1 (``PRAGMA user_version = 1``, ``PRAGMA application_id
= 0x534C4B43``, "SLKC")::

    CREATE TABLE cursors (
        scope   TEXT    NOT NULL,   -- the session identity given to save()
        channel TEXT    NOT NULL,   -- the conversation id
        ts      TEXT    NOT NULL,   -- the cursor, exactly as saved
        ts_sec  INTEGER NOT NULL,   -- ts_key(ts)[0]: the seconds
        ts_frac INTEGER NOT NULL,   -- ts_key(ts)[1]: the fraction in micro-seconds
        PRIMARY KEY (scope, channel)
    ) WITHOUT ROWID

A file with a newer ``user_version`` (written by a newer slack-rtm) is refused, never altered.

Use :func:`open_cursor_store` to turn a user's ``state=`` argument into a store.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Protocol, TypeVar, runtime_checkable

from slack_rtm.errors import CursorStoreError, StateError

__all__ = [
    "CursorStore",
    "CursorStoreError",
    "MemoryCursorStore",
    "SQLiteCursorStore",
    "newer",
    "open_cursor_store",
    "ts_key",
]

_log = logging.getLogger("slack_rtm.cursors")

T = TypeVar("T")

SCHEMA_VERSION = 1
"""The ``PRAGMA user_version`` this module writes and reads."""

APPLICATION_ID = 0x534C4B43
"""The ``PRAGMA application_id`` of a cursor file ("SLKC")."""

# Slack ts: seconds, a dot, micro-seconds (always 6 digits from Slack; 1 to 6 accepted, so "1.5"
# is 1.500000). The seconds fit a 64-bit SQLite INTEGER. ASCII digits only.
_TS = re.compile(r"([0-9]{1,18})\.([0-9]{1,6})")

# Each attempt of a statement waits at most this long inline for another connection's lock;
# between attempts the coroutine sleeps, so the event loop is never held for longer.
_ATTEMPT_BUSY_MS = 20

_CREATE = """
CREATE TABLE IF NOT EXISTS cursors (
    scope   TEXT    NOT NULL,
    channel TEXT    NOT NULL,
    ts      TEXT    NOT NULL,
    ts_sec  INTEGER NOT NULL,
    ts_frac INTEGER NOT NULL,
    PRIMARY KEY (scope, channel)
) WITHOUT ROWID
"""

# Never backwards: an existing row changes only when the given ts is strictly newer.
_UPSERT = """
INSERT INTO cursors (scope, channel, ts, ts_sec, ts_frac) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (scope, channel) DO UPDATE
SET ts = excluded.ts, ts_sec = excluded.ts_sec, ts_frac = excluded.ts_frac
WHERE excluded.ts_sec > cursors.ts_sec
   OR (excluded.ts_sec = cursors.ts_sec AND excluded.ts_frac > cursors.ts_frac)
"""

_SELECT = "SELECT channel, ts FROM cursors WHERE scope = ?"


def ts_key(ts: str) -> tuple[int, int]:
    """The ordering key of a Slack ``ts`` string: ``(seconds, micro-seconds)``.

    ``"1355517523.000005"`` gives ``(1355517523, 5)``; ``"1.5"`` gives ``(1, 500000)``.

    Raises:
        TypeError: ``ts`` is not a string.
        ValueError: ``ts`` is not digits, a dot, 1 to 6 digits.
    """
    if not isinstance(ts, str):
        raise TypeError(f"ts must be a str, got {type(ts).__name__}")
    match = _TS.fullmatch(ts)
    if match is None:
        raise ValueError(f"ts must be a Slack timestamp like '1355517523.000005', got {ts[:40]!r}")
    seconds, fraction = match.groups()
    return int(seconds), int(fraction.ljust(6, "0"))


def newer(a: str, b: str | None) -> bool:
    """True when ``a`` is strictly newer than ``b`` (always, when ``b`` is None).

    Raises:
        TypeError: ``a`` is not a string, or ``b`` is neither a string nor None.
        ValueError: ``a`` or ``b`` is not a Slack timestamp (see :func:`ts_key`).
    """
    key_a = _key(a, "a")
    if b is None:
        return True
    return key_a > _key(b, "b")


def _key(ts: object, name: str) -> tuple[int, int]:
    """:func:`ts_key` with errors naming the argument ``name``."""
    try:
        return ts_key(ts)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{name}: {exc}") from None


def _check_scope(scope: object) -> str:
    if not isinstance(scope, str):
        raise TypeError(f"scope must be a str, got {type(scope).__name__}")
    if not scope:
        raise ValueError("scope must not be empty")
    return scope


def _check_cursors(cursors: object) -> list[tuple[str, str, int, int]]:
    """``(channel, ts, seconds, micro-seconds)`` for each entry of a valid ``cursors``."""
    if not isinstance(cursors, Mapping):
        raise TypeError(f"cursors must be a mapping of channel -> ts, got {type(cursors).__name__}")
    rows = []
    for channel, ts in cursors.items():
        if not isinstance(channel, str):
            raise TypeError(f"cursors: channel ids must be str, got {type(channel).__name__}")
        if not channel:
            raise ValueError("cursors: a channel id must not be empty")
        seconds, fraction = _key(ts, f"cursors[{channel[:40]!r}]")
        rows.append((channel, ts, seconds, fraction))
    return rows


def _fspath(value: object, name: str) -> str:
    """The file name in ``value`` (a str or a str path-like), checked; errors name ``name``."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(value).__name__}")
    path = os.fspath(value)
    if not isinstance(path, str):
        raise TypeError(f"{name} must be a str path, got {type(path).__name__}")
    if not path:
        raise ValueError(f"{name} must not be empty")
    if path == ":memory:":
        raise ValueError(f"{name}: ':memory:' is not a file; use MemoryCursorStore()")
    if "\x00" in path:
        raise ValueError(f"{name} must not contain a NUL character")
    return path


@runtime_checkable
class CursorStore(Protocol):
    """Where cursors live: the contract every home keeps (see the module docstring)."""

    async def load(self, scope: str) -> dict[str, str]:
        """Every cursor of ``scope`` as ``{channel: ts}``; ``{}`` for an unknown scope."""
        ...

    async def save(self, scope: str, cursors: Mapping[str, str]) -> None:
        """Upsert ``cursors`` into ``scope``, all or nothing, never moving a cursor backwards."""
        ...

    async def aclose(self) -> None:
        """Release the store; idempotent. Later loads and saves raise StateError."""
        ...


class MemoryCursorStore:
    """A :class:`CursorStore` in a dict of this process: for tests, and a default that keeps
    cursors across reconnects (not restarts). Same validation and guarantees as the SQLite home.
    """

    def __init__(self) -> None:
        self._scopes: dict[str, dict[str, tuple[str, tuple[int, int]]]] = {}
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._scopes)} scopes"
        return f"<MemoryCursorStore {state}>"

    async def __aenter__(self) -> MemoryCursorStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def load(self, scope: str) -> dict[str, str]:
        """Every cursor of ``scope`` (a new dict).

        Raises:
            TypeError, ValueError: ``scope`` is not a non-empty string.
            StateError: the store is closed.
        """
        _check_scope(scope)
        self._check_open("load")
        return {channel: ts for channel, (ts, _) in self._scopes.get(scope, {}).items()}

    async def save(self, scope: str, cursors: Mapping[str, str]) -> None:
        """Upsert ``cursors`` into ``scope``; a stored cursor only ever moves forwards.

        Raises:
            TypeError, ValueError: an argument is invalid (nothing is saved).
            StateError: the store is closed.
        """
        _check_scope(scope)
        rows = _check_cursors(cursors)
        self._check_open("save")
        stored = self._scopes.setdefault(scope, {})
        for channel, ts, seconds, fraction in rows:
            old = stored.get(channel)
            if old is None or (seconds, fraction) > old[1]:
                stored[channel] = (ts, (seconds, fraction))

    async def aclose(self) -> None:
        """Close the store (idempotent); the cursors are dropped."""
        self._closed = True
        self._scopes.clear()

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise StateError(f"cannot {what}: the cursor store is closed")


class SQLiteCursorStore:
    """A :class:`CursorStore` in one SQLite file (format: see the module docstring).

    The constructor opens the file at once, so a bad path fails where it is given: it switches
    the file to WAL, creates the table in a new or empty file, and checks the version. This
    takes a few milliseconds (it may wait up to ``lock_timeout`` for another process that is
    writing). Each :meth:`save` is one short transaction run inline on the event loop; while
    another connection holds the write lock it sleeps and retries instead of blocking.

    Args:
        path: the file; created if missing, its directory is not.
        lock_timeout: seconds a call may wait for another connection's lock before it fails
            with :class:`CursorStoreError`.

    Raises:
        TypeError: ``path`` is not a str or str path-like; ``lock_timeout`` not a number.
        ValueError: ``path`` is empty, ``":memory:"`` or a directory; ``lock_timeout`` <= 0.
        CursorStoreError: the directory is missing; the file is not an SQLite cursor file or is
            from a newer slack-rtm; it cannot be opened or written.
    """

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = 5.0) -> None:
        self._path = _fspath(path, "path")
        if isinstance(lock_timeout, bool) or not isinstance(lock_timeout, (int, float)):
            raise TypeError(f"lock_timeout must be a number, got {type(lock_timeout).__name__}")
        if not 0 < lock_timeout < float("inf"):
            raise ValueError(f"lock_timeout must be a finite number > 0, got {lock_timeout!r}")
        self._lock_timeout = float(lock_timeout)
        if os.path.isdir(self._path):
            raise ValueError(f"path: {self._path!r} is a directory, not a file")
        directory = os.path.dirname(os.path.abspath(self._path))
        if not os.path.isdir(directory):
            raise CursorStoreError(
                f"cursor store {self._path!r}: directory {directory!r} is not an "
                "existing directory (create it first)"
            )
        if sqlite3.sqlite_version_info < (3, 24, 0):  # pragma: no cover - depends on the build
            raise CursorStoreError(
                f"cursor store {self._path!r} needs SQLite 3.24 or newer; Python's sqlite3 "
                f"uses {sqlite3.sqlite_version}"
            )
        self._conn: sqlite3.Connection | None = self._open()
        _log.debug("cursor store %r opened", self._path)

    @property
    def path(self) -> str:
        """The file name, as given."""
        return self._path

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else "open"
        return f"<SQLiteCursorStore {self._path!r} {state}>"

    async def __aenter__(self) -> SQLiteCursorStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=self._lock_timeout,
                isolation_level=None,  # we issue BEGIN / COMMIT ourselves
                check_same_thread=False,  # the sync client builds here and runs on its loop thread
            )
        except sqlite3.Error as exc:
            raise self._error("cannot be opened", exc) from exc
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":  # pragma: no cover - a VFS or file system without WAL
                raise CursorStoreError(
                    f"cursor store {self._path!r}: cannot use WAL journal mode (got {mode!r})"
                )
            conn.execute("PRAGMA synchronous = NORMAL")
            if self._check_version(conn) == 0:
                # A new or empty file: create the table under the write lock, checking again
                # in case another process has just done so.
                conn.execute("BEGIN IMMEDIATE")
                try:
                    if self._check_version(conn) == 0:
                        conn.execute(_CREATE)
                        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    conn.execute("COMMIT")
                finally:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
            conn.execute(f"PRAGMA busy_timeout = {_ATTEMPT_BUSY_MS}")
        except sqlite3.DatabaseError as exc:
            if _error_code(exc) == 26 or "not a database" in str(exc):  # SQLITE_NOTADB
                raise CursorStoreError(
                    f"cursor store {self._path!r} is not an SQLite database; give another file"
                ) from exc
            if _is_busy(exc):
                raise CursorStoreError(
                    f"cursor store {self._path!r} cannot be opened: another connection held its "
                    f"lock for more than {self._lock_timeout:g} s"
                ) from exc
            raise self._error("cannot be opened", exc) from exc

    def _check_version(self, conn: sqlite3.Connection) -> int:
        """The file's schema version (0: a new file); refuse another application's or a newer."""
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id not in (0, APPLICATION_ID):
            raise CursorStoreError(
                f"cursor store {self._path!r} is an SQLite file of another application "
                f"(application_id {app_id:#x}); give another file"
            )
        if version > SCHEMA_VERSION:
            raise CursorStoreError(
                f"cursor store {self._path!r} has schema version {version}, newer than this "
                f"slack-rtm reads ({SCHEMA_VERSION}); upgrade slack-rtm or give another file"
            )
        return int(version)

    async def load(self, scope: str) -> dict[str, str]:
        """Every cursor of ``scope``.

        Raises:
            TypeError, ValueError: ``scope`` is not a non-empty string.
            StateError: the store is closed.
            CursorStoreError: SQLite failed, or another process held a lock too long.
        """
        _check_scope(scope)

        def load(conn: sqlite3.Connection) -> dict[str, str]:
            return dict(conn.execute(_SELECT, (scope,)).fetchall())

        return await self._run("load", load)

    async def save(self, scope: str, cursors: Mapping[str, str]) -> None:
        """Upsert ``cursors`` into ``scope`` in one transaction; a cursor only moves forwards.

        Raises:
            TypeError, ValueError: an argument is invalid (nothing is written).
            StateError: the store is closed.
            CursorStoreError: SQLite failed, or another process held the write lock too long
                (nothing is written).
        """
        _check_scope(scope)
        rows = [(scope, *row) for row in _check_cursors(cursors)]
        if not rows:
            self._check_open("save")
            return

        def save(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_UPSERT, rows)
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")

        await self._run("save", save)

    async def aclose(self) -> None:
        """Close the file (idempotent). Later loads and saves raise StateError."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            _log.debug("cursor store %r closed", self._path)

    def _check_open(self, what: str) -> sqlite3.Connection:
        if self._conn is None:
            raise StateError(f"cannot {what}: the cursor store {self._path!r} is closed")
        return self._conn

    async def _run(self, what: str, op: Callable[[sqlite3.Connection], T]) -> T:
        """``op(conn)``, retried while another connection holds a lock, up to lock_timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lock_timeout
        pause = 0.002
        while True:
            conn = self._check_open(what)
            try:
                return op(conn)
            except sqlite3.Error as exc:
                if not _is_busy(exc):
                    raise self._error(f"{what} failed", exc) from exc
                left = deadline - loop.time()
                if left <= 0:
                    raise CursorStoreError(
                        f"cursor store {self._path!r}: {what} gave up after "
                        f"{self._lock_timeout:g} s waiting for another connection's lock"
                    ) from exc
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, 0.05)

    def _error(self, what: str, exc: sqlite3.Error) -> CursorStoreError:
        return CursorStoreError(f"cursor store {self._path!r} {what}: {exc}")


def _error_code(exc: sqlite3.Error) -> int | None:
    """The primary SQLite result code of ``exc`` (None before Python 3.11)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _is_busy(exc: sqlite3.Error) -> bool:
    """True for SQLITE_BUSY / SQLITE_LOCKED: another connection holds a lock; worth a retry."""
    code = _error_code(exc)
    if code is not None:
        return code in (5, 6)
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)  # pragma: no cover


def open_cursor_store(state: str | os.PathLike[str] | CursorStore | None) -> CursorStore | None:
    """The store for a user's ``state=`` argument.

    ``None`` gives None (no cursors kept); a path gives a :class:`SQLiteCursorStore` on that
    file; an object with the :class:`CursorStore` methods is returned as is.

    Raises:
        TypeError: ``state`` is none of these (a class rather than an instance included).
        ValueError, CursorStoreError: as :class:`SQLiteCursorStore` for a path.
    """
    if state is None:
        return None
    if isinstance(state, (str, os.PathLike)):
        return SQLiteCursorStore(_fspath(state, "state"))
    if not isinstance(state, type) and isinstance(state, CursorStore):
        return state
    raise TypeError(
        "state must be None, a file path or a CursorStore (load/save/aclose), "
        f"got {type(state).__name__}"
    )
