"""The consumer API: :class:`GatewayClient`, for programs that read the gateway's events and send
through its sessions::

    async with GatewayClient("nats://127.0.0.1:4222") as gw:
        async for event in gw.events(team="T0123", types=["message"]):
            print(event.team, event.session, event.type, event.raw.get("text"))
            if event.type == "message" and not event.backfilled:
                await gw.send_message(event.team, event.raw["channel"], "seen")

Events are :class:`GatewayEvent` records: the typed event (decoded from the payload with
:func:`~slack_rtm.session.events.decode_frame`, exactly as a direct
:class:`~slack_rtm.aio.RtmClient` would have delivered it) and what the headers say (team,
session, backfilled) with the stream sequence. A wrapper rather than attributes set on the event:
events are frozen, slotted structs shared with the client library, which knows nothing of teams
and sessions; the wrapper passes ``type``, ``raw``, ``frame`` and the event's own fields through.

Sends raise what :meth:`RtmClient.send_message <slack_rtm.aio.RtmClient.send_message>` raises,
plus :class:`NoHolderError` when no gateway process holds a session for the subject.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import msgspec
import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js import api as js_api

from slack_rtm.errors import (
    SendError,
    SendOutcomeUnknownError,
    SendQueueFullError,
    SlackRtmError,
    StateError,
)
from slack_rtm.gateway.contract import (
    BAD_REQUEST_CODE,
    NOT_SENT_CODE,
    STREAM,
    ContractError,
    SendRequest,
    check_id,
    event_filter,
    parse_event_headers,
    send_subject,
)
from slack_rtm.session.events import Event, Reply, decode_frame
from slack_rtm.session.limits import check_text

__all__ = ["GatewayClient", "GatewayEvent", "NoHolderError"]

_log = logging.getLogger("slack_rtm.gateway.client")
_encode = msgspec.json.Encoder().encode
_decode_any = msgspec.json.Decoder().decode
_NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}")

_QUEUE = 1024  # events buffered between the subscription and the iteration (ephemeral)
_BATCH = 256  # messages a durable consumer fetches at once when they are waiting
_LINGER = 5.0  # seconds one pull waits for a message when none is waiting


class NoHolderError(SlackRtmError):
    """No gateway process holds a session for this send (NATS had no responders): the
    registration is missing, or being taken over. Try again shortly."""


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """One event from the gateway's stream.

    Attributes:
        event: the typed event (:class:`~slack_rtm.session.events.Message`,
            :class:`~slack_rtm.session.events.UnknownEvent`, ...), decoded from the payload.
        team: the team id (``Slack-Team``).
        session: the registration id of the session that received it (``Slack-Session``).
        backfilled: True when catch-up fetched it from history after a gap.
        sequence: its sequence number in the stream.
        msg_id: its ``Nats-Msg-Id``.

    The event's fields are reachable directly: ``gw_event.text`` is ``gw_event.event.text``.
    """

    event: Event
    team: str
    session: str
    backfilled: bool
    sequence: int
    msg_id: str

    @property
    def type(self) -> str:
        """The event's type."""
        return self.event.type

    @property
    def raw(self) -> dict[str, Any]:
        """The event's JSON object."""
        return self.event.raw

    @property
    def frame(self) -> bytes:
        """The payload exactly as stored (the event as Slack sent it)."""
        return self.event.frame

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.event, name)


def _to_event(msg: Msg) -> GatewayEvent:
    meta = parse_event_headers(msg.headers)
    try:
        sequence = msg.metadata.sequence.stream
    except Exception:  # not a JetStream delivery (cannot happen on a consumer)
        sequence = 0
    return GatewayEvent(event=decode_frame(msg.data), team=meta.team, session=meta.session,
                        backfilled=meta.backfilled, sequence=sequence, msg_id=meta.msg_id)


class GatewayClient:
    """A connection to the gateway's NATS: read events, send messages.

    Args:
        nats_url: the NATS server (or several, comma-separated).
        stream: the event stream's name.
        connect_timeout: seconds to wait for NATS when entering.

    Use ``async with``; :meth:`connect` and :meth:`close` do the same by hand.

    Raises:
        TypeError, ValueError: a bad argument.
    """

    def __init__(self, nats_url: str, *, stream: str = STREAM,
                 connect_timeout: float = 5.0) -> None:
        if not isinstance(nats_url, str):
            raise TypeError(f"nats_url must be a str, got {type(nats_url).__name__}")
        if not nats_url.strip():
            raise ValueError("nats_url must not be empty")
        if not isinstance(stream, str):
            raise TypeError(f"stream must be a str, got {type(stream).__name__}")
        if _NAME.fullmatch(stream) is None:
            raise ValueError("stream must be 1 to 64 characters of A-Z a-z 0-9 - _")
        _check_timeout("connect_timeout", connect_timeout)
        self._servers = [s.strip() for s in nats_url.split(",") if s.strip()]
        self._stream = stream
        self._connect_timeout = float(connect_timeout)
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None

    def __repr__(self) -> str:
        state = "connected" if self._nc is not None and self._nc.is_connected else "closed"
        return f"<GatewayClient stream={self._stream!r} {state}>"

    async def connect(self) -> GatewayClient:
        """Connect to NATS.

        Raises:
            StateError: already connected.
            nats.errors.NoServersError: NATS is not reachable.
        """
        if self._nc is not None:
            raise StateError("the GatewayClient is already connected")
        nc = await nats.connect(servers=self._servers, connect_timeout=self._connect_timeout,
                                max_reconnect_attempts=-1, allow_reconnect=True)
        self._nc = nc
        self._js = nc.jetstream()
        return self

    async def close(self) -> None:
        """Close the NATS connection (durable consumers stay, for the next run). Idempotent."""
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None:
            await nc.close()

    async def __aenter__(self) -> GatewayClient:
        return await self.connect()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    def _connected(self) -> tuple[NatsClient, JetStreamContext]:
        if self._nc is None or self._js is None:
            raise StateError("connect first: async with GatewayClient(url) as gw")
        return self._nc, self._js

    # ------------------------------------------------------------------ events

    def events(self, team: str | None = None, types: str | Iterable[str] | None = None,
               durable: str | None = None) -> AsyncIterator[GatewayEvent]:
        """The events of the stream, in stream order, as :class:`GatewayEvent`.

        Args:
            team: only this team's events (None: every team).
            types: only these event types (one name or several; None: every type).
            durable: None for an ephemeral consumer that starts with the events published from
                now on and is gone when the iteration ends; a name (``A-Z a-z 0-9 - _``) for a
                durable consumer that resumes where the last iteration with that name stopped
                (a new one starts from now on). Each event is acknowledged when the loop asks for
                the next one; the one the loop was on when it stopped comes again next time
                (at least once).

        Raises:
            TypeError, ContractError: a bad ``team`` or ``types``; ValueError: a bad
                ``durable``. Checked on the call, before iterating.
            StateError: not connected (on the first iteration).
        """
        filters = _filters(team, types)
        if durable is not None:
            if not isinstance(durable, str):
                raise TypeError(f"durable must be a str or None, got {type(durable).__name__}")
            if _NAME.fullmatch(durable) is None:
                raise ValueError("durable must be 1 to 64 characters of A-Z a-z 0-9 - _")
            return self._durable(filters, durable)
        return self._ephemeral(filters)

    def _consumer_config(self, filters: list[str], **extra: Any) -> js_api.ConsumerConfig:
        config = js_api.ConsumerConfig(deliver_policy=js_api.DeliverPolicy.NEW, **extra)
        if len(filters) == 1:
            config.filter_subject = filters[0]
        else:
            config.filter_subjects = filters
        return config

    async def _ephemeral(self, filters: list[str]) -> AsyncIterator[GatewayEvent]:
        _, js = self._connected()
        queue: asyncio.Queue[Msg] = asyncio.Queue(_QUEUE)
        sub = await js.subscribe(filters[0], stream=self._stream, cb=queue.put,
                                 ordered_consumer=True,
                                 config=self._consumer_config(filters))
        try:
            while True:
                yield _to_event(await queue.get())
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _durable(self, filters: list[str], name: str) -> AsyncIterator[GatewayEvent]:
        _, js = self._connected()
        config = self._consumer_config(filters, ack_policy=js_api.AckPolicy.EXPLICIT,
                                       max_ack_pending=4 * _BATCH)
        psub = await js.pull_subscribe(filters[0], durable=name, stream=self._stream,
                                       config=config)
        batch: list[Msg] = []
        current: Msg | None = None
        try:
            while True:
                if not batch:
                    batch = await _pull(psub)
                    batch.reverse()  # popped from the end, oldest first
                    continue
                current = batch.pop()
                yield _to_event(current)
                await current.ack()
                current = None
        finally:
            # Not handled: the event the loop stopped on and the rest of the batch come again
            # at once on the next run, instead of after the consumer's ack wait.
            for msg in ([current] if current is not None else []) + batch[::-1]:
                with contextlib.suppress(Exception):
                    await msg.nak()
            with contextlib.suppress(Exception):
                await psub.unsubscribe()

    # ------------------------------------------------------------------ sends

    async def send_message(self, team: str, channel: str, text: str, *, user: str | None = None,
                           thread_ts: str | None = None, timeout: float = 10.0) -> Reply:
        """Post ``text`` to ``channel`` through the session the gateway holds for ``team``'s bot
        (or for ``user``), and wait for Slack's ack.

        Returns:
            The ack (``.ts`` is the message's id, ``.text`` the text as Slack stored it).

        Raises:
            TypeError, ValueError: a bad argument (before anything is sent);
                FrameTooLargeError for text over 4,000 characters.
            NoHolderError: no gateway process holds that session now (try again shortly).
            SendError: Slack refused it (``.code``, ``.msg``).
            SendOutcomeUnknownError: no answer in time, or the session's link was lost before
                the ack: it may have been posted.
            SendQueueFullError: the session refused it before sending (busy or not live).
            StateError: not connected.
        """
        subject = send_subject(check_id(team, "team"),
                               None if user is None else check_id(user, "user"))
        for name, value in (("channel", channel), ("text", text)):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a str, got {type(value).__name__}")
            if not value:
                raise ValueError(f"{name} must not be empty")
        if thread_ts is not None and (not isinstance(thread_ts, str) or not thread_ts):
            raise TypeError("thread_ts must be a non-empty str or None")
        check_text(text)
        _check_timeout("timeout", timeout)
        nc, _ = self._connected()
        data = _encode(SendRequest(channel=channel, text=text, thread_ts=thread_ts))
        try:
            msg = await nc.request(subject, data, timeout=timeout)
        except NoRespondersError:
            who = f"team {team}'s bot" if user is None else f"user {user} of team {team}"
            raise NoHolderError(f"no gateway holds a session for {who} now: try again "
                                "shortly") from None
        except NatsTimeoutError:
            raise SendOutcomeUnknownError(
                f"no answer from the gateway within {timeout} s: the message may have been "
                "posted") from None
        return _read_reply(msg.data)


def _read_reply(data: bytes) -> Reply:
    """Slack's ack as :class:`Reply`, or the error its refusal or the contract's reply means."""
    event = decode_frame(data)
    if isinstance(event, Reply):  # Slack's ack or refusal: it has reply_to
        if event.ok:
            return event
        error = event.error
        raise SendError(error.code if error else None, error.msg if error else "",
                        event.reply_to)
    try:
        body = _decode_any(data)
        error = body["error"]
        code, msg = error["code"], str(error["msg"])
    except Exception:
        raise SendOutcomeUnknownError("the gateway's answer is not a Slack ack: the message "
                                      "may have been posted") from None
    if code == BAD_REQUEST_CODE:
        raise ContractError(f"the gateway refused the request: {msg}")
    if code == NOT_SENT_CODE:
        raise SendQueueFullError(msg)
    raise SendOutcomeUnknownError(msg)


async def _pull(psub: JetStreamContext.PullSubscription) -> list[Msg]:
    """The next messages of a durable consumer: what is waiting (up to a batch) at once, else
    the first one to come (one pull that waits, renewed every few seconds)."""
    try:
        return await psub.fetch(_BATCH, timeout=0.05)
    except NatsTimeoutError:
        pass
    while True:
        try:
            return await psub.fetch(1, timeout=_LINGER)
        except NatsTimeoutError:
            continue


def _filters(team: str | None, types: str | Iterable[str] | None) -> list[str]:
    if team is not None:
        check_id(team, "team")
    if types is None:
        return [event_filter(team)]
    names = [types] if isinstance(types, str) else list(types)
    if not names:
        raise ValueError("types must name at least one event type (or be None: every type)")
    filters = [event_filter(team, name) for name in names]
    return list(dict.fromkeys(filters))


def _check_timeout(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
