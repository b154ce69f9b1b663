"""Keep secrets out of messages, reprs and logs: one home for redaction.

Three kinds of secret pass through slack-rtm: Slack tokens (``xoxb-...``, ``xoxp-...``, ...), the
browser session cookie ``d`` (``xoxd-...``, see :mod:`slack_rtm.cookies`) and the WebSocket URL
returned by ``rtm.connect``, whose path is a single-use session credential.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["redact_text", "redact_token", "redact_url"]

# Slack token families: bot, user, app-level, configuration, refresh, workspace, legacy, browser.
# A ``d`` cookie value (``xoxd-``) also holds ``/ + =`` raw, or ``%2F %2B %3D`` encoded (any
# ``%XX``, ``%25XX`` when encoded twice) and the other unreserved characters: take all of it.
_TOKEN_RE = re.compile(
    r"xoxd-(?:[A-Za-z0-9/+=._~-]|%[0-9A-Fa-f]{2})+|xox[a-z]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+"
)


def redact_token(token: str) -> str:
    """A printable stand-in for a token: its family prefix only, e.g. ``"xoxb-…"``."""
    prefix, sep, _ = token.partition("-")
    if sep and prefix.startswith("xox") and len(prefix) <= 5:
        return f"{prefix}-…"
    return "…"


def redact_url(url: str) -> str:
    """A URL with its path and query replaced, e.g. ``wss://host:443/…``; safe to log."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    if not parts.scheme:
        return "<invalid url>"
    return f"{parts.scheme}://{host}{port}/…"


def redact_text(text: str, *secrets: str) -> str:
    """``text`` with anything that looks like a Slack token or ``d`` cookie replaced.

    Each of ``secrets`` is replaced first, in the order given (pass longer ones first, as
    :attr:`slack_rtm.cookies.SessionCookie.secrets` lists them); empty ones are ignored.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _TOKEN_RE.sub(lambda m: redact_token(m.group(0)), text)
