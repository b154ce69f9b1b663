"""The cursor store's NATS KV home: :class:`KvCursorStore` (STYLE §16).

The same :class:`~slack_rtm.cursors.CursorStore` protocol and guarantees as the SQLite and
memory homes of :mod:`slack_rtm.cursors` (the one owner of cursors): ``load``, ``save`` (upsert,
never backwards, all or nothing), ``aclose``. The gateway keeps every session's cursors here so
that whichever process holds a session next catches up from where the last one got to.

**Format** (bucket :data:`~slack_rtm.gateway.contract.CURSORS_BUCKET`, history 1): one key per
scope, :func:`~slack_rtm.gateway.contract.kv_key` of the scope (``"T0123:U0456"`` becomes
``"T0123=3AU0456"``); its value is the UTF-8 JSON object of the scope's cursors, channel id →
ts string, keys sorted, e.g. ``{"C0123":"1355517523.000005","D0456":"1355517524.000000"}``.

**Never backwards, all or nothing.** :meth:`KvCursorStore.save` reads the scope's value and its
revision, merges the batch in (the newer ts of stored and given wins, by
:func:`~slack_rtm.cursors.ts_key`) and writes the merged object with compare-and-set
(``update(last=revision)``, or ``create`` for a new scope). When another writer got there first,
the compare-and-set fails and the save starts again from the new value; so two writers never
move a cursor back, and a batch lands in one write or not at all.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from types import TracebackType

import msgspec
import nats.errors
import nats.js.errors
from nats.js.kv import KeyValue

from slack_rtm.cursors import _check_cursors, _check_scope, ts_key
from slack_rtm.errors import CursorStoreError, StateError
from slack_rtm.gateway.contract import kv_key

__all__ = ["MAX_ATTEMPTS", "KvCursorStore"]

_log = logging.getLogger("slack_rtm.gateway.cursors")

MAX_ATTEMPTS = 100
"""Compare-and-set attempts of one save before it gives up with CursorStoreError."""

_decode = msgspec.json.Decoder(dict[str, str]).decode
_encode = msgspec.json.Encoder(order="sorted").encode


class KvCursorStore:
    """A :class:`~slack_rtm.cursors.CursorStore` in a NATS JetStream KV bucket (format: see the
    module docstring).

    Args:
        bucket: the KV bucket (:attr:`slack_rtm.gateway.kv.Buckets.cursors`); its NATS
            connection is shared and stays open after :meth:`aclose`.

    Raises:
        TypeError: ``bucket`` is not a ``nats.js.kv.KeyValue``.
    """

    def __init__(self, bucket: KeyValue) -> None:
        if not isinstance(bucket, KeyValue):
            raise TypeError(f"bucket must be a nats.js.kv.KeyValue, got {type(bucket).__name__}")
        self._kv: KeyValue | None = bucket
        self._name = str(getattr(bucket, "_name", "KV"))

    def __repr__(self) -> str:
        state = "closed" if self._kv is None else "open"
        return f"<KvCursorStore {self._name} {state}>"

    async def __aenter__(self) -> KvCursorStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def load(self, scope: str) -> dict[str, str]:
        """Every cursor of ``scope`` (a new dict; ``{}`` for an unknown scope).

        Raises:
            TypeError, ValueError: ``scope`` is not a non-empty string.
            StateError: the store is closed.
            CursorStoreError: NATS failed, or the stored value is not in this module's format.
        """
        _check_scope(scope)
        kv = self._check_open("load")
        stored, _ = await self._read(kv, scope)
        return stored

    async def save(self, scope: str, cursors: Mapping[str, str]) -> None:
        """Upsert ``cursors`` into ``scope`` in one compare-and-set write; a cursor only moves
        forwards.

        Raises:
            TypeError, ValueError: an argument is invalid (nothing is written).
            StateError: the store is closed.
            CursorStoreError: NATS failed, the stored value is not in this module's format, or
                other writers won :data:`MAX_ATTEMPTS` compare-and-sets in a row (nothing is
                written).
        """
        _check_scope(scope)
        rows = _check_cursors(cursors)
        kv = self._check_open("save")
        if not rows:
            return
        key = kv_key(scope)
        for attempt in range(MAX_ATTEMPTS):
            stored, revision = await self._read(kv, scope)
            merged = dict(stored)
            for channel, ts, seconds, fraction in rows:
                old = merged.get(channel)
                if old is None or (seconds, fraction) > self._key(old, scope, channel):
                    merged[channel] = ts
            if merged == stored:
                return  # nothing newer: no write
            try:
                if revision is None:
                    await kv.create(key, _encode(merged))
                else:
                    await kv.update(key, _encode(merged), last=revision)
                return
            except nats.js.errors.KeyWrongLastSequenceError:
                # Another writer got there first: merge again into what it wrote.
                await asyncio.sleep(random.uniform(0, 0.002 * min(attempt, 10)))
            except (asyncio.TimeoutError, nats.errors.Error) as exc:
                raise self._error("save", scope, exc) from exc
        raise CursorStoreError(
            f"cursor store (NATS KV {self._name}): save of scope {scope[:80]!r} lost "
            f"{MAX_ATTEMPTS} compare-and-sets in a row to other writers"
        )

    async def aclose(self) -> None:
        """Close the store (idempotent); the NATS connection stays open. Later loads and saves
        raise StateError."""
        self._kv = None

    def _check_open(self, what: str) -> KeyValue:
        if self._kv is None:
            raise StateError(f"cannot {what}: the cursor store (NATS KV {self._name}) is closed")
        return self._kv

    async def _read(self, kv: KeyValue, scope: str) -> tuple[dict[str, str], int | None]:
        """The scope's stored cursors and the revision they were read at (None: no value)."""
        try:
            entry = await kv.get(kv_key(scope))
        except nats.js.errors.KeyNotFoundError:
            return {}, None
        except (asyncio.TimeoutError, nats.errors.Error) as exc:
            raise self._error("load", scope, exc) from exc
        try:
            stored = _decode(entry.value or b"")
        except msgspec.DecodeError:
            raise CursorStoreError(
                f"cursor store (NATS KV {self._name}): the value of scope {scope[:80]!r} is not "
                "a JSON object of channel -> ts strings; it was not written by slack-rtm"
            ) from None
        for channel, ts in stored.items():
            self._key(ts, scope, channel)
        return stored, entry.revision

    def _key(self, ts: str, scope: str, channel: str) -> tuple[int, int]:
        try:
            return ts_key(ts)
        except ValueError:
            raise CursorStoreError(
                f"cursor store (NATS KV {self._name}): scope {scope[:80]!r} holds a ts for "
                f"{channel[:40]!r} that is not a Slack timestamp; it was not written by slack-rtm"
            ) from None

    def _error(self, what: str, scope: str, exc: BaseException) -> CursorStoreError:
        detail = str(exc) or type(exc).__name__
        _log.debug("cursor store %s %s of %r failed: %s", self._name, what, scope, detail)
        return CursorStoreError(
            f"cursor store (NATS KV {self._name}): {what} of scope {scope[:80]!r} failed: {detail}"
        )
