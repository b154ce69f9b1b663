"""Kept for compatibility: the emulator's Web API now lives in :mod:`slack_rtm.emulator.api`
(one module per family of methods). Nothing in the emulator imports this module."""

from __future__ import annotations

from slack_rtm.emulator.api import handle_api
from slack_rtm.emulator.api.common import parse_bool

__all__ = ["handle_api", "parse_bool"]
