"""Client lifecycle, settings, proxies, cancellation and argument checks."""

from __future__ import annotations

import asyncio
import gc
import ssl
import time
from typing import Any

import httpx
import pytest

from slack_rtm.api import (
    DEFAULT_BASE_URL,
    AsyncClient,
    AsyncRtmApi,
    Client,
    RequestOptions,
    RetryConfig,
    RtmApi,
)
from slack_rtm.errors import StateError

from .server import SUCCESS, TOKEN, ScriptedServer, Twin, eventually

# -- lifecycle -------------------------------------------------------------------------------


def test_sync_context_manager_closes(server: ScriptedServer) -> None:
    server.push_success()
    with Client(base_url=server.api_url) as client:
        response = RtmApi(client).rtm_connect(TOKEN)
        assert response.result.self_.name == "robotoverlord"
        assert not client.is_closed
    assert client.is_closed
    with pytest.raises(StateError, match="closed"):
        RtmApi(client).rtm_connect(TOKEN)
    client.close()  # idempotent
    assert server.count() == 1


async def test_async_context_manager_closes(server: ScriptedServer) -> None:
    server.push_success()
    async with AsyncClient(base_url=server.api_url) as client:
        response = await AsyncRtmApi(client).rtm_connect(TOKEN, batch_presence_aware=True)
        assert response.result.team.domain == "slackdemo"
    assert client.is_closed
    with pytest.raises(StateError, match="closed"):
        await AsyncRtmApi(client).rtm_connect(TOKEN)
    await client.aclose()
    assert server.count() == 1


async def test_cancelling_the_task_cancels_the_request(server: ScriptedServer) -> None:
    server.push(json_body=SUCCESS, delay=5.0)  # the server hangs
    server.push_success()
    client = AsyncClient(base_url=server.api_url, timeout=10.0)
    api = AsyncRtmApi(client)
    task = asyncio.create_task(api.rtm_connect(TOKEN))
    await eventually(lambda: server.count() == 1)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 0.5
    assert task.cancelled()
    # The connection was closed: the server saw its handler cancelled by the disconnect.
    await eventually(lambda: server.cancelled == 1)
    # The pool is still usable, and closing leaves nothing behind (warnings are errors here).
    response = await api.rtm_connect(TOKEN)
    assert response.result.ok
    await client.aclose()
    gc.collect()
    assert server.count() == 2


async def test_cancelling_during_the_retry_wait(server: ScriptedServer) -> None:
    server.push(503, body="busy")
    client = AsyncClient(base_url=server.api_url)
    client._random = lambda: 0.99
    client.retry = RetryConfig(max_attempts=3)
    task = asyncio.create_task(AsyncRtmApi(client).rtm_connect(TOKEN))
    await eventually(lambda: server.count() == 1)
    await asyncio.sleep(0.05)  # now in the backoff sleep (0.495 s)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert server.count() == 1
    await client.aclose()


# -- settings --------------------------------------------------------------------------------


def test_defaults() -> None:
    with Client() as client:
        assert client.base_url == DEFAULT_BASE_URL
        assert client.timeout == 30.0
        assert client.retry == RetryConfig()
        assert client.retry.enabled
        assert client.user_agent.startswith("slack-rtm/")
        assert "verify=True" in repr(client)


@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_from_env(cls: Any) -> None:
    env = {
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "SLACK_TIMEOUT": "2.5",
        "SLACK_PROXY": "http://user:hunter2@proxy.example:3128",
    }
    client = cls.from_env(env)
    assert client.base_url == "http://127.0.0.1:9/api"
    assert client.timeout == 2.5
    text = repr(client)
    assert "hunter2" not in text
    assert "proxy.example:3128" in text
    assert isinstance(client, cls)
    empty = cls.from_env({"SLACK_API_URL": "", "SLACK_TIMEOUT": ""})
    assert empty.base_url == DEFAULT_BASE_URL
    assert empty.timeout == 30.0


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/x")
    monkeypatch.delenv("SLACK_TIMEOUT", raising=False)
    monkeypatch.delenv("SLACK_PROXY", raising=False)
    with Client.from_env(retry=RetryConfig.none(), user_agent="ua/1") as client:
        assert client.base_url == "http://127.0.0.1:9/x"
        assert client.retry.max_attempts == 1
        assert client.user_agent == "ua/1"


@pytest.mark.parametrize(
    ("value", "exc"), [("soon", ValueError), ("0", ValueError), ("inf", ValueError)]
)
def test_from_env_bad_timeout(value: str, exc: type[Exception]) -> None:
    with pytest.raises(exc, match="SLACK_TIMEOUT"):
        Client.from_env({"SLACK_TIMEOUT": value})


async def test_proxy_is_used(server: ScriptedServer) -> None:
    # The scripted server acts as a plain HTTP proxy: it receives the absolute-form request.
    server.push_success()
    proxy = server.url.replace("http://", "http://someone:pw@")
    async with AsyncClient(base_url="http://slack.invalid/api", proxy=proxy) as client:
        assert "pw@" not in repr(client)
        response = await AsyncRtmApi(client).rtm_connect(TOKEN)
    assert response.url == "http://slack.invalid/api/rtm.connect"
    [req] = server.requests
    assert req.raw_path == "http://slack.invalid/api/rtm.connect"
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert req.headers["proxy-authorization"].startswith("Basic ")


def test_sync_proxy_object(server: ScriptedServer) -> None:
    server.push_success()
    with Client(base_url="http://slack.invalid/api", proxy=httpx.Proxy(server.url)) as client:
        assert RtmApi(client).rtm_connect(TOKEN).result.ok
        assert f"proxy='{server.url}/…'" in repr(client)
    assert server.requests[0].raw_path == "http://slack.invalid/api/rtm.connect"


def test_verify_settings() -> None:
    ctx = ssl.create_default_context()
    with Client(verify=ctx) as client:
        assert "verify='SSLContext'" in repr(client)
    with Client(verify=False) as client:
        assert "verify=False" in repr(client)


def test_base_url_credentials_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError, match="credentials") as info:
        Client(base_url="https://user:s3cret@slack.example/api/")
    assert "s3cret" not in str(info.value)
    with Client(base_url="https://slack.example/api/") as client:
        assert "slack.example/api" in repr(client)
        assert repr(RtmApi(client)).startswith("RtmApi(Client(")


# -- argument checks -------------------------------------------------------------------------

BAD_CLIENT_ARGS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"base_url": 5}, TypeError, "base_url"),
    ({"base_url": "ftp://x/api"}, ValueError, "base_url"),
    ({"base_url": "not a url"}, ValueError, "base_url"),
    ({"base_url": "https://x/api?token=1"}, ValueError, "base_url"),
    ({"base_url": "http://[::1/api"}, ValueError, "base_url"),
    ({"timeout": "30"}, TypeError, "timeout"),
    ({"timeout": True}, TypeError, "timeout"),
    ({"timeout": 0}, ValueError, "timeout"),
    ({"timeout": float("nan")}, ValueError, "timeout"),
    ({"retry": 3}, TypeError, "retry"),
    ({"proxy": 8080}, TypeError, "proxy"),
    ({"verify": "yes"}, TypeError, "verify"),
    ({"user_agent": 1}, TypeError, "user_agent"),
    ({"user_agent": "a\r\nb"}, ValueError, "user_agent"),
    ({"headers": ["X-A"]}, TypeError, "headers"),
    ({"headers": {"X-A": 1}}, TypeError, "headers"),
    ({"headers": {"Authorization": "Bearer x"}}, ValueError, "Authorization"),
    ({"headers": {"X-A": "a\nb"}}, ValueError, "line break"),
    ({"headers": {"Bad:Name": "a"}}, ValueError, "header name"),
]


@pytest.mark.parametrize(("kwargs", "exc", "needle"), BAD_CLIENT_ARGS)
@pytest.mark.parametrize("cls", [Client, AsyncClient])
def test_client_arguments_checked(
    cls: Any, kwargs: dict[str, Any], exc: type[Exception], needle: str
) -> None:
    with pytest.raises(exc, match=needle):
        cls(**kwargs)


BAD_CALL_ARGS: list[tuple[tuple[Any, ...], dict[str, Any], type[Exception], str]] = [
    ((None,), {}, TypeError, "token"),
    ((b"xoxb-1",), {}, TypeError, "token"),
    (("",), {}, ValueError, "token"),
    (("xoxb-1\r\nX-Evil: 1",), {}, ValueError, "token"),
    (("xoxb 1",), {}, ValueError, "token"),
    (("xoxb-é",), {}, ValueError, "token"),
    ((TOKEN,), {"batch_presence_aware": 1}, TypeError, "batch_presence_aware"),
    ((TOKEN,), {"batch_presence_aware": "true"}, TypeError, "batch_presence_aware"),
    ((TOKEN,), {"presence_sub": 0}, TypeError, "presence_sub"),
    ((TOKEN,), {"request_options": {"timeout": 1}}, TypeError, "request_options"),
]


@pytest.mark.parametrize(("args", "kwargs", "exc", "needle"), BAD_CALL_ARGS)
async def test_call_arguments_checked_before_io(
    twin: Twin,
    server: ScriptedServer,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    exc: type[Exception],
    needle: str,
) -> None:
    with pytest.raises(exc, match=needle) as info:
        await twin.connect(*args, **kwargs)
    assert server.count() == 0
    assert TOKEN not in str(info.value)
    if args and isinstance(args[0], str) and args[0]:
        assert args[0] not in str(info.value)


def test_api_wants_the_matching_twin() -> None:
    with Client() as sync_client:
        with pytest.raises(TypeError, match="use RtmApi for a Client"):
            AsyncRtmApi(sync_client)  # type: ignore[arg-type]
        assert repr(RtmApi(sync_client)).startswith("RtmApi(")
    async_client = AsyncClient()
    with pytest.raises(TypeError, match="use AsyncRtmApi"):
        RtmApi(async_client)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="client must be"):
        RtmApi("client")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="client must be"):
        AsyncRtmApi(None)  # type: ignore[arg-type]
    assert repr(AsyncRtmApi(async_client)).startswith("AsyncRtmApi(AsyncClient(")
    asyncio.run(async_client.aclose())


@pytest.mark.parametrize(
    ("kwargs", "exc", "needle"),
    [
        ({"timeout": -1}, ValueError, "timeout"),
        ({"timeout": "1"}, TypeError, "timeout"),
        ({"headers": {"Content-Length": "1"}}, ValueError, "Content-Length"),
        ({"headers": None}, None, ""),
        ({"retry": 2}, TypeError, "retry"),
    ],
)
def test_request_options_checked(
    kwargs: dict[str, Any], exc: type[Exception] | None, needle: str
) -> None:
    if exc is None:
        assert dict(RequestOptions(**kwargs).headers) == {}
        return
    with pytest.raises(exc, match=needle):
        RequestOptions(**kwargs)


def test_request_options_are_frozen_and_hashable() -> None:
    options = RequestOptions(timeout=1.0, headers={"X-A": "1"})
    with pytest.raises(AttributeError):
        options.timeout = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        options.headers["X-B"] = "2"  # type: ignore[index]
    assert hash(options) == hash(RequestOptions(timeout=1.0, headers={"X-A": "1"}))
