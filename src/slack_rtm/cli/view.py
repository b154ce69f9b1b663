"""The live terminal view of ``listen --pretty`` and ``demo``: pure state in, text out.

:class:`LiveView` only counts and formats; the caller feeds it events and redraws the screen with
:meth:`LiveView.frame` at a steady rate. Keeping it free of I/O keeps it testable.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["LiveView", "describe_event"]

_LIFECYCLE = frozenset(
    {"connecting", "connected", "reconnecting", "disconnected", "closed", "handler_error"}
)
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_CLEAR = "\x1b[H\x1b[2J"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_RESET = "\x1b[0m"


def _field(event: Any, name: str) -> Any:
    value = getattr(event, name, None)
    if value is None:
        raw = getattr(event, "raw", None)
        if isinstance(raw, dict):
            value = raw.get(name)
    return value


def describe_event(event: Any, names: Mapping[str, str] | None = None) -> str:
    """One short human line for an event, e.g. ``message #C1 U1 : hello``.

    ``names`` maps ids to names (``{"C1": "general"}``) to show names instead of ids.
    """
    names = names or {}
    kind = str(_field(event, "type") or "?")
    subtype = _field(event, "subtype")
    label = f"{kind}/{subtype}" if subtype else kind
    parts = [label]
    channel = _field(event, "channel")
    if isinstance(channel, str):
        parts.append(f"#{names.get(channel, channel)}")
    user = _field(event, "user")
    if isinstance(user, str):
        parts.append(names.get(user, user))
    text = _field(event, "text")
    if isinstance(text, str):
        flat = " ".join(text.split())
        parts.append(f": {flat[:80]}{'…' if len(flat) > 80 else ''}")
    return " ".join(parts)


class LiveView:
    """Counters, recent events, round-trip time and connection state for a terminal screen.

    Args:
        title: the first line of the screen.
        recent: how many recent events to show.
        names: ids to names, for readable lines (see :func:`describe_event`).
        clock: a monotonic clock (injectable for tests).
    """

    def __init__(
        self,
        title: str,
        *,
        recent: int = 12,
        names: Mapping[str, str] | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        if recent < 1:
            raise ValueError("recent must be >= 1")
        self.title = title
        self.counts: collections.Counter[str] = collections.Counter()
        self.recent: collections.deque[str] = collections.deque(maxlen=recent)
        self.state = "connecting"
        self.rtt: float | None = None
        self.reconnect_at: float | None = None
        self.reconnects = 0
        self.names = dict(names or {})
        self._clock = clock
        self._started = clock()
        self._frames = 0

    @property
    def total(self) -> int:
        """Events seen so far."""
        return sum(self.counts.values())

    def feed(self, event: Any) -> str:
        """Take any event: lifecycle events set the state, others are counted. Returns its line."""
        kind = str(_field(event, "type") or "?")
        if kind in _LIFECYCLE:
            delay = getattr(event, "delay", None) if kind == "reconnecting" else None
            self.set_state(kind, reconnect_in=delay)
            return kind
        return self.on_event(event)

    def on_event(self, event: Any) -> str:
        """Count an event and remember a line for it; returns the line."""
        kind = str(_field(event, "type") or "?")
        self.counts[kind] += 1
        line = describe_event(event, self.names)
        self.recent.append(line)
        return line

    def note(self, line: str) -> None:
        """Show a line of our own among the recent events (e.g. what the bot said)."""
        self.recent.append(line)

    def set_state(self, state: str, *, reconnect_in: float | None = None) -> None:
        """Record the connection state; ``reconnect_in`` starts a countdown, in seconds."""
        if state == "reconnecting" and self.state != "reconnecting":
            self.reconnects += 1
        self.state = state
        self.reconnect_at = None if reconnect_in is None else self._clock() + reconnect_in

    def frame(self) -> str:
        """The whole screen, starting with the escape codes that clear it."""
        now = self._clock()
        self._frames += 1
        lines = [f"{_BOLD}{self.title}{_RESET}", ""]
        state = self.state
        if state in ("connecting", "reconnecting"):
            state = f"{_SPINNER[self._frames % len(_SPINNER)]} {state}"
            if self.reconnect_at is not None:
                state += f" in {max(0.0, self.reconnect_at - now):.1f}s"
        rtt = "-" if self.rtt is None else f"{self.rtt * 1000:.1f} ms"
        elapsed = now - self._started
        lines.append(
            f"state: {state}   rtt: {rtt}   events: {self.total}   "
            f"reconnects: {self.reconnects}   up: {elapsed:.0f}s"
        )
        lines.append("")
        lines.append(f"{_BOLD}by type{_RESET}")
        for kind, n in self.counts.most_common(8):
            lines.append(f"  {kind:<28} {n:>8}")
        lines.append("")
        lines.append(f"{_BOLD}recent{_RESET}")
        lines.extend(f"  {_DIM}{line}{_RESET}" for line in self.recent)
        return _CLEAR + "\n".join(lines) + "\n"

    def summary(self) -> str:
        """A plain one-paragraph summary for the end of a run."""
        elapsed = self._clock() - self._started
        by_type = ", ".join(f"{k}={n}" for k, n in self.counts.most_common())
        rtt = "" if self.rtt is None else f", last rtt {self.rtt * 1000:.1f} ms"
        return (
            f"{self.total} events in {elapsed:.1f}s ({by_type or 'none'}), "
            f"reconnects: {self.reconnects}{rtt}"
        )
