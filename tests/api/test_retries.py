"""Retries, rate limits, timeouts and network failures over real loopback sockets."""

from __future__ import annotations

import time
import traceback

import httpx
import pytest

from slack_rtm.api import RequestOptions, RetryConfig
from slack_rtm.backoff import Backoff
from slack_rtm.errors import (
    ApiError,
    RateLimitedError,
    TransportError,
    TransportTimeoutError,
)

from .server import TOKEN, ScriptedServer, Twin, free_port

RATELIMITED = {"ok": False, "error": "ratelimited"}


def assert_no_token(exc: BaseException) -> None:
    text = str(exc) + repr(exc) + "".join(traceback.format_exception(exc))
    assert TOKEN not in text


async def test_429_retried_no_sooner_than_retry_after(twin: Twin, server: ScriptedServer) -> None:
    twin.rand = 0.999  # the largest jitter draw: still never more than what the budget allows
    twin.client(retry=RetryConfig(max_attempts=4, backoff=Backoff(initial=0.5, maximum=4.0)))
    server.push(429, json_body=RATELIMITED, headers={"Retry-After": "7"}, times=2)
    server.push_success()
    response = await twin.connect()
    assert response.result.ok
    assert server.count() == 3
    assert len(twin.sleeps) == 2
    assert all(wait >= 7 for wait in twin.sleeps)


async def test_429_exhausted_raises_rate_limited(twin: Twin, server: ScriptedServer) -> None:
    server.push(429, json_body=RATELIMITED, headers={"Retry-After": "3"}, times=4)
    with pytest.raises(RateLimitedError) as info:
        await twin.connect()
    exc = info.value
    assert exc.retry_after == 3.0
    assert exc.status_code == 429
    assert exc.error == "ratelimited"
    assert exc.result.error == "ratelimited"
    assert exc.headers["retry-after"] == "3"
    assert "Wait 3 s" in str(exc)
    assert "gave up after 4 attempts" in str(exc)
    assert server.count() == 4
    assert twin.sleeps == [3.0, 3.0, 3.0]
    assert_no_token(exc)


async def test_retry_after_beyond_budget_raises_without_sleeping(
    twin: Twin, server: ScriptedServer
) -> None:
    twin.client(retry=RetryConfig(max_attempts=4, max_total_wait=30))
    server.push(429, json_body=RATELIMITED, headers={"Retry-After": "120"})
    with pytest.raises(RateLimitedError) as info:
        await twin.connect()
    assert info.value.retry_after == 120.0
    assert "longer than the 30 s left" in str(info.value)
    assert server.count() == 1
    assert twin.sleeps == []


async def test_budget_shared_across_attempts(twin: Twin, server: ScriptedServer) -> None:
    twin.client(retry=RetryConfig(max_attempts=5, max_total_wait=10))
    server.push(429, json_body=RATELIMITED, headers={"Retry-After": "4"}, times=3)
    with pytest.raises(RateLimitedError, match="longer than the 2 s left"):
        await twin.connect()
    assert twin.sleeps == [4.0, 4.0]
    assert server.count() == 3


@pytest.mark.parametrize("value", [None, "soon", "-5", "nan", ""])
async def test_429_with_missing_or_garbage_retry_after(
    twin: Twin, server: ScriptedServer, value: str | None
) -> None:
    twin.rand = 0.5
    backoff = Backoff(initial=1.0, maximum=8.0)
    twin.client(retry=RetryConfig(max_attempts=3, backoff=backoff))
    headers = {} if value is None else {"Retry-After": value}
    server.push(429, body="<html>Too Many Requests</html>", headers=headers, times=3)
    with pytest.raises(RateLimitedError) as info:
        await twin.connect()
    assert info.value.retry_after is None
    assert info.value.result.error == "ratelimited"  # synthesized for a non-JSON body
    assert twin.sleeps == [0.5, 1.0]  # full-jitter backoff: rand * ceiling


async def test_real_retry_after_is_honoured(twin: Twin, server: ScriptedServer) -> None:
    twin.client(real_sleep=True)
    server.push(429, json_body=RATELIMITED, headers={"Retry-After": "1"})
    server.push_success()
    response = await twin.connect()
    assert response.result.ok
    first, second = server.requests
    assert second.at - first.at >= 1.0


async def test_connection_refused_after_retries(twin: Twin) -> None:
    client = twin.client(base_url=f"http://127.0.0.1:{free_port()}/api", retry=RetryConfig(3))
    with pytest.raises(TransportError) as info:
        await twin.connect(client=client)
    exc = info.value
    assert type(exc) is TransportError
    assert isinstance(exc.__cause__, httpx.ConnectError)
    assert "could not reach" in str(exc)
    assert "gave up after 3 attempts" in str(exc)
    assert len(twin.sleeps) == 2
    assert_no_token(exc)


async def test_timeout_raises_transport_timeout(twin: Twin, server: ScriptedServer) -> None:
    client = twin.client(timeout=0.2, retry=RetryConfig.disabled())
    server.push(json_body={"ok": True}, delay=1.0)  # never delivered in time
    started = time.monotonic()
    with pytest.raises(TransportTimeoutError) as info:
        await twin.connect(client=client)
    assert time.monotonic() - started < 0.9
    assert isinstance(info.value.__cause__, httpx.TimeoutException)
    assert "timed out" in str(info.value)
    assert server.count() == 1
    assert_no_token(info.value)


async def test_timeout_retried_and_per_call_timeout(twin: Twin, server: ScriptedServer) -> None:
    twin.client(timeout=5.0, retry=RetryConfig(max_attempts=2))
    server.push(delay=1.0, times=2)
    options = RequestOptions(timeout=0.15)
    started = time.monotonic()
    with pytest.raises(TransportTimeoutError, match="gave up after 2 attempts"):
        await twin.connect(TOKEN, request_options=options)
    assert time.monotonic() - started < 0.9
    assert server.count() == 2


async def test_per_call_retry_override(twin: Twin, server: ScriptedServer) -> None:
    twin.client(retry=RetryConfig(max_attempts=4))
    server.push(503, body="busy", times=2)
    options = RequestOptions(retry=RetryConfig(max_attempts=2))
    with pytest.raises(ApiError):
        await twin.connect(TOKEN, request_options=options)
    assert server.count() == 2


async def test_transient_code_retried_with_backoff(twin: Twin, server: ScriptedServer) -> None:
    twin.rand = 0.5
    twin.client(retry=RetryConfig(max_attempts=4, backoff=Backoff(initial=2.0, maximum=5.0)))
    server.push_error("migration_in_progress", times=3)
    server.push_success()
    response = await twin.connect()
    assert response.result.ok
    assert twin.sleeps == [1.0, 2.0, 2.5]
