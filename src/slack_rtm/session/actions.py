"""What the session core asks its driver to do, and the record of one send.

The core (:mod:`slack_rtm.session.core`) never does I/O. After each call into it the driver
takes the actions it produced (:meth:`SessionCore.take_actions`) and carries them out in order:

- :class:`CallConnect` — call ``rtm.connect`` (``apps.connections.open`` for Socket Mode);
  report with ``connect_succeeded`` / ``connect_failed``.
- :class:`OpenSocket` — open a WebSocket to ``url``; report ``socket_opened`` /
  ``socket_failed``, frames with ``receive``, the end with ``socket_closed``.
- :class:`SendFrame` — write ``data`` as one text frame on socket ``conn_id``;
  :class:`SendFrames` several, in order.
- :class:`CloseSocket` — send a close frame (or abort) and close socket ``conn_id``.
- :class:`SendPing` — send a WebSocket ping on socket ``conn_id`` (Socket Mode's keepalive);
  report the pong with ``pong_received``.
- :class:`SendDone` — ``send`` has its outcome: wake whoever waits for it. (Not for a send that
  :meth:`~slack_rtm.session.core.SessionCore.receive_reply` settles: it returns that send.)
- :class:`CatchUpNeeded` — ``hello`` after a gap: a client with catch-up on fetches what it
  may have missed (other drivers ignore it).
- :class:`Stop` — the session is closed; ``error`` is why, if it failed.
"""

from __future__ import annotations

from typing import Any

from slack_rtm.redact import redact_url

__all__ = [
    "Action",
    "CallConnect",
    "CatchUpNeeded",
    "CloseSocket",
    "OpenSocket",
    "Send",
    "SendDone",
    "SendFrame",
    "SendFrames",
    "SendPing",
    "Stop",
]


class Send:
    """One command to the server (a message, typing, presence, ping) and, later, its outcome.

    The core creates it; the driver may hang its own waiter on :attr:`waiter` (a future, an
    event). When :attr:`done` becomes True exactly one of :attr:`result` / :attr:`error` holds
    the outcome and a :class:`SendDone` action is emitted (or, settled by ``receive_reply``, the
    send is returned to the caller instead); it never changes again.

    Attributes:
        kind: ``"message"``, ``"typing"``, ``"presence_sub"``, ``"presence_query"`` or ``"ping"``.
        payload: the frame's fields, without ``id``.
        body: ``payload`` already encoded (checked for size when queued), or None to encode it
            when written.
        frame_id: the ``id`` it was written with (None until written).
        conn_id: the socket it was written on (None until written).
        done: True once resolved.
        result: for a message the ack (a ``Reply``); for a ping the round trip in seconds;
            None for frames that Slack does not answer.
        error: the exception when it failed.
        waiter: free for the driver's use.
    """

    __slots__ = (
        "body",
        "conn_id",
        "deadline",
        "done",
        "error",
        "frame_id",
        "internal",
        "kind",
        "payload",
        "result",
        "sent_at",
        "waiter",
    )

    def __init__(self, kind: str, payload: dict[str, Any], *, internal: bool = False,
                 body: bytes | None = None) -> None:
        self.kind = kind
        self.payload = payload
        self.body = body
        self.internal = internal
        self.frame_id: int | None = None
        self.conn_id: int | None = None
        self.sent_at: float | None = None
        self.deadline: float | None = None
        self.done = False
        self.result: object = None
        self.error: BaseException | None = None
        self.waiter: Any = None

    @property
    def needs_reply(self) -> bool:
        """True for frames Slack answers (messages and pings): they stay pending until then."""
        return self.kind in ("message", "ping")

    def __repr__(self) -> str:
        state = "done" if self.done else ("written" if self.frame_id is not None else "queued")
        return f"Send(kind={self.kind!r}, id={self.frame_id}, {state})"


class CallConnect:
    """Call ``rtm.connect`` (one attempt, no retries: the core owns retries)."""

    __slots__ = ("attempt",)

    def __init__(self, attempt: int) -> None:
        self.attempt = attempt

    def __repr__(self) -> str:
        return f"CallConnect(attempt={self.attempt})"


class OpenSocket:
    """Open a WebSocket to ``url`` and tag it ``conn_id``. The URL is a credential: never log it."""

    __slots__ = ("conn_id", "url")

    def __init__(self, conn_id: int, url: str) -> None:
        self.conn_id = conn_id
        self.url = url

    def __repr__(self) -> str:
        return f"OpenSocket(conn_id={self.conn_id}, url={redact_url(self.url)!r})"


class SendFrame:
    """Write ``data`` (UTF-8 JSON) as one text frame on socket ``conn_id``."""

    __slots__ = ("conn_id", "data")

    def __init__(self, conn_id: int, data: bytes) -> None:
        self.conn_id = conn_id
        self.data = data

    def __repr__(self) -> str:
        return f"SendFrame(conn_id={self.conn_id}, {len(self.data)} bytes)"


class SendFrames:
    """Write each of ``frames`` as one text frame on socket ``conn_id``, in order (the acks of
    one read buffer, handed over in one action)."""

    __slots__ = ("conn_id", "frames")

    def __init__(self, conn_id: int, frames: list[bytes]) -> None:
        self.conn_id = conn_id
        self.frames = frames

    def __repr__(self) -> str:
        return f"SendFrames(conn_id={self.conn_id}, {len(self.frames)} frames)"


class SendPing:
    """Send a WebSocket ping on socket ``conn_id`` (Socket Mode keeps its sockets alive with
    WebSocket pings, not JSON ones: PROTOCOL.md §9)."""

    __slots__ = ("conn_id",)

    def __init__(self, conn_id: int) -> None:
        self.conn_id = conn_id

    def __repr__(self) -> str:
        return f"SendPing(conn_id={self.conn_id})"


class CloseSocket:
    """Close socket ``conn_id``: a close frame with ``code``/``reason`` then close, or abort."""

    __slots__ = ("abort", "code", "conn_id", "reason")

    def __init__(self, conn_id: int, code: int = 1000, reason: str = "", *,
                 abort: bool = False) -> None:
        self.conn_id = conn_id
        self.code = code
        self.reason = reason
        self.abort = abort

    def __repr__(self) -> str:
        return (f"CloseSocket(conn_id={self.conn_id}, code={self.code}, reason={self.reason!r}, "
                f"abort={self.abort})")


class SendDone:
    """``send`` is resolved (see :attr:`Send.result` / :attr:`Send.error`)."""

    __slots__ = ("send",)

    def __init__(self, send: Send) -> None:
        self.send = send

    def __repr__(self) -> str:
        return f"SendDone({self.send!r})"


class CatchUpNeeded:
    """``hello`` on a socket after a gap: the first connection (``first``), or a reconnect after
    an abrupt drop, a dead link, a refusal or a migration. Not after a make-before-break
    ``goodbye``, which loses nothing. Events sent meanwhile were not delivered and will not be
    replayed (PROTOCOL.md §5.4); only history can fill the gap."""

    __slots__ = ("first",)

    def __init__(self, first: bool) -> None:
        self.first = first

    def __repr__(self) -> str:
        return f"CatchUpNeeded(first={self.first})"


class Stop:
    """The session is closed. ``error`` is the reason when it failed (e.g. a fatal code)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"Stop(error={self.error!r})"


Action = (CallConnect | OpenSocket | SendFrame | SendFrames | SendPing | CloseSocket | SendDone
          | CatchUpNeeded | Stop)
"""Everything the core may ask of its driver."""
