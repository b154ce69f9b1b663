"""Everything the session sends, from the command to its outcome. Pure: time is passed in.

:class:`SendBook` owns frame ids (positive, increasing for the whole session so that a reply
arriving on the next socket still matches), the queue of sends waiting for the rate limiter or
a reconnect (bounded), pings (not rate limited), the pending replies and their deadlines, and
the rule that each :class:`~slack_rtm.session.actions.Send` resolves exactly once.
It is a part of :class:`~slack_rtm.session.core.SessionCore`, which decides *when* to write.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Any, Final

import msgspec

from slack_rtm.errors import SendError, SendOutcomeUnknownError, SendQueueFullError
from slack_rtm.session.actions import Action, Send, SendDone, SendFrame
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.events import Pong, Reply
from slack_rtm.session.limits import TokenBucket, check_frame_size

__all__ = ["SendBook", "check_ids", "check_str", "reply_code_msg"]

encode = msgspec.json.Encoder().encode
#: The most an ``"id":N,`` field adds to an encoded payload (N up to 2**53), for size checks
#: before the id is known.
_ID_FIELD_BYTES: Final = len(b'"id":%d,' % 2**53)


def check_str(name: str, value: object) -> str:
    """``value`` if it is a non-blank ``str``.

    Raises:
        TypeError: not a ``str``; ValueError: empty or blank (the message names ``name``).
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value or value.isspace():  # no stripped copy of a long text
        raise ValueError(f"{name} must not be empty")
    return value


def check_ids(name: str, ids: object) -> list[str]:
    """``ids`` as a list of non-blank strings.

    Raises:
        TypeError: not an iterable of ``str`` (a bare ``str`` is refused too).
        ValueError: an id is blank.
    """
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(f"{name} must be a list of user ids, got {type(ids).__name__}")
    out = list(ids)
    for item in out:
        check_str(f"each of {name}", item)
    return out


def reply_code_msg(reply: Reply) -> tuple[int | None, str]:
    """Slack's error ``code`` and ``msg`` from a failed reply (defaults when absent)."""
    err = reply.error
    if err is None:
        return None, "no error detail in the reply"
    return err.code, err.msg or "no error message in the reply"


class SendBook:
    """Frame ids, queued and pending sends, their deadlines and the rate limiter.

    Args:
        config: the session settings (rate, burst, queue bound, reply timeout and grace).
        actions: the core's action list; writes and resolutions are appended to it.
    """

    __slots__ = ("_actions", "_config", "_deadlines", "bucket", "last_id", "outbox", "pending",
                 "pings")

    def __init__(self, config: SessionConfig, actions: list[Action]) -> None:
        self._config = config
        self._actions = actions
        self.last_id = 0
        # Lists, not deques: an empty deque is 760 bytes, an empty list 56, and at 10,000 idle
        # sessions that matters more than O(1) pops from queues this short (flush slices).
        self.outbox: list[Send] = []
        self.pings: list[Send] = []
        self.pending: dict[int, Send] = {}
        self._deadlines: list[tuple[float, int]] = []  # a heap of (deadline, frame id)
        self.bucket = TokenBucket(config.send_rate, config.send_burst)

    @property
    def count(self) -> int:
        """Sends not resolved yet (queued or waiting for a reply)."""
        return len(self.outbox) + len(self.pings) + len(self.pending)

    def new_id(self) -> int:
        """The next frame id (keepalive pings use it too)."""
        self.last_id += 1
        return self.last_id

    def reset_rate(self, now: float) -> None:
        """Start the rate limiter full at ``now``."""
        self.bucket = TokenBucket(self._config.send_rate, self._config.send_burst, now)

    # -------------------------------------------------------------- queueing

    def encode_checked(self, payload: dict[str, Any]) -> bytes:
        """``payload`` encoded, once it is known to fit in 16 KB with any id.

        Raises:
            FrameTooLargeError: it would not.
        """
        body = encode(payload)
        check_frame_size(len(body) + _ID_FIELD_BYTES)
        return body

    def queue(self, kind: str, payload: dict[str, Any], body: bytes | None = None) -> Send:
        """A new send at the back of the queue (``body``: ``payload`` encoded, if known).

        Raises:
            SendQueueFullError: ``max_queued_sends`` are already waiting.
        """
        limit = self._config.max_queued_sends
        if len(self.outbox) >= limit:
            raise SendQueueFullError(
                f"{len(self.outbox)} sends are already waiting to go out (max_queued_sends="
                f"{limit}); wait for some to complete"
            )
        send = Send(kind, payload, body=body)
        self.outbox.append(send)
        return send

    def queue_first(self, send: Send) -> None:
        """Put ``send`` at the front of the queue (the presence subscription after hello)."""
        self.outbox.insert(0, send)

    def queue_ping(self) -> Send:
        """A new ping; pings are not rate limited.

        Raises:
            SendQueueFullError: ``max_queued_sends`` pings are already waiting.
        """
        if len(self.pings) >= self._config.max_queued_sends:
            raise SendQueueFullError(f"{len(self.pings)} pings are already waiting")
        send = Send("ping", {"type": "ping"})
        self.pings.append(send)
        return send

    def submit(self, kind: str, payload: dict[str, Any], body: bytes, conn_id: int | None,
               now: float) -> Send:
        """A new send: written at once on ``conn_id`` (None: not connected) when nothing waits
        ahead of it and the rate limiter allows, as :meth:`flush` would; queued otherwise.

        Raises:
            SendQueueFullError: it has to wait and ``max_queued_sends`` already do.
        """
        if conn_id is not None and not self.outbox and not self.pings and self.bucket.try_take(now):
            send = Send(kind, payload, body=body)  # the usual case: no detour through the queue
            self.write(send, conn_id, now)
            return send
        send = self.queue(kind, payload, body)
        if conn_id is not None:
            self.flush(conn_id, now)
        return send

    def flush(self, conn_id: int, now: float) -> None:
        """Write on ``conn_id`` every ping, then queued sends while the rate limiter allows."""
        if self.pings:
            pings, self.pings = self.pings, []
            for ping in pings:
                self.write(ping, conn_id, now)
        outbox = self.outbox
        bucket = self.bucket
        n = 0
        while n < len(outbox) and bucket.try_take(now):
            n += 1
        if n:
            ready = outbox[:n]
            del outbox[:n]
            for send in ready:
                self.write(send, conn_id, now)

    def write(self, send: Send, conn_id: int, now: float) -> None:
        """Give ``send`` an id and emit its frame; it waits for a reply if Slack sends one."""
        frame_id = self.new_id()
        send.frame_id = frame_id
        send.conn_id = conn_id
        send.sent_at = now
        body = send.body
        if body is not None:  # encoded when queued: put the id in front, encode nothing again
            data = b'{"id":%d,%s' % (frame_id, body[1:])
        else:
            frame = {"id": frame_id, **send.payload}
            if send.kind == "ping":
                frame["time"] = int(now * 1000)
            data = encode(frame)
        self._actions.append(SendFrame(conn_id, data))
        if send.needs_reply:
            self.pending[frame_id] = send
            self.set_deadline(send, now + self._config.reply_timeout)
        else:
            self.resolve(send, result=None)

    # -------------------------------------------------------------- outcomes

    def resolve(self, send: Send, *, result: object = None,
                error: BaseException | None = None, announce: bool = True) -> None:
        """Settle ``send`` (once: later calls do nothing) and emit :class:`SendDone` (unless
        ``announce`` is False: the caller tells the waiter itself)."""
        if send.done:
            return
        send.done = True
        send.result = result
        send.error = error
        if announce and not send.internal:
            self._actions.append(SendDone(send))

    def on_reply(self, reply: Reply, *, announce: bool = True) -> Send | None:
        """Match a reply to its send and settle it; returns the send (None if unknown)."""
        send = self.pending.pop(reply.reply_to, None)
        if send is None:
            return None
        # Drop the answered deadlines at the heap's head now (replies come in order, so usually
        # this one): nothing else may look at the heap for seconds while thousands are answered.
        self.earliest_deadline()
        if reply.ok is False:
            code, msg = reply_code_msg(reply)
            self.resolve(send, error=SendError(code, msg, reply.reply_to), announce=announce)
        else:
            self.resolve(send, result=reply, announce=announce)
        return send

    def on_pong(self, pong: Pong, now: float) -> bool:
        """Settle the user ping ``pong`` answers with its round trip; True if there was one."""
        reply_to = pong.reply_to
        send = self.pending.get(reply_to) if reply_to is not None else None
        if send is None or send.kind != "ping":
            return False
        del self.pending[send.frame_id]  # type: ignore[arg-type]
        sent_at = send.sent_at if send.sent_at is not None else now
        self.resolve(send, result=max(0.0, now - sent_at))
        return True

    def fail_all(self, error: BaseException) -> None:
        """Settle every queued and pending send with (a copy of) ``error``."""
        queued = [*self.outbox, *self.pings]
        self.outbox.clear()
        self.pings.clear()
        for send in queued:
            self.resolve(send, error=_copy(error))
        pending = list(self.pending.values())
        self.pending.clear()
        self._deadlines.clear()
        for send in pending:
            self.resolve(send, error=_copy(error))

    # -------------------------------------------------------------- deadlines

    def set_deadline(self, send: Send, deadline: float) -> None:
        """Set when a pending send gives up waiting for its reply."""
        # Every deadline goes in a heap (stale entries are skipped when they surface), so the
        # earliest is found without scanning thousands of pipelined sends.
        send.deadline = deadline
        assert send.frame_id is not None
        heapq.heappush(self._deadlines, (deadline, send.frame_id))

    def earliest_deadline(self) -> float | None:
        """The first reply deadline, if any send waits for one."""
        heap = self._deadlines
        pending = self.pending
        while heap:
            deadline, frame_id = heap[0]
            send = pending.get(frame_id)
            if send is not None and send.deadline == deadline:
                return deadline
            heapq.heappop(heap)  # answered, or its deadline moved: a stale entry
        return None

    def link_lost(self, conn_id: int, now: float) -> None:
        """Socket ``conn_id`` is gone: its unanswered sends wait only ``reply_grace`` more."""
        grace = now + self._config.reply_grace
        for send in list(self.pending.values()):
            if send.conn_id == conn_id:
                current = send.deadline
                self.set_deadline(send, grace if current is None else min(current, grace))

    def new_link(self, conn_id: int, now: float) -> None:
        """A new socket said hello: sends of older sockets get ``reply_grace`` from now, as
        Slack may answer them on this one."""
        grace = now + self._config.reply_grace
        for send in list(self.pending.values()):
            if send.conn_id != conn_id and send.deadline is not None and send.deadline < grace:
                self.set_deadline(send, grace)

    def expire(self, now: float, current_conn: int | None) -> None:
        """Fail the sends whose deadline passed with :class:`SendOutcomeUnknownError`."""
        expired: list[Send] = []
        while True:
            deadline = self.earliest_deadline()
            if deadline is None or deadline > now:
                break
            _, frame_id = heapq.heappop(self._deadlines)
            expired.append(self.pending.pop(frame_id))
        for send in expired:
            if send.conn_id == current_conn:
                msg = (f"no reply to frame {send.frame_id} within {self._config.reply_timeout}"
                       " s; it may or may not have been delivered")
            else:
                msg = (f"the connection was lost after frame {send.frame_id} was written and "
                       "before its reply; it may or may not have been delivered")
            self.resolve(send, error=SendOutcomeUnknownError(msg))


def _copy(error: BaseException) -> BaseException:
    # One exception object per send (tracebacks are per raise), with the same cause.
    new = type(error)(*error.args)
    new.__cause__ = error.__cause__
    return new
