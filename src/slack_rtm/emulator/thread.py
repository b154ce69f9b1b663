"""Run an :class:`Emulator` on a background thread with its own event loop.

:class:`EmulatorThread` mirrors the emulator's controls as plain (blocking) methods, for sync
code and tests; ``.aio`` holds awaitable twins for async code running on ANOTHER event loop, which
must not block while it waits (say, for a frame its own client has yet to send).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from slack_rtm.emulator.browser import Upgrade
from slack_rtm.emulator.records import (
    BrowserSession,
    ConnectCall,
    ReceivedFrame,
    SocketModeAck,
    SocketModeEnvelope,
    TokenOverlap,
)
from slack_rtm.emulator.server import Emulator
from slack_rtm.emulator.socket_mode import POST_BURST
from slack_rtm.emulator.workspace import Presence, Workspace
from slack_rtm.loop_thread import LoopThread

__all__ = ["AsyncControls", "EmulatorThread"]

T = TypeVar("T")

_SLACK = 10.0  # seconds added to a wait's own timeout before the caller gives up on the thread


class EmulatorThread:
    """An :class:`Emulator` served by a daemon thread; every control is a blocking call.

    Args:
        workspace: the workspace (default: :meth:`Workspace.default`).
        emulator: an existing, not yet started emulator to run instead (then pass no options).
        **options: the :class:`Emulator` keyword options (host, port, write_rate, ...).

    Use ``with EmulatorThread() as emu:`` or ``emu.start()`` / ``emu.stop()``.
    """

    def __init__(
        self,
        workspace: Workspace | None = None,
        *,
        emulator: Emulator | None = None,
        **options: Any,
    ) -> None:
        if emulator is not None and (workspace is not None or options):
            raise ValueError("emulator: pass either an emulator or its options, not both")
        self.emulator = emulator if emulator is not None else Emulator(workspace, **options)
        self._loop_thread = LoopThread("slack-rtm-emulator")
        self.aio = AsyncControls(self)

    def __repr__(self) -> str:
        return f"<EmulatorThread {self.emulator!r}>"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> EmulatorThread:
        """Start the thread and the server; returns self once it listens.

        Raises:
            RuntimeError: already started; OSError: the address cannot be bound.
        """
        if self._loop_thread.thread is not None:
            raise RuntimeError("the emulator thread is already started")
        self._loop_thread = LoopThread("slack-rtm-emulator")
        self._loop_thread.start()
        try:
            self._loop_thread.run(self.emulator.start(), timeout)
        except BaseException:
            self._loop_thread.stop(timeout)
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and the thread; safe to call twice."""
        if not self._loop_thread.running:
            return
        try:
            self._loop_thread.run(self.emulator.stop(), timeout)
        finally:
            self._loop_thread.stop(timeout)

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def future(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine on the emulator's loop; returns its future.

        Raises:
            RuntimeError: the thread is not running.
        """
        if not self._loop_thread.running:
            coro.close()
            raise RuntimeError("the emulator thread is not running: call start() first")
        return self._loop_thread.submit(coro)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the emulator's loop and return its result (blocking)."""
        return self.future(coro).result(timeout)

    def _sync(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return self.call(run())

    # -- read-only state ---------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """The Web API base URL, e.g. ``http://127.0.0.1:PORT/api``."""
        return self.emulator.api_url

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT``."""
        return self.emulator.base_url

    @property
    def control_url(self) -> str:
        """The HTTP control API base URL."""
        return self.emulator.control_url

    @property
    def port(self) -> int:
        """The port listened on."""
        return self.emulator.port

    @property
    def workspace(self) -> Workspace:
        """The workspace (change it only through the controls while running)."""
        return self.emulator.workspace

    @property
    def team_id(self) -> str:
        """The team id."""
        return self.emulator.team_id

    @property
    def bot_token(self) -> str:
        """The default bot's token."""
        return self.emulator.bot_token

    @property
    def bot_user_id(self) -> str:
        """The default bot's user id."""
        return self.emulator.bot_user_id

    @property
    def user_tokens(self) -> dict[str, str]:
        """The people's tokens by user id."""
        return self.emulator.user_tokens

    @property
    def general_channel_id(self) -> str:
        """A public channel everyone is in."""
        return self.emulator.general_channel_id

    @property
    def received(self) -> list[ReceivedFrame]:
        """A copy of the frames clients sent so far."""
        return self._sync(lambda: list(self.emulator.received))

    @property
    def connection_count(self) -> int:
        """How many WebSockets are open."""
        return self._sync(lambda: self.emulator.connection_count)

    @property
    def connect_calls(self) -> int:
        """How many ``rtm.connect`` calls were answered."""
        return self._sync(lambda: self.emulator.connect_calls)

    @property
    def connect_log(self) -> list[ConnectCall]:
        """A copy of the answered ``rtm.connect`` calls."""
        return self._sync(lambda: list(self.emulator.connect_log))

    @property
    def issued_urls(self) -> list[str]:
        """A copy of the WebSocket URLs handed out; see :attr:`Emulator.issued_urls`."""
        return self._sync(lambda: self.emulator.issued_urls)

    @property
    def upgrades(self) -> list[Upgrade]:
        """A copy of the WebSocket upgrades received; see :attr:`Emulator.upgrades`."""
        return self._sync(lambda: list(self.emulator.upgrades))

    @property
    def token_overlaps(self) -> list[TokenOverlap]:
        """A copy of the overlaps of one token's sockets; see :attr:`Emulator.token_overlaps`."""
        return self._sync(lambda: self.emulator.token_overlaps)

    def live_sockets_by_token(self) -> dict[str, int]:
        """See :meth:`Emulator.live_sockets_by_token`."""
        return self._sync(self.emulator.live_sockets_by_token)

    @property
    def resumes(self) -> int:
        """How many connections opened with a ``reconnect_url`` event's URL."""
        return self._sync(lambda: self.emulator.resumes)

    @property
    def app_token(self) -> str:
        """The app-level token Socket Mode accepts (``xapp-...``)."""
        return self.emulator.app_token

    @property
    def app_id(self) -> str:
        """The emulated app's id (``A...``)."""
        return self.emulator.app_id

    @property
    def socket_mode_connections(self) -> int:
        """How many Socket Mode sockets are open."""
        return self._sync(lambda: self.emulator.socket_mode_connections)

    @property
    def socket_mode_connection_ids(self) -> list[int]:
        """The ids of the open Socket Mode sockets."""
        return self._sync(lambda: self.emulator.socket_mode_connection_ids)

    @property
    def socket_mode_envelopes(self) -> list[SocketModeEnvelope]:
        """A copy of the Socket Mode envelopes sent."""
        return self._sync(lambda: list(self.emulator.socket_mode_envelopes))

    @property
    def socket_mode_acks(self) -> list[SocketModeAck]:
        """A copy of the Socket Mode acks received."""
        return self._sync(lambda: list(self.emulator.socket_mode_acks))

    @property
    def socket_mode_unacked(self) -> list[SocketModeEnvelope]:
        """A copy of the Socket Mode envelopes given up unacknowledged."""
        return self._sync(lambda: list(self.emulator.socket_mode_unacked))

    def state(self) -> dict[str, Any]:
        """See :meth:`Emulator.state`."""
        return self._sync(self.emulator.state)

    # -- controls (blocking twins of the Emulator's) -----------------------------------------

    def post_message(
        self, user_id: str, channel_id: str, text: str, thread_ts: str | None = None
    ) -> str:
        """See :meth:`Emulator.post_message`."""
        return self.call(self.emulator.post_message(user_id, channel_id, text, thread_ts))

    def inject_event(self, event: dict[str, Any], user_id: str | None = None) -> int:
        """See :meth:`Emulator.inject_event`."""
        return self.call(self.emulator.inject_event(event, user_id))

    def set_presence(self, user_id: str, presence: Presence) -> int:
        """See :meth:`Emulator.set_presence`."""
        return self.call(self.emulator.set_presence(user_id, presence))

    def send_goodbye(self, close_after: float | None = None) -> int:
        """See :meth:`Emulator.send_goodbye`."""
        return self.call(self.emulator.send_goodbye(close_after))

    def start_migration(self, duration: float = 3.0) -> int:
        """See :meth:`Emulator.start_migration`."""
        return self.call(self.emulator.start_migration(duration))

    def drop_connections(self, abrupt: bool = True, user_id: str | None = None) -> int:
        """See :meth:`Emulator.drop_connections`."""
        return self.call(self.emulator.drop_connections(abrupt, user_id))

    def set_pong(self, enabled: bool) -> None:
        """See :meth:`Emulator.set_pong`."""
        self._sync(lambda: self.emulator.set_pong(enabled))

    def fail_next_connects(
        self, n: int, error: str = "internal_error", status: int = 200,
        retry_after: int | None = None,
    ) -> None:
        """See :meth:`Emulator.fail_next_connects`."""
        self._sync(lambda: self.emulator.fail_next_connects(n, error, status, retry_after))

    def rate_limit_next_connects(self, n: int, retry_after: int = 1) -> None:
        """See :meth:`Emulator.rate_limit_next_connects`."""
        self._sync(lambda: self.emulator.rate_limit_next_connects(n, retry_after))

    def expire_next_urls(self, n: int = 1) -> None:
        """See :meth:`Emulator.expire_next_urls`."""
        self._sync(lambda: self.emulator.expire_next_urls(n))

    def set_connect_rate_limit(self, per_minute: int | None, token: str | None = None) -> None:
        """See :meth:`Emulator.set_connect_rate_limit`."""
        self._sync(lambda: self.emulator.set_connect_rate_limit(per_minute, token))

    def set_token_error(self, token: str, error: str | None) -> None:
        """See :meth:`Emulator.set_token_error`."""
        self._sync(lambda: self.emulator.set_token_error(token, error))

    def clear_received(self) -> None:
        """See :meth:`Emulator.clear_received`."""
        self._sync(self.emulator.clear_received)

    def wait_for_frame(
        self, predicate: Callable[[ReceivedFrame], bool], timeout: float = 5.0
    ) -> ReceivedFrame:
        """See :meth:`Emulator.wait_for_frame` (blocks this thread; use ``.aio`` from a loop)."""
        return self.call(self.emulator.wait_for_frame(predicate, timeout), timeout + _SLACK)

    def wait_connections(self, n: int, timeout: float = 5.0) -> None:
        """See :meth:`Emulator.wait_connections`."""
        self.call(self.emulator.wait_connections(n, timeout), timeout + _SLACK)

    def prepare_firehose(self, n: int) -> None:
        """See :meth:`Emulator.prepare_firehose`."""
        self._sync(lambda: self.emulator.prepare_firehose(n))

    def firehose(self, n: int, user_id: str | None = None, timeout: float = 300.0) -> int:
        """See :meth:`Emulator.firehose`."""
        return self.call(self.emulator.firehose(n, user_id), timeout)

    def firehose_payloads(
        self,
        payloads: Sequence[bytes | str | dict[str, Any]],
        user_id: str | None = None,
        timeout: float = 300.0,
    ) -> int:
        """See :meth:`Emulator.firehose_payloads`."""
        return self.call(self.emulator.firehose_payloads(payloads, user_id), timeout)

    def browser_session(self, user_id: str, *, d_s: str | None = None) -> BrowserSession:
        """See :meth:`Emulator.browser_session`."""
        return self._sync(lambda: self.emulator.browser_session(user_id, d_s=d_s))

    def refuse_next_sockets(self, n: int, *, after_hello: bool = False) -> None:
        """See :meth:`Emulator.refuse_next_sockets`."""
        self._sync(lambda: self.emulator.refuse_next_sockets(n, after_hello=after_hello))

    def set_reconnect_urls(self, enabled: bool, interval: float | None = None) -> None:
        """See :meth:`Emulator.set_reconnect_urls`."""
        self._sync(lambda: self.emulator.set_reconnect_urls(enabled, interval))

    def expire_reconnect_urls(self) -> int:
        """See :meth:`Emulator.expire_reconnect_urls`."""
        return self._sync(self.emulator.expire_reconnect_urls)
    def post_messages(self, messages: Sequence[Mapping[str, Any]]) -> list[str]:
        """See :meth:`Emulator.post_messages`."""
        return self.call(self.emulator.post_messages(messages))

    def set_history_rate_limit(
        self, per_minute: int | None, *, max_limit: int | None = None, method: str | None = None
    ) -> None:
        """See :meth:`Emulator.set_history_rate_limit`."""
        self._sync(
            lambda: self.emulator.set_history_rate_limit(
                per_minute, max_limit=max_limit, method=method
            )
        )

    def rate_limit_next_history_calls(self, n: int, retry_after: int = 1) -> None:
        """See :meth:`Emulator.rate_limit_next_history_calls`."""
        self._sync(lambda: self.emulator.rate_limit_next_history_calls(n, retry_after))

    def hold_reconnects(self, user_id: str, seconds: float) -> None:
        """See :meth:`Emulator.hold_reconnects`."""
        self._sync(lambda: self.emulator.hold_reconnects(user_id, seconds))

    def drop_and_hold(self, user_id: str, seconds: float, *, abrupt: bool = True) -> int:
        """See :meth:`Emulator.drop_and_hold`."""
        return self.call(self.emulator.drop_and_hold(user_id, seconds, abrupt=abrupt))

    def send_slash_command(
        self,
        command: str = "/cmd",
        text: str = "",
        user_id: str | None = None,
        channel_id: str | None = None,
    ) -> str:
        """See :meth:`Emulator.send_slash_command`."""
        return self.call(self.emulator.send_slash_command(command, text, user_id, channel_id))

    def send_interaction(self, payload: dict[str, Any] | None = None) -> str:
        """See :meth:`Emulator.send_interaction`."""
        return self.call(self.emulator.send_interaction(payload))

    def socket_mode_disconnect(
        self, reason: str, *, close_after: float | None = None, connection: int | None = None
    ) -> int:
        """See :meth:`Emulator.socket_mode_disconnect`."""
        return self.call(
            self.emulator.socket_mode_disconnect(
                reason, close_after=close_after, connection=connection
            )
        )

    def enable_socket_mode(self) -> None:
        """See :meth:`Emulator.enable_socket_mode`."""
        self._sync(self.emulator.enable_socket_mode)

    def wait_socket_mode_connections(self, n: int, timeout: float = 5.0) -> None:
        """See :meth:`Emulator.wait_socket_mode_connections`."""
        self.call(self.emulator.wait_socket_mode_connections(n, timeout), timeout + _SLACK)

    def wait_socket_mode_acks(self, n: int, timeout: float = 5.0) -> None:
        """See :meth:`Emulator.wait_socket_mode_acks`."""
        self.call(self.emulator.wait_socket_mode_acks(n, timeout), timeout + _SLACK)

    def set_post_rate_limit(self, per_second: float | None, burst: int = POST_BURST) -> None:
        """See :meth:`Emulator.set_post_rate_limit`."""
        self._sync(lambda: self.emulator.set_post_rate_limit(per_second, burst))

    def prepare_socket_mode_firehose(self, n: int) -> None:
        """See :meth:`Emulator.prepare_socket_mode_firehose`."""
        self._sync(lambda: self.emulator.prepare_socket_mode_firehose(n))

    def socket_mode_firehose(self, n: int, timeout: float = 300.0) -> int:
        """See :meth:`Emulator.socket_mode_firehose`."""
        return self.call(self.emulator.socket_mode_firehose(n), timeout)


class AsyncControls:
    """Awaitable twins of the :class:`EmulatorThread` controls, for code on another loop.

    Same names, same arguments, same order; each runs on the emulator's loop and is awaited
    without blocking the caller's loop.
    """

    def __init__(self, owner: EmulatorThread) -> None:
        self._owner = owner

    async def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(self._owner.future(coro))

    async def _sync(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return await self._run(run())

    async def post_message(
        self, user_id: str, channel_id: str, text: str, thread_ts: str | None = None
    ) -> str:
        """See :meth:`Emulator.post_message`."""
        return await self._run(
            self._owner.emulator.post_message(user_id, channel_id, text, thread_ts)
        )

    async def inject_event(self, event: dict[str, Any], user_id: str | None = None) -> int:
        """See :meth:`Emulator.inject_event`."""
        return await self._run(self._owner.emulator.inject_event(event, user_id))

    async def set_presence(self, user_id: str, presence: Presence) -> int:
        """See :meth:`Emulator.set_presence`."""
        return await self._run(self._owner.emulator.set_presence(user_id, presence))

    async def send_goodbye(self, close_after: float | None = None) -> int:
        """See :meth:`Emulator.send_goodbye`."""
        return await self._run(self._owner.emulator.send_goodbye(close_after))

    async def start_migration(self, duration: float = 3.0) -> int:
        """See :meth:`Emulator.start_migration`."""
        return await self._run(self._owner.emulator.start_migration(duration))

    async def drop_connections(self, abrupt: bool = True, user_id: str | None = None) -> int:
        """See :meth:`Emulator.drop_connections`."""
        return await self._run(self._owner.emulator.drop_connections(abrupt, user_id))

    async def set_pong(self, enabled: bool) -> None:
        """See :meth:`Emulator.set_pong`."""
        await self._sync(lambda: self._owner.emulator.set_pong(enabled))

    async def fail_next_connects(
        self, n: int, error: str = "internal_error", status: int = 200,
        retry_after: int | None = None,
    ) -> None:
        """See :meth:`Emulator.fail_next_connects`."""
        await self._sync(
            lambda: self._owner.emulator.fail_next_connects(n, error, status, retry_after)
        )

    async def rate_limit_next_connects(self, n: int, retry_after: int = 1) -> None:
        """See :meth:`Emulator.rate_limit_next_connects`."""
        await self._sync(lambda: self._owner.emulator.rate_limit_next_connects(n, retry_after))

    async def expire_next_urls(self, n: int = 1) -> None:
        """See :meth:`Emulator.expire_next_urls`."""
        await self._sync(lambda: self._owner.emulator.expire_next_urls(n))

    async def set_connect_rate_limit(
        self, per_minute: int | None, token: str | None = None
    ) -> None:
        """See :meth:`Emulator.set_connect_rate_limit`."""
        await self._sync(lambda: self._owner.emulator.set_connect_rate_limit(per_minute, token))

    async def set_token_error(self, token: str, error: str | None) -> None:
        """See :meth:`Emulator.set_token_error`."""
        await self._sync(lambda: self._owner.emulator.set_token_error(token, error))

    async def clear_received(self) -> None:
        """See :meth:`Emulator.clear_received`."""
        await self._sync(self._owner.emulator.clear_received)

    async def live_sockets_by_token(self) -> dict[str, int]:
        """See :meth:`Emulator.live_sockets_by_token`."""
        return await self._sync(self._owner.emulator.live_sockets_by_token)

    async def wait_for_frame(
        self, predicate: Callable[[ReceivedFrame], bool], timeout: float = 5.0
    ) -> ReceivedFrame:
        """See :meth:`Emulator.wait_for_frame`."""
        return await self._run(self._owner.emulator.wait_for_frame(predicate, timeout))

    async def wait_connections(self, n: int, timeout: float = 5.0) -> None:
        """See :meth:`Emulator.wait_connections`."""
        await self._run(self._owner.emulator.wait_connections(n, timeout))

    async def prepare_firehose(self, n: int) -> None:
        """See :meth:`Emulator.prepare_firehose`."""
        await self._sync(lambda: self._owner.emulator.prepare_firehose(n))

    async def firehose(self, n: int, user_id: str | None = None) -> int:
        """See :meth:`Emulator.firehose`."""
        return await self._run(self._owner.emulator.firehose(n, user_id))

    async def firehose_payloads(
        self, payloads: Sequence[bytes | str | dict[str, Any]], user_id: str | None = None
    ) -> int:
        """See :meth:`Emulator.firehose_payloads`."""
        return await self._run(self._owner.emulator.firehose_payloads(payloads, user_id))

    async def browser_session(self, user_id: str, *, d_s: str | None = None) -> BrowserSession:
        """See :meth:`Emulator.browser_session`."""
        return await self._sync(lambda: self._owner.emulator.browser_session(user_id, d_s=d_s))

    async def refuse_next_sockets(self, n: int, *, after_hello: bool = False) -> None:
        """See :meth:`Emulator.refuse_next_sockets`."""
        await self._sync(
            lambda: self._owner.emulator.refuse_next_sockets(n, after_hello=after_hello)
        )

    async def set_reconnect_urls(self, enabled: bool, interval: float | None = None) -> None:
        """See :meth:`Emulator.set_reconnect_urls`."""
        await self._sync(lambda: self._owner.emulator.set_reconnect_urls(enabled, interval))

    async def expire_reconnect_urls(self) -> int:
        """See :meth:`Emulator.expire_reconnect_urls`."""
        return await self._sync(self._owner.emulator.expire_reconnect_urls)
    async def post_messages(self, messages: Sequence[Mapping[str, Any]]) -> list[str]:
        """See :meth:`Emulator.post_messages`."""
        return await self._run(self._owner.emulator.post_messages(messages))

    async def set_history_rate_limit(
        self, per_minute: int | None, *, max_limit: int | None = None, method: str | None = None
    ) -> None:
        """See :meth:`Emulator.set_history_rate_limit`."""
        await self._sync(
            lambda: self._owner.emulator.set_history_rate_limit(
                per_minute, max_limit=max_limit, method=method
            )
        )

    async def rate_limit_next_history_calls(self, n: int, retry_after: int = 1) -> None:
        """See :meth:`Emulator.rate_limit_next_history_calls`."""
        await self._sync(
            lambda: self._owner.emulator.rate_limit_next_history_calls(n, retry_after)
        )

    async def hold_reconnects(self, user_id: str, seconds: float) -> None:
        """See :meth:`Emulator.hold_reconnects`."""
        await self._sync(lambda: self._owner.emulator.hold_reconnects(user_id, seconds))

    async def drop_and_hold(self, user_id: str, seconds: float, *, abrupt: bool = True) -> int:
        """See :meth:`Emulator.drop_and_hold`."""
        return await self._run(
            self._owner.emulator.drop_and_hold(user_id, seconds, abrupt=abrupt)
        )

    async def send_slash_command(
        self,
        command: str = "/cmd",
        text: str = "",
        user_id: str | None = None,
        channel_id: str | None = None,
    ) -> str:
        """See :meth:`Emulator.send_slash_command`."""
        return await self._run(
            self._owner.emulator.send_slash_command(command, text, user_id, channel_id)
        )

    async def send_interaction(self, payload: dict[str, Any] | None = None) -> str:
        """See :meth:`Emulator.send_interaction`."""
        return await self._run(self._owner.emulator.send_interaction(payload))

    async def socket_mode_disconnect(
        self, reason: str, *, close_after: float | None = None, connection: int | None = None
    ) -> int:
        """See :meth:`Emulator.socket_mode_disconnect`."""
        return await self._run(
            self._owner.emulator.socket_mode_disconnect(
                reason, close_after=close_after, connection=connection
            )
        )

    async def enable_socket_mode(self) -> None:
        """See :meth:`Emulator.enable_socket_mode`."""
        await self._sync(self._owner.emulator.enable_socket_mode)

    async def wait_socket_mode_connections(self, n: int, timeout: float = 5.0) -> None:
        """See :meth:`Emulator.wait_socket_mode_connections`."""
        await self._run(self._owner.emulator.wait_socket_mode_connections(n, timeout))

    async def wait_socket_mode_acks(self, n: int, timeout: float = 5.0) -> None:
        """See :meth:`Emulator.wait_socket_mode_acks`."""
        await self._run(self._owner.emulator.wait_socket_mode_acks(n, timeout))

    async def set_post_rate_limit(
        self, per_second: float | None, burst: int = POST_BURST
    ) -> None:
        """See :meth:`Emulator.set_post_rate_limit`."""
        await self._sync(lambda: self._owner.emulator.set_post_rate_limit(per_second, burst))

    async def prepare_socket_mode_firehose(self, n: int) -> None:
        """See :meth:`Emulator.prepare_socket_mode_firehose`."""
        await self._sync(lambda: self._owner.emulator.prepare_socket_mode_firehose(n))

    async def socket_mode_firehose(self, n: int) -> int:
        """See :meth:`Emulator.socket_mode_firehose`."""
        return await self._run(self._owner.emulator.socket_mode_firehose(n))
