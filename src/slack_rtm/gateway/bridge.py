"""One held session: :class:`SessionBridge` joins a registration's
:class:`~slack_rtm.aio.RtmClient` to NATS.

- **Events out.** One task iterates the client (``async for``: cheaper per idle session than a
  handler, measured) and hands every event, in order, to the process's
  :class:`~slack_rtm.gateway.publisher.EventPublisher`; catch-up is on (cursors in the given
  :class:`~slack_rtm.cursors.CursorStore`), so backfilled messages follow a gap, published with
  ``Slack-Backfilled: true``.
- **Sends in.** A subscription to :func:`~slack_rtm.gateway.contract.send_subject` (the team's
  for a ``bot`` registration, the team's and user's for ``user`` and ``browser``) in the queue
  group :data:`~slack_rtm.gateway.contract.SEND_QUEUE_GROUP`, so that one request is served
  once even while two holders overlap. Each request is served in a task of its own; the reply is
  Slack's ack as Slack sent it, a refusal rebuilt in Slack's shape, or one of the contract's
  replies (bad request, not sent, outcome unknown). Never a secret.
- **Health.** :meth:`SessionBridge.health` says why the session is not healthy (reconnecting,
  or nothing read, for longer than ``config.health_timeout``), None when it is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from slack_rtm.aio import RtmClient
from slack_rtm.cursors import CursorStore
from slack_rtm.errors import (
    ConnectionClosedError,
    FrameTooLargeError,
    RtmConnectErrorSchemaError,
    SendError,
    SendOutcomeUnknownError,
    SendQueueFullError,
    SlackRtmError,
    SocketAuthError,
    StateError,
)
from slack_rtm.gateway.config import GatewayConfig
from slack_rtm.gateway.contract import (
    SEND_QUEUE_GROUP,
    ContractError,
    Registration,
    bad_request_reply,
    decode_send_request,
    not_sent_reply,
    outcome_unknown_reply,
    send_subject,
)
from slack_rtm.gateway.publisher import EventPublisher, PublishTimeoutError
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.events import (
    CatchUp,
    Closed,
    Connected,
    Disconnected,
    Message,
    Reconnecting,
)
from slack_rtm.session.state import State

__all__ = ["SessionBridge", "SessionStartError", "refusal_reply"]

_log = logging.getLogger("slack_rtm.gateway.bridge")
_encode = msgspec.json.Encoder().encode

_SEND_DRAIN = 5.0  # stop(): seconds to let sends already taken finish before closing


class SessionStartError(SlackRtmError):
    """A registration's session did not become live.

    The message names the registration id and Slack's error code, never a secret.

    Attributes:
        registration_id: the registration.
        fatal: True when trying again cannot help (``invalid_auth``, ``account_inactive``, the
            socket refusing the credentials): the token or cookie must be replaced.
    """

    def __init__(self, message: str, *, registration_id: str, fatal: bool) -> None:
        super().__init__(message)
        self.registration_id = registration_id
        self.fatal = fatal


def refusal_reply(error: SendError) -> bytes:
    """Slack's refusal ``{"ok": false, "reply_to", "error": {"code", "msg"}}`` rebuilt from a
    :class:`~slack_rtm.errors.SendError` (which keeps its code, message and ``reply_to``)."""
    return _encode({"ok": False, "reply_to": error.reply_to,
                    "error": {"code": error.code, "msg": error.msg}})


class SessionBridge:
    """One registration's RTM session, publishing its events and serving its sends.

    Args:
        registration: the registration held.
        token, cookie: its secrets, opened (never logged or shown).
        nc: the process's NATS connection (shared; never closed here).
        publisher: the process's event publisher (shared).
        cursors: where catch-up keeps this session's cursors (shared; never closed here).
        config: the process's settings (API URL, keepalive, health timeout).
        metrics: the process's metrics (:class:`~slack_rtm.gateway.metrics.GatewayMetrics`),
            if any: ``events_in``, ``reconnects``, ``catch_ups`` and ``send_round_trip`` are
            updated.
        session_config: every session setting at once (keepalive, backoff, send rate: a
            :class:`~slack_rtm.session.config.SessionConfig`), for tuning and tests; when given,
            ``config.ping_interval`` and ``config.ping_timeout`` are not used.

    Attributes:
        events_in: events received (published or not).
        sends: send requests served.

    Raises:
        TypeError, ValueError: a bad argument (the token's check names it, never shows it).
    """

    __slots__ = (
        "_client", "_config", "_down_since", "_error", "_metrics", "_nc", "_publisher",
        "_pump", "_registration", "_requests", "_started", "_stopping", "_sub", "events_in",
        "sends",
    )

    def __init__(self, registration: Registration, token: str, cookie: str | None, *,
                 nc: NatsClient, publisher: EventPublisher, cursors: CursorStore,
                 config: GatewayConfig, metrics: Any = None,
                 session_config: SessionConfig | None = None) -> None:
        if not isinstance(registration, Registration):
            raise TypeError(f"registration must be a Registration, got "
                            f"{type(registration).__name__}")
        if not isinstance(nc, NatsClient):
            raise TypeError(f"nc must be a nats Client, got {type(nc).__name__}")
        if not isinstance(publisher, EventPublisher):
            raise TypeError(f"publisher must be an EventPublisher, got "
                            f"{type(publisher).__name__}")
        if not isinstance(config, GatewayConfig):
            raise TypeError(f"config must be a GatewayConfig, got {type(config).__name__}")
        for name in ("load", "save", "aclose"):
            if not callable(getattr(cursors, name, None)):
                raise TypeError(f"cursors must be a CursorStore (no {name}())")
        if cookie is not None and not isinstance(cookie, str):
            raise TypeError(f"cookie must be a str or None, got {type(cookie).__name__}")
        if registration.kind == "browser" and not cookie:
            raise ValueError(f"registration {registration.id} is a browser session: "
                             "its cookie is required")
        self._registration = registration
        self._nc = nc
        self._publisher = publisher
        self._config = config
        self._metrics = metrics
        keepalive: dict[str, Any] = (
            {"config": session_config} if session_config is not None else
            {"ping_interval": config.ping_interval, "ping_timeout": config.ping_timeout})
        self._client = RtmClient(
            token, base_url=config.api_url, cookie=cookie, catch_up=True, state=cursors,
            allow_insecure=config.allow_insecure, **keepalive,
        )
        self._pump: asyncio.Task[None] | None = None
        self._sub: Subscription | None = None
        self._requests: set[asyncio.Task[None]] = set()
        self._started = 0.0
        self._down_since: float | None = None
        self._stopping = False
        self._error: BaseException | None = None
        self.events_in = 0
        self.sends = 0

    def __repr__(self) -> str:
        reg = self._registration
        return (f"<SessionBridge {reg.id} team={reg.team_id} user={reg.user_id} "
                f"kind={reg.kind} state={self._client.state}>")

    # ------------------------------------------------------------------ properties

    @property
    def registration(self) -> Registration:
        """The registration held."""
        return self._registration

    @property
    def client(self) -> RtmClient:
        """The session's client (read-only use: state, ``self``, ``team``)."""
        return self._client

    @property
    def done(self) -> bool:
        """True once the session ended by itself (a revoked token, refused credentials, ...),
        not by :meth:`stop`: whoever holds it should stop it and look at :attr:`error`."""
        pump = self._pump
        return pump is not None and pump.done() and not self._stopping

    def add_done_callback(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` on the loop once the session's pump has ended (by itself, so
        that :attr:`done` is True, or by :meth:`stop`): the holder learns of an end without
        polling :attr:`done`.

        Raises:
            TypeError: ``callback`` is not callable.
            StateError: the session was not started.
        """
        if not callable(callback):
            raise TypeError("callback must be callable")
        pump = self._pump
        if pump is None:
            raise StateError(f"session {self._registration.id} was not started")
        pump.add_done_callback(lambda _task: callback())

    @property
    def error(self) -> BaseException | None:
        """What ended the session, if it ended by itself with an error."""
        return self._error

    @property
    def send_subject(self) -> str:
        """The subject this session serves sends on."""
        reg = self._registration
        if reg.kind == "bot":
            return send_subject(reg.team_id)
        return send_subject(reg.team_id, reg.user_id)

    def health(self, now: float) -> str | None:
        """None when the session is healthy, else why not.

        Healthy: live, and something (an event, a reply, a pong) read within
        ``config.health_timeout`` seconds; or not live for less than that.

        Args:
            now: the event loop's clock (``loop.time()``; ``time.monotonic()`` on the default
                loop).
        """
        limit = self._config.health_timeout
        reg_id = self._registration.id
        if self._pump is None:
            return f"session {reg_id} not started"
        if self.done:
            return f"session {reg_id} ended: {self._describe_end()}"
        state = self._client.state
        if state is State.CONNECTED:
            silent = now - self._client.last_received
            if silent > limit:
                return f"session {reg_id} silent for {silent:.0f} s"
            return None
        since = self._down_since if self._down_since is not None else self._started
        if now - since > limit:
            return f"session {reg_id} {state} for {now - since:.0f} s"
        return None

    # ------------------------------------------------------------------ lifecycle

    async def start(self, timeout: float = 30.0) -> None:
        """Open the session and return once it is live (its first ``connected``): a hand-over
        is make-before-break on this. Then events flow to the publisher and sends are served.

        Raises:
            TypeError, ValueError: a bad ``timeout``.
            StateError: called twice.
            SessionStartError: Slack refused the login (``fatal``), or the session was not live
                within ``timeout`` (not fatal); the message names the registration id.
        """
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"timeout must be a number, got {type(timeout).__name__}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout!r}")
        if self._started:
            raise StateError(f"session {self._registration.id} was already started")
        self._started = time.monotonic()
        reg_id = self._registration.id
        client = self._client
        try:
            await asyncio.wait_for(client.connect(), timeout)
        except asyncio.TimeoutError:
            await client.close()
            raise SessionStartError(f"session {reg_id} was not live within {timeout} s",
                                    registration_id=reg_id, fatal=False) from None
        except RtmConnectErrorSchemaError as exc:
            await client.close()
            raise SessionStartError(
                f"session {reg_id}: Slack refused the login ({exc.error})",
                registration_id=reg_id, fatal=exc.fatal) from exc
        except SocketAuthError as exc:
            await client.close()
            raise SessionStartError(
                f"session {reg_id}: the socket refused the credentials "
                f"({exc.refusals} times)", registration_id=reg_id, fatal=True) from exc
        except SlackRtmError as exc:
            await client.close()
            raise SessionStartError(f"session {reg_id} did not start: {exc}",
                                    registration_id=reg_id, fatal=False) from exc
        self._pump = asyncio.ensure_future(self._run())
        try:
            self._sub = await self._nc.subscribe(self.send_subject, queue=SEND_QUEUE_GROUP,
                                                 cb=self._on_request)
            # The server has the interest before start() returns: a send right after it (or a
            # claim that says this process holds the session) is never met by "no responders".
            await self._nc.flush(timeout=10)
        except BaseException:
            await self.stop()
            raise
        _log.info("session %s live (team %s, %s)", reg_id, self._registration.team_id,
                  self._registration.kind)

    async def stop(self) -> None:
        """Stop serving sends (those already taken finish, for up to 5 s while the session is
        live; not live, they get an outcome-unknown reply at once), close the session
        (its cursors are saved), publish what it had received, and wait until the publisher has
        those acknowledged (for up to 5 s more; what is left is logged). Idempotent."""
        if self._stopping:
            return
        self._stopping = True
        await self._unsubscribe()
        if self._requests and self._client.state is State.CONNECTED:
            await asyncio.wait(list(self._requests), timeout=_SEND_DRAIN)
        await self._client.close()
        pump = self._pump
        if pump is not None:
            await asyncio.wait([pump])
        try:
            await self._publisher.flush(5.0, session=self._registration.id)
        except PublishTimeoutError as exc:
            _log.error("session %s stopped: %s", self._registration.id, exc)
        for task in list(self._requests):
            task.cancel()
        if self._requests:
            await asyncio.wait(list(self._requests))
        _log.info("session %s stopped", self._registration.id)

    # ------------------------------------------------------------------ events out

    async def _run(self) -> None:
        """Iterate the client: every event to the publisher, in order; lifecycle noted."""
        reg = self._registration
        team, session = reg.team_id, reg.id
        publish = self._publisher.publish
        metrics = self._metrics
        try:
            async for event in self._client:
                self.events_in += 1
                if type(event) is not Message:
                    self._note(event)
                if metrics is not None:
                    metrics.events_in.inc()
                await publish(team, session, event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._error = exc
            if not self._stopping:
                _log.error("session %s ended: %s", session, exc)
        finally:
            if not self._stopping:
                await self._unsubscribe()  # no holder: requests get "no responders"

    def _note(self, event: object) -> None:
        kind = type(event)
        if kind is Connected:
            self._down_since = None
        elif kind is Disconnected or kind is Reconnecting:
            if self._down_since is None:
                self._down_since = time.monotonic()
                if self._metrics is not None and kind is Disconnected:
                    self._metrics.reconnects.inc()
        elif kind is CatchUp:
            assert isinstance(event, CatchUp)
            if event.phase == "done" and self._metrics is not None:
                self._metrics.catch_ups.inc()
        elif kind is Closed:
            assert isinstance(event, Closed)
            if not self._stopping:
                _log.warning("session %s closed: %s", self._registration.id,
                             event.error or event.reason)

    def _describe_end(self) -> str:
        error = self._error if self._error is not None else self._client.error
        if error is None:
            return "closed"
        code = getattr(error, "error", None)
        return f"{type(error).__name__} ({code})" if isinstance(code, str) else repr(error)

    # ------------------------------------------------------------------ sends in

    async def _unsubscribe(self) -> None:
        sub, self._sub = self._sub, None
        if sub is None:
            return
        try:
            await sub.unsubscribe()
        except Exception as exc:  # the connection is closed: nothing is delivered anyway
            _log.debug("unsubscribing session %s: %s", self._registration.id, exc)

    async def _on_request(self, msg: Msg) -> None:
        # The subscription's callback runs requests one at a time: serve each in its own task
        # so that one waiting for its ack does not hold the others up.
        task = asyncio.ensure_future(self._serve(msg))
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    async def _serve(self, msg: Msg) -> None:
        if not msg.reply:
            _log.debug("session %s: a send request without a reply subject, ignored",
                       self._registration.id)
            return
        started = time.monotonic()
        reply = await self.serve_request(msg.data)
        self.sends += 1
        if self._metrics is not None:
            self._metrics.send_round_trip.observe(time.monotonic() - started)
        try:
            await msg.respond(reply)
        except Exception as exc:
            _log.warning("session %s: the reply to a send was not delivered: %s",
                         self._registration.id, exc)

    async def serve_request(self, data: bytes) -> bytes:
        """The reply to one send request (the body of a NATS request): Slack's ack frame as
        Slack sent it, Slack's refusal, or the contract's bad-request, not-sent or
        outcome-unknown reply.

        Raises:
            Nothing: every outcome is a reply.
        """
        try:
            request = decode_send_request(data)
        except ContractError as exc:
            return bad_request_reply(str(exc))
        try:
            ack = await self._client.send_message(request.channel, request.text,
                                                  thread_ts=request.thread_ts)
        except SendError as exc:
            return refusal_reply(exc)
        except FrameTooLargeError as exc:
            return bad_request_reply(str(exc))
        except SendOutcomeUnknownError as exc:
            return outcome_unknown_reply(str(exc) or "the link was lost before the ack")
        except ConnectionClosedError:
            return outcome_unknown_reply("the session closed before the ack")
        except SendQueueFullError:
            return not_sent_reply("the session's send queue is full")
        except StateError:
            return not_sent_reply("the session is not live")
        except (TypeError, ValueError) as exc:
            return bad_request_reply(str(exc))
        except Exception as exc:  # defensive: a reply for every request
            _log.error("session %s: a send failed: %r", self._registration.id, exc)
            return outcome_unknown_reply(type(exc).__name__)
        return ack.frame
