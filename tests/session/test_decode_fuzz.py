"""Fuzzing decode_frame: whatever arrives, it returns an event and never raises.

``SLACK_RTM_FUZZ_EXAMPLES`` sets the total number of hypothesis examples across the fuzz tests
(default 2,000, shared evenly); a long run can set 20000 or more.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slack_rtm.session import events as ev
from slack_rtm.session.events import (
    MALFORMED_TEXT_LIMIT,
    Event,
    MalformedFrame,
    Reply,
    UnknownEvent,
    WireEvent,
    decode_frame,
)

_FUZZ_TESTS = 6
TOTAL = int(os.environ.get("SLACK_RTM_FUZZ_EXAMPLES", "2000"))
FUZZ = settings(
    max_examples=max(1, TOTAL // _FUZZ_TESTS),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

KNOWN = sorted(vars(cls)["type"] for cls in ev.WIRE_EVENTS)
FIELDS = sorted({f for cls in ev.WIRE_EVENTS for f in cls.__struct_fields__})
KEYS = st.sampled_from(["type", "reply_to", "ok", "error", "code", "msg", *FIELDS]) | st.text(
    max_size=8
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(KNOWN)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=10,
)
SMALL_JSON = SCALARS | st.lists(SCALARS, max_size=3) | st.dictionaries(KEYS, SCALARS, max_size=3)

SEEDS = [
    b'{"type":"hello"}',
    b'{"type":"message","channel":"C2147483705","user":"U2147483697","text":"Hello world",'
    b'"ts":"1355517523.000005","event_ts":"1355517523.000005","team":"T3YS5EAL9"}',
    b'{"type":"message","subtype":"message_changed","hidden":true,"channel":"C1",'
    b'"message":{"type":"message","user":"U1","text":"hi","edited":{"user":"U1","ts":"1.2"}}}',
    b'{"type":"presence_change","users":["U1","U2"],"presence":"away"}',
    b'{"type":"reaction_added","user":"U1","reaction":"x","item":{"type":"message","ts":"1.2"}}',
    b'{"type":"channel_created","channel":{"id":"C1","name":"n","created":1485975458}}',
    b'{"type":"team_join","user":{"id":"U1","profile":{"real_name":"R"},"tz_offset":-28800}}',
    b'{"ok":true,"reply_to":1,"ts":"1355517523.000005","text":"Hello world"}',
    b'{"ok":false,"reply_to":1,"error":{"code":2,"msg":"message text is missing"}}',
    b'{"type":"pong","reply_to":3,"time":1403299273342}',
    b'{"type":"error","error":{"code":1,"msg":"Socket URL has expired"}}',
    b'{"type":"desktop_notification","title":"t","content":"c"}',
]


def check(data: bytes | bytearray | memoryview | str) -> Event:
    """The invariants that hold for every input."""
    event = decode_frame(data)
    assert isinstance(event, (WireEvent, UnknownEvent, Reply, MalformedFrame))
    assert isinstance(event.type, str)
    assert event.type
    raw = event.raw
    assert isinstance(raw, dict)
    assert event.raw is raw
    repr(event)
    if isinstance(event, MalformedFrame):
        assert event.error
        assert len(event.text) <= MALFORMED_TEXT_LIMIT
        event.text.encode("utf-8")  # always printable
    return event


def check_object(obj: dict[str, Any], event: Event) -> None:
    """For a valid JSON object: the classification the module documents."""
    kind = obj.get("type")
    if isinstance(event, MalformedFrame):
        if isinstance(kind, str) and kind:
            assert kind in KNOWN  # only known types can fail their model
            assert event.event_type == kind
        return
    assert event.raw == obj
    if "type" in obj:
        assert event.type == kind
        assert isinstance(event, UnknownEvent) == (kind not in KNOWN)
    else:
        assert isinstance(event, Reply)
        assert event.reply_to == obj["reply_to"]


@FUZZ
@given(JSON)
def test_any_json_value(value: Any) -> None:
    text = json.dumps(value)
    event = check(text.encode())
    check(text)
    if isinstance(value, dict):
        check_object(value, event)
    else:
        assert isinstance(event, MalformedFrame)


@FUZZ
@given(
    st.sampled_from([*KNOWN, "reply", "x_unknown"]), st.dictionaries(KEYS, SMALL_JSON, max_size=6)
)
def test_known_types_with_random_fields(kind: str, fields: dict[str, Any]) -> None:
    obj = dict(fields)
    if kind == "reply":
        obj.pop("type", None)
        obj.setdefault("reply_to", 1)
    else:
        obj["type"] = kind
    event = check(json.dumps(obj).encode())
    check_object(obj, event)


@FUZZ
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_frames(seed: bytes, data: st.DataObject) -> None:
    frame = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        pos = data.draw(st.integers(0, max(0, len(frame) - 1)))
        if op == "flip" and frame:
            frame[pos] = data.draw(st.integers(0, 255))
        elif op == "insert":
            frame[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del frame[pos : pos + data.draw(st.integers(1, 8))]
        else:
            del frame[pos:]
    check(bytes(frame))
    check(frame)
    check(memoryview(frame))


@FUZZ
@given(st.sampled_from(SEEDS), KEYS, JSON)
def test_seed_with_a_field_replaced(seed: bytes, key: str, value: Any) -> None:
    obj = json.loads(seed)
    obj[key] = value
    event = check(json.dumps(obj).encode())
    check_object(obj, event)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    check(data)
    check(b'{"type":"message","text":"' + data + b'"}')  # often invalid UTF-8 or bad escapes


@FUZZ
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    check(text)  # lone surrogates included
    check(json.dumps({"type": "message", "text": text}, ensure_ascii=False))
    check('{"type":"message","text":"' + text + '"}')


@pytest.mark.parametrize("depth", [100, 999, 1000, 5000, 10_000, 100_000])
@pytest.mark.parametrize("shape", ["array", "object", "in_message", "in_unknown", "in_reply"])
def test_deep_nesting(depth: int, shape: str) -> None:
    if shape == "array":
        body = b"[" * depth + b"]" * depth
    else:
        body = b'{"a":' * depth + b"1" + b"}" * depth
    wrappers = {
        "array": b"%s",
        "object": b"%s",
        "in_message": b'{"type":"message","text":"t","x":%s}',
        "in_unknown": b'{"type":"x_unknown","x":%s}',
        "in_reply": b'{"reply_to":1,"ok":true,"x":%s}',
    }
    event = check(wrappers[shape] % body)
    if depth >= 5000:
        assert isinstance(event, MalformedFrame)
        assert event.error == "JSON nested too deeply"


@pytest.mark.parametrize("digits", [19, 20, 40, 4300, 4301, 10_000, 100_000])
def test_huge_integers(digits: int) -> None:
    number = b"9" * digits
    for frame in (
        number,
        b'{"type":"message","text":"t","n":' + number + b"}",
        b'{"type":"pong","reply_to":' + number + b"}",
        b'{"type":"x_unknown","n":' + number + b"}",
        b'{"reply_to":' + number + b',"ok":true}',
        b'{"type":"message","reply_count":-' + number + b"}",
        b'{"type":"message","n":' + number + b".5e" + number + b"}",
    ):
        check(frame)


def test_one_megabyte_frames() -> None:
    mb = 1 << 20
    check(b'{"type":"message","text":"' + b"a" * mb + b'"}')
    check(b'{"type":"x_unknown","blob":"' + b"\xc3\xa9" * (mb // 2) + b'"}')
    check(b'{"type":"message","blocks":[' + b"{}," * (mb // 3) + b"{}]}")
    check(b"[" + b"1," * (mb // 2) + b"1]")
    check(b"\xff" * mb)
    check(b'{"type":"message","text":"' + b"a" * mb)  # truncated
