"""A local Slack-compatible RTM server: Web API + WebSocket on one port, with fault injection.

Quick use::

    from slack_rtm.emulator import Emulator

    async with Emulator() as emu:           # listens on 127.0.0.1, a free port
        emu.api_url                         # "http://127.0.0.1:PORT/api"
        emu.bot_token                       # the default bot's token
        alice = emu.workspace.people[0].id  # emu.user_tokens: the people's tokens by id
        await emu.post_message(alice, emu.general_channel_id, "hi")

Controls of :class:`Emulator` (awaitable where they talk to sockets or wait):

- Events: ``post_message(user_id, channel_id, text, thread_ts=None)``,
  ``inject_event(event, user_id=None)``, ``set_presence(user_id, presence)``.
- Sockets: ``send_goodbye(close_after=None)``, ``start_migration(duration=3.0)``,
  ``drop_connections(abrupt=True, user_id=None)``, ``set_pong(enabled)``.
- ``rtm.connect``: ``fail_next_connects(n, error, status)``,
  ``rate_limit_next_connects(n, retry_after)``, ``expire_next_urls(n=1)`` (the URL is handed
  out but already expired), ``set_token_error(token, error)``,
  ``set_connect_rate_limit(per_minute, token=None)``.
- Browser sessions (PROTOCOL §7): ``browser_session(user_id, *, d_s=None)`` (an xoxc- token
  that needs its d cookie, encoded once, on the Web API call and the WebSocket upgrade).
- WebSockets: ``refuse_next_sockets(n, *, after_hello=False)`` (in-band 401 error and close),
  ``set_reconnect_urls(enabled, interval=None)`` (``{"type": "reconnect_url"}`` events, on
  by default every 3 s), ``expire_reconnect_urls()``; ``upgrades`` (every upgrade's Cookie,
  Origin and User-Agent headers), ``resumes`` (connections opened by a reconnect URL).
- Load: ``prepare_firehose(n)``, ``firehose(n, user_id=None)``,
  ``firehose_payloads(payloads, user_id=None)``.
- History (PROTOCOL §8): ``history`` (the stored messages behind ``conversations.history``,
  ``conversations.replies``, ``users.conversations``, ``conversations.info``),
  ``post_messages(messages)``, ``set_history_rate_limit(per_minute, max_limit=None,
  method=None)``, ``rate_limit_next_history_calls(n, retry_after=1)``; gaps:
  ``hold_reconnects(user_id, seconds)``, ``drop_and_hold(user_id, seconds, abrupt=True)``.
- Socket Mode (PROTOCOL §9, :mod:`.socket_mode`): ``app_token``, ``app_id`` (the app;
  ``apps.connections.open`` takes the app token), ``send_slash_command(command="/cmd",
  text="", user_id=None, channel_id=None)``, ``send_interaction(payload=None)`` (each returns
  the envelope id; events people post become ``"events_api"`` envelopes by themselves),
  ``socket_mode_disconnect(reason, *, close_after=None, connection=None)`` (``"warning"``,
  ``"refresh_requested"``, ``"link_disabled"``), ``enable_socket_mode()``,
  ``set_post_rate_limit(per_second, burst=10)`` (``chat.postMessage``),
  ``prepare_socket_mode_firehose(n)``, ``socket_mode_firehose(n)``; records
  ``socket_mode_envelopes``, ``socket_mode_acks``, ``socket_mode_unacked``,
  ``socket_mode_connections``, ``socket_mode_connection_ids``; waits
  ``wait_socket_mode_connections(n, timeout)``, ``wait_socket_mode_acks(n, timeout)``.
  ``drop_connections``, ``set_pong``, ``fail_next_connects``, ``rate_limit_next_connects``,
  ``expire_next_urls`` and ``set_connect_rate_limit`` apply to Socket Mode too.
- Records and waits: ``received`` (frames clients sent), ``clear_received()``,
  ``connect_log`` / ``connect_calls`` (answered ``rtm.connect`` calls), ``issued_urls`` (the
  WebSocket URLs handed out: credentials, for leak checks), ``state()``,
  ``wait_for_frame(predicate, timeout)``, ``wait_connections(n, timeout)``;
  ``live_sockets_by_token()`` and ``token_overlaps`` (every stretch during which two sockets
  of one token were live at once: a gateway's hand-over, or a bug).

:class:`EmulatorThread` runs it on a background thread with the same controls as blocking
calls, and their awaitable twins on ``.aio``; the HTTP control API (:mod:`.control`, under
``/_emulator/``) offers every control to other processes as ``POST /_emulator/<name>``.

Modules: the emulator is built in layers; each module imports only from layers below it (and
its own), checked by ``tests/emulator/test_layers.py``::

    thread, pytest_plugin        EmulatorThread and its .aio twins; the slack_emulator fixture
        |
    server                       Emulator = EmulatorState + the aiohttp server (start, stop)
        |
    api/  websocket              /api/<method>, /websocket/<ticket>,
    socket_mode_ws  control      /socket-mode/<ticket>, /_emulator/<name>
        |
    state                        EmulatorState: all the state and the Python controls, built
        |                        from the mixins faults, browser, resume, history_controls,
        |                        socket_mode
    faults  browser  resume  history_controls  socket_mode
        |
    workspace  records  limits  validate  connection  history  firehose

- Bottom: :mod:`.workspace` (team, users, channels), :mod:`.records` (what is recorded and
  handed out: frames, ``rtm.connect`` calls, browser sessions, ticket grants), :mod:`.limits`
  (rate limits, timestamps), :mod:`.validate` (argument checks), :mod:`.connection` (one client
  socket), :mod:`.history` (the message store and its queries), :mod:`.firehose` (pre-encoded
  event streams).
- Mixins: :mod:`.faults` (fault injection), :mod:`.browser` (browser sessions, upgrade records,
  refused sockets), :mod:`.resume` (``reconnect_url`` events and resume tickets),
  :mod:`.history_controls` (history rate limits and gap controls), :mod:`.socket_mode` (the
  app, Socket Mode tickets, sockets, envelopes, acks and redelivery, ``chat.postMessage``'s
  rate limit).
- :mod:`.state` (:class:`~slack_rtm.emulator.state.EmulatorState`: the state and every Python
  control).
- Handlers, on the state: :mod:`.api` (the Web API, one module per family: :mod:`.api.rtm`
  ``rtm.connect``, :mod:`.api.auth` ``auth.test``, :mod:`.api.apps` ``apps.connections.open``,
  :mod:`.api.chat` ``chat.postMessage``, :mod:`.api.conversations` the history methods,
  :mod:`.api.common` parameters, authentication and JSON answers), :mod:`.websocket` (the RTM
  session), :mod:`.socket_mode_ws` (the Socket Mode socket), :mod:`.control` (the HTTP control
  API).
- :mod:`.server` (:class:`Emulator`: the state plus the aiohttp app and its lifecycle).
- :mod:`.thread` (:class:`EmulatorThread`), :mod:`.pytest_plugin` (the ``slack_emulator``
  fixture).

The one reference upward: :meth:`Emulator.start_in_thread` imports :mod:`.thread` when called.
:mod:`.webapi` is kept for compatibility only (it re-exports :mod:`.api`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_rtm.lazy import lazy_exports

if TYPE_CHECKING:
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
    from slack_rtm.emulator.thread import AsyncControls, EmulatorThread
    from slack_rtm.emulator.websocket import ERRORS
    from slack_rtm.emulator.workspace import Channel, Team, User, Workspace

__all__ = [
    "ERRORS",
    "AsyncControls",
    "BrowserSession",
    "Channel",
    "ConnectCall",
    "Emulator",
    "EmulatorThread",
    "ReceivedFrame",
    "SocketModeAck",
    "SocketModeEnvelope",
    "Team",
    "TokenOverlap",
    "Upgrade",
    "User",
    "Workspace",
]

# Names are imported on first use (PEP 562): the pytest plugin lives in this package and pytest
# imports plugins before coverage starts, so an eager import here would hide the emulator's
# module-level lines from coverage (and slow every pytest start).
_HOMES = {
    "BrowserSession": ".records",
    "Upgrade": ".browser",
    "ConnectCall": ".records",
    "ReceivedFrame": ".records",
    "SocketModeAck": ".records",
    "SocketModeEnvelope": ".records",
    "TokenOverlap": ".records",
    "Emulator": ".server",
    "AsyncControls": ".thread",
    "EmulatorThread": ".thread",
    "ERRORS": ".websocket",
    "Channel": ".workspace",
    "Team": ".workspace",
    "User": ".workspace",
    "Workspace": ".workspace",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
