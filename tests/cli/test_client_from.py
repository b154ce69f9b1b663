"""``client_from`` picks the transport from the tokens (no I/O: the clients are only built)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

from slack_rtm.aio import RtmClient, SocketModeClient
from slack_rtm.cli.options import setup_logging
from slack_rtm.cli.session import client_from, socket_mode_tokens

APP = "xapp-1-A1-1-SECRETapp"
BOT = "xoxb-1-2-SECRETbot"


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SLACK_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_COOKIE",
        "SLACK_API_URL",
        "SLACK_USER_AGENT",
        "SLACK_RTM_LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)


def _args(**values: str | None) -> argparse.Namespace:
    return argparse.Namespace(
        **{
            "token": None,
            "app_token": None,
            "cookie": None,
            "api_url": "http://127.0.0.1:1/api",
            **values,
        }
    )


def test_without_an_app_token_it_is_rtm_as_before() -> None:
    client = client_from(_args(token=BOT))
    assert type(client) is RtmClient
    assert socket_mode_tokens(_args(token=BOT)) is None


def test_an_app_token_makes_a_socket_mode_client_with_the_bot_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_APP_TOKEN", APP)
    monkeypatch.setenv("SLACK_TOKEN", BOT)
    client = client_from(_args(), sends=True)
    assert type(client) is SocketModeClient
    assert "bot_token='xoxb-…'" in repr(client)
    assert socket_mode_tokens(_args()) == (APP, BOT)
    assert socket_mode_tokens(_args(app_token=" xapp-2 ", token="xoxp-3")) == ("xapp-2", "xoxp-3")


def test_listening_needs_no_bot_token_but_sending_does() -> None:
    assert type(client_from(_args(app_token=APP))) is SocketModeClient
    assert socket_mode_tokens(_args(app_token=APP)) == (APP, None)
    with pytest.raises(ValueError, match=r"chat\.postMessage.*SLACK_TOKEN"):
        client_from(_args(app_token=APP), sends=True)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"app_token": BOT}, "app-level token"),
        ({"app_token": APP, "token": APP}, "bot token"),
        ({"app_token": APP, "token": "xoxc-1-SECRETbrowser"}, "bot token"),
        ({"app_token": APP, "token": BOT, "cookie": "xoxd-SECRETcookie"}, "RTM only"),
        ({"token": APP}, "SLACK_APP_TOKEN"),
    ],
)
def test_wrong_kinds_of_token_are_clear_errors_without_the_token(
    values: dict[str, str], match: str
) -> None:
    with pytest.raises(ValueError, match=match) as caught:
        client_from(_args(**values), sends=True)
    assert "SECRET" not in str(caught.value)


def test_state_is_rtm_only(tmp_path: Path) -> None:
    rtm = client_from(_args(token=BOT), state=str(tmp_path / "cursors.db"))
    assert type(rtm) is RtmClient
    with pytest.raises(ValueError, match="--state"):
        client_from(_args(app_token=APP, token=BOT), state="cursors.db")


def test_log_level_sets_slack_rtm_s_loggers_only(monkeypatch: pytest.MonkeyPatch) -> None:
    root, ours = logging.getLogger(), logging.getLogger("slack_rtm")
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(ours, "level", ours.level)
    setup_logging(_args())
    assert root.handlers == []  # nothing asked: logging left alone
    monkeypatch.setenv("SLACK_RTM_LOG_LEVEL", "nonsense")
    with pytest.raises(ValueError, match="SLACK_RTM_LOG_LEVEL"):
        setup_logging(_args())
    setup_logging(_args(log_level="debug"))
    assert ours.level == logging.DEBUG
    assert root.level == logging.WARNING
    assert len(root.handlers) == 1
