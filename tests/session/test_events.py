"""decode_frame on well-formed frames: every typed event, replies, echoes, unknown types, .raw."""

from __future__ import annotations

import gc
import json
from typing import Any

import msgspec
import pytest

from slack_rtm.session import events as ev
from slack_rtm.session.events import (
    ChannelCreated,
    ErrorEvent,
    Event,
    ImCreated,
    MalformedFrame,
    MemberJoinedChannel,
    Message,
    PresenceChange,
    ReactionAdded,
    Reply,
    TeamJoin,
    UnknownEvent,
    UserTyping,
    decode_frame,
)

# PROTOCOL §4.3, verbatim.
MESSAGE = (
    '{"type":"message","channel":"C2147483705","user":"U2147483697","text":"Hello world",'
    '"ts":"1355517523.000005","event_ts":"1355517523.000005","team":"T3YS5EAL9",'
    '"client_msg_id":"b219e0ef-ce45-4ef8-b933-0b380144d800","suppress_notification":false,'
    '"source_team":"T3YS5EAL9","user_team":"T3YS5EAL9"}'
)
MESSAGE_CHANGED = (
    '{"type":"message","subtype":"message_changed","hidden":true,"channel":"C2147483705",'
    '"ts":"1358878755.000001","event_ts":"1358878755.000001",'
    '"message":{"type":"message","user":"U2147483697","text":"Hello, world!",'
    '"ts":"1355517523.000005","edited":{"user":"U2147483697","ts":"1358878755.000001"}},'
    '"previous_message":{"type":"message","user":"U2147483697","text":"Hello world",'
    '"ts":"1355517523.000005"}}'
)
MESSAGE_DELETED = (
    '{"type":"message","subtype":"message_deleted","hidden":true,"channel":"C024BE91L",'
    '"ts":"1358878755.000001","deleted_ts":"1358878749.000002","event_ts":"1358878755.000002"}'
)
BOT_MESSAGE = (
    '{"type":"message","subtype":"bot_message","channel":"C024BE91L","ts":"1358877455.000010",'
    '"text":"Pushing is the answer","bot_id":"BB12033","username":"github","icons":{}}'
)
USER_TYPING = '{"type":"user_typing","channel":"D3ZEQULHZ","user":"U407ABLLW"}'
MEMBER_JOINED = (
    '{"type":"member_joined_channel","user":"W123ABC456","channel":"C123ABC456",'
    '"channel_type":"C","team":"T123ABC456","inviter":"U123456789"}'
)
REACTION_ADDED = (
    '{"type":"reaction_added","user":"U407ABLLW","reaction":"grinning","item_user":"U407ABLLW",'
    '"item":{"type":"message","channel":"D3ZEQULHZ","ts":"1485975421.000002"},'
    '"event_ts":"1485975426.875724","ts":"1485975426.000003"}'
)
CHANNEL_CREATED = (
    '{"type":"channel_created","event_ts":"1485975458.876318","channel":{"id":"C3ZJKCGTU",'
    '"name":"some-channel","is_channel":true,"created":1485975458,"creator":"U407ABLLW"}}'
)
TEAM_JOIN = (
    '{"type":"team_join","cache_ts":1485975606,"event_ts":"1485975606.879253",'
    '"user":{"id":"U4096CBHC","team_id":"T3YS5EAL9","name":"chuck","deleted":false,'
    '"real_name":"Chuck Testuser","tz":"America/Los_Angeles","tz_offset":-28800,"is_bot":false,'
    '"is_admin":false,"profile":{"real_name":"Chuck Testuser","display_name":""}}}'
)
IM_CREATED = (
    '{"type":"im_created","user":"U4096CBHC","event_ts":"1485975606.879278",'
    '"channel":{"id":"D409J34CF","user":"U4096CBHC","is_im":true,"is_open":false,'
    '"created":1485975606}}'
)
EXAMPLES = [
    MESSAGE,
    MESSAGE_CHANGED,
    MESSAGE_DELETED,
    BOT_MESSAGE,
    USER_TYPING,
    MEMBER_JOINED,
    REACTION_ADDED,
    CHANNEL_CREATED,
    TEAM_JOIN,
    IM_CREATED,
]


def decode(text: str) -> Any:
    return decode_frame(text.encode())


def test_message() -> None:
    m = decode(MESSAGE)
    assert type(m) is Message
    assert m.type == "message"
    assert (m.channel, m.user, m.text) == ("C2147483705", "U2147483697", "Hello world")
    assert m.ts == m.event_ts == "1355517523.000005"
    assert (m.team, m.source_team, m.user_team) == ("T3YS5EAL9",) * 3
    assert m.client_msg_id == "b219e0ef-ce45-4ef8-b933-0b380144d800"
    assert m.subtype is None
    assert m.thread_ts is None
    assert m.reply_to is None
    assert m.hidden is False
    assert m.suppress_notification is False
    assert m.has_subtype(None)
    assert not m.has_subtype("bot_message")


def test_message_suppress_notification() -> None:
    m = decode(MESSAGE.replace('"suppress_notification":false', '"suppress_notification":true'))
    assert type(m) is Message
    assert m.suppress_notification is True
    assert Message().suppress_notification is False


def test_message_and_reply_fields_are_keyword_only() -> None:
    # Their fields follow the wire order (which may change with Slack's): positional arguments
    # would silently land in other fields, so they are refused.
    with pytest.raises(TypeError):
        Message("C1")  # type: ignore[misc]
    with pytest.raises(TypeError):
        Reply(1, True)  # type: ignore[misc]
    assert Message(channel="C1").channel == "C1"
    assert Reply(reply_to=1, ok=True).ok is True


def test_message_changed() -> None:
    m = decode(MESSAGE_CHANGED)
    assert type(m) is Message
    assert m.subtype == "message_changed"
    assert m.hidden is True
    assert m.has_subtype("message_changed", "message_deleted")
    assert m.message is not None
    assert m.previous_message is not None
    assert m.message.text == "Hello, world!"
    assert m.message.ts == "1355517523.000005"
    assert m.message.edited is not None
    assert (m.message.edited.user, m.message.edited.ts) == ("U2147483697", "1358878755.000001")
    assert m.previous_message.text == "Hello world"
    assert m.previous_message.edited is None


def test_message_deleted_and_bot_message() -> None:
    d = decode(MESSAGE_DELETED)
    assert (d.subtype, d.deleted_ts, d.channel) == (
        "message_deleted",
        "1358878749.000002",
        "C024BE91L",
    )
    b = decode(BOT_MESSAGE)
    assert (b.subtype, b.bot_id, b.username, b.text) == (
        "bot_message",
        "BB12033",
        "github",
        "Pushing is the answer",
    )
    assert b.user is None
    assert b.raw["icons"] == {}  # not a declared field: reachable through raw


def test_user_typing_member_joined_reaction() -> None:
    t = decode(USER_TYPING)
    assert type(t) is UserTyping
    assert (t.channel, t.user) == ("D3ZEQULHZ", "U407ABLLW")
    j = decode(MEMBER_JOINED)
    assert type(j) is MemberJoinedChannel
    assert (j.user, j.channel, j.channel_type, j.team, j.inviter) == (
        "W123ABC456",
        "C123ABC456",
        "C",
        "T123ABC456",
        "U123456789",
    )
    r = decode(REACTION_ADDED)
    assert type(r) is ReactionAdded
    assert (r.user, r.reaction, r.item_user) == ("U407ABLLW", "grinning", "U407ABLLW")
    assert r.item is not None
    assert (r.item.type, r.item.channel, r.item.ts) == (
        "message",
        "D3ZEQULHZ",
        "1485975421.000002",
    )
    assert (r.event_ts, r.ts) == ("1485975426.875724", "1485975426.000003")


def test_channel_objects() -> None:
    c = decode(CHANNEL_CREATED)
    assert type(c) is ChannelCreated
    assert c.channel is not None
    assert (c.channel.id, c.channel.name, c.channel.created, c.channel.creator) == (
        "C3ZJKCGTU",
        "some-channel",
        1485975458,
        "U407ABLLW",
    )
    assert c.channel.is_channel is True
    assert c.channel.is_im is False
    im = decode(IM_CREATED)
    assert type(im) is ImCreated
    assert im.user == "U4096CBHC"
    assert im.channel is not None
    assert (im.channel.id, im.channel.user, im.channel.is_im) == ("D409J34CF", "U4096CBHC", True)


def test_team_join_user_object() -> None:
    t = decode(TEAM_JOIN)
    assert type(t) is TeamJoin
    u = t.user
    assert u is not None
    assert (u.id, u.team_id, u.name, u.real_name) == (
        "U4096CBHC",
        "T3YS5EAL9",
        "chuck",
        "Chuck Testuser",
    )
    assert (u.tz, u.tz_offset, u.is_bot, u.deleted) == ("America/Los_Angeles", -28800, False, False)
    assert u.profile is not None
    assert u.profile.display_name == ""
    assert t.raw["cache_ts"] == 1485975606


@pytest.mark.parametrize("frame", EXAMPLES)
def test_raw_equals_json_loads(frame: str) -> None:
    for data in (frame, frame.encode(), bytearray(frame.encode()), memoryview(frame.encode())):
        event = decode_frame(data)
        assert not isinstance(event, MalformedFrame)
        assert event.raw == json.loads(frame)
        assert event.type == json.loads(frame)["type"]


@pytest.mark.parametrize(
    ("frame", "cls", "fields"),
    [
        ('{"type":"hello"}', ev.Hello, {}),
        ('{"type":"hello","region":"us-east-1"}', ev.Hello, {}),
        ('{"type":"goodbye"}', ev.Goodbye, {}),
        ('{"type":"team_migration_started"}', ev.TeamMigrationStarted, {}),
        ('{"type":"pong","reply_to":1234,"time":1403299273342}', ev.Pong, {"reply_to": 1234}),
        ('{"type":"manual_presence_change","presence":"away"}', ev.ManualPresenceChange, {}),
        ('{"type":"channel_deleted","channel":"C1"}', ev.ChannelDeleted, {"channel": "C1"}),
        ('{"type":"channel_joined","channel":{"id":"C1","name":"x"}}', ev.ChannelJoined, {}),
        ('{"type":"channel_rename","channel":{"id":"C1","name":"y"}}', ev.ChannelRename, {}),
        ('{"type":"group_joined","channel":{"id":"G1","is_group":true}}', ev.GroupJoined, {}),
        ('{"type":"channel_archive","channel":"C1","user":"U1"}', ev.ChannelArchive, {}),
        ('{"type":"member_left_channel","user":"U1","channel":"C1"}', ev.MemberLeftChannel, {}),
        ('{"type":"reaction_removed","user":"U1","reaction":"x"}', ev.ReactionRemoved, {}),
        (
            '{"type":"pin_added","user":"U1","channel_id":"C1","item":{"type":"message"}}',
            ev.PinAdded,
            {"channel_id": "C1", "item": {"type": "message"}},
        ),
        ('{"type":"star_added","user":"U1","item":{"type":"file"}}', ev.StarAdded, {}),
        (
            '{"type":"file_shared","file_id":"F1","file":{"id":"F1"}}',
            ev.FileShared,
            {"file_id": "F1", "file": {"id": "F1"}},
        ),
        ('{"type":"user_change","user":{"id":"U1","is_bot":true}}', ev.UserChange, {}),
        ('{"type":"reconnect_url","url":"wss://example.test/x"}', ev.ReconnectUrl, {}),
    ],
)
def test_other_types(frame: str, cls: type[Event], fields: dict[str, Any]) -> None:
    event = decode(frame)
    assert type(event) is cls
    assert event.type == json.loads(frame)["type"]
    for name, value in fields.items():
        assert getattr(event, name) == value
    assert event.raw == json.loads(frame)


def test_error_event() -> None:
    e = decode('{"type":"error","error":{"code":1,"msg":"Socket URL has expired"}}')
    assert type(e) is ErrorEvent
    assert e.type == "error"
    assert e.error is not None
    assert (e.error.code, e.error.msg) == (1, "Socket URL has expired")
    bare = decode('{"type":"error"}')
    assert type(bare) is ErrorEvent
    assert bare.error is None


def test_presence_single_and_batch_shapes() -> None:
    one = decode('{"type":"presence_change","user":"U024BE7LH","presence":"away"}')
    assert type(one) is PresenceChange
    assert one.users == ("U024BE7LH",)
    assert one.user == "U024BE7LH"
    assert one.presence == "away"
    batch = decode('{"type":"presence_change","users":["U1","U2"],"presence":"active"}')
    assert batch.users == ("U1", "U2")
    assert batch.user is None
    assert isinstance(batch.users, tuple)
    assert batch.presence == "active"
    neither = decode('{"type":"presence_change","presence":"away"}')
    assert neither.users == ()
    built = PresenceChange(user="U9", presence="away")  # the same rule when built in Python
    assert built.users == ("U9",)


def test_reply_success_and_failure() -> None:
    ok = decode('{"ok": true, "reply_to": 1, "ts": "1355517523.000005", "text": "Hello world"}')
    assert type(ok) is Reply
    assert ok.type == "reply"
    assert Reply.type == "reply"
    assert (ok.reply_to, ok.ok, ok.ts, ok.text, ok.error) == (
        1,
        True,
        "1355517523.000005",
        "Hello world",
        None,
    )
    bad = decode(
        '{"ok": false, "reply_to": 1, "error": {"code": 2, "msg": "message text is missing"}}'
    )
    assert type(bad) is Reply
    assert bad.ok is False
    assert bad.ts is None
    assert bad.error is not None
    assert (bad.error.code, bad.error.msg) == (2, "message text is missing")
    assert isinstance(bad.error, ev.ReplyError)
    slow = decode(
        '{"ok":false,"reply_to":7,"error":{"code":-1,"msg":"slow down, too many messages..."}}'
    )
    assert slow.error.code == -1
    no_ok = decode('{"reply_to": 3}')
    assert type(no_ok) is Reply
    assert no_ok.ok is False
    assert ok.raw == {"ok": True, "reply_to": 1, "ts": "1355517523.000005", "text": "Hello world"}


def test_message_echo_with_reply_to_is_a_message() -> None:
    echo = decode('{"type":"message","reply_to":2,"channel":"C1","text":"Hello","ts":"1.000001"}')
    assert type(echo) is Message
    assert echo.reply_to == 2
    assert echo.text == "Hello"


def test_unknown_type_keeps_raw() -> None:
    frame = '{"type":"desktop_notification","title":"t","content":"hi","n":[1,{"a":null}]}'
    u = decode(frame)
    assert type(u) is UnknownEvent
    assert u.type == "desktop_notification"
    assert u.raw == json.loads(frame)
    assert ev.event_class("desktop_notification") is UnknownEvent
    # Documented but untyped types are unknown events too.
    dnd = decode('{"type":"dnd_updated","user":"U1","dnd_status":{"dnd_enabled":true}}')
    assert type(dnd) is UnknownEvent
    assert dnd.raw["dnd_status"] == {"dnd_enabled": True}


def test_raw_is_lazy_and_cached() -> None:
    m = decode_frame(MESSAGE.encode())
    with pytest.raises(AttributeError):
        object.__getattribute__(m, "_raw")  # nothing decoded yet
    first = m.raw
    assert object.__getattribute__(m, "_raw") is first  # cached
    assert m.raw is first


def test_raw_decoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from slack_rtm.session import event_types

    calls = []
    real = event_types._decode_any

    def counting(frame: bytes | str) -> Any:
        calls.append(frame)
        return real(frame)

    monkeypatch.setattr(event_types, "_decode_any", counting)
    events = [decode_frame(frame.encode()) for frame in EXAMPLES]
    assert calls == []  # decoding frames never touches .raw
    for e in events:
        first = e.raw
        assert e.raw is first
    assert len(calls) == len(EXAMPLES)  # once per event, then cached


def test_raw_when_fast_decoders_cannot() -> None:
    huge = '{"type":"message","text":"a","n":123456789012345678901234567890}'
    m = decode(huge)
    assert type(m) is Message
    assert m.text == "a"
    assert m.raw == json.loads(huge)  # beyond 64 bits, exact
    bad_utf8 = b'{"type":"message","text":"a","x":"\xff","n":5}'
    m2 = decode_frame(bad_utf8)
    assert type(m2) is Message  # the skipped field is not validated...
    assert m2.raw == {"type": "message", "text": "a", "x": "\ufffd", "n": 5}  # ...nor .raw fails
    assert ev.decode_raw(b"[1, 2]") == {}
    assert ev.decode_raw(b"{") == {}


def test_memoryview_of_reused_buffer_is_copied() -> None:
    buf = bytearray(MESSAGE.encode())
    m = decode_frame(memoryview(buf))
    buf[:] = b" " * len(buf)  # the driver reuses its read buffer for the next frame
    assert m.raw == json.loads(MESSAGE)


def test_frame_not_in_repr_eq_or_encoding() -> None:
    a = decode(MESSAGE)
    b = decode(MESSAGE.replace(",", ", "))
    assert a == b
    assert hash(a) == hash(b)
    assert "_frame" not in repr(a)
    assert "frame" not in msgspec.json.encode(a).decode()
    assert msgspec.json.decode(msgspec.json.encode(a), type=Message) == a
    assert msgspec.json.encode(Message(channel="C1", text="hi")) == (
        b'{"type":"message","channel":"C1","text":"hi"}'
    )


def test_events_are_frozen_and_untracked_by_gc() -> None:
    m = decode(MESSAGE)
    with pytest.raises(AttributeError):
        m.text = "changed"  # type: ignore[misc]
    assert not gc.is_tracked(m)


def test_reconnect_url_repr_hides_the_url() -> None:
    r = decode('{"type":"reconnect_url","url":"wss://cerberus.example/link/SECRETPATH"}')
    assert r.url == "wss://cerberus.example/link/SECRETPATH"
    assert "SECRETPATH" not in repr(r)
    assert "cerberus.example" in repr(r)
    assert repr(ev.ReconnectUrl()) == "ReconnectUrl()"


def test_type_constants_match_tags() -> None:
    for cls in ev.WIRE_EVENTS:
        assert cls.__struct_config__.tag == vars(cls)["type"]
        assert cls.__struct_config__.tag_field == "type"
    assert len({vars(cls)["type"] for cls in ev.WIRE_EVENTS}) == len(ev.WIRE_EVENTS)
    assert {vars(cls)["type"] for cls in ev.WIRE_EVENTS} <= ev.DOCUMENTED_TYPES


def test_lifecycle_events() -> None:
    cases: list[tuple[Event, str, dict[str, Any]]] = [
        (ev.Connecting(attempt=2), "connecting", {"attempt": 2}),
        (ev.Connected(), "connected", {}),
        (
            ev.Reconnecting(delay=1.5, attempt=3, reason="goodbye"),
            "reconnecting",
            {"delay": 1.5, "attempt": 3, "reason": "goodbye"},
        ),
        (
            ev.Disconnected(reason="reset", code=1006),
            "disconnected",
            {"reason": "reset", "code": 1006},
        ),
        (ev.Closed(reason="closed by user"), "closed", {"reason": "closed by user"}),
        (
            ev.HandlerError(event_type="message", error="ValueError('x')", handler="greet"),
            "handler_error",
            {"event_type": "message", "error": "ValueError('x')", "handler": "greet"},
        ),
    ]
    for event, name, fields in cases:
        assert isinstance(event, ev.LifecycleEvent)
        assert isinstance(event, Event)
        assert event.type == name
        assert ev.event_class(name) is type(event)
        assert event.raw == {"type": name, **fields}
        assert json.loads(msgspec.json.encode(event)) == {"type": name, **fields}


def test_registry_and_names() -> None:
    names = ev.event_type_names()
    for name in ("message", "presence_change", "reply", "malformed", "connected", "dnd_updated"):
        assert name in names
    assert "nonsense" not in names
    assert ev.EVENT_TYPES["message"] is Message
    assert ev.EVENT_TYPES["reply"] is Reply
    assert ev.EVENT_TYPES["malformed"] is MalformedFrame
    with pytest.raises(TypeError):
        ev.EVENT_TYPES["x"] = Message  # type: ignore[index]
    assert "bot_message" in ev.MESSAGE_SUBTYPES


def test_validate_type_name() -> None:
    assert ev.validate_type_name("message") == "message"
    assert ev.validate_type_name("*") == "*"
    assert ev.validate_type_name("some_future_type2") == "some_future_type2"
    with pytest.raises(TypeError, match="event_type"):
        ev.validate_type_name(3)
    for bad in ("", "Message", "message.bot", " message", "a-b"):
        with pytest.raises(ValueError, match="handler"):
            ev.validate_type_name(bad, argument="handler")


def test_matches() -> None:
    plain = decode(MESSAGE)
    bot = decode(BOT_MESSAGE)
    unknown = decode('{"type":"x_event","subtype":"y"}')
    assert ev.matches(plain, "message")
    assert ev.matches(plain, "*")
    assert not ev.matches(plain, "user_typing")
    assert ev.matches(bot, "message", "bot_message")
    assert not ev.matches(plain, "message", "bot_message")
    assert ev.matches(bot, "*", "bot_message")
    assert ev.matches(unknown, "x_event", "y")
    assert not ev.matches(unknown, "x_event", "z")
    assert not ev.matches(decode(USER_TYPING), "user_typing", "bot_message")


def test_wrong_argument_type_raises_type_error() -> None:
    for bad in (None, 42, ["{}"], {"type": "hello"}):
        with pytest.raises(TypeError, match="data must be"):
            decode_frame(bad)  # type: ignore[arg-type]


def test_every_public_name_is_exported() -> None:
    for name in ev.__all__:
        assert hasattr(ev, name), name
    assert len(set(ev.__all__)) == len(ev.__all__)
