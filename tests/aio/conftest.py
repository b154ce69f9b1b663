"""Fixtures for the asyncio driver tests (helpers live in aio_helpers)."""

from __future__ import annotations

from aio_helpers import emu

__all__ = ["emu"]
