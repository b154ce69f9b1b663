"""``slack-rtm listen``'s JSON lines: what Slack sent, minus credentials, plus catch-up's mark
and Socket Mode's envelope metadata."""

from __future__ import annotations

from typing import Any

import msgspec

from slack_rtm.cli.listen import EventFilter, event_json
from slack_rtm.session.catchup import backfilled_message
from slack_rtm.session.events import Event, decode_frame
from slack_rtm.session.socket_mode import SocketModeCore
from slack_rtm.session.socket_mode_config import SocketModeConfig

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


def _envelope_events(*frames: dict[str, Any]) -> list[Event]:
    """What a Socket Mode session delivers for ``frames`` (the core fed them: no I/O)."""
    core = SocketModeCore(SocketModeConfig(connections=1))
    core.start(0.0)
    core.take_actions()
    conn = core.connect_succeeded("wss://wss-primary.slack.test/link/?ticket=T", 0.0)
    assert conn is not None
    core.socket_opened(conn, 0.0)
    core.receive(conn, b'{"type":"hello","num_connections":1}', 0.0)
    for frame in frames:
        core.receive(conn, msgspec.json.encode(frame), 0.0)
    return [e for e in core.take_events() if e.envelope is not None]


RESPONSE_URL = "https://hooks.slack.test/commands/T1/SECRETresponse"


def test_an_envelope_s_metadata_joins_the_line_and_its_credentials_do_not() -> None:
    message, command, interaction = _envelope_events(
        {"envelope_id": "env1", "type": "events_api", "accepts_response_payload": False,
         "retry_attempt": 1, "retry_reason": "timeout",
         "payload": {"token": "VERIFsecret", "team_id": "T1", "event_id": "Ev1",
                     "event": {"type": "message", "channel": "C1", "text": "hi", "ts": "1.0"}}},
        {"envelope_id": "env2", "type": "slash_commands", "accepts_response_payload": True,
         "payload": {"token": "VERIFsecret", "command": "/deploy", "channel_id": "C1",
                     "response_url": RESPONSE_URL}},
        {"envelope_id": "env3", "type": "interactive", "accepts_response_payload": True,
         "payload": {"type": "view_submission", "token": "VERIFsecret",
                     "response_urls": [{"response_url": RESPONSE_URL, "channel_id": "C1"}]}},
    )
    line = msgspec.json.decode(event_json(message))
    assert line["text"] == "hi"
    assert line["envelope"] == {"envelope_id": "env1", "type": "events_api", "event_id": "Ev1",
                                "retry_attempt": 1, "retry_reason": "timeout",
                                "accepts_response_payload": False}
    cmd = msgspec.json.decode(event_json(command))
    assert cmd["type"] == "slash_command"
    assert cmd["command"] == "/deploy"
    assert cmd["response_url"] == "https://hooks.slack.test/…"
    assert cmd["token"] == "[redacted]"
    assert cmd["envelope"]["type"] == "slash_commands"
    assert "event_id" not in cmd["envelope"]
    view = msgspec.json.decode(event_json(interaction))
    assert view["type"] == "view_submission"  # the payload's own type, as Slack sent it
    assert view["envelope"]["type"] == "interactive"
    assert view["response_urls"] == [{"response_url": "https://hooks.slack.test/…",
                                      "channel_id": "C1"}]
    for event in (message, command, interaction):
        text = event_json(event).decode()
        assert "SECRET" not in text
        assert "VERIF" not in text


def test_the_channel_filter_reads_an_interaction_s_channel_object() -> None:
    [interaction, command] = _envelope_events(
        {"envelope_id": "e1", "type": "interactive",
         "payload": {"type": "block_actions", "channel": {"id": "C1", "name": "general"}}},
        {"envelope_id": "e2", "type": "slash_commands", "payload": {"channel_id": "C2"}},
    )
    keep = EventFilter([], ["C1"])
    assert keep(interaction)
    assert not keep(command)
    assert EventFilter(["slash_command"], ["C2"])(command)
    assert not EventFilter(["interactive"], ["C2"])(command)
