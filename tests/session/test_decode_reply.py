"""decode_reply_frame: the core's first try for frames that look like replies, same results."""

from __future__ import annotations

import msgspec
import pytest

from slack_rtm.session.events import Reply, UnknownEvent, decode_frame, decode_reply_frame

FRAMES = [
    b'{"ok":true,"reply_to":7,"ts":"1.000001","text":"hi"}',
    b'{"ok":false,"reply_to":8,"error":{"code":2,"msg":"message text is missing"}}',
    b'{"ok":true,"reply_to":9,"ts":"1.000002","text":"a \\"quoted\\" text","more":[1]}',
    b'{"ok":true,"reply_to":1,"type":"mystery"}',  # an event after all
    b'{"ok":true,"reply_to":1,"\\u0074ype":"mystery"}',  # the same, the key escaped
    b'{"ok":true,"reply_to":1,"type":"message","text":"echo"}',
    b'{"ok":true,"reply_to":3,"text":"type"}',  # "type" only as a value: still a reply
    b'{"ok":true,"reply_to":4,"text":"caf\\u00e9 \\"type\\""}',  # escapes, no type key
    b'{"reply_to":5,"ok":true}',  # keys in another order
    b'{"ok":true,"reply_to":"x"}',  # a malformed reply
    b'{"ok":true}',  # neither
    b'{"ok":true,"reply_to":1',  # not JSON
    b'{"ok":true,"reply_to":1,"text":"\xff"}',  # invalid UTF-8
]


def _shape(event: object) -> object:
    return (type(event), msgspec.to_builtins(event), getattr(event, "raw", None))


@pytest.mark.parametrize("frame", FRAMES)
def test_the_same_result_as_decode_frame(frame: bytes) -> None:
    assert _shape(decode_reply_frame(frame)) == _shape(decode_frame(frame))


def test_a_plain_ack_is_a_reply_with_its_frame_kept() -> None:
    reply = decode_reply_frame(FRAMES[0])
    assert isinstance(reply, Reply)
    assert (reply.reply_to, reply.ok, reply.ts, reply.text) == (7, True, "1.000001", "hi")
    assert reply.raw == {"ok": True, "reply_to": 7, "ts": "1.000001", "text": "hi"}
    event = decode_reply_frame(FRAMES[3])
    assert isinstance(event, UnknownEvent)
    assert event.type == "mystery"
