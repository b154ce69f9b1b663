"""The asyncio RtmClient's security promises, over real sockets against the emulator.

- At DEBUG, through connect, sends, pings, reconnects and a fatal stop, neither the token nor a
  WebSocket URL (its path is the session credential) appears in any log line, output, repr or
  exception.
- TLS is verified by default on the WebSocket too: a ``wss://`` server with an unknown CA is
  refused, and accepted with ``ssl=`` a context that trusts it.
- ``ws://`` is refused for non-loopback hosts unless ``allow_insecure=True``; so is an
  ``http://`` Web API URL.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import pytest

from slack_rtm import Backoff
from slack_rtm.aio import RtmClient
from slack_rtm.emulator import Emulator
from slack_rtm.errors import RtmConnectErrorSchemaError, TransportError
from slack_rtm.session.state import State

from .certs import TestPKI, make_pki
from .chaos import ChaosProxy
from .leakcheck import LeakCheck
from .rawhttp import RawHttpServer, Reply, json_reply
from .twins import connect_async

FAST = {"reconnect": Backoff(0.01, 0.05), "ping_interval": 0.5, "ping_timeout": 1.0}


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _tickets(emu: Emulator) -> list[str]:
    """The ticket (the secret last path segment) of every WebSocket URL the emulator issued."""
    return [url.rsplit("/", 1)[1] for url in emu.issued_urls]


async def test_no_secret_leaks_through_a_whole_session(
    emu: Emulator, leakcheck: LeakCheck
) -> None:
    leakcheck.add_secret(emu.bot_token)
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, **FAST)  # type: ignore[arg-type]
    seen: list[object] = []
    rtm.on("*")(seen.append)
    async with rtm:
        leakcheck.see(rtm, rtm.self, rtm.team, rtm.state)
        ack = await rtm.send_message(emu.general_channel_id, "hello")
        leakcheck.see(ack, await rtm.ping())
        await emu.drop_connections(abrupt=True)
        await emu.wait_connections(1, timeout=5.0)
        for _ in range(200):
            if rtm.state is State.CONNECTED and emu.connect_calls >= 2:
                break
            await asyncio.sleep(0.01)
        assert emu.connect_calls >= 2  # it reconnected
        leakcheck.see(await rtm.send_message(emu.general_channel_id, "again"), rtm)
        emu.set_token_error(emu.bot_token, "invalid_auth")
        await emu.drop_connections(abrupt=True)
        with pytest.raises(RtmConnectErrorSchemaError) as info:
            await asyncio.wait_for(rtm.wait_closed(), 5.0)
        leakcheck.see(info.value, rtm, rtm.error)
    leakcheck.see(rtm, *seen)
    for ticket in _tickets(emu):
        leakcheck.add_secret(ticket)
    assert len(_tickets(emu)) >= 2
    assert leakcheck.record_count > 10
    leakcheck.assert_clean()


async def test_no_secret_leaks_when_the_first_connect_fails(
    emu: Emulator, leakcheck: LeakCheck
) -> None:
    emu.set_token_error(emu.bot_token, "token_revoked")
    leakcheck.add_secret(emu.bot_token)
    rtm = RtmClient(emu.bot_token, base_url=emu.api_url, **FAST)  # type: ignore[arg-type]
    with pytest.raises(RtmConnectErrorSchemaError) as info:
        await rtm.connect()
    assert info.value.error == "token_revoked"
    leakcheck.see(info.value, rtm)
    leakcheck.assert_clean()


@pytest.fixture
async def wss_front(emu: Emulator, pki: TestPKI) -> AsyncIterator[tuple[RawHttpServer, str]]:
    """A plain loopback ``rtm.connect`` that hands out ``wss://`` URLs to a TLS proxy in front of
    the emulator's WebSocket (the emulator itself speaks plain ``ws://``)."""
    async with ChaosProxy("127.0.0.1", emu.port, ssl=pki.server_context()) as tls:
        outcome = await connect_async(emu.api_url, emu.bot_token)
        assert outcome.response is not None
        ticket = outcome.response.result.url.rsplit("/", 1)[1]
        wss_url = f"wss://127.0.0.1:{tls.port}/websocket/{ticket}"
        body = outcome.response.result.raw | {"url": wss_url}
        with RawHttpServer() as api:
            api.reply = Reply(json_reply(body))
            yield api, ticket


async def test_wss_with_an_unknown_ca_is_refused(
    emu: Emulator, wss_front: tuple[RawHttpServer, str]
) -> None:
    api, _ = wss_front
    rtm = RtmClient(emu.bot_token, base_url=api.base_url + "/api", max_attempts=1)
    with pytest.raises(TransportError) as info:
        await asyncio.wait_for(rtm.connect(), 5.0)
    chain: BaseException | None = info.value
    while chain is not None and not isinstance(chain, ssl.SSLCertVerificationError):
        chain = chain.__cause__ or chain.__context__
    assert chain is not None, f"not a certificate error: {info.value!r}"
    assert emu.connection_count == 0


async def test_wss_trusted_with_the_ssl_context(
    emu: Emulator, pki: TestPKI, wss_front: tuple[RawHttpServer, str]
) -> None:
    api, _ = wss_front
    rtm = RtmClient(
        emu.bot_token, base_url=api.base_url + "/api", ssl=pki.client_context(), max_attempts=1
    )
    async with rtm:
        assert rtm.state is State.CONNECTED
        assert (await rtm.send_message(emu.general_channel_id, "over tls")).ok
        # TLS runs on aiofastnet's transport (plain ws:// on asyncio's: tests/aio).
        (listener,) = rtm._listeners.values()
        assert listener.transport is not None
        assert type(listener.transport.underlying_transport).__module__.startswith("aiofastnet")


async def test_plain_ws_to_a_remote_host_is_refused(emu: Emulator) -> None:
    with RawHttpServer() as api:
        outcome = await connect_async(emu.api_url, emu.bot_token)
        assert outcome.response is not None
        remote = outcome.response.result.raw | {"url": "ws://192.0.2.1:9/websocket/x"}
        api.reply = Reply(json_reply(remote))
        rtm = RtmClient(emu.bot_token, base_url=api.base_url + "/api", max_attempts=1)
        with pytest.raises(TransportError, match="unencrypted"):
            await asyncio.wait_for(rtm.connect(), 5.0)
        # Opted in, the client does try (and fails to reach the unroutable test address).
        insecure = RtmClient(
            emu.bot_token,
            base_url=api.base_url + "/api",
            max_attempts=1,
            allow_insecure=True,
            timeout=0.5,
        )
        with pytest.raises(TransportError) as info:
            await asyncio.wait_for(insecure.connect(), 20.0)
        assert "unencrypted" not in str(info.value)


def test_plain_http_api_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ValueError, match="allow_insecure"):
        RtmClient("xoxb-1", base_url="http://192.0.2.1/api")
    RtmClient("xoxb-1", base_url="http://192.0.2.1/api", allow_insecure=True)
    RtmClient("xoxb-1", base_url="http://127.0.0.1:9/api")
