from slack_rtm.redact import redact_text, redact_token, redact_url

TOKEN = "xoxb-1234-5678-SECRETsecret"


def test_token_keeps_only_its_family() -> None:
    assert redact_token(TOKEN) == "xoxb-…"
    assert "SECRET" not in redact_token(TOKEN)
    assert redact_token("not-a-token") == "…"
    assert redact_token("") == "…"


def test_url_loses_path_and_query() -> None:
    url = "wss://cerberus-xxxx.lb.slack-msgs.com:443/websocket/AbC123opaque?x=1"
    assert redact_url(url) == "wss://cerberus-xxxx.lb.slack-msgs.com:443/…"
    assert redact_url("ws://127.0.0.1:9/websocket/t") == "ws://127.0.0.1:9/…"
    assert redact_url("no scheme") == "<invalid url>"
    assert redact_url("http://[::1") == "<invalid url>"


def test_text_scrubs_tokens_and_named_secrets() -> None:
    text = f"failed with {TOKEN} at wss://h/websocket/TICKET"
    out = redact_text(text, "wss://h/websocket/TICKET", "")
    assert TOKEN not in out
    assert "TICKET" not in out
    assert "xoxb-…" in out
    assert redact_text("xapp-1-ABC and xoxp-9") == "… and xoxp-…"
