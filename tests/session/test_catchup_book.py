"""CatchUpBook without I/O: plan order, cursors, holding, merging, duplicates, event shape."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from slack_rtm.session.catchup import CatchUpBook, backfilled_message
from slack_rtm.session.events import Event, Message, decode_frame


def live(channel: str, ts: str, text: str = "live") -> Any:
    event = decode_frame(
        msgspec.json.encode(
            {"type": "message", "channel": channel, "user": "U1", "text": text, "ts": ts}
        )
    )
    assert isinstance(event, Message)
    return event


def fetched(channel: str, ts: str, text: str = "old") -> Event:
    return backfilled_message(channel, {"type": "message", "user": "U1", "text": text, "ts": ts})


def test_plan_is_most_recent_cursor_first() -> None:
    book = CatchUpBook({"C1": "100.000001", "C2": "300.000000", "C3": "200.000000"})
    assert book.plan() == [("C2", "300.000000"), ("C3", "200.000000"), ("C1", "100.000001")]
    assert CatchUpBook().plan() == []


def test_merge_never_moves_a_cursor_back() -> None:
    book = CatchUpBook({"C1": "200.000000"})
    book.merge({"C1": "100.000000", "C2": "50.000000"})
    assert book.cursors == {"C1": "200.000000", "C2": "50.000000"}
    book.merge({"C1": "200.000001"})
    assert book.cursors["C1"] == "200.000001"
    # a shorter fraction that is numerically greater still wins (no text comparison)
    book.merge({"C2": "100.5"})
    assert book.cursors["C2"] == "100.5"


def test_constructor_validates_max_threads() -> None:
    with pytest.raises(TypeError, match="max_threads"):
        CatchUpBook(max_threads=True)
    with pytest.raises(ValueError, match="max_threads"):
        CatchUpBook(max_threads=-1)


def test_intercept_holds_only_holding_channels() -> None:
    book = CatchUpBook({"C1": "100.000000", "C2": "100.000000"})
    assert not book.filtering
    book.begin(["C1"])
    assert book.filtering
    assert book.intercept(live("C1", "101.000000")) is True
    assert book.intercept(live("C2", "101.000000")) is False
    assert book.held_count == 1
    no_channel = decode_frame(b'{"type":"message","text":"x","ts":"1.0"}')
    assert isinstance(no_channel, Message)
    assert book.intercept(no_channel) is False


def test_release_merges_oldest_first_each_ts_once_live_wins() -> None:
    book = CatchUpBook({"C1": "100.000000"})
    book.begin(["C1"])
    held_a = live("C1", "103.000000", "live-103")
    held_b = live("C1", "105.000000", "live-105")
    assert book.intercept(held_b)
    assert book.intercept(held_a)
    history = [
        fetched("C1", t, f"old-{t}")
        for t in ("104.000000", "103.000000", "101.000000", "100.000000", "99.000000")
    ]
    out = book.release("C1", history)
    assert [e.ts for e in out] == ["101.000000", "103.000000", "104.000000", "105.000000"]
    assert out[1] is held_a
    assert out[3] is held_b
    assert [e.backfilled for e in out] == [True, False, True, False]
    assert book.holding == set()
    assert book.held_count == 0
    # a late live copy of a backfilled message is dropped until forget(); others are not
    assert book.filtering
    assert book.intercept(live("C1", "104.000000")) is True
    assert book.intercept(live("C1", "101.000000")) is True
    assert book.intercept(live("C1", "106.000000")) is False
    assert book.intercept(live("C1", "103.000000")) is False  # it was delivered live
    book.forget()
    assert not book.filtering
    assert book.intercept(live("C1", "104.000000")) is False


def test_release_without_cursor_keeps_everything_and_duplicates_in_history_once() -> None:
    book = CatchUpBook()
    book.begin(["C9"])
    out = book.release(
        "C9",
        [fetched("C9", "2.000000"), fetched("C9", "1.000000"), fetched("C9", "2.000000", "again")],
    )
    assert [e.ts for e in out] == ["1.000000", "2.000000"]
    assert out[1].text == "old"  # the first fetched copy


def test_release_of_one_channel_keeps_holding_the_others() -> None:
    book = CatchUpBook({"C1": "1.000000", "C2": "1.000000"})
    book.begin(["C1", "C2"])
    book.intercept(live("C2", "2.000000"))
    assert book.release("C1", []) == []
    assert book.holding == {"C2"}
    assert book.filtering
    assert book.intercept(live("C2", "3.000000")) is True
    assert [e.ts for e in book.release("C2", [])] == ["2.000000", "3.000000"]
    assert not book.filtering


def test_note_thread_is_bounded_most_recent_kept() -> None:
    book = CatchUpBook(max_threads=2)
    for ts in ("1.0", "2.0", "3.0"):
        book.note_thread("C1", ts)
    assert list(book.threads["C1"]) == ["2.0", "3.0"]
    book.note_thread("C1", "2.0")  # active again: most recent
    book.note_thread("C1", "4.0")
    assert list(book.threads["C1"]) == ["2.0", "4.0"]
    off = CatchUpBook(max_threads=0)
    off.note_thread("C1", "1.0")
    assert off.threads == {}


def test_backfilled_message_shape() -> None:
    item = {
        "user": "U1",
        "text": "hi",
        "ts": "5.000001",
        "type": "message",
        "channel": "WRONG",
        "thread_ts": "4.000000",
    }
    event = backfilled_message("C7", item)
    assert isinstance(event, Message)
    assert event.backfilled is True
    assert event.channel == "C7"
    assert event.thread_ts == "4.000000"
    raw = event.raw
    assert list(raw)[:2] == ["type", "channel"]
    assert raw["type"] == "message"
    assert raw["channel"] == "C7"
    assert raw["text"] == "hi"
    assert raw["ts"] == "5.000001"
    assert live("C7", "1.0").backfilled is False


def test_backfilled_message_never_raises_on_junk() -> None:
    event = backfilled_message("C1", {"ts": 5, "text": ["not", "text"]})
    assert event.backfilled is True


def test_release_since_uses_the_catch_ups_own_cursor() -> None:
    book = CatchUpBook({"C1": "100.000001"})
    book.begin(["C1"])
    fetched = [backfilled_message("C1", {"ts": ts, "text": ts})
               for ts in ("100.000001", "100.000002", "100.000003")]
    out = book.release("C1", fetched, since="100.000002")
    assert [e.ts for e in out] == ["100.000003"]


def test_drop_forgets_a_conversation_even_with_unsynced_deliveries() -> None:
    book = CatchUpBook({"C1": "100.000001", "C2": "100.000001"})
    book.note_thread("C1", "100.000001")
    book.track(backfilled_message("C1", {"ts": "100.000009"}))  # noted, not synced yet
    book.drop("C1")
    assert "C1" not in book.sync()
    assert "C1" not in book.threads
    assert book.cursors == {"C2": "100.000001"}


def test_track_holds_while_filtering_and_notes_threads() -> None:
    book = CatchUpBook({"C1": "100.000000"})
    reply = decode_frame(
        msgspec.json.encode(
            {"type": "message", "channel": "C2", "user": "U1", "text": "r", "ts": "101.000000",
             "thread_ts": "99.000000"}
        )
    )
    assert isinstance(reply, Message)
    assert book.track(reply) is True
    assert book.threads == {"C2": {"99.000000": None}}
    book.begin(["C1"])
    held = live("C1", "101.000000")
    assert book.track(held) is False  # held: not noted for the cursor
    assert book.sync() == {"C1": "100.000000", "C2": "101.000000"}
    assert book.release("C1", []) == [held]


def test_sync_skips_what_is_not_a_slack_ts() -> None:
    book = CatchUpBook({"C1": "100.000000"})
    book.latest.update({"C1": "junk", None: "101.000000", "C2": None, "C3": "102.5"})
    assert book.sync() == {"C1": "100.000000", "C3": "102.5"}
    assert book.latest == {}


def test_release_keeps_untimed_held_messages_last_and_drops_untimed_history() -> None:
    book = CatchUpBook({"C1": "100.000000"})
    book.begin(["C1"])
    no_ts = decode_frame(b'{"type":"message","channel":"C1","text":"no ts"}')
    assert isinstance(no_ts, Message)
    assert book.intercept(no_ts)
    assert book.intercept(live("C1", "102.000000"))
    out = book.release(
        "C1",
        [fetched("C1", "junk"), fetched("C1", "101.000000"),
         backfilled_message("C1", {"type": "message", "text": "no ts either"})],
    )
    assert [e.ts for e in out] == ["101.000000", "102.000000", None]
    assert out[-1] is no_ts


def test_release_without_a_cursor_puts_what_is_not_a_slack_ts_last() -> None:
    book = CatchUpBook()
    book.begin(["C1"])
    out = book.release("C1", [fetched("C1", "zz"), fetched("C1", "5.000000"),
                              fetched("C1", "aa")])
    assert [e.ts for e in out] == ["5.000000", "aa", "zz"]


def test_own_acked_messages_are_left_out_of_history() -> None:
    book = CatchUpBook({"C1": "100.000001"})
    book.note_own("C1", "100.000002")
    book.begin(["C1"])
    fetched = [backfilled_message("C1", {"ts": ts, "text": ts})
               for ts in ("100.000002", "100.000003")]
    assert [e.ts for e in book.release("C1", fetched)] == ["100.000003"]


def test_own_messages_remembered_are_bounded() -> None:
    from slack_rtm.session.catchup import OWN_KEPT

    book = CatchUpBook({"C1": "1.000000"})
    for i in range(OWN_KEPT + 5):
        book.note_own("C1", f"2.{i:06d}")
    book.begin(["C1"])
    fetched = [backfilled_message("C1", {"ts": "2.000000"}),
               backfilled_message("C1", {"ts": f"2.{OWN_KEPT + 4:06d}"})]
    assert [e.ts for e in book.release("C1", fetched)] == ["2.000000"]  # the oldest forgotten
