"""decode_frame on bad input: every category becomes a MalformedFrame with a useful error."""

from __future__ import annotations

import json

import pytest

from slack_rtm.session.events import (
    MALFORMED_TEXT_LIMIT,
    Event,
    MalformedFrame,
    Message,
    Pong,
    Reply,
    UnknownEvent,
    decode_frame,
)


def malformed(data: bytes | str) -> MalformedFrame:
    event = decode_frame(data)
    assert isinstance(event, MalformedFrame), event
    assert event.type == "malformed"
    return event


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (b"", "invalid JSON"),
        (b"{", "invalid JSON"),
        (b'{"type":"message"', "invalid JSON"),
        (b'{"type":"message"} {}', "trailing characters"),
        (b"{'type':'message'}", "invalid JSON"),
        (b'{"type":"message","text":NaN}', "invalid JSON"),
        (b'{"type":"message","n":Infinity}', "invalid JSON"),
        (b"hello", "invalid JSON"),
        (b'{"type":"message","text":"a\\ud800"}', "invalid JSON"),  # lone escaped surrogate
    ],
)
def test_invalid_json(frame: bytes, expected: str) -> None:
    m = malformed(frame)
    assert expected in m.error
    assert m.error.startswith("invalid JSON")
    assert m.raw == {}
    assert m.event_type is None


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        (b"[]", "an array"),
        (b'[{"type":"message"}]', "an array"),
        (b'"message"', "a string"),
        (b"42", "a number"),
        (b"4.5", "a number"),
        (b"true", "a boolean"),
        (b"null", "null"),
    ],
)
def test_not_an_object(frame: bytes, kind: str) -> None:
    m = malformed(frame)
    assert m.error == f"expected a JSON object, got {kind}"
    assert m.text == frame.decode()
    assert m.raw == {}


def test_invalid_utf8() -> None:
    m = malformed(b'{"type":"message","text":"caf\xc3"}')  # truncated 2-byte sequence
    assert "utf-8" in m.error.lower()  # msgspec < 0.23 raises UnicodeError, later DecodeError
    assert m.text.startswith('{"type":"message","text":"caf')
    assert m.text.endswith('\ufffd"}')  # shown with U+FFFD, never raises
    m2 = malformed(b'{"type":"\xff\xfe"}')
    assert "utf-8" in m2.error.lower()


def test_lone_surrogate_in_str_input() -> None:
    m = malformed('{"type":"message","text":"\ud800"}')
    assert "invalid text encoding" in m.error
    m.text.encode("utf-8")  # printable: the surrogate was replaced


def test_missing_type() -> None:
    m = malformed(b'{"channel":"C1","text":"hi"}')
    assert m.error == "no `type` and no `reply_to`: neither an event nor a reply"
    assert m.raw == {"channel": "C1", "text": "hi"}
    assert malformed(b"{}").raw == {}


@pytest.mark.parametrize(
    ("frame", "got"),
    [
        (b'{"type":5}', "a number"),
        (b'{"type":null}', "null"),
        (b'{"type":["message"]}', "an array"),
        (b'{"type":{"a":1}}', "an object"),
        (b'{"type":true}', "a boolean"),
        (b'{"type":""}', "''"),
    ],
)
def test_bad_type(frame: bytes, got: str) -> None:
    m = malformed(frame)
    assert m.error == f"`type` must be a non-empty string, got {got}"
    assert m.raw == json.loads(frame)
    assert m.event_type is None


@pytest.mark.parametrize(
    ("frame", "path"),
    [
        (b'{"type":"message","text":123}', "$.text"),
        (b'{"type":"message","channel":{"id":"C1"}}', "$.channel"),
        (b'{"type":"message","hidden":"yes"}', "$.hidden"),
        (b'{"type":"message","suppress_notification":1}', "$.suppress_notification"),
        (b'{"type":"message","edited":"U1"}', "$.edited"),
        (b'{"type":"message","message":{"text":5}}', "$.message.text"),
        (b'{"type":"presence_change","users":"U1"}', "$.users"),
        (b'{"type":"presence_change","users":["U1",2]}', "$.users[1]"),
        (b'{"type":"channel_created","channel":"C1"}', "$.channel"),
        (b'{"type":"team_join","user":"U1"}', "$.user"),
        (b'{"type":"error","error":"boom"}', "$.error"),
        (b'{"type":"pong","reply_to":"1"}', "$.reply_to"),
    ],
)
def test_known_type_with_wrong_field_type(frame: bytes, path: str) -> None:
    m = malformed(frame)
    kind = json.loads(frame)["type"]
    assert m.event_type == kind
    assert m.error.startswith(f"invalid `{kind}` event: ")
    assert path in m.error
    assert m.raw == json.loads(frame)  # everything Slack sent is still reachable


@pytest.mark.parametrize(
    ("frame", "path"),
    [
        (b'{"reply_to":"1","ok":true}', "$.reply_to"),
        (b'{"reply_to":1.5,"ok":true}', "$.reply_to"),
        (b'{"reply_to":null,"ok":true}', "$.reply_to"),
        (b'{"reply_to":1,"ok":"true"}', "$.ok"),
        (b'{"reply_to":1,"ok":false,"error":"x"}', "$.error"),
        (b'{"reply_to":1,"ok":false,"error":{"code":"2","msg":"m"}}', "$.error.code"),
        (b'{"reply_to":1,"ok":true,"ts":1355517523.000005}', "$.ts"),
    ],
)
def test_invalid_reply(frame: bytes, path: str) -> None:
    m = malformed(frame)
    assert m.error.startswith("invalid reply: ")
    assert path in m.error
    assert m.raw == json.loads(frame)


def test_deep_nesting() -> None:
    depth = 10_000
    for frame in (
        b"[" * depth + b"]" * depth,
        b'{"type":"message","x":' + b"[" * depth + b"]" * depth + b"}",
        b'{"a":' * depth + b"1" + b"}" * depth,
        b'{"type":"unknown_thing","x":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}",
    ):
        m = malformed(frame)
        assert m.error == "JSON nested too deeply"
        assert len(m.text) == MALFORMED_TEXT_LIMIT


def test_huge_numbers() -> None:
    big = b"1" * 5000
    assert malformed(big).error == "JSON has a number out of range"
    assert malformed(b"1e400").error == "JSON has a number out of range"
    # In a field nobody declared: the event survives and .raw keeps the value.
    u = decode_frame(b'{"type":"x_future","n":123456789012345678901234567890}')
    assert type(u) is UnknownEvent
    assert u.raw["n"] == 123456789012345678901234567890
    m = decode_frame(b'{"type":"message","text":"t","n":' + big + b"}")
    assert type(m) is Message
    assert m.raw["type"] == "message"  # the 5,000-digit number becomes a float, not an error
    # In a declared int field: still an int, exactly (the session then finds no such id).
    p = decode_frame(b'{"type":"pong","reply_to":123456789012345678901234567890}')
    assert type(p) is Pong
    assert p.reply_to == 123456789012345678901234567890
    r = decode_frame(b'{"reply_to":123456789012345678901234567890,"ok":true}')
    assert type(r) is Reply
    assert r.reply_to == 123456789012345678901234567890
    assert r.ok is True


def test_large_frames() -> None:
    text = "x" * 1_000_000
    big = json.dumps({"type": "message", "channel": "C1", "text": text}).encode()
    m = decode_frame(big)
    assert type(m) is Message
    assert m.text == text
    junk = b"{" + b"x" * 1_000_000
    bad = malformed(junk)
    assert len(bad.text) == MALFORMED_TEXT_LIMIT
    assert bad.text == junk[:MALFORMED_TEXT_LIMIT].decode()


def test_malformed_text_redacts_tokens() -> None:
    m = malformed(b'{"type":"message","text":"token xoxb-1234-5678-abcdefABCDEF", oops}')
    assert "xoxb-1234-5678-abcdefABCDEF" not in m.text
    assert "xoxb-" in m.text
    assert "abcdefABCDEF" not in repr(m)


def test_duplicate_keys_never_raise() -> None:
    # The stdlib keeps the last value; whatever the fast path did, the result is consistent.
    e = decode_frame(b'{"type":"message","type":"hello"}')
    assert e.type in {"message", "hello"}
    assert not isinstance(e, MalformedFrame)
    r = decode_frame(b'{"reply_to":1,"reply_to":2,"ok":true}')
    assert isinstance(r, Reply)
    assert r.reply_to in {1, 2}


def test_good_frames_around_bad_ones_still_decode() -> None:
    # One bad frame changes nothing for the next (no state in the decoder).
    assert isinstance(decode_frame(b"[1"), MalformedFrame)
    assert isinstance(decode_frame(b'{"type":"pong","reply_to":1,"time":2}'), Pong)


def test_unknown_type_with_a_reply_to_of_5000_digits() -> None:
    # Too long for msgspec even as ``Any``: the stdlib fallback still keeps the event.
    digits = b"7" * 5000
    e = decode_frame(b'{"type":"x_unknown","reply_to":' + digits + b"}")
    assert type(e) is UnknownEvent
    assert e.type == "x_unknown"
    assert e.raw["reply_to"] == float(digits)  # beyond the stdlib's int digit limit: a float


def test_bytes_subclass_and_base_event() -> None:
    class Frame(bytes):
        pass

    e = decode_frame(Frame(b'{"type":"pong","reply_to":1}'))
    assert type(e) is Pong
    assert e.raw == {"type": "pong", "reply_to": 1}
    assert Event().type == ""  # the base is abstract in spirit: concrete classes set a type
    assert Event().raw == {}
