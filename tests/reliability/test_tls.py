"""TLS is verified by default: an https:// server with an unknown CA is refused, before the token
is ever sent, and accepted once the caller trusts that CA through ``verify=ssl_context``.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from slack_rtm.api import ApiResponse, RetryConfig
from slack_rtm.errors import TransportError

from .certs import TestPKI, make_pki
from .rawhttp import RawHttpServer, Reply, json_reply
from .twins import Outcome, connect_both

TOKEN = "xoxb-TLS0000-tls"
SUCCESS = {
    "ok": True,
    "url": "wss://127.0.0.1:9/websocket/tls",
    "self": {"id": "U0BOT", "name": "bot"},
    "team": {"id": "T0TEAM", "name": "Team", "domain": "team"},
}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def wrong_host_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return make_pki(tmp_path_factory.mktemp("pki-localhost"), hosts=("localhost",))


def _serve(pki: TestPKI) -> RawHttpServer:
    server = RawHttpServer(ssl_context=pki.server_context())
    server.reply = Reply(json_reply(SUCCESS))
    return server


@pytest.fixture
def tls_server(pki: TestPKI) -> Iterator[RawHttpServer]:
    with _serve(pki) as server:
        yield server


def _cert_error_in_chain(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _assert_refused(outcome: Outcome) -> ssl.SSLCertVerificationError:
    assert isinstance(outcome.error, TransportError), outcome
    assert "certificate" in str(outcome.error)
    cause = _cert_error_in_chain(outcome.error)
    assert cause is not None, "the TransportError must chain the SSL verification error"
    return cause


def test_default_settings_refuse_an_unknown_ca(tls_server: RawHttpServer) -> None:
    # The clients' own defaults (retries on): a certificate error is never retried.
    outcomes = connect_both(tls_server.base_url + "/api", TOKEN, retry=RetryConfig())
    for outcome in outcomes:
        cause = _assert_refused(outcome)
        assert "certificate" in cause.verify_message or "issuer" in cause.verify_message
    assert tls_server.requests == []  # the token was never sent
    # One handshake per twin, no retry (the server threads record them a moment later).
    deadline = time.monotonic() + 2.0
    while len(tls_server.tls_errors) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert len(tls_server.tls_errors) == 2


def test_trusting_the_ca_accepts(tls_server: RawHttpServer, pki: TestPKI) -> None:
    outcomes = connect_both(tls_server.base_url + "/api", TOKEN, verify=pki.client_context())
    for outcome in outcomes:
        assert outcome.kind is ApiResponse, outcome.error
        assert outcome.response is not None
        assert outcome.response.result.team.id == "T0TEAM"
    assert len(tls_server.requests) == 2
    assert tls_server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_a_default_context_does_not_trust_it_either(tls_server: RawHttpServer) -> None:
    outcomes = connect_both(
        tls_server.base_url + "/api", TOKEN, verify=ssl.create_default_context()
    )
    for outcome in outcomes:
        _assert_refused(outcome)
    assert tls_server.requests == []


def test_the_right_ca_with_the_wrong_host_is_refused(
    wrong_host_pki: TestPKI,
) -> None:
    with _serve(wrong_host_pki) as server:  # a certificate for "localhost", reached as 127.0.0.1
        outcomes = connect_both(
            server.base_url + "/api", TOKEN, verify=wrong_host_pki.client_context()
        )
        for outcome in outcomes:
            cause = _assert_refused(outcome)
            assert "IP address mismatch" in cause.verify_message or "mismatch" in str(cause)
        assert server.requests == []


def test_verification_can_be_turned_off_explicitly(tls_server: RawHttpServer) -> None:
    for outcome in connect_both(tls_server.base_url + "/api", TOKEN, verify=False):
        assert outcome.kind is ApiResponse, outcome.error


def test_certificates_are_fresh_per_run(pki: TestPKI, tmp_path: Path) -> None:
    other = make_pki(tmp_path / "other")
    assert other.ca_cert.read_bytes() != pki.ca_cert.read_bytes()
    # A client trusting another CA refuses this server.
    with _serve(pki) as server:
        for outcome in connect_both(server.base_url + "/api", TOKEN, verify=other.client_context()):
            _assert_refused(outcome)
