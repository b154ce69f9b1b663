"""The msgspec models, decoded and built by hand: no I/O."""

from __future__ import annotations

import msgspec
import pytest

from slack_rtm.api import (
    ResponseMetadata,
    RtmConnectErrorSchema,
    RtmConnectSchema,
    RtmConnectSelf,
    RtmConnectTeam,
)
from slack_rtm.api.models import convert_body

from .server import SUCCESS, WS_SECRET


def test_decode_success_and_json_key_self() -> None:
    body = convert_body(dict(SUCCESS), RtmConnectSchema)
    assert body.self_.id == "U4X318ZMZ"
    assert msgspec.json.decode(msgspec.json.encode(body))["self"]["name"] == "robotoverlord"
    assert body.raw is not None
    assert body.raw["self"] == SUCCESS["self"]


def test_ok_string_true_is_rejected() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"Expected `bool`, got `str` - at `\$.ok`"):
        convert_body({**SUCCESS, "ok": "True"}, RtmConnectSchema)


def test_models_are_frozen_and_hashable() -> None:
    team = RtmConnectTeam(id="T1", name="n", domain="d")
    with pytest.raises(AttributeError):
        team.id = "T2"  # type: ignore[misc]
    body = convert_body(dict(SUCCESS), RtmConnectSchema)
    with pytest.raises(AttributeError):
        body.url = "wss://other/"  # type: ignore[misc]
    assert hash(body) == hash(convert_body(dict(SUCCESS), RtmConnectSchema))
    assert body == convert_body({**SUCCESS, "extra": 1}, RtmConnectSchema)  # raw is not a field


def test_raw_of_a_hand_built_model() -> None:
    body = RtmConnectSchema(
        ok=True,
        url="ws://127.0.0.1:1/ws/x",
        self_=RtmConnectSelf(id="U1", name="bot"),
        team=RtmConnectTeam(id="T1", name="n", domain="d", enterprise_id="E1"),
        response_metadata=ResponseMetadata(warnings=("w",)),
    )
    assert body.raw == {
        "ok": True,
        "url": "ws://127.0.0.1:1/ws/x",
        "self": {"id": "U1", "name": "bot"},
        "team": {"id": "T1", "name": "n", "domain": "d", "enterprise_id": "E1"},
        "response_metadata": {"warnings": ["w"]},
    }


def test_repr_redacts_the_session_url() -> None:
    body = convert_body(dict(SUCCESS), RtmConnectSchema)
    assert WS_SECRET not in repr(body)
    assert "wss://cerberus-xxxx.lb.slack-msgs.com/…" in repr(body)
    assert "robotoverlord" in repr(body)


def test_error_schema_accepts_any_code_and_keeps_extras() -> None:
    err = convert_body(
        {"ok": False, "error": "made_up", "callstack": "at x", "more": [1]}, RtmConnectErrorSchema
    )
    assert err.error == "made_up"
    assert err.callstack == "at x"
    assert err.raw["more"] == [1]
    assert err.needed is None
    assert RtmConnectErrorSchema(ok=False, error="x").raw == {"ok": False, "error": "x"}
