"""SessionCore: connecting, hello, connection failures and the decisions they lead to."""

from __future__ import annotations

import logging

import pytest
from core_harness import URL, Harness

from slack_rtm.backoff import Backoff
from slack_rtm.errors import (
    ApiError,
    ConnectionClosedError,
    RateLimitedError,
    RtmConnectErrorSchemaError,
    StateError,
    TransportError,
)
from slack_rtm.session.actions import CallConnect, CloseSocket, OpenSocket, SendFrame, Stop
from slack_rtm.session.config import SessionConfig
from slack_rtm.session.core import SessionCore
from slack_rtm.session.events import Closed, Connected, Connecting, Hello, Reconnecting
from slack_rtm.session.state import State


def connect_error(code: str) -> RtmConnectErrorSchemaError:
    return RtmConnectErrorSchemaError(
        f"rtm.connect failed: {code}",
        status_code=200,
        headers={},
        body="",
        result=None,
        error=code,
        fatal=False,
    )


def rate_limited(retry_after: float | None) -> RateLimitedError:
    return RateLimitedError(
        "ratelimited", status_code=429, headers={}, body="", result=None, retry_after=retry_after
    )


def test_start_asks_for_rtm_connect_then_a_socket_then_waits_for_hello() -> None:
    h = Harness()
    assert h.core.state is State.IDLE
    h.start()
    assert h.core.state is State.CONNECTING
    assert isinstance(h.actions[0], CallConnect)
    assert h.actions[0].attempt == 1
    assert isinstance(h.events[0], Connecting)
    conn = h.answer_connect()
    opened = h.last_open()
    assert (opened.conn_id, opened.url) == (conn, URL)
    assert "SECRET" not in repr(opened)
    assert h.core.state is State.CONNECTING
    h.hello(conn)
    assert h.core.state is State.CONNECTED
    assert h.core.current_conn == conn
    assert [type(e) for e in h.events[-2:]] == [Connected, Hello]
    assert h.events[-2].attempt == 1


def test_start_twice_and_calls_before_start_are_state_errors() -> None:
    h = Harness()
    with pytest.raises(StateError):
        h.core.send_message("C1", "hi", h.now)
    with pytest.raises(StateError):
        h.core.ping(h.now)
    h.start()
    with pytest.raises(StateError):
        h.core.start(h.now)


def test_close_before_start_goes_straight_to_closed() -> None:
    h = Harness()
    h.core.close(h.now)
    h.pump()
    assert h.core.state is State.CLOSED
    assert isinstance(h.events[-1], Closed)
    assert h.events[-1].error is None
    assert isinstance(h.actions[-1], Stop)
    with pytest.raises(ConnectionClosedError):
        h.core.send_message("C1", "hi", h.now)


def test_hello_on_another_socket_or_twice_is_ignored() -> None:
    h = Harness()
    conn = h.connect()
    n_events = len(h.events)
    h.hello(conn)
    h.hello(99)
    assert len(h.events) == n_events
    assert h.core.state is State.CONNECTED


def test_late_connect_answers_are_ignored() -> None:
    h = Harness()
    h.connect()
    assert h.core.connect_succeeded(URL, h.now) is None
    h.core.connect_failed(TransportError("late"), h.now)
    h.core.socket_failed(42, TransportError("unknown"), h.now)
    h.core.socket_closed(42, h.now)
    h.pump()
    assert h.core.state is State.CONNECTED
    assert len(h.of(OpenSocket)) == 1


def test_no_hello_in_time_aborts_the_socket_and_retries_with_backoff() -> None:
    h = Harness(hello_timeout=2.0, rand=0.5)
    h.start()
    conn = h.answer_connect()
    h.advance(1.9)
    assert not h.closes()
    h.advance(0.2)
    close = h.closes(conn)
    assert close
    assert close[0].abort
    rec = [e for e in h.events if isinstance(e, Reconnecting)]
    assert rec
    assert rec[-1].delay == pytest.approx(0.5)
    assert "no hello" in rec[-1].reason
    n_calls = len(h.of(CallConnect))
    h.advance(0.39)  # the retry is due 0.5 s after the hello deadline (t = 2.0)
    assert len(h.of(CallConnect)) == n_calls
    h.advance(0.02)
    assert len(h.of(CallConnect)) == n_calls + 1
    assert h.of(CallConnect)[-1].attempt == 2
    # the aborted socket reporting its end later changes nothing
    h.closed(conn)
    assert len(h.of(CallConnect)) == n_calls + 1


def test_expired_url_is_not_fatal_it_gets_a_new_url() -> None:
    h = Harness(rand=0.0)
    h.start()
    conn = h.answer_connect()
    h.recv(conn, {"type": "error", "error": {"code": 1, "msg": "Socket URL has expired"}})
    assert h.closes(conn)
    assert h.core.state is State.CONNECTING
    assert "expired" in [e for e in h.events if isinstance(e, Reconnecting)][-1].reason
    h.advance(0.0)
    assert len(h.of(CallConnect)) == 2
    conn2 = h.answer_connect()
    assert conn2 != conn
    h.hello(conn2)
    assert h.core.state is State.CONNECTED
    assert [e.type for e in h.events].count("error") == 0  # handled, not delivered


def test_error_event_after_hello_is_delivered_and_not_acted_on() -> None:
    h = Harness()
    conn = h.connect()
    h.recv(conn, {"type": "error", "error": {"code": 1, "msg": "Socket URL has expired"}})
    assert h.types()[-1] == "error"
    assert h.core.state is State.CONNECTED
    assert not h.closes()


@pytest.mark.parametrize(
    "code",
    [
        "invalid_auth",
        "token_revoked",
        "not_allowed_token_type",
        "account_inactive",
        "missing_scope",
    ],
)
def test_fatal_codes_stop_with_that_error_and_never_retry(code: str) -> None:
    h = Harness()
    h.start()
    send = h.core.send_message("C1", "queued while connecting", h.now)
    error = connect_error(code)
    h.core.connect_failed(error, h.now)
    h.pump()
    assert h.core.state is State.CLOSED
    assert h.core.error is error
    stop = h.stops()
    assert len(stop) == 1
    assert stop[0].error is error
    closed = h.events[-1]
    assert isinstance(closed, Closed)
    assert code in (closed.error or "")
    assert send.done
    assert isinstance(send.error, ConnectionClosedError)
    assert send.error.__cause__ is error
    h.advance(600)
    assert len(h.of(CallConnect)) == 1
    assert h.core.pending_count == 0


@pytest.mark.parametrize(
    "error",
    [
        connect_error("internal_error"),
        connect_error("some_new_code"),
        TransportError("connection refused"),
        ApiError("HTTP 503", status_code=503, headers={}, body="<html>"),
    ],
)
def test_transient_failures_back_off_exponentially_with_jitter(error: Exception) -> None:
    h = Harness(rand=0.5, backoff=Backoff(initial=1.0, maximum=8.0))
    h.start()
    delays = []
    for _ in range(6):
        h.core.connect_failed(error, h.now)
        h.pump()
        rec = h.events[-1]
        assert isinstance(rec, Reconnecting)
        delays.append(rec.delay)
        before = len(h.of(CallConnect))
        h.advance(rec.delay)
        assert len(h.of(CallConnect)) == before + 1
    assert delays == pytest.approx([0.5, 1.0, 2.0, 4.0, 4.0, 4.0])
    assert [c.attempt for c in h.of(CallConnect)] == [1, 2, 3, 4, 5, 6, 7]
    assert h.core.state is State.CONNECTING


def test_jitter_comes_from_the_rand_source() -> None:
    h = Harness(rand=0.0)
    h.start()
    h.core.connect_failed(TransportError("x"), h.now)
    h.pump()
    rec = [e for e in h.events if isinstance(e, Reconnecting)]
    assert rec[-1].delay == 0.0
    assert isinstance(h.events[-1], Connecting)
    assert len(h.of(CallConnect)) == 2  # a zero delay calls again at once


def test_rate_limited_waits_at_least_retry_after() -> None:
    h = Harness(rand=0.0)
    h.start()
    h.core.connect_failed(rate_limited(7.0), h.now)
    h.pump()
    assert h.events[-1].delay == pytest.approx(7.0)
    h.advance(6.99)
    assert len(h.of(CallConnect)) == 1
    h.advance(0.02)
    assert len(h.of(CallConnect)) == 2


def test_rate_limited_without_retry_after_still_backs_off() -> None:
    h = Harness(rand=0.5)
    h.start()
    h.core.connect_failed(rate_limited(None), h.now)
    h.pump()
    assert h.events[-1].delay == pytest.approx(0.5)


def test_migration_in_progress_adds_the_migration_delay() -> None:
    h = Harness(rand=0.0, migration_delay=3.0)
    h.start()
    h.core.connect_failed(connect_error("migration_in_progress"), h.now)
    h.pump()
    assert h.events[-1].delay == pytest.approx(3.0)


def test_max_attempts_gives_up_with_the_last_error() -> None:
    h = Harness(rand=0.0, max_attempts=3)
    h.start()
    errors = [TransportError(f"refused {i}") for i in range(3)]
    for err in errors:
        h.core.connect_failed(err, h.now)
        h.pump()
        h.advance(0)
    assert h.core.state is State.CLOSED
    assert h.core.error is errors[-1]
    assert len(h.of(CallConnect)) == 3


def test_max_attempts_counts_sockets_without_hello_too() -> None:
    h = Harness(rand=0.0, max_attempts=2)
    h.start()
    conn = h.answer_connect()
    h.recv(conn, {"type": "error", "error": {"code": 1, "msg": "expired"}})
    h.closed(conn)
    h.advance(0)
    conn = h.answer_connect()
    h.core.socket_failed(conn, TransportError("handshake failed"), h.now)
    h.pump()
    assert h.core.state is State.CLOSED
    assert isinstance(h.core.error, TransportError)


def test_socket_failure_retries() -> None:
    h = Harness(rand=0.0)
    h.start()
    conn = h.answer_connect()
    h.core.socket_failed(conn, TransportError("TLS handshake failed"), h.now)
    h.pump()
    assert "TLS handshake failed" in h.events[-2].reason
    assert len(h.of(CallConnect)) == 2


def test_socket_closed_before_hello_retries() -> None:
    h = Harness(rand=0.0)
    h.start()
    conn = h.answer_connect()
    h.closed(conn, 1011, "boom")
    assert len(h.of(CallConnect)) == 2
    assert h.core.state is State.CONNECTING


def test_close_while_waiting_for_rtm_connect() -> None:
    h = Harness()
    h.start()
    h.core.close(h.now)
    h.pump()
    assert h.core.state is State.CLOSED
    assert h.core.connect_succeeded(URL, h.now) is None
    assert not h.of(OpenSocket)


def test_close_with_open_sockets_waits_for_them() -> None:
    h = Harness()
    conn = h.connect()
    h.core.close(h.now)
    h.pump()
    assert h.core.state is State.CLOSING
    close = h.closes(conn)
    assert close
    assert close[0].code == 1000
    assert not close[0].abort
    h.core.close(h.now)  # again: nothing new
    h.pump()
    assert len(h.closes(conn)) == 1
    h.closed(conn, 1000)
    assert h.core.state is State.CLOSED
    assert [type(e).__name__ for e in h.events[-2:]] == ["Disconnected", "Closed"]
    assert h.events[-2].code == 1000


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="ping_interval"):
        SessionConfig(ping_interval=0)
    with pytest.raises(TypeError, match="send_burst"):
        SessionConfig(send_burst=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="backoff"):
        SessionConfig(backoff=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_attempts"):
        SessionConfig(max_attempts=0)
    with pytest.raises(TypeError, match="max_attempts"):
        SessionConfig(max_attempts="3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="hello_timeout"):
        SessionConfig(hello_timeout=True)
    with pytest.raises(ValueError, match="reply_grace"):
        SessionConfig(reply_grace=float("nan"))
    with pytest.raises(TypeError, match="config"):
        SessionCore({"ping_interval": 1})  # type: ignore[arg-type]


def test_transitions_are_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="slack_rtm.session"):
        h = Harness()
        h.connect()
    text = caplog.text
    assert "idle -> connecting" in text
    assert "connecting -> connected" in text
    assert "SECRET" not in text


def test_default_rand_and_logger() -> None:
    core = SessionCore()
    core.start(0.0)
    assert isinstance(core.take_actions()[0], CallConnect)
    assert not [a for a in core.take_actions() if isinstance(a, (SendFrame, CloseSocket))]
