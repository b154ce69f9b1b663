"""The session's states and the transitions between them: the one home for both.

Names are relative to our side of the connection::

    IDLE ──► CONNECTING ──► CONNECTED ──► RECONNECTING ──► CONNECTED ...
      │          │   ▲          │              │
      │          │   └──────────┼──────────────┘ (a reconnect that has not said hello yet)
      ▼          ▼              ▼              ▼
    CLOSED ◄── CLOSING ◄────────┴──────────────┘      (close(), or a fatal error ──► CLOSED)

- ``IDLE``: created, nothing started.
- ``CONNECTING``: the first connection is being made (``rtm.connect``, WebSocket, ``hello``).
- ``CONNECTED``: ``hello`` received on the current socket; sends go out.
- ``RECONNECTING``: the link was lost or is being replaced (``goodbye``); sends wait in a bounded
  queue and go out after the next ``hello``.
- ``CLOSING``: :meth:`close` was called; sockets are being closed.
- ``CLOSED``: final. Nothing leaves this state.

An illegal transition is a bug in the caller and raises :class:`~slack_rtm.errors.StateError`;
it is never a silent no-op. Every transition is logged at DEBUG level.
"""

from __future__ import annotations

import enum
import logging
from typing import Final

from slack_rtm.errors import StateError

__all__ = ["State", "StateMachine", "can_transition"]

_log = logging.getLogger("slack_rtm.session")


class State(str, enum.Enum):
    """Where the session is. The value is a lowercase name, handy in logs and JSON."""

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSING = "closing"
    CLOSED = "closed"

    def __str__(self) -> str:
        return self.value


_ALLOWED: Final[dict[State, frozenset[State]]] = {
    State.IDLE: frozenset({State.CONNECTING, State.CLOSED}),
    State.CONNECTING: frozenset({State.CONNECTED, State.RECONNECTING, State.CLOSING,
                                 State.CLOSED}),
    State.CONNECTED: frozenset({State.RECONNECTING, State.CLOSING, State.CLOSED}),
    State.RECONNECTING: frozenset({State.CONNECTED, State.CLOSING, State.CLOSED}),
    State.CLOSING: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}
"""Every legal transition. A state not listed as a target of the current one is illegal."""


def can_transition(current: State, target: State) -> bool:
    """True when going from ``current`` to ``target`` is a legal transition."""
    return target in _ALLOWED[current]


class StateMachine:
    """Holds the current :class:`State` and checks every transition.

    Args:
        logger: where transitions are logged (DEBUG); defaults to ``slack_rtm.session``.
    """

    __slots__ = ("_logger", "state")

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.state: State = State.IDLE
        self._logger = logger if logger is not None else _log

    def to(self, target: State, reason: str = "") -> None:
        """Move to ``target``.

        Raises:
            StateError: the transition is not legal from the current state.
        """
        current = self.state
        if target not in _ALLOWED[current]:
            raise StateError(f"illegal session state transition {current} -> {target}")
        self.state = target
        self._logger.debug("session state %s -> %s%s", current, target,
                           f" ({reason})" if reason else "")

    @property
    def is_open(self) -> bool:
        """True until the session is closing or closed."""
        return self.state not in (State.CLOSING, State.CLOSED)
