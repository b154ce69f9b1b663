"""``slack-rtm listen``'s JSON lines: what Slack sent, minus credentials, plus catch-up's mark."""

from __future__ import annotations

import msgspec

from slack_rtm.cli.listen import event_json
from slack_rtm.session.catchup import backfilled_message
from slack_rtm.session.events import decode_frame

TICKET = "RESUMEsecretTICKET0123456789"


def test_a_reconnect_url_is_printed_redacted() -> None:
    frame = {"type": "reconnect_url", "url": f"wss://wss-primary.slack.test/websocket/{TICKET}"}
    line = event_json(decode_frame(msgspec.json.encode(frame)))
    assert TICKET not in line.decode()
    assert msgspec.json.decode(line)["type"] == "reconnect_url"
    assert msgspec.json.decode(line)["url"].startswith("wss://wss-primary.slack.test")


def test_backfilled_lines_are_marked_and_live_ones_are_not() -> None:
    live = decode_frame(b'{"type":"message","channel":"C1","text":"hi","ts":"1.000001"}')
    assert "backfilled" not in msgspec.json.decode(event_json(live))
    old = backfilled_message("C1", {"type": "message", "text": "old", "ts": "1.000000"})
    line = msgspec.json.decode(event_json(old))
    assert line["backfilled"] is True
    assert line["channel"] == "C1"
    assert line["text"] == "old"
