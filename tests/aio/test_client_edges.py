"""Edges of the driver: closing while connecting, URL policy, fragmented and odd frames."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aio_helpers import assert_no_leftovers, make_client, next_event
from picows import WSCloseCode, WSListener, WSMsgType, WSTransport, ws_create_server

from slack_rtm.aio import RtmClient, State
from slack_rtm.aio.transport import (
    check_http_url,
    check_ws_url,
    is_loopback,
    transport_error,
)
from slack_rtm.emulator import Emulator
from slack_rtm.errors import ConnectionClosedError, TransportError, TransportTimeoutError
from slack_rtm.session.core import SessionCore


async def test_close_while_connect_keeps_failing(emu: Emulator) -> None:
    emu.fail_next_connects(1000, error="service_unavailable")
    rtm = make_client(emu)
    connecting = asyncio.ensure_future(rtm.connect())
    while emu.connect_calls < 2:
        await asyncio.sleep(0.01)
    await rtm.close()
    with pytest.raises(ConnectionClosedError):
        await asyncio.wait_for(connecting, 2)
    assert rtm.state is State.CLOSED
    assert_no_leftovers(rtm)


async def test_cancelling_connect_closes_everything(emu: Emulator) -> None:
    emu.fail_next_connects(1000, error="internal_error")
    rtm = make_client(emu)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(rtm.connect(), 0.3)
    assert rtm.state is State.CLOSED
    assert_no_leftovers(rtm)


async def test_connect_to_nothing_retries_then_gives_up() -> None:
    from dataclasses import replace

    from aio_helpers import FAST

    rtm = RtmClient("xoxb-test-token", base_url="http://127.0.0.1:9/api",
                    config=replace(FAST, max_attempts=2))
    with pytest.raises(TransportError):
        await rtm.connect()
    assert rtm.state is State.CLOSED
    assert_no_leftovers(rtm)


def test_url_policy() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("[::1]")
    assert is_loopback("localhost")
    assert not is_loopback("slack.com")
    assert not is_loopback(None)
    check_ws_url("wss://wss-primary.slack.com/websocket/abc", False)
    check_ws_url("ws://127.0.0.1:5000/websocket/abc", False)
    check_ws_url("ws://example.com/websocket/abc", True)
    with pytest.raises(TransportError, match="allow_insecure") as info:
        check_ws_url("ws://example.com/websocket/SECRET", False)
    assert "SECRET" not in str(info.value)
    with pytest.raises(TransportError, match="not a ws"):
        check_ws_url("https://example.com/websocket/SECRET", False)
    with pytest.raises(TransportError):
        check_ws_url("wss://[bad/x", False)
    check_http_url("https://slack.com/api", False)
    check_http_url("http://localhost:8080/api", False)
    with pytest.raises(ValueError, match="clear text"):
        check_http_url("http://slack.com/api", False)


def test_transport_errors_never_carry_the_url() -> None:
    url = "wss://h.example/websocket/SECRETPATH"
    err = transport_error(OSError(f"cannot reach {url}"), url)
    assert "SECRETPATH" not in str(err)
    assert err.__cause__ is None  # the original, which holds the URL, is not chained
    err = transport_error(ConnectionRefusedError("refused"), url)
    assert isinstance(err.__cause__, ConnectionRefusedError)
    assert isinstance(transport_error(TimeoutError(), url), TransportTimeoutError)


class _OddServer(WSListener):
    """Says hello, then a fragmented message, a non-message event, text that is not JSON,
    an unsolicited pong, and closes with 4000."""

    def on_ws_connected(self, transport: WSTransport) -> None:
        transport.send(WSMsgType.TEXT, b'{"type":"hello"}')
        body = b'{"type":"message","channel":"C1","user":"U1","text":"in pieces","ts":"1.1"}'
        transport.send(WSMsgType.TEXT, body[:20], fin=False)
        transport.send(WSMsgType.CONTINUATION, body[20:50], fin=False)
        transport.send(WSMsgType.CONTINUATION, body[50:], fin=True)
        transport.send(WSMsgType.CONTINUATION, b"stray", fin=True)  # no start: ignored
        transport.send(WSMsgType.TEXT, b'{"type":"user_typing","channel":"C1","user":"U2"}')
        transport.send(WSMsgType.TEXT, b"not json at all")
        transport.send_pong(b"")
        transport.send(WSMsgType.BINARY, b'{"type":"goodbye_not","x":1}')
        transport.send_close(WSCloseCode(4000), b"bye now")

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()


async def test_fragments_odd_frames_and_a_close_code(emu: Emulator,
                                                     caplog: pytest.LogCaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG, logger="slack_rtm")
    server = await ws_create_server(lambda request: _OddServer(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    rtm = make_client(emu)
    url = f"ws://127.0.0.1:{port}/websocket/ODDSECRET"
    try:
        # Point the first socket at the odd server: rtm.connect still goes to the emulator.
        original = SessionCore.connect_succeeded

        def redirect(core: SessionCore, _url: str, now: float) -> int | None:
            return original(core, url, now)

        monkeypatch.setattr(SessionCore, "connect_succeeded", redirect)
        await rtm.connect()
        it = aiter(rtm)
        msg = await next_event(it, "message")
        assert msg.text == "in pieces"
        typing = await next_event(it, "user_typing")
        assert typing.user == "U2"
        bad = await next_event(it, "malformed")
        assert "not json" in bad.text
        odd = await next_event(it, "goodbye_not")
        assert odd.raw["x"] == 1
        disc = await next_event(it, "disconnected")
        assert disc.code == 4000
        assert "bye now" in disc.reason
    finally:
        await rtm.close()
        server.close()
        await server.wait_closed()
    assert "ODDSECRET" not in caplog.text


def test_tls_is_verified_by_default_and_shared() -> None:
    import ssl

    from slack_rtm.aio.driver import _shared_tls_context

    default = RtmClient("xoxb-test-token")._tls_context()
    assert default is _shared_tls_context()  # one CA store per process, not per client
    assert default.verify_mode is ssl.CERT_REQUIRED
    assert default.check_hostname is True
    mine = ssl.create_default_context()
    assert RtmClient("xoxb-test-token", ssl=mine)._tls_context() is mine


async def test_an_idle_session_is_lean(emu: Emulator) -> None:
    """What keeps an idle session near 14 KiB (bench/README.md, density): no ``__dict__`` on
    the objects every session holds, and plain ws:// on asyncio's own (lighter) transport."""
    async with make_client(emu) as rtm:
        core = rtm._core
        for obj in (rtm, core, core._sends, core._sends.bucket, core.config,
                    core.config.backoff, rtm._handlers):
            assert not hasattr(obj, "__dict__"), type(obj).__name__
        (listener,) = rtm._listeners.values()
        assert listener.transport is not None
        underlying = listener.transport.underlying_transport
        assert type(underlying).__module__ == "asyncio.selector_events"
