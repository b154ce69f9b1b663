"""The HTTP control API under ``/_emulator/``: every Python control, for other processes.

JSON in, JSON out. Each control of :class:`~slack_rtm.emulator.Emulator` is ``POST
/_emulator/<method name>`` with the method's arguments as a JSON object (a shorter older name
works too, in brackets below). Every answer has ``ok``; a bad argument answers HTTP 400 ``{"ok":
false, "error": "..."}``, a wait that times out HTTP 504, an unknown control HTTP 404.

=============================================  ==================================================
route                                          body -> answer
=============================================  ==================================================
``GET /_emulator/state``                       -> :meth:`Emulator.state` (tokens and browser
                                               sessions' cookies included: the emulator's own
                                               fakes), with ``refuse_next_sockets``,
                                               ``reconnect_url_interval``, ``resumes``, ...
``GET /_emulator/received?since=0``            -> ``{count, frames: [{user_id, conn_id, data,
                                               text}]}``, the frames from index ``since`` on
``DELETE /_emulator/received``,                forget recorded frames
``POST /_emulator/clear_received``
``GET /_emulator/connect_log?since=0``         -> ``{count, calls: [{user_id, status, ok, error,
                                               params, cookie, user_agent}]}``: the answered
                                               ``rtm.connect`` calls
``GET /_emulator/upgrades?since=0``            -> ``{count, upgrades: [{user_id, outcome, resume,
                                               cookie, origin, user_agent}]}``: every WebSocket
                                               upgrade (:class:`~.browser.Upgrade`)
``GET /_emulator/issued_urls``                 -> ``{urls}``: :attr:`Emulator.issued_urls`
``GET /_emulator/token_overlaps?since=0``      -> ``{count, overlaps: [{token_key, user_id,
                                               start, end, most, conn_ids}], live}``: two
                                               sockets of one token live at once
                                               (:attr:`Emulator.token_overlaps`); ``live`` as
                                               below
``POST /_emulator/live_sockets_by_token``      -> ``{live: {token_key: n}}`` (keys
                                               ``<prefix>:<user id>``, never a token)
``POST /_emulator/post_message``               ``{user_id, channel_id, text, thread_ts?}`` ->
                                               ``{ts}``
``POST /_emulator/inject_event``               ``{event, user_id?}`` -> ``{reached}``
``POST /_emulator/set_presence`` (presence)    ``{user_id, presence}`` -> ``{reached}``
``POST /_emulator/send_goodbye`` (goodbye)     ``{close_after?}`` -> ``{reached}``
``POST /_emulator/start_migration``            ``{duration?}`` -> ``{reached}``
(migration)
``POST /_emulator/drop_connections`` (drop)    ``{abrupt?, user_id?}`` -> ``{dropped}``
``POST /_emulator/set_pong`` (pong)            ``{enabled}``
``POST /_emulator/fail_next_connects``         ``{n, error?, status?, retry_after?}``
(fail_connects)
``POST /_emulator/rate_limit_next_connects``   ``{n, retry_after?}``
(rate_limit_connects)
``POST /_emulator/expire_next_urls``           ``{n?}`` (default 1)
``POST /_emulator/set_token_error``            ``{token, error}`` (``error: null`` clears)
(token_error)
``POST /_emulator/set_connect_rate_limit``     ``{per_minute, token?}`` (``per_minute: null``
(connect_rate_limit)                           lifts the limit)
``POST /_emulator/prepare_firehose``           ``{n}`` -> ``{prepared, seconds}``
``POST /_emulator/firehose``                   ``{n, user_id?}`` or ``{payloads, user_id?}`` ->
                                               ``{sent, seconds, cpu_seconds}`` once written;
                                               ``{n, prepare: true}`` = ``prepare_firehose``
``POST /_emulator/firehose_payloads``          ``{payloads, user_id?}`` -> as ``firehose``
``POST /_emulator/browser_session``            ``{user_id, d_s?}`` -> ``{user_id, token, cookie,
                                               d_s}`` (the raw ``d`` cookie, to encode once)
``POST /_emulator/refuse_next_sockets``        ``{n, after_hello?}``: in-band 401 and close
``POST /_emulator/set_reconnect_urls``         ``{enabled, interval?}``
``POST /_emulator/expire_reconnect_urls``      -> ``{expired}``
``POST /_emulator/wait_connections``           ``{n, timeout?}`` -> ``{connection_count}``
``POST /_emulator/wait_for_frame``             ``{match, timeout?}`` -> ``{frame}``: the first
(wait_frame)                                   frame whose JSON has every key/value of ``match``
=============================================  ==================================================

Socket Mode (PROTOCOL §9; :mod:`.socket_mode`):

==================================================  =============================================
route                                               body -> answer
==================================================  =============================================
``GET /_emulator/socket_mode_acks?since=0``         -> ``{count, acks: [{envelope_id, payload,
                                                    seconds, retry_attempt, conn_id}]}``
``GET /_emulator/socket_mode_envelopes?since=0``    -> ``{count, envelopes: [{envelope_id, type,
                                                    payload, accepts_response_payload,
                                                    retry_attempt, retry_reason, conn_id,
                                                    event_id}]}``: every envelope sent
``GET /_emulator/socket_mode_unacked?since=0``      -> ``{count, envelopes: [...]}``: given up
``POST /_emulator/send_slash_command``              ``{command?, text?, user_id?, channel_id?}``
                                                    -> ``{envelope_id}``
``POST /_emulator/send_interaction``                ``{payload?}`` -> ``{envelope_id}``
``POST /_emulator/socket_mode_disconnect``          ``{reason, close_after?, connection?}`` ->
                                                    ``{reached}``
``POST /_emulator/enable_socket_mode``              after ``link_disabled``
``POST /_emulator/wait_socket_mode_connections``    ``{n, timeout?}`` ->
                                                    ``{socket_mode_connections}``
``POST /_emulator/wait_socket_mode_acks``           ``{n, timeout?}`` -> ``{count}``
``POST /_emulator/set_post_rate_limit``             ``{per_second, burst?}`` (``per_second:
                                                    null`` lifts the limit)
``POST /_emulator/prepare_socket_mode_firehose``    ``{n}`` -> ``{prepared, seconds}``
``POST /_emulator/socket_mode_firehose``            ``{n}`` -> ``{sent, seconds, cpu_seconds}``
==================================================  =============================================

History and gaps (PROTOCOL §8; :mod:`.history_controls`):

==================================================  =============================================
route                                               body -> answer
==================================================  =============================================
``POST /_emulator/post_messages``                   ``{messages: [{user_id, channel_id, text,
                                                    thread_ts?}]}`` -> ``{ts: [...]}``
``POST /_emulator/set_history_rate_limit``          ``{per_minute, max_limit?, method?}``
                                                    (``per_minute: null`` lifts the limit)
``POST /_emulator/rate_limit_next_history_calls``   ``{n, retry_after?}``
``POST /_emulator/hold_reconnects``                 ``{user_id, seconds}`` (``0`` lifts it)
``POST /_emulator/drop_and_hold``                   ``{user_id, seconds, abrupt?}`` ->
                                                    ``{dropped}``
==================================================  =============================================
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from slack_rtm.emulator.records import ReceivedFrame
from slack_rtm.emulator.socket_mode import POST_BURST

if TYPE_CHECKING:
    from slack_rtm.emulator.state import EmulatorState

__all__ = ["ACTIONS", "ALIASES", "PREFIX", "add_routes"]

PREFIX = "/_emulator"

Body = dict[str, Any]
Action = Callable[["EmulatorState", Body], Awaitable[Body]]


def _reply(body: Body, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(body), status=status, content_type="application/json"
    )


def _req(body: Body, name: str) -> Any:
    if name not in body:
        raise ValueError(f"{name} is required")
    return body[name]


def _bool(body: Body, name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false")
    return value


def _frame(frame: ReceivedFrame) -> Body:
    out: Body = msgspec.to_builtins(frame)
    return out


async def _post_message(emu: EmulatorState, b: Body) -> Body:
    ts = await emu.post_message(
        _req(b, "user_id"),
        _req(b, "channel_id"),
        _req(b, "text"),
        b.get("thread_ts"),
    )
    return {"ts": ts}


async def _inject(emu: EmulatorState, b: Body) -> Body:
    return {"reached": await emu.inject_event(_req(b, "event"), b.get("user_id"))}


async def _presence(emu: EmulatorState, b: Body) -> Body:
    return {"reached": await emu.set_presence(_req(b, "user_id"), _req(b, "presence"))}


async def _goodbye(emu: EmulatorState, b: Body) -> Body:
    return {"reached": await emu.send_goodbye(b.get("close_after"))}


async def _migration(emu: EmulatorState, b: Body) -> Body:
    return {"reached": await emu.start_migration(b.get("duration", 3.0))}


async def _drop(emu: EmulatorState, b: Body) -> Body:
    return {"dropped": await emu.drop_connections(_bool(b, "abrupt", True), b.get("user_id"))}


async def _pong(emu: EmulatorState, b: Body) -> Body:
    _req(b, "enabled")
    emu.set_pong(_bool(b, "enabled", True))
    return {}


async def _fail(emu: EmulatorState, b: Body) -> Body:
    emu.fail_next_connects(_req(b, "n"), b.get("error", "internal_error"), b.get("status", 200),
                           b.get("retry_after"))
    return {}


async def _rate_limit(emu: EmulatorState, b: Body) -> Body:
    emu.rate_limit_next_connects(_req(b, "n"), b.get("retry_after", 1))
    return {}


async def _expire_urls(emu: EmulatorState, b: Body) -> Body:
    emu.expire_next_urls(b.get("n", 1))
    return {}


async def _token_error(emu: EmulatorState, b: Body) -> Body:
    emu.set_token_error(_req(b, "token"), _req(b, "error"))
    return {}


async def _connect_rate_limit(emu: EmulatorState, b: Body) -> Body:
    emu.set_connect_rate_limit(_req(b, "per_minute"), b.get("token"))
    return {}


async def _prepare(emu: EmulatorState, b: Body) -> Body:
    start = time.perf_counter()
    emu.prepare_firehose(_req(b, "n"))
    return {"prepared": b["n"], "seconds": time.perf_counter() - start}


async def _stream(emu: EmulatorState, b: Body, payloads: Any) -> Body:
    start, cpu = time.perf_counter(), time.process_time()
    if payloads is not None:
        if not isinstance(payloads, list):
            raise TypeError("payloads must be a list")
        sent = await emu.firehose_payloads(payloads, b.get("user_id"))
    else:
        sent = await emu.firehose(_req(b, "n"), b.get("user_id"))
    return {
        "sent": sent,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
    }


async def _firehose(emu: EmulatorState, b: Body) -> Body:
    if b.get("prepare") is True:
        return await _prepare(emu, b)
    return await _stream(emu, b, b.get("payloads"))


async def _firehose_payloads(emu: EmulatorState, b: Body) -> Body:
    payloads = _req(b, "payloads")
    if payloads is None:
        raise TypeError("payloads must be a list")
    return await _stream(emu, b, payloads)


async def _browser_session(emu: EmulatorState, b: Body) -> Body:
    session = emu.browser_session(_req(b, "user_id"), d_s=b.get("d_s"))
    out: Body = msgspec.to_builtins(session)
    return out


async def _refuse_sockets(emu: EmulatorState, b: Body) -> Body:
    emu.refuse_next_sockets(_req(b, "n"), after_hello=_bool(b, "after_hello", False))
    return {}


async def _reconnect_urls(emu: EmulatorState, b: Body) -> Body:
    _req(b, "enabled")
    emu.set_reconnect_urls(_bool(b, "enabled", True), b.get("interval"))
    return {}


async def _expire_reconnect_urls(emu: EmulatorState, b: Body) -> Body:
    return {"expired": emu.expire_reconnect_urls()}


async def _live_sockets(emu: EmulatorState, b: Body) -> Body:
    return {"live": emu.live_sockets_by_token()}


async def _clear(emu: EmulatorState, b: Body) -> Body:
    emu.clear_received()
    return {}


async def _wait_connections(emu: EmulatorState, b: Body) -> Body:
    await emu.wait_connections(_req(b, "n"), b.get("timeout", 5.0))
    return {"connection_count": emu.connection_count}


async def _wait_frame(emu: EmulatorState, b: Body) -> Body:
    match = b.get("match", {})
    if not isinstance(match, dict):
        raise TypeError("match must be an object")

    def matches(frame: ReceivedFrame) -> bool:
        data = frame.data
        return data is not None and all(k in data and data[k] == v for k, v in match.items())

    frame = await emu.wait_for_frame(matches, b.get("timeout", 5.0))
    return {"frame": _frame(frame)}


async def _post_messages(emu: EmulatorState, b: Body) -> Body:
    return {"ts": await emu.post_messages(_req(b, "messages"))}


async def _history_rate_limit(emu: EmulatorState, b: Body) -> Body:
    emu.set_history_rate_limit(
        _req(b, "per_minute"), max_limit=b.get("max_limit"), method=b.get("method")
    )
    return {}


async def _rate_limit_history(emu: EmulatorState, b: Body) -> Body:
    emu.rate_limit_next_history_calls(_req(b, "n"), b.get("retry_after", 1))
    return {}


async def _hold_reconnects(emu: EmulatorState, b: Body) -> Body:
    emu.hold_reconnects(_req(b, "user_id"), _req(b, "seconds"))
    return {}


async def _drop_and_hold(emu: EmulatorState, b: Body) -> Body:
    dropped = await emu.drop_and_hold(
        _req(b, "user_id"), _req(b, "seconds"), abrupt=_bool(b, "abrupt", True)
    )
    return {"dropped": dropped}


async def _slash(emu: EmulatorState, b: Body) -> Body:
    envelope_id = await emu.send_slash_command(
        b.get("command", "/cmd"), b.get("text", ""), b.get("user_id"), b.get("channel_id")
    )
    return {"envelope_id": envelope_id}


async def _interaction(emu: EmulatorState, b: Body) -> Body:
    return {"envelope_id": await emu.send_interaction(b.get("payload"))}


async def _sm_disconnect(emu: EmulatorState, b: Body) -> Body:
    reached = await emu.socket_mode_disconnect(
        _req(b, "reason"), close_after=b.get("close_after"), connection=b.get("connection")
    )
    return {"reached": reached}


async def _enable_sm(emu: EmulatorState, b: Body) -> Body:
    emu.enable_socket_mode()
    return {}


async def _wait_sm(emu: EmulatorState, b: Body) -> Body:
    await emu.wait_socket_mode_connections(_req(b, "n"), b.get("timeout", 5.0))
    return {"socket_mode_connections": emu.socket_mode_connections}


async def _wait_acks(emu: EmulatorState, b: Body) -> Body:
    await emu.wait_socket_mode_acks(_req(b, "n"), b.get("timeout", 5.0))
    return {"count": len(emu.socket_mode_acks)}


async def _post_rate(emu: EmulatorState, b: Body) -> Body:
    emu.set_post_rate_limit(_req(b, "per_second"), b.get("burst", POST_BURST))
    return {}


async def _prepare_sm(emu: EmulatorState, b: Body) -> Body:
    start = time.perf_counter()
    emu.prepare_socket_mode_firehose(_req(b, "n"))
    return {"prepared": b["n"], "seconds": time.perf_counter() - start}


async def _sm_firehose(emu: EmulatorState, b: Body) -> Body:
    start, cpu = time.perf_counter(), time.process_time()
    sent = await emu.socket_mode_firehose(_req(b, "n"))
    return {
        "sent": sent,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
    }


_ACTIONS: dict[str, Action] = {
    "post_message": _post_message,
    "inject_event": _inject,
    "set_presence": _presence,
    "send_goodbye": _goodbye,
    "start_migration": _migration,
    "drop_connections": _drop,
    "set_pong": _pong,
    "fail_next_connects": _fail,
    "rate_limit_next_connects": _rate_limit,
    "expire_next_urls": _expire_urls,
    "set_token_error": _token_error,
    "set_connect_rate_limit": _connect_rate_limit,
    "clear_received": _clear,
    "live_sockets_by_token": _live_sockets,
    "prepare_firehose": _prepare,
    "firehose": _firehose,
    "firehose_payloads": _firehose_payloads,
    "wait_connections": _wait_connections,
    "wait_for_frame": _wait_frame,
    "browser_session": _browser_session,
    "refuse_next_sockets": _refuse_sockets,
    "set_reconnect_urls": _reconnect_urls,
    "expire_reconnect_urls": _expire_reconnect_urls,
    "post_messages": _post_messages,
    "set_history_rate_limit": _history_rate_limit,
    "rate_limit_next_history_calls": _rate_limit_history,
    "hold_reconnects": _hold_reconnects,
    "drop_and_hold": _drop_and_hold,
    "send_slash_command": _slash,
    "send_interaction": _interaction,
    "socket_mode_disconnect": _sm_disconnect,
    "enable_socket_mode": _enable_sm,
    "wait_socket_mode_connections": _wait_sm,
    "wait_socket_mode_acks": _wait_acks,
    "set_post_rate_limit": _post_rate,
    "prepare_socket_mode_firehose": _prepare_sm,
    "socket_mode_firehose": _sm_firehose,
}

#: Older, shorter route names (kept working).
ALIASES: dict[str, str] = {
    "presence": "set_presence",
    "goodbye": "send_goodbye",
    "migration": "start_migration",
    "drop": "drop_connections",
    "pong": "set_pong",
    "fail_connects": "fail_next_connects",
    "rate_limit_connects": "rate_limit_next_connects",
    "token_error": "set_token_error",
    "connect_rate_limit": "set_connect_rate_limit",
    "wait_frame": "wait_for_frame",
}

#: Every ``POST /_emulator/<name>`` control name (aliases included).
ACTIONS: frozenset[str] = frozenset(_ACTIONS) | frozenset(ALIASES)


def _since(request: web.Request) -> int:
    try:
        return max(0, int(request.query.get("since", "0")))
    except ValueError:
        raise ValueError("since must be an integer") from None


def add_routes(emu: EmulatorState, app: web.Application) -> None:
    """Mount the control API on ``app``."""

    async def state(request: web.Request) -> web.Response:
        return _reply({"ok": True, **emu.state()})

    async def received(request: web.Request) -> web.Response:
        if request.method == "DELETE":
            emu.clear_received()
            return _reply({"ok": True})
        try:
            since = _since(request)
        except ValueError as exc:
            return _reply({"ok": False, "error": str(exc)}, 400)
        frames = [_frame(f) for f in emu.received[since:]]
        return _reply({"ok": True, "count": len(emu.received), "frames": frames})

    async def connect_log(request: web.Request) -> web.Response:
        try:
            since = _since(request)
        except ValueError as exc:
            return _reply({"ok": False, "error": str(exc)}, 400)
        calls = [msgspec.to_builtins(c) for c in emu.connect_log[since:]]
        return _reply({"ok": True, "count": len(emu.connect_log), "calls": calls})

    async def upgrades(request: web.Request) -> web.Response:
        try:
            since = _since(request)
        except ValueError as exc:
            return _reply({"ok": False, "error": str(exc)}, 400)
        records = [msgspec.to_builtins(u) for u in emu.upgrades[since:]]
        return _reply({"ok": True, "count": len(emu.upgrades), "upgrades": records})

    def records(name: str, key: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def answer(request: web.Request) -> web.Response:
            try:
                since = _since(request)
            except ValueError as exc:
                return _reply({"ok": False, "error": str(exc)}, 400)
            items = getattr(emu, name)
            out = [msgspec.to_builtins(r) for r in items[since:]]
            return _reply({"ok": True, "count": len(items), key: out})

        return answer

    async def token_overlaps(request: web.Request) -> web.Response:
        try:
            since = _since(request)
        except ValueError as exc:
            return _reply({"ok": False, "error": str(exc)}, 400)
        overlaps = emu.token_overlaps
        records = [msgspec.to_builtins(o) for o in overlaps[since:]]
        return _reply({"ok": True, "count": len(overlaps), "overlaps": records,
                       "live": emu.live_sockets_by_token()})

    async def issued_urls(request: web.Request) -> web.Response:
        return _reply({"ok": True, "urls": emu.issued_urls})

    async def action(request: web.Request) -> web.Response:
        name = request.match_info["action"]
        handler = _ACTIONS.get(ALIASES.get(name, name))
        if handler is None:
            return _reply({"ok": False, "error": "unknown control action"}, 404)
        raw = await request.read()
        try:
            body = msgspec.json.decode(raw) if raw else {}
        except (msgspec.DecodeError, RecursionError):  # deep nesting: RecursionError
            return _reply({"ok": False, "error": "the body is not valid JSON"}, 400)
        if not isinstance(body, dict):
            return _reply({"ok": False, "error": "the body must be a JSON object"}, 400)
        try:
            result = await handler(emu, body)
        except TimeoutError as exc:
            return _reply({"ok": False, "error": str(exc)}, 504)
        except (TypeError, ValueError, LookupError) as exc:
            return _reply({"ok": False, "error": str(exc)}, 400)
        return _reply({"ok": True, **result})

    app.router.add_get(f"{PREFIX}/state", state)
    app.router.add_route("GET", f"{PREFIX}/received", received)
    app.router.add_route("DELETE", f"{PREFIX}/received", received)
    app.router.add_get(f"{PREFIX}/connect_log", connect_log)
    app.router.add_get(f"{PREFIX}/issued_urls", issued_urls)
    app.router.add_get(f"{PREFIX}/upgrades", upgrades)
    app.router.add_get(f"{PREFIX}/socket_mode_acks", records("socket_mode_acks", "acks"))
    app.router.add_get(
        f"{PREFIX}/socket_mode_envelopes", records("socket_mode_envelopes", "envelopes")
    )
    app.router.add_get(
        f"{PREFIX}/socket_mode_unacked", records("socket_mode_unacked", "envelopes")
    )
    app.router.add_get(f"{PREFIX}/token_overlaps", token_overlaps)
    app.router.add_post(PREFIX + "/{action}", action)
