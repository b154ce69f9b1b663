"""The HTTP control API under ``/_emulator/``: the Python controls, for other processes.

JSON in, JSON out; argument names are those of the Python methods. Every answer has ``ok``; a bad
argument answers HTTP 400 ``{"ok": false, "error": "..."}``, a wait that times out HTTP 504.

=======================================  ========================================================
route                                     body -> answer
=======================================  ========================================================
``GET /_emulator/state``                  -> :meth:`Emulator.state` (tokens included: they are
                                          the emulator's own fake tokens)
``GET /_emulator/received?since=0``       -> ``{"frames": [{user_id, conn_id, data, text}]}``
``DELETE /_emulator/received``            forget recorded frames
``POST /_emulator/post_message``          ``{user_id, channel_id, text, thread_ts?}`` -> ``{ts}``
``POST /_emulator/inject_event``          ``{event, user_id?}`` -> ``{reached}``
``POST /_emulator/presence``              ``{user_id, presence}`` -> ``{reached}``
``POST /_emulator/goodbye``               ``{close_after?}`` -> ``{reached}``
``POST /_emulator/migration``             ``{duration?}`` -> ``{reached}``
``POST /_emulator/drop``                  ``{abrupt?, user_id?}`` -> ``{dropped}``
``POST /_emulator/pong``                  ``{enabled}``
``POST /_emulator/fail_connects``         ``{n, error?, status?}``
``POST /_emulator/rate_limit_connects``   ``{n, retry_after?}``
``POST /_emulator/token_error``           ``{token, error}`` (``error: null`` clears)
``POST /_emulator/connect_rate_limit``    ``{per_minute, token?}`` (``per_minute: null`` lifts)
``POST /_emulator/firehose``              ``{n, user_id?}`` or ``{payloads, user_id?}`` ->
                                          ``{sent, seconds, cpu_seconds}`` once written;
                                          ``{n, prepare: true}`` only encodes (see
                                          :meth:`Emulator.prepare_firehose`)
``POST /_emulator/wait_connections``      ``{n, timeout?}``
``POST /_emulator/wait_frame``            ``{match, timeout?}`` -> ``{frame}``: the first frame
                                          whose JSON has every key/value of ``match``
=======================================  ========================================================
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from slack_rtm.emulator.records import ReceivedFrame

if TYPE_CHECKING:
    from slack_rtm.emulator.server import Emulator

__all__ = ["PREFIX", "add_routes"]

PREFIX = "/_emulator"

Body = dict[str, Any]
Action = Callable[["Emulator", Body], Awaitable[Body]]


def _reply(body: Body, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(body), status=status, content_type="application/json"
    )


def _req(body: Body, name: str) -> Any:
    if name not in body:
        raise ValueError(f"{name} is required")
    return body[name]


def _frame(frame: ReceivedFrame) -> Body:
    out: Body = msgspec.to_builtins(frame)
    return out


async def _post_message(emu: Emulator, b: Body) -> Body:
    ts = await emu.post_message(
        _req(b, "user_id"),
        _req(b, "channel_id"),
        _req(b, "text"),
        b.get("thread_ts"),
    )
    return {"ts": ts}


async def _inject(emu: Emulator, b: Body) -> Body:
    return {"reached": await emu.inject_event(_req(b, "event"), b.get("user_id"))}


async def _presence(emu: Emulator, b: Body) -> Body:
    return {"reached": await emu.set_presence(_req(b, "user_id"), _req(b, "presence"))}


async def _goodbye(emu: Emulator, b: Body) -> Body:
    return {"reached": await emu.send_goodbye(b.get("close_after"))}


async def _migration(emu: Emulator, b: Body) -> Body:
    return {"reached": await emu.start_migration(b.get("duration", 3.0))}


async def _drop(emu: Emulator, b: Body) -> Body:
    return {"dropped": await emu.drop_connections(bool(b.get("abrupt", True)), b.get("user_id"))}


async def _pong(emu: Emulator, b: Body) -> Body:
    enabled = b.get("enabled")
    if not isinstance(enabled, bool):
        raise ValueError("enabled must be true or false")
    emu.set_pong(enabled)
    return {}


async def _fail(emu: Emulator, b: Body) -> Body:
    emu.fail_next_connects(_req(b, "n"), b.get("error", "internal_error"), b.get("status", 200))
    return {}


async def _rate_limit(emu: Emulator, b: Body) -> Body:
    emu.rate_limit_next_connects(_req(b, "n"), b.get("retry_after", 1))
    return {}


async def _token_error(emu: Emulator, b: Body) -> Body:
    emu.set_token_error(_req(b, "token"), _req(b, "error"))
    return {}


async def _connect_rate_limit(emu: Emulator, b: Body) -> Body:
    emu.set_connect_rate_limit(_req(b, "per_minute"), b.get("token"))
    return {}


async def _firehose(emu: Emulator, b: Body) -> Body:
    start, cpu = time.perf_counter(), time.process_time()
    payloads = b.get("payloads")
    if b.get("prepare") is True:
        emu.prepare_firehose(_req(b, "n"))
        return {"prepared": b["n"], "seconds": time.perf_counter() - start}
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


async def _wait_connections(emu: Emulator, b: Body) -> Body:
    await emu.wait_connections(_req(b, "n"), b.get("timeout", 5.0))
    return {"connection_count": emu.connection_count}


async def _wait_frame(emu: Emulator, b: Body) -> Body:
    match = b.get("match", {})
    if not isinstance(match, dict):
        raise TypeError("match must be an object")

    def matches(frame: ReceivedFrame) -> bool:
        data = frame.data
        return data is not None and all(k in data and data[k] == v for k, v in match.items())

    frame = await emu.wait_for_frame(matches, b.get("timeout", 5.0))
    return {"frame": _frame(frame)}


_ACTIONS: dict[str, Action] = {
    "post_message": _post_message,
    "inject_event": _inject,
    "presence": _presence,
    "goodbye": _goodbye,
    "migration": _migration,
    "drop": _drop,
    "pong": _pong,
    "fail_connects": _fail,
    "rate_limit_connects": _rate_limit,
    "token_error": _token_error,
    "connect_rate_limit": _connect_rate_limit,
    "firehose": _firehose,
    "wait_connections": _wait_connections,
    "wait_frame": _wait_frame,
}


def add_routes(emu: Emulator, app: web.Application) -> None:
    """Mount the control API on ``app``."""

    async def state(request: web.Request) -> web.Response:
        return _reply({"ok": True, **emu.state()})

    async def received(request: web.Request) -> web.Response:
        if request.method == "DELETE":
            emu.clear_received()
            return _reply({"ok": True})
        try:
            since = max(0, int(request.query.get("since", "0")))
        except ValueError:
            return _reply({"ok": False, "error": "since must be an integer"}, 400)
        frames = [_frame(f) for f in emu.received[since:]]
        return _reply({"ok": True, "count": len(emu.received), "frames": frames})

    async def action(request: web.Request) -> web.Response:
        handler = _ACTIONS.get(request.match_info["action"])
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
    app.router.add_post(PREFIX + "/{action}", action)
