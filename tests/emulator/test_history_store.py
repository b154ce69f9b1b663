"""The emulator's history store and rate arithmetic, pure: no sockets, no clock."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from slack_rtm.emulator.history import (
    CursorCodec,
    HistoryError,
    HistoryStore,
    Page,
    history_message,
    ts_key,
)
from slack_rtm.emulator.history_controls import HistoryRateLimits

C = "C0GENERAL"


def _msg(
    ts: str, text: str = "", user: str = "U1", channel: str = C, **extra: Any
) -> dict[str, Any]:
    return {"type": "message", "channel": channel, "user": user, "text": text or ts, "ts": ts,
            "event_ts": ts, **extra}  # fmt: skip


def _ts(i: int) -> str:
    return f"1700000000.{i:06d}"


def _filled(n: int, **kw: Any) -> HistoryStore:
    store = HistoryStore(**kw)
    for i in range(1, n + 1):
        assert store.record(_msg(_ts(i)))
    return store


def _texts(page: Page) -> list[str]:
    return [m["text"] for m in page.messages]


def _all_history(store: HistoryStore, channel: str = C, **kw: Any) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(1000):
        page = store.history(channel, cursor=cursor, **kw)
        seen += _texts(page)
        assert page.has_more == bool(page.next_cursor)
        if not page.has_more:
            return seen
        cursor = page.next_cursor
    raise AssertionError("pagination did not end")


def test_ts_key() -> None:
    assert ts_key("1355517523.000005") == 1355517523_000005
    assert ts_key("0") == 0
    assert ts_key("1700000000") == 1700000000_000000
    assert ts_key("1700000000.5") == 1700000000_500000
    for bad in ("", "-1", "1.", ".5", "1.1234567", "abc", "1e9", "١٢", " 1", None, 1.5, "9" * 40):
        assert ts_key(bad) is None, bad


def test_history_message_shape() -> None:
    event = _msg(_ts(1), "hi", team="T1")
    stored = history_message(event)
    assert "channel" not in stored
    assert "event_ts" not in stored
    assert stored == {"user": "U1", "type": "message", "text": "hi", "ts": _ts(1), "team": "T1"}
    assert next(iter(stored)) != "type"  # history keeps no promise that "type" comes first
    assert history_message({"type": "message"}) == {"type": "message"}


def test_newest_first_and_ordering_of_late_arrivals() -> None:
    store = _filled(3)
    store.record(_msg("1600000000.000001", "old"))  # an injected message from the past
    store.record(_msg(_ts(2), "edited 2"))  # the same ts again replaces it
    page = store.history(C)
    assert _texts(page) == [_ts(3), "edited 2", _ts(1), "old"]
    assert page == Page(messages=page.messages, has_more=False, next_cursor="")
    assert store.count(C) == 4
    assert store.history("C0OTHER").messages == []


def test_pages_are_stable_while_messages_arrive() -> None:
    store = _filled(10)
    first = store.history(C, limit=4)
    assert _texts(first) == [_ts(i) for i in (10, 9, 8, 7)]
    assert first.has_more
    store.record(_msg(_ts(11)))  # arrives between pages: not on older pages
    second = store.history(C, limit=4, cursor=first.next_cursor)
    assert _texts(second) == [_ts(i) for i in (6, 5, 4, 3)]
    store.record(_msg(_ts(12)))
    third = store.history(C, limit=4, cursor=second.next_cursor)
    assert _texts(third) == [_ts(2), _ts(1)]
    assert not third.has_more
    assert third.next_cursor == ""
    assert _texts(store.history(C, limit=2)) == [_ts(12), _ts(11)]


def test_exact_page_boundary_has_no_more() -> None:
    store = _filled(4)
    page = store.history(C, limit=4)
    assert len(page.messages) == 4
    assert not page.has_more
    assert page.next_cursor == ""


def test_oldest_latest_exclusive_by_default_and_inclusive() -> None:
    store = _filled(6)
    assert _texts(store.history(C, oldest=_ts(2), latest=_ts(5))) == [_ts(4), _ts(3)]
    inclusive = store.history(C, oldest=_ts(2), latest=_ts(5), inclusive=True)
    assert _texts(inclusive) == [_ts(i) for i in (5, 4, 3, 2)]
    assert _texts(store.history(C, oldest=_ts(4))) == [_ts(6), _ts(5)]
    assert _texts(store.history(C, latest=_ts(2))) == [_ts(1)]
    one = store.history(C, latest=_ts(3), inclusive=True, limit=1)  # fetch one message
    assert _texts(one) == [_ts(3)]
    assert one.has_more
    assert _texts(store.history(C, oldest="", latest="")) == [_ts(i) for i in range(6, 0, -1)]
    assert store.history(C, oldest="1700000000", latest="1700000000.000001").messages == []
    # every page of a range stays in it
    assert _all_history(store, oldest=_ts(1), latest=_ts(6), limit=1) == [
        _ts(i) for i in (5, 4, 3, 2)
    ]


def test_bad_timestamps_and_limits() -> None:
    store = _filled(1)
    with pytest.raises(HistoryError) as info:
        store.history(C, oldest="yesterday")
    assert info.value.code == "invalid_ts_oldest"
    with pytest.raises(HistoryError) as info:
        store.replies(C, _ts(1), latest="-5")
    assert info.value.code == "invalid_ts_latest"
    for bad in (0, -1, True, "10", 1.5):
        with pytest.raises(ValueError, match="limit"):
            store.history(C, limit=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="limit"):
            store.replies(C, _ts(1), limit=bad)  # type: ignore[arg-type]
    for bad_limit in (0, -3, True, "5"):
        with pytest.raises(ValueError, match="limit"):
            HistoryStore(bad_limit)  # type: ignore[arg-type]


def test_cursors_are_bound_to_their_store_and_query() -> None:
    store = _filled(5)
    cursor = store.history(C, limit=2).next_cursor
    assert cursor
    assert store.history(C, limit=3, cursor=cursor).messages  # another limit is fine
    other = _filled(5)
    forged = base64.urlsafe_b64encode(b"next_ts:1700000000000004:0000").decode()
    tampered = base64.urlsafe_b64encode(
        base64.urlsafe_b64decode(cursor).replace(b"next_ts:17", b"next_ts:18")
    ).decode()
    bad_cursors = ["nope", "!!!", forged, tampered, "x" * 600, base64.b64encode(b"\xff").decode()]
    for bad in bad_cursors:
        with pytest.raises(HistoryError) as info:
            store.history(C, cursor=bad)
        assert info.value.code == "invalid_cursor"
    for call in (
        lambda: other.history(C, cursor=cursor),  # another store
        lambda: store.history("C0OTHER", cursor=cursor),  # another channel
        lambda: store.history(C, oldest=_ts(1), cursor=cursor),  # another range
        lambda: store.history(C, latest=_ts(5), inclusive=True, cursor=cursor),
        lambda: store.replies(C, _ts(1), cursor=cursor),  # another method
    ):
        with pytest.raises(HistoryError) as info:
            call()
        assert info.value.code == "invalid_cursor"
    codec = CursorCodec(b"k")
    assert codec.decode(codec.encode("s", 42), "s") == 42
    with pytest.raises(TypeError, match="secret"):
        CursorCodec("k")  # type: ignore[arg-type]


def _thread_store() -> HistoryStore:
    store = HistoryStore()
    store.record(_msg(_ts(1), "parent", user="U1"))
    store.record(_msg(_ts(2), "r1", user="U2", thread_ts=_ts(1)))
    store.record(_msg(_ts(3), "other top"))
    store.record(_msg(_ts(4), "r2", user="U3", thread_ts=_ts(1)))
    store.record(_msg(_ts(5), "r3", user="U2", thread_ts=_ts(1)))
    return store


def test_replies_are_kept_under_their_parent() -> None:
    store = _thread_store()
    history = store.history(C).messages
    assert [m["text"] for m in history] == ["other top", "parent"]  # no replies in history
    parent = history[1]
    assert parent["thread_ts"] == _ts(1)
    assert parent["reply_count"] == 3
    assert parent["reply_users"] == ["U2", "U3"]
    assert parent["reply_users_count"] == 2
    assert parent["latest_reply"] == _ts(5)
    assert "thread_ts" not in history[0]
    page = store.replies(C, _ts(1))
    assert _texts(page) == ["parent", "r1", "r2", "r3"]
    assert all(m["parent_user_id"] == "U1" for m in page.messages[1:])
    assert all(m["thread_ts"] == _ts(1) for m in page.messages)
    assert _texts(store.replies(C, _ts(4))) == _texts(page)  # a reply's ts names its thread
    assert _texts(store.replies(C, _ts(3))) == ["other top"]  # a message with no replies
    assert store.count(C) == 5


def test_replies_pagination_and_range() -> None:
    store = _thread_store()
    first = store.replies(C, _ts(1), limit=1)
    assert _texts(first) == ["parent"]  # the parent counts towards limit
    assert first.has_more
    store.record(_msg(_ts(6), "r4", thread_ts=_ts(1)))  # arrives between pages
    second = store.replies(C, _ts(1), limit=2, cursor=first.next_cursor)
    assert _texts(second) == ["r1", "r2"]
    third = store.replies(C, _ts(1), limit=2, cursor=second.next_cursor)
    assert _texts(third) == ["r3", "r4"]
    assert not third.has_more
    assert third.next_cursor == ""
    ranged = store.replies(C, _ts(1), oldest=_ts(2), latest=_ts(5))
    assert _texts(ranged) == ["parent", "r2"]
    ranged = store.replies(C, _ts(1), oldest=_ts(2), latest=_ts(5), inclusive=True)
    assert _texts(ranged) == ["parent", "r1", "r2", "r3"]
    with pytest.raises(HistoryError) as info:
        store.replies(C, _ts(1), cursor=store.replies(C, _ts(4), limit=1).next_cursor + "x")
    assert info.value.code == "invalid_cursor"


def test_thread_not_found() -> None:
    store = _thread_store()
    for channel, ts in ((C, _ts(99)), (C, "not a ts"), ("C0OTHER", _ts(1))):
        with pytest.raises(HistoryError) as info:
            store.replies(channel, ts)
        assert info.value.code == "thread_not_found"


def test_orphan_reply_is_kept_top_level() -> None:
    store = HistoryStore()
    store.record(_msg(_ts(2), "orphan", thread_ts=_ts(1)))
    assert _texts(store.history(C)) == ["orphan"]
    assert store.history(C).messages[0]["thread_ts"] == _ts(1)


def test_message_changed_and_deleted() -> None:
    store = _thread_store()
    edited = {"type": "message", "user": "U1", "text": "PARENT", "ts": _ts(1),
              "edited": {"user": "U1", "ts": _ts(7)}}  # fmt: skip
    changed = {"type": "message", "subtype": "message_changed", "hidden": True, "channel": C,
               "ts": _ts(7), "message": edited}  # fmt: skip
    assert store.record(changed)
    parent = store.history(C).messages[1]
    assert parent["text"] == "PARENT"
    assert parent["edited"] == {"user": "U1", "ts": _ts(7)}
    assert parent["reply_count"] == 3  # the thread's fields survive the edit
    reply_changed = {**changed, "message": {"user": "U3", "text": "R2", "ts": _ts(4)}}
    assert store.record(reply_changed)
    assert _texts(store.replies(C, _ts(1)))[2] == "R2"
    assert store.replies(C, _ts(1)).messages[2]["parent_user_id"] == "U1"

    def deleted(ts: str) -> dict[str, Any]:
        return {"type": "message", "subtype": "message_deleted", "hidden": True, "channel": C,
                "ts": _ts(8), "deleted_ts": ts}  # fmt: skip

    assert store.record(deleted(_ts(4)))  # a reply: the parent is counted again
    parent = store.history(C).messages[1]
    assert parent["reply_count"] == 2
    assert parent["reply_users"] == ["U2"]
    assert parent["latest_reply"] == _ts(5)
    assert store.record(deleted(_ts(2)))
    assert store.record(deleted(_ts(5)))
    parent = store.history(C).messages[1]
    assert "reply_count" not in parent
    assert _texts(store.replies(C, _ts(1))) == ["PARENT"]
    assert store.record(deleted(_ts(1)))  # a parent: gone
    assert _texts(store.history(C)) == ["other top"]
    assert store.count(C) == 1
    for ignored in (
        deleted(_ts(99)),
        {**deleted(_ts(3)), "channel": "C0OTHER"},
        {**changed, "message": {"ts": _ts(99)}},
        {**changed, "message": "nope"},
        {**changed, "message": {"ts": "bad"}},
        {**changed, "channel": "C0OTHER"},
        {
            "type": "message",
            "subtype": "channel_history_changed",
            "hidden": True,
            "channel": C,
            "ts": _ts(9),
        },
        {"type": "message", "channel": C, "ts": "bad"},
        {"type": "message", "ts": _ts(9)},
        {"type": "user_typing", "channel": C, "ts": _ts(9)},
    ):
        assert not store.record(ignored), ignored
    assert store.count(C) == 1


def test_store_is_bounded_per_conversation() -> None:
    store = _filled(25, limit=10)
    assert store.count(C) == 10
    assert _all_history(store) == [_ts(i) for i in range(25, 15, -1)]
    # replies count too; the oldest top-level message goes with its thread
    store = HistoryStore(limit=5)
    store.record(_msg(_ts(1), "p1"))
    store.record(_msg(_ts(2), "r", thread_ts=_ts(1)))
    store.record(_msg(_ts(3), "r", thread_ts=_ts(1)))
    store.record(_msg(_ts(4), "p2"))
    store.record(_msg(_ts(5), "p3"))
    assert store.count(C) == 5
    store.record(_msg(_ts(6), "p4"))
    assert _texts(store.history(C)) == ["p4", "p3", "p2"]
    assert store.count(C) == 3
    with pytest.raises(HistoryError):
        store.replies(C, _ts(2))
    # one thread alone over the limit loses its oldest replies, not its parent
    store = HistoryStore(limit=3)
    store.record(_msg(_ts(1), "p"))
    for i in range(2, 7):
        store.record(_msg(_ts(i), f"r{i}", thread_ts=_ts(1)))
    assert _texts(store.replies(C, _ts(1))) == ["p", "r5", "r6"]
    store.clear(C)
    assert store.count(C) == 0
    store.record(_msg(_ts(1)))
    store.clear()
    assert store.count(C) == 0
    assert repr(store) == "<HistoryStore conversations=0 limit=3>"


def test_rate_limits_pure() -> None:
    limits = HistoryRateLimits()
    assert limits.max_limit("conversations.history") == 999
    assert limits.max_limit("conversations.replies") == 1000
    for _ in range(50):
        assert limits.check("t", "conversations.history", 0.0) is None
    assert limits.check("t", "conversations.history", 1.0) == 59
    assert limits.check("t", "conversations.replies", 1.0) is None  # per method
    assert limits.check("u", "conversations.history", 1.0) is None  # per token
    assert limits.check("t", "conversations.history", 60.0) is None  # the window moved
    limits.configure(1, max_limit=15, method="conversations.history")
    assert limits.max_limit("conversations.history") == 15
    assert limits.max_limit("conversations.replies") == 1000
    assert limits.check("t", "conversations.history", 100.0) is None
    assert limits.check("t", "conversations.history", 100.5) == 60
    limits.configure(None)
    assert all(limits.check("t", "conversations.history", 101.0) is None for _ in range(100))
    assert limits.max_limit("conversations.history") == 999
    limits.force(2, retry_after=7)
    assert limits.check("t", "conversations.replies", 102.0) == 7
    assert limits.check("u", "conversations.history", 102.0) == 7
    assert limits.check("t", "conversations.replies", 102.0) is None
    for bad in (
        lambda: limits.configure(0),
        lambda: limits.configure(1, max_limit=0),
        lambda: limits.configure(1, method="chat.postMessage"),
        lambda: limits.force(-1),
        lambda: limits.force(1, retry_after=-1),
        lambda: limits.configure(True),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValueError, match=r"per_minute|max_limit|method|n must|retry_after"):
            bad()


def test_trimming_many_keeps_order_and_lookups() -> None:
    store = _filled(300, limit=50)  # trims 250 times: the dead prefix is cut off on the way
    assert store.count(C) == 50
    assert _all_history(store, limit=7) == [_ts(i) for i in range(300, 250, -1)]
    assert store.record(_msg(_ts(100), "too old"))  # inserted, then trimmed as the oldest
    assert store.count(C) == 50
    assert _texts(store.history(C, limit=1, oldest=_ts(250), inclusive=True)) == [_ts(300)]
    assert _texts(store.history(C, latest=_ts(252))) == [_ts(251)]
    deleted = {"type": "message", "subtype": "message_deleted", "channel": C, "ts": _ts(999),
               "deleted_ts": _ts(260)}  # fmt: skip
    assert store.record(deleted)
    assert store.record(_msg(_ts(270), "edited"))
    assert store.record(_msg(_ts(301), "reply", thread_ts=_ts(251)))
    assert _texts(store.replies(C, _ts(301))) == [_ts(251), "reply"]
    history = _all_history(store, limit=9)
    assert len(history) == 49  # 50 - the deleted one; the reply is the 50th message
    assert _ts(260) not in history
    assert "edited" in history
    assert _ts(251) in history
