"""SessionCore: in-band 401 refusals, fast resume through reconnect_url, the Retry-After floor."""

from __future__ import annotations

import httpx
import pytest
from core_harness import Harness

from slack_rtm.errors import ApiError, RtmConnectErrorSchemaError, SocketAuthError
from slack_rtm.session.actions import CallConnect, CloseSocket, OpenSocket
from slack_rtm.session.events import Closed, Connecting, Disconnected, ErrorEvent, Reconnecting
from slack_rtm.session.state import State

RESUME = "wss://wss-primary.slack.test/websocket/RESUMEsecretTICKET"
REFUSED = {"type": "error", "error": {"code": 401, "msg": "Invalid auth"}}


def _reconnect_url(url: str = RESUME) -> dict[str, str]:
    return {"type": "reconnect_url", "url": url}


# ---------------------------------------------------------------- in-band 401


def test_401_before_hello_reconnects_through_rtm_connect_then_stops_after_the_limit() -> None:
    h = Harness(max_auth_refusals=3, max_attempts=None)
    h.start()
    for refusal in (1, 2):
        conn = h.answer_connect()
        h.recv(conn, REFUSED)
        assert h.core.state is State.CONNECTING  # never "connected" while refused
        assert h.closes(conn)
        assert h.core.error is None
        h.advance(60.0)  # the backoff passes: the next attempt is an rtm.connect
        assert len(h.of(CallConnect)) == refusal + 1
    conn = h.answer_connect()
    h.recv(conn, REFUSED)
    assert h.core.state is State.CLOSING  # the refused socket is being closed
    assert h.closes(conn)
    h.closed(conn, 1008)
    assert h.core.state is State.CLOSED
    assert isinstance(h.core.error, SocketAuthError)
    assert h.core.error.refusals == 3
    text = str(h.core.error)
    assert "refused the credentials 3 times in a row" in text
    assert "d cookie" in text
    assert "SECRET" not in text
    closed = [e for e in h.events if isinstance(e, Closed)]
    assert closed
    assert closed[-1].error is not None
    assert "SocketAuthError" in closed[-1].error
    assert h.stops()
    assert h.stops()[-1].error is h.core.error
    assert [e for e in h.events if isinstance(e, ErrorEvent)]  # each refusal is delivered too


def test_401_after_hello_counts_too_and_is_not_a_healthy_loss() -> None:
    h = Harness(max_auth_refusals=2, healthy_after=0.0)
    conn = h.connect()
    h.recv(conn, REFUSED)
    assert h.core.state is State.RECONNECTING
    assert [e for e in h.events if isinstance(e, Disconnected)]
    reconnecting = [e for e in h.events if isinstance(e, Reconnecting)]
    assert reconnecting[-1].delay > 0  # backs off even though healthy_after=0
    h.advance(60.0)
    conn = h.answer_connect()
    h.hello(conn)
    h.recv(conn, REFUSED)
    assert isinstance(h.core.error, SocketAuthError)
    h.closed(conn, 1008)
    assert h.core.state is State.CLOSED


def test_a_session_that_lived_resets_the_refusal_count() -> None:
    h = Harness(max_auth_refusals=2, healthy_after=5.0)
    h.start()
    conn = h.answer_connect()
    h.recv(conn, REFUSED)  # 1 of 2
    h.advance(60.0)
    conn = h.answer_connect()
    h.hello(conn)
    h.advance(10.0)  # healthy
    h.closed(conn)  # an ordinary drop of a healthy session
    conn = h.answer_connect()
    h.recv(conn, REFUSED)  # 1 of 2 again, not 2 of 2
    assert h.core.error is None
    assert h.core.state is State.RECONNECTING


def test_other_in_band_codes_keep_their_handling() -> None:
    h = Harness(max_auth_refusals=1)
    h.start()
    conn = h.answer_connect()
    h.recv(conn, {"type": "error", "error": {"code": 1, "msg": "Socket URL has expired"}})
    assert h.core.error is None
    assert h.core.state is State.CONNECTING
    h.advance(60.0)
    conn2 = h.answer_connect()
    h.hello(conn2)
    h.recv(conn2, {"type": "error", "error": {"code": 2, "msg": "something else"}})
    assert h.core.state is State.CONNECTED  # after hello, other codes are only delivered
    assert h.core.error is None


def test_max_auth_refusals_is_validated() -> None:
    with pytest.raises(ValueError, match="max_auth_refusals"):
        Harness(max_auth_refusals=0)
    with pytest.raises(TypeError, match="fast_resume"):
        Harness(fast_resume=1)


# ---------------------------------------------------------------- fast resume


def test_an_abrupt_drop_opens_the_reconnect_url_without_rtm_connect() -> None:
    h = Harness(healthy_after=1.0)
    conn = h.connect()
    h.recv(conn, _reconnect_url())
    h.advance(2.0)
    calls = len(h.of(CallConnect))
    h.closed(conn)  # abrupt: no close code
    assert len(h.of(CallConnect)) == calls
    assert h.last_open().url == RESUME
    connecting = [e for e in h.events if isinstance(e, Connecting)]
    assert connecting[-1].resume is True
    new = h.last_open().conn_id
    h.hello(new)
    assert h.core.state is State.CONNECTED
    # single-use: the next drop, with no new reconnect_url, calls rtm.connect
    h.advance(2.0)
    h.closed(new)
    assert len(h.of(CallConnect)) == calls + 1


def test_the_latest_reconnect_url_wins_and_only_the_live_socket_counts() -> None:
    h = Harness(healthy_after=1.0)
    conn = h.connect()
    h.recv(conn, _reconnect_url(RESUME + "1"))
    h.recv(conn, _reconnect_url(RESUME + "2"))
    h.advance(2.0)
    h.closed(conn)
    assert h.last_open().url == RESUME + "2"


def test_a_failed_resume_falls_back_to_rtm_connect_at_once() -> None:
    for failure in ("expired", "socket_failed", "closed", "no_hello"):
        h = Harness(healthy_after=1.0, hello_timeout=3.0)
        conn = h.connect()
        h.recv(conn, _reconnect_url())
        h.advance(2.0)
        h.closed(conn)
        resume_conn = h.last_open().conn_id
        calls = len(h.of(CallConnect))
        if failure == "expired":
            h.recv(resume_conn, {"type": "error",
                                 "error": {"code": 1, "msg": "Socket URL has expired"}})
        elif failure == "socket_failed":
            h.core.socket_failed(resume_conn, OSError("refused"), h.now)
            h.pump()
        elif failure == "closed":
            h.closed(resume_conn, 1008)
        else:
            h.advance(3.1)
        assert len(h.of(CallConnect)) == calls + 1, failure
        last = [e for e in h.events if isinstance(e, Reconnecting)][-1]
        assert last.delay == 0.0, failure
        assert "fast resume failed" in last.reason, failure
        new = h.answer_connect()
        assert h.last_open().url != RESUME
        h.hello(new)
        assert h.core.state is State.CONNECTED, failure


def test_goodbye_and_refusals_do_not_use_the_reconnect_url() -> None:
    h = Harness(healthy_after=1.0)
    conn = h.connect()
    h.recv(conn, _reconnect_url())
    h.recv(conn, {"type": "goodbye"})
    assert isinstance(h.actions[-1], CallConnect)
    assert all(o.url != RESUME for o in h.of(OpenSocket))

    h = Harness(healthy_after=1.0, max_auth_refusals=5)
    conn = h.connect()
    h.recv(conn, _reconnect_url())
    h.recv(conn, REFUSED)
    h.advance(60.0)
    assert all(o.url != RESUME for o in h.of(OpenSocket))
    assert len(h.of(CallConnect)) == 2


def test_an_old_reconnect_url_is_not_tried_and_fast_resume_can_be_off() -> None:
    h = Harness(healthy_after=1.0, resume_max_age=10.0)
    conn = h.connect()
    h.recv(conn, _reconnect_url())
    h.advance(11.0)
    h.recv(conn, {"type": "pong", "reply_to": 99})  # keep the link alive
    h.closed(conn)
    assert all(o.url != RESUME for o in h.of(OpenSocket))

    h = Harness(healthy_after=1.0, fast_resume=False)
    conn = h.connect()
    h.recv(conn, _reconnect_url())
    h.advance(2.0)
    h.closed(conn)
    assert all(o.url != RESUME for o in h.of(OpenSocket))
    assert len(h.of(CallConnect)) == 2


def test_a_dead_link_resumes_too() -> None:
    h = Harness(ping_interval=2.0, ping_timeout=3.0, healthy_after=1.0)
    conn = h.connect()
    h.recv(conn, _reconnect_url())
    h.advance(5.5)  # ping, no pong: dead
    assert [c for c in h.of(CloseSocket) if c.conn_id == conn and c.abort]
    assert h.last_open().url == RESUME


# ---------------------------------------------------------------- Retry-After floor


def _api_error(status: int, retry_after: float | None, *, code: str | None = None) -> ApiError:
    headers = httpx.Headers({"Retry-After": str(retry_after)} if retry_after is not None else {})
    if code is None:
        return ApiError("HTTP failure", status_code=status, headers=headers, body="",
                        retry_after=retry_after)
    return RtmConnectErrorSchemaError("ok false", status_code=status, headers=headers, body="",
                                      result=None, error=code, fatal=False,
                                      retry_after=retry_after)


@pytest.mark.parametrize("rand", [0.0, 0.3, 0.99])
@pytest.mark.parametrize(
    "error",
    [_api_error(503, 7.0), _api_error(200, 7.0, code="service_unavailable"),
     _api_error(500, 7.0, code="internal_error")],
    ids=["503", "ok-false", "500-ok-false"],
)
def test_retry_after_is_a_floor_for_every_answer_that_carries_it(rand: float,
                                                                 error: ApiError) -> None:
    h = Harness(rand=rand, healthy_after=1.0)
    conn = h.connect()
    h.advance(2.0)
    h.closed(conn)
    h.core.connect_failed(error, h.now)
    h.pump()
    delay = [e for e in h.events if isinstance(e, Reconnecting)][-1].delay
    assert delay >= 7.0
    calls = len(h.of(CallConnect))
    h.advance(6.99)
    assert len(h.of(CallConnect)) == calls
    h.advance(max(0.02, delay - 6.99 + 0.01))
    assert len(h.of(CallConnect)) == calls + 1


def test_without_retry_after_the_backoff_alone_decides() -> None:
    h = Harness(rand=0.0, healthy_after=1.0)
    conn = h.connect()
    h.advance(2.0)
    h.closed(conn)
    h.core.connect_failed(_api_error(503, None), h.now)
    h.pump()
    delay = [e for e in h.events if isinstance(e, Reconnecting)][-1].delay
    assert delay < 1.0
