"""CatchUpRunner's error paths over real sockets: a small aiohttp server on 127.0.0.1 answers
``conversations.history`` and ``conversations.replies`` as a test scripts it (a 5xx, a Slack
error, a timeout, a malformed item), and a real SQLite store that is locked while a save runs."""

from __future__ import annotations

import asyncio
import itertools
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web

from slack_rtm.aio.catchup import CatchUpRunner, CursorSaver, cursor_saver
from slack_rtm.api import AsyncClient, RetryConfig
from slack_rtm.cursors import MemoryCursorStore, SQLiteCursorStore
from slack_rtm.session.catchup import CatchUpBook
from slack_rtm.session.events import Event, Message, decode_frame

CURSOR = "100.000000"


def item(ts: str, text: str = "old", **extra: Any) -> dict[str, Any]:
    return {"type": "message", "user": "U1", "text": text, "ts": ts, **extra}


class Slackish:
    """The two history methods: answers taken from ``script`` (per method, in order) first,
    then from ``history`` (channel -> items after the cursor, newest first), ``before``
    (channel -> the page before the cursor) and ``replies`` (thread ts -> items, oldest
    first, the parent first). A scripted answer is ``(status, body)`` or ``("sleep", s)``."""

    def __init__(self) -> None:
        self.script: dict[str, list[tuple[Any, Any]]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.before: dict[str, list[dict[str, Any]]] = {}
        self.replies: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[tuple[float, str, dict[str, str]]] = []

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, str] = dict(request.query)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.post()).items()})
        self.calls.append((time.monotonic(), method, params))
        queue = self.script.get(method)
        if queue:
            status, body = queue.pop(0)
            if status == "sleep":
                await asyncio.sleep(body)
                status, body = 200, {"ok": True, "messages": []}
            if isinstance(body, web.Response):
                return body
            if isinstance(body, str):
                return web.Response(status=status, text=body, content_type="text/html")
            return web.json_response(body, status=status)
        channel = params.get("channel", "")
        if method == "conversations.replies":
            thread = self.replies.get(params.get("ts", ""))
            if thread is None:
                return web.json_response({"ok": False, "error": "thread_not_found"})
            return web.json_response({"ok": True, "messages": thread, "has_more": False})
        source = self.history if "oldest" in params else self.before
        return web.json_response(
            {"ok": True, "messages": source.get(channel, []), "has_more": False}
        )

    def of(self, method: str) -> list[dict[str, str]]:
        return [p for _, m, p in self.calls if m == method]


@pytest.fixture
async def slack() -> AsyncIterator[tuple[Slackish, str]]:
    server = Slackish()
    app = web.Application()
    app.router.add_route("*", "/api/{method}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield server, f"http://127.0.0.1:{port}/api"
    finally:
        await runner.cleanup()


class Run:
    """A CatchUpRunner against ``url`` with what it delivered and emitted."""

    def __init__(self, url: str, book: CatchUpBook, **kwargs: Any) -> None:
        self.delivered: list[Event] = []
        self.emitted: list[Any] = []
        self.runner = CatchUpRunner(
            book=book,
            store=kwargs.pop("store", None),
            token="xoxb-1-test",
            make_http=lambda: AsyncClient(base_url=url, timeout=0.3, retry=RetryConfig.none()),
            deliver_front=self.delivered.extend,
            emit=self.emitted.append,
            logger=logging.getLogger("tests.catchup"),
            **kwargs,
        )

    async def done(self, timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while not any(e.phase == "done" for e in self.emitted):
            assert time.monotonic() < deadline, self.emitted
            await asyncio.sleep(0.01)
        return next(e for e in self.emitted if e.phase == "done")

    def texts(self) -> list[str]:
        return [getattr(e, "text", None) or "" for e in self.delivered]


def live(channel: str, ts: str, text: str = "live") -> Message:
    event = decode_frame(
        msgspec.json.encode(
            {"type": "message", "channel": channel, "user": "U2", "text": text, "ts": ts}
        )
    )
    assert isinstance(event, Message)
    return event


async def test_a_5xx_then_success_is_retried_after_a_wait(
    slack: tuple[Slackish, str], caplog: pytest.LogCaptureFixture
) -> None:
    server, url = slack
    server.script["conversations.history"] = [
        (502, "<html>bad gateway</html>"),  # the history after the cursor: HTTP 5xx, no JSON
        (200, {"ok": True, "messages": [item("101.000000", "a"), item("100.500000", "b")]}),
        (200, {"ok": False, "error": "internal_error"}),  # the page before: a transient code
    ]
    run = Run(url, CatchUpBook({"C1": CURSOR}))
    caplog.set_level(logging.INFO, "tests.catchup")
    run.runner.start()
    done = await run.done(timeout=8)
    assert (done.messages, done.failed, done.calls) == (2, 0, 2)
    assert run.texts() == ["b", "a"]
    assert all(e.backfilled for e in run.delivered)
    times = [t for t, _, _ in server.calls]
    assert len(times) == 4
    assert times[1] - times[0] >= 0.95  # 0.5 * 2 after a call's first failure
    assert times[3] - times[2] >= 0.95  # each call counts its own failures
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retries == [
        "catch-up call failed (ApiError): retrying in 1 s",
        "catch-up call failed (RtmConnectErrorSchemaError): retrying in 1 s",
    ]
    assert not any("xoxb-1-test" in r.getMessage() for r in caplog.records)


async def test_a_timeout_is_retried(slack: tuple[Slackish, str]) -> None:
    server, url = slack
    server.script["conversations.history"] = [("sleep", 0.6)]  # the client waits 0.3 s
    server.history["C1"] = [item("101.000000", "a")]
    run = Run(url, CatchUpBook({"C1": CURSOR}))
    run.runner.start()
    done = await run.done(timeout=8)
    assert (done.messages, done.failed, done.calls) == (1, 0, 2)
    assert run.texts() == ["a"]
    times = [t for t, _, _ in server.calls]
    assert times[1] - times[0] >= 0.3 + 0.95
    assert server.of("conversations.history")[0] == server.of("conversations.history")[1]


async def test_request_errors_skip_only_their_conversation(
    slack: tuple[Slackish, str], caplog: pytest.LogCaptureFixture
) -> None:
    server, url = slack
    server.script["conversations.history"] = [
        (200, {"ok": False, "error": "invalid_arguments"}),  # C4, the most recent cursor
        (200, {"ok": False, "error": "not_in_channel"}),  # C3: cannot be read any more
        (404, "<html>no such page</html>"),  # C2: an HTTP error that is not worth repeating
    ]
    server.history["C5"] = [
        item("100.060000", "p", thread_ts="100.060000", latest_reply="100.070000")
    ]
    server.script["conversations.replies"] = [(200, {"ok": False, "error": "missing_scope"})]
    server.history["C1"] = [item("101.000000", "c1")]
    book = CatchUpBook(
        {
            "C1": CURSOR,
            "C2": "100.100000",
            "C3": "100.200000",
            "C4": "100.300000",
            "C5": "100.050000",
        }
    )
    book.note_thread("C3", "99.000000")
    run = Run(url, book, burst=1, rate=10.0)  # one call at once, then one every 0.1 s
    caplog.set_level(logging.WARNING, "tests.catchup")
    run.runner.start()
    done = await run.done()
    assert (done.conversations, done.messages, done.failed, done.calls) == (5, 1, 4, 2)
    times = [t for t, _, _ in server.calls]
    # paced at 0.1 s; arrival times at the server jitter under load, the pace over them cannot
    assert times[-1] - times[0] >= 0.095 * (len(times) - 1), times
    assert all(b - a >= 0.05 for a, b in itertools.pairwise(times)), times
    assert run.texts() == ["c1"]
    asked = [p["channel"] for p in server.of("conversations.history")]
    assert asked == ["C4", "C3", "C2", "C5", "C5", "C1", "C1"]
    assert "C3" not in book.cursors  # cannot be read any more: forgotten
    assert "C3" not in book.threads
    assert "C5" not in book.cursors  # missing_scope on its thread: the same
    assert book.cursors["C2"] == "100.100000"  # may work next time: kept
    assert book.cursors["C4"] == "100.300000"
    assert not book.holding
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings[0] == "catch-up skipped a conversation: Slack answered 'invalid_arguments'"
    assert warnings[3] == "catch-up skipped a conversation: Slack answered 'missing_scope'"
    assert len(warnings) == 4


async def test_retry_after_on_a_5xx_is_a_floor(slack: tuple[Slackish, str]) -> None:
    server, url = slack
    app_retry = web.Response(status=503, text="busy", headers={"Retry-After": "2"})
    server.script["conversations.history"] = [(503, app_retry)]
    server.history["C1"] = [item("101.000000", "a")]
    run = Run(url, CatchUpBook({"C1": CURSOR}))
    run.runner.start()
    done = await run.done()
    assert (done.messages, done.failed) == (1, 0)
    times = [t for t, _, _ in server.calls]
    assert times[1] - times[0] >= 1.95  # not the 1 s of a first failure


async def test_a_vanished_thread_and_malformed_items_do_not_stop_the_catch_up(
    slack: tuple[Slackish, str],
) -> None:
    server, url = slack
    server.history["C1"] = [
        item("103.000000", "c", thread_ts="103.000000", latest_reply="104.000000"),  # deleted
        item("junk", "no Slack ts", thread_ts="junk", latest_reply="junk"),
        item("101.000000", "a", thread_ts="101.000000", latest_reply="not a ts"),
    ]
    server.before["C1"] = [item(CURSOR, "parent", thread_ts=CURSOR, latest_reply="102.000000")]
    server.replies[CURSOR] = [
        item(CURSOR, "parent", thread_ts=CURSOR),
        item("102.000000", "reply", thread_ts=CURSOR),
    ]
    run = Run(url, CatchUpBook({"C1": CURSOR}))
    run.runner.start()
    done = await run.done()
    assert (done.messages, done.failed) == (3, 0)
    assert run.texts() == ["a", "reply", "c"]  # the item without a Slack ts is left out
    asked = [p["ts"] for p in server.of("conversations.replies")]
    assert asked == ["103.000000", CURSOR]  # 103's answer: thread_not_found, skipped
    assert done.calls == 3  # history, the page before, one thread


async def test_a_new_catch_up_cancels_the_running_one_and_releases_its_holds(
    slack: tuple[Slackish, str],
) -> None:
    server, url = slack
    server.script["conversations.history"] = [("sleep", 0.25)]
    server.history["C1"] = [item("100.500000", "gap")]
    book = CatchUpBook({"C1": CURSOR})
    run = Run(url, book)
    run.runner.start()
    while not server.calls:
        await asyncio.sleep(0.005)
    held = live("C1", "101.000000")
    assert book.intercept(held)  # live while the first catch-up runs: held
    run.runner.start()  # a second gap
    done = await run.done()
    assert run.delivered[0] is held  # the first one's clean-up released it
    assert run.texts() == ["live", "gap"]  # the second fetched from the same cursor
    assert [e.phase for e in run.emitted] == ["started", "started", "done"]
    assert done.messages == 1
    assert not book.holding
    assert run.runner.runs == 2
    run.runner.start()  # and a third, after the second ended
    while len(run.emitted) < 5:
        await asyncio.sleep(0.005)
    await run.runner.aclose(close_store=False)
    assert run.runner.runs == 3


async def test_a_failed_save_is_logged_and_the_next_one_catches_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "cursors.sqlite"
    book = CatchUpBook()
    store = SQLiteCursorStore(path, lock_timeout=0.05)
    run = Run("http://127.0.0.1:9/api", book, store=store, save_interval=0.05)
    await run.runner.load("T1:U1")
    await run.runner.load("T2:U2")  # once: the first identity stays
    assert run.runner.scope == "T1:U1"
    caplog.set_level(logging.ERROR, "tests.catchup")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        book.track(live("C1", "101.000000"))
        deadline = time.monotonic() + 3
        while not caplog.records:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        message = caplog.records[0].getMessage()
        assert message.startswith("saving catch-up cursors failed: CursorStoreError: ")
        other.execute("ROLLBACK")
        book.track(live("C1", "102.000000"))
        while other.execute("SELECT ts FROM cursors").fetchall() != [("102.000000",)]:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
    finally:
        other.close()
    saver = run.runner._saver
    assert saver is not None
    assert run.runner in saver
    assert saver.armed
    await run.runner.aclose(close_store=True)
    assert run.runner not in saver
    async with SQLiteCursorStore(path) as again:
        assert await again.load("T1:U1") == {"C1": "102.000000"}


async def test_pages_are_followed_and_a_repeated_cursor_ends_them(
    slack: tuple[Slackish, str], caplog: pytest.LogCaptureFixture
) -> None:
    server, url = slack

    def page(ts: str, cursor: str) -> tuple[int, dict[str, Any]]:
        return 200, {"ok": True, "messages": [item(ts, ts)], "has_more": bool(cursor),
                     "response_metadata": {"next_cursor": cursor}}

    server.script["conversations.history"] = [
        page("103.000000", "p2"), page("102.000000", "p3"),
        page("101.000000", "p2"),  # Slack returns a cursor it returned before: no loop
        (200, {"ok": True, "messages": []}),  # the page before the cursor
    ]
    run = Run(url, CatchUpBook({"C1": CURSOR}))
    caplog.set_level(logging.WARNING, "tests.catchup")
    run.runner.start()
    done = await run.done(timeout=8)
    assert run.texts() == ["101.000000", "102.000000", "103.000000"]
    assert (done.messages, done.calls) == (3, 4)
    sent = [p.get("cursor") for p in server.of("conversations.history")]
    assert sent == [None, "p2", "p3", None]
    assert any("cursor twice" in r.getMessage() for r in caplog.records)


async def test_many_runners_share_one_saver_that_saves_only_moved_cursors() -> None:
    store = MemoryCursorStore()
    saves: list[str] = []
    real_save = store.save

    async def counted(scope: str, cursors: Any) -> None:
        saves.append(scope)
        await real_save(scope, cursors)

    store.save = counted  # type: ignore[method-assign]
    books = [CatchUpBook() for _ in range(50)]
    runs = [Run("http://127.0.0.1:9/api", book, store=store, save_interval=0.05)
            for book in books]
    for i, run in enumerate(runs):
        await run.runner.load(f"T1:U{i}")
    saver = cursor_saver(asyncio.get_running_loop(), 0.05)
    assert all(run.runner._saver is saver for run in runs)  # one for all of them
    assert len(saver) == 50
    assert saver.armed
    rounds = saver.rounds
    while saver.rounds < rounds + 3:  # idle rounds: nothing moved, nothing saved
        await asyncio.sleep(0.01)
    assert saves == []
    books[7].track(live("C1", "101.000000"))
    deadline = time.monotonic() + 3
    while await store.load("T1:U7") != {"C1": "101.000000"}:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    rounds = saver.rounds
    while saver.rounds < rounds + 3:
        await asyncio.sleep(0.01)
    assert saves == ["T1:U7"]  # once, for the one that moved
    for run in runs[:-1]:
        await run.runner.aclose(close_store=False)
    assert len(saver) == 1
    assert saver.armed
    await runs[-1].runner.aclose(close_store=False)
    assert len(saver) == 0
    assert not saver.armed


async def test_cursors_folded_by_a_catch_up_are_saved_and_a_closed_runner_saves_last(
    slack: tuple[Slackish, str],
) -> None:
    _server, url = slack
    store = MemoryCursorStore()
    book = CatchUpBook()
    run = Run(url, book, store=store, save_interval=0.05)
    await run.runner.load("T1:U1")
    book.track(live("C1", "101.000000"))
    run.runner.start()  # its plan folds the cursor: book.latest is empty again
    await run.done()
    assert not book.latest
    deadline = time.monotonic() + 3
    while await store.load("T1:U1") != {"C1": "101.000000"}:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    book.track(live("C1", "102.000000"))
    await run.runner.aclose(close_store=False)  # before the next round: saved on close
    assert await store.load("T1:U1") == {"C1": "102.000000"}


def test_the_saver_checks_its_arguments() -> None:
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(TypeError, match="loop must be an asyncio event loop"):
            cursor_saver(object(), 1.0)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="interval must be a number"):
            cursor_saver(loop, "1")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="interval must be a finite number > 0"):
            cursor_saver(loop, 0.0)
        with pytest.raises(ValueError, match="interval must be a finite number > 0"):
            CursorSaver(loop, float("nan"))
        assert cursor_saver(loop, 1) is cursor_saver(loop, 1.0)
        assert cursor_saver(loop, 1.0) is not cursor_saver(loop, 2.0)
    finally:
        loop.close()
