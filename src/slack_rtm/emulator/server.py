"""The :class:`Emulator`: a local Slack-compatible RTM server on one port, with its controls.

The top of the emulator's layers: :class:`Emulator` is the state and Python controls of
:class:`~slack_rtm.emulator.state.EmulatorState` plus the aiohttp server that serves them.
HTTP and WebSocket share one aiohttp server: ``/api/<method>`` (:mod:`.api`),
``/websocket/<ticket>`` (:mod:`.websocket`), ``/socket-mode/<ticket>`` (:mod:`.socket_mode_ws`)
and the HTTP control API ``/_emulator/...``
(:mod:`.control`). It listens on 127.0.0.1, port 0 (any free port) by default.

Every module it imports sits below it. The single upward reference of the emulator is
:meth:`Emulator.start_in_thread`, which imports :mod:`.thread` (a layer above this one, since
:class:`~slack_rtm.emulator.thread.EmulatorThread` wraps an :class:`Emulator`) when called.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import TYPE_CHECKING

from aiohttp import web

from slack_rtm.emulator import api, control, socket_mode_ws, websocket
from slack_rtm.emulator.records import Grant
from slack_rtm.emulator.state import ISSUED_URLS_KEPT, EmulatorState

if TYPE_CHECKING:
    from slack_rtm.emulator.thread import EmulatorThread

__all__ = ["ISSUED_URLS_KEPT", "Emulator", "Grant"]


class Emulator(EmulatorState):
    """A local Slack-compatible RTM server: Web API, WebSocket and fault-injection controls.

    Use it as ``async with Emulator() as emu:`` or ``await emu.start()`` / ``await emu.stop()``.
    See :class:`slack_rtm.emulator.EmulatorThread` to run it on a background thread.

    Args:
        workspace: the team, users and channels; :meth:`Workspace.default` if omitted.
        host: the address to listen on (loopback by default).
        port: the port; 0 picks a free one (read it back from :attr:`port`).
        url_ttl: seconds an ``rtm.connect`` URL stays valid (Slack: 30).
        reject_query_tokens: answer a token in the query string with ``invalid_auth``.
        connect_rate_limit: ``rtm.connect`` calls allowed per minute per token (``None``: no
            limit, so tests can reconnect freely); over it, HTTP 429 with ``Retry-After``.
        write_rate: messages per second a connection may send (``None`` disables the limit).
        write_burst: messages a connection may send in a burst before ``write_rate`` applies.
        write_abuse_limit: refused writes in a row after which the socket is closed (1008).
        max_frame_bytes: client frames larger than this close the socket (1009). Slack: 16 KB.
        echo_own_messages: also deliver a message event to the sender's own sockets.
        control_api: serve the HTTP control API under ``/_emulator/``.
        reconnect_url_interval: seconds between ``reconnect_url`` events on each connection
            (the first about ``min(1.0, interval)`` s after ``hello``); ``None``: none sent.
        reconnect_url_ttl: seconds a ``reconnect_url`` event's URL stays valid.
        history_limit: messages kept per conversation for the history methods (PROTOCOL §8),
            replies included; the oldest go first (:mod:`.history_controls`).
        app_token: pin the app-level token Socket Mode accepts (``xapp-...``); a fresh one by
            default (:attr:`app_token`; the app's id is :attr:`app_id`).
        ack_timeout: seconds a Socket Mode envelope waits for its ack before it is redelivered
            (Slack: 3; :mod:`.socket_mode`).

    Raises:
        TypeError, ValueError: on a bad argument.
    """

    _runner: web.AppRunner | None = None  # set by start(), cleared by stop()

    def __repr__(self) -> str:
        state = f"port={self._port}" if self._runner is not None else "stopped"
        return f"<Emulator {state} connections={len(self._conns)}>"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening. Raises ``RuntimeError`` if already started, ``OSError`` if the
        address cannot be bound."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already started")

        async def api_route(request: web.Request) -> web.StreamResponse:
            return await api.handle_api(self, request)

        async def socket_route(request: web.Request) -> web.StreamResponse:
            return await websocket.handle_websocket(self, request)

        async def socket_mode_route(request: web.Request) -> web.StreamResponse:
            return await socket_mode_ws.handle_socket_mode(self, request)

        app = web.Application()
        app.router.add_route("*", "/api/{method}", api_route)
        app.router.add_get("/websocket/{ticket}", socket_route)
        app.router.add_get("/socket-mode/{ticket}", socket_mode_route)
        if self.control_api:
            control.add_routes(self, app)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self._port = int(sockets[0].getsockname()[1]) if sockets else self._requested_port
        self._changed = asyncio.Event()
        self._runner = runner
        self._resume_start()

    async def stop(self) -> None:
        """Close every connection and stop listening; safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._resume_stop()
        self._socket_mode_stop()
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self._conns.values()):
            conn.abort()
        await runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def start_in_thread(self) -> EmulatorThread:
        """Start this (not yet started) emulator on a background thread; returns its handle,
        whose controls are blocking calls. Stop it with ``handle.stop()``."""
        # The emulator's one upward import (see the module docstring): thread wraps server.
        from slack_rtm.emulator.thread import EmulatorThread

        return EmulatorThread(emulator=self).start()
