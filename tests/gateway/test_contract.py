"""The wire contract (slack_rtm.gateway.contract) without I/O."""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from slack_rtm.gateway import contract as c


def test_subjects() -> None:
    assert c.event_subject("T1", "message") == "slack.rtm.evt.T1.message"
    assert c.event_subject("T1", "a.b *>") == "slack.rtm.evt.T1.a_b___"
    assert c.event_subject("T1", "") == "slack.rtm.evt.T1._"
    assert c.event_filter() == "slack.rtm.evt.*.*"
    assert c.event_filter("T1", "reaction_added") == "slack.rtm.evt.T1.reaction_added"
    assert c.send_subject("T1") == "slack.rtm.send.T1"
    assert c.send_subject("T1", "U2") == "slack.rtm.send.T1.U2"
    for bad in ("t1", "T.1", "", "T*", "T>"):
        with pytest.raises(c.ContractError):
            c.send_subject(bad)
    with pytest.raises(TypeError):
        c.send_subject(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        c.event_filter("T1", "")


def test_message_id_with_and_without_ts() -> None:
    payload = b'{"type":"message","channel":"C1","ts":"1.000001"}'
    assert c.message_id("r1", "message", "C1", "1.000001", payload) == "r1:C1:1.000001:message"
    digest = hashlib.sha256(b'{"type":"hello"}').hexdigest()[:32]
    assert c.message_id("r1", "hello", None, None, b'{"type":"hello"}') == f"r1::#{digest}:hello"
    assert c.message_id("r1", "x", {"id": "C"}, 5, b"{}").startswith("r1::#")


def test_headers_round_trip() -> None:
    h = c.event_headers("T1", "r1", "m", backfilled=True)
    assert h == {"Slack-Team": "T1", "Slack-Session": "r1", "Nats-Msg-Id": "m",
                 "Slack-Backfilled": "true"}
    assert "Slack-Backfilled" not in c.event_headers("T1", "r1", "m")
    meta = c.parse_event_headers(h)
    assert (meta.team, meta.session, meta.backfilled, meta.msg_id) == ("T1", "r1", True, "m")
    with pytest.raises(c.ContractError):
        c.parse_event_headers({"Slack-Team": "T1"})
    with pytest.raises(c.ContractError):
        c.parse_event_headers(None)


def test_send_request_and_replies() -> None:
    r = c.decode_send_request(b'{"channel":"C1","text":"hi","thread_ts":"1.2","x":1}')
    assert (r.channel, r.text, r.thread_ts) == ("C1", "hi", "1.2")
    assert c.decode_send_request(b'{"channel":"C1","text":"hi"}').thread_ts is None
    for bad in (b"", b"[]", b'{"channel":"C1"}', b'{"channel":1,"text":"a"}',
                b'{"channel":"","text":"a"}', b'{"channel":"C","text":""}',
                b'{"channel":"C","text":"a","thread_ts":1}'):
        with pytest.raises(c.ContractError):
            c.decode_send_request(bad)
    unknown = msgspec.json.decode(c.outcome_unknown_reply("socket lost"))
    assert unknown == {"ok": False, "error": {"code": -1, "msg": "outcome unknown: socket lost"}}
    bad = msgspec.json.decode(c.bad_request_reply("nope"))
    assert bad == {"ok": False, "error": {"code": c.BAD_REQUEST_CODE, "msg": "nope"}}


def test_kv_key_is_safe_and_injective() -> None:
    assert c.kv_key("T1:U2") == "T1=3AU2"
    assert c.kv_key("a=3A") == "a=3D3A"
    assert c.kv_key("é") == "=C3=A9"
    keys = {c.kv_key(s) for s in ("T1:U2", "T1=3AU2", "T1.U2", "T1_U2")}
    assert len(keys) == 4


def test_lease_timings_checked() -> None:
    t = c.LeaseTimings()
    assert t.renew_every < t.fence_after < t.expire_after
    with pytest.raises(ValueError, match="renew_every < fence_after"):
        c.LeaseTimings(renew_every=2, fence_after=1, expire_after=6)
    with pytest.raises(ValueError, match="at least renew_every"):
        c.LeaseTimings(renew_every=1, fence_after=3.5, expire_after=4)
    with pytest.raises(ValueError, match="renew_every must be a number > 0"):
        c.LeaseTimings(renew_every=0)


def test_gateway_config_checked_and_key_hidden() -> None:
    from slack_rtm.gateway.config import GatewayConfig, default_name

    cfg = GatewayConfig(nats_url="nats://127.0.0.1:4222", key=b"k" * 32, name="g1")
    assert "kkkk" not in repr(cfg)
    assert cfg.ping_interval + cfg.ping_timeout <= 30
    assert default_name()
    with pytest.raises(ValueError, match="32 bytes"):
        GatewayConfig(nats_url="nats://x", key=b"short")
    with pytest.raises(ValueError, match="name must be"):
        GatewayConfig(nats_url="nats://x", key=b"k" * 32, name="a.b")
    with pytest.raises(ValueError, match="capacity must be > 0"):
        GatewayConfig(nats_url="nats://x", key=b"k" * 32, capacity=0)
    with pytest.raises(TypeError, match="capacity must be an int"):
        GatewayConfig(nats_url="nats://x", key=b"k" * 32, capacity=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="metrics_port"):
        GatewayConfig(nats_url="nats://x", key=b"k" * 32, metrics_port=70000)
