"""Event.frame: the JSON text as received, byte for byte."""

from __future__ import annotations

import msgspec

from slack_rtm.session.catchup import backfilled_message
from slack_rtm.session.events import Connected, decode_frame


def test_frame_is_the_bytes_received() -> None:
    text = b'{"type":"message", "channel":"C1","ts":"1.000001","text":"h\\u00e9","x":[1 ,2]}'
    event = decode_frame(text)
    assert event.frame == text
    assert decode_frame(text.decode()).frame == text
    assert decode_frame(bytearray(text)).frame == text
    unknown = decode_frame(b'{"type":"brand_new","a":1}')
    assert unknown.frame == b'{"type":"brand_new","a":1}'


def test_backfilled_frame_is_the_history_item_typed() -> None:
    event = backfilled_message("C9", {"ts": "2.000001", "text": "hi", "user": "U1"})
    body = msgspec.json.decode(event.frame)
    assert list(body)[:1] == ["type"]
    assert body == {"type": "message", "ts": "2.000001", "text": "hi", "user": "U1",
                    "channel": "C9"}


def test_frame_of_an_event_built_in_python_is_its_json() -> None:
    event = Connected(attempt=3)
    assert msgspec.json.decode(event.frame) == event.raw
