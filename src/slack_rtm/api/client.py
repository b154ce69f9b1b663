"""The Web API clients: :class:`Client` (sync) and :class:`AsyncClient`, twins over one base.

Each wraps one pooled ``httpx`` client (keep-alive connections are reused across calls) and
differs from its twin only in I/O and sleeping; settings, checks and the whole call logic
(:class:`~slack_rtm.api.call.Call`) are shared.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import platform
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from importlib import metadata
from types import TracebackType
from typing import TypeVar

import httpx

from slack_rtm.api.call import Call, Done, Fail, public_url
from slack_rtm.api.config import RequestOptions, RetryConfig, check_headers, check_timeout
from slack_rtm.api.models import _Body
from slack_rtm.api.response import ApiResponse
from slack_rtm.cookies import CookieInput, SessionCookie
from slack_rtm.errors import StateError
from slack_rtm.redact import redact_url

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "AsyncClient", "Client", "default_user_agent"]

logger = logging.getLogger("slack_rtm.api")

DEFAULT_BASE_URL = "https://slack.com/api"
DEFAULT_TIMEOUT = 30.0

T = TypeVar("T", bound=_Body)

ProxyType = str | httpx.URL | httpx.Proxy


@functools.cache
def default_user_agent() -> str:
    """``slack-rtm/<version> python/<version> httpx/<version>``."""
    try:
        version = metadata.version("slack-rtm")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        version = "0"
    return f"slack-rtm/{version} python/{platform.python_version()} httpx/{httpx.__version__}"


class _BaseClient:
    """Settings and checks shared by :class:`Client` and :class:`AsyncClient`."""

    _random: Callable[[], float]

    def __init__(
        self,
        *,
        base_url: str | httpx.URL,
        timeout: float,
        retry: RetryConfig | None,
        proxy: ProxyType | None,
        verify: bool | ssl.SSLContext,
        user_agent: str | None,
        headers: Mapping[str, str] | None,
        cookie: CookieInput | SessionCookie | None,
    ) -> None:
        self.base_url = _check_base_url(base_url)
        self.timeout = check_timeout(timeout, "timeout")
        if retry is None:
            retry = RetryConfig()
        if not isinstance(retry, RetryConfig):
            raise TypeError(f"retry must be a RetryConfig, got {type(retry).__name__}")
        self.retry = retry
        if proxy is not None and not isinstance(proxy, (str, httpx.URL, httpx.Proxy)):
            raise TypeError(
                f"proxy must be a URL string or httpx.Proxy, got {type(proxy).__name__}"
            )
        if not isinstance(verify, (bool, ssl.SSLContext)):
            raise TypeError(
                f"verify must be a bool or an ssl.SSLContext, got {type(verify).__name__}"
            )
        if user_agent is None:
            user_agent = default_user_agent()
        if not isinstance(user_agent, str):
            raise TypeError(f"user_agent must be a str, got {type(user_agent).__name__}")
        if not user_agent or "\r" in user_agent or "\n" in user_agent:
            raise ValueError("user_agent must be a non-empty single line")
        self.user_agent = user_agent
        self._proxy = proxy
        self._verify = verify
        self._cookie = None if cookie is None else SessionCookie.parse(cookie, name="cookie")
        extra = check_headers(headers, "headers")
        if self._cookie is not None and any(k.lower() == "cookie" for k in extra):
            raise ValueError("headers must not set 'Cookie' when cookie= is given: pass it once")
        self._default_headers = {**extra, "User-Agent": user_agent}
        if self._cookie is not None:
            self._default_headers["Cookie"] = self._cookie.header
        # Private hooks for tests: the jitter source and (in the twins) the sleep.
        self._random = random.random

    def __repr__(self) -> str:
        proxy = None
        if self._proxy is not None:
            raw = self._proxy.url if isinstance(self._proxy, httpx.Proxy) else self._proxy
            proxy = redact_url(str(raw))
        verify = "SSLContext" if isinstance(self._verify, ssl.SSLContext) else self._verify
        cookie = "" if self._cookie is None else f", cookie={self._cookie!r}"
        return (
            f"{type(self).__name__}(base_url={public_url(self.base_url)!r}, "
            f"timeout={self.timeout:g}, retry={self.retry!r}, proxy={proxy!r}, "
            f"verify={verify!r}{cookie})"
        )

    @property
    def cookie(self) -> SessionCookie | None:
        """The session cookie sent as ``Cookie`` on every call, or None (its repr is safe)."""
        return self._cookie


    def _new_call(
        self,
        api_method: str,
        token: str,
        params: Mapping[str, str],
        options: RequestOptions | None,
        result_type: type[T],
    ) -> Call[T]:
        options = options or RequestOptions()
        # A Cookie set through headers= (without cookie=) is kept out of messages too.
        secrets = tuple(v for k, v in self._default_headers.items() if k.lower() == "cookie")
        if self._cookie is not None:
            if any(k.lower() == "cookie" for k in options.headers):
                raise ValueError(
                    "request_options.headers must not set 'Cookie': the client sends its cookie"
                )
            secrets = self._cookie.secrets
        return Call(
            api_method=api_method,
            url=f"{self.base_url}/{api_method}",
            token=token,
            params=params,
            headers=options.headers,
            timeout=self.timeout if options.timeout is None else options.timeout,
            retry=options.retry or self.retry,
            result_type=result_type,
            rand=self._random,
            secrets=secrets,
        )

    @staticmethod
    def _env_settings(
        environ: Mapping[str, str] | None,
    ) -> tuple[str, float, str | None, SessionCookie | None]:
        env = os.environ if environ is None else environ
        base_url = env.get("SLACK_API_URL") or DEFAULT_BASE_URL
        timeout = DEFAULT_TIMEOUT
        raw_timeout = env.get("SLACK_TIMEOUT")
        if raw_timeout:
            try:
                timeout = float(raw_timeout)
            except ValueError:
                raise ValueError(
                    f"SLACK_TIMEOUT must be a number of seconds, got {raw_timeout!r}"
                ) from None
            check_timeout(timeout, "SLACK_TIMEOUT")
        proxy = env.get("SLACK_PROXY") or None
        raw_cookie = env.get("SLACK_COOKIE", "").strip()
        cookie = SessionCookie.parse(raw_cookie, name="SLACK_COOKIE") if raw_cookie else None
        return base_url, timeout, proxy, cookie


def _check_base_url(value: object) -> str:
    if not isinstance(value, (str, httpx.URL)):
        raise TypeError(f"base_url must be a str, got {type(value).__name__}")
    try:
        url = httpx.URL(str(value))
    except httpx.InvalidURL:
        raise ValueError("base_url is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(
            f"base_url must be an http:// or https:// URL with a host, e.g. {DEFAULT_BASE_URL!r}"
        )
    if url.query or url.fragment:
        raise ValueError("base_url must not have a query or fragment")
    if url.userinfo:
        # httpx logs request URLs at INFO: credentials there would leak into logs.
        raise ValueError("base_url must not carry credentials (user:password@); use headers")
    return str(url).rstrip("/")


class Client(_BaseClient):
    """A synchronous Slack Web API client over one pooled ``httpx.Client``.

    Use it as a context manager (or call :meth:`close`), and pass it to
    :class:`~slack_rtm.api.RtmApi`. Thread-safe as far as ``httpx.Client`` is.

    Args:
        base_url: the Web API root; a trailing slash is optional.
        timeout: seconds for each of connect, read, write and pool acquisition (> 0).
        retry: the retry policy (default: retries on, see :class:`RetryConfig`).
        proxy: an HTTP(S) or SOCKS proxy URL, or an ``httpx.Proxy``. Without it httpx honours
            the usual ``HTTPS_PROXY`` / ``NO_PROXY`` environment variables.
        verify: TLS verification: True (default), False, or an ``ssl.SSLContext``.
        user_agent: the ``User-Agent`` (default :func:`default_user_agent`). Browser sessions
            may want a browser's: Slack has logged sessions out over a tool-like one.
        headers: extra headers sent with every call (``Authorization`` is refused).
        cookie: the browser session cookie an ``xoxc-`` token needs: the ``d`` value, a cookie
            string or a mapping (see :class:`~slack_rtm.cookies.SessionCookie`). Sent as the
            ``Cookie`` header on every call; never shown in a repr, log line or error.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: an argument has a bad value.
    """

    def __init__(
        self,
        *,
        base_url: str | httpx.URL = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryConfig | None = None,
        proxy: ProxyType | None = None,
        verify: bool | ssl.SSLContext = True,
        user_agent: str | None = None,
        headers: Mapping[str, str] | None = None,
        cookie: CookieInput | SessionCookie | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            timeout=timeout,
            retry=retry,
            proxy=proxy,
            verify=verify,
            user_agent=user_agent,
            headers=headers,
            cookie=cookie,
        )
        self._sleep: Callable[[float], None] = time.sleep
        self._http = httpx.Client(
            headers=self._default_headers,
            timeout=httpx.Timeout(self.timeout),
            proxy=self._proxy,
            verify=self._verify,
            follow_redirects=False,
        )

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        retry: RetryConfig | None = None,
        verify: bool | ssl.SSLContext = True,
        user_agent: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Client:
        """A client configured from the environment (``os.environ`` unless ``environ``).

        Reads ``SLACK_API_URL`` (base_url), ``SLACK_TIMEOUT`` (seconds), ``SLACK_PROXY``
        (proxy URL) and ``SLACK_COOKIE`` (the session cookie, any form ``cookie=`` takes);
        unset or empty variables keep the defaults. Tokens are never read here: pass the token
        to the method.

        Raises:
            ValueError: a variable holds a bad value (the variable is named).
        """
        base_url, timeout, proxy, cookie = cls._env_settings(environ)
        return cls(
            base_url=base_url,
            timeout=timeout,
            proxy=proxy,
            retry=retry,
            verify=verify,
            user_agent=user_agent,
            headers=headers,
            cookie=cookie,
        )

    @property
    def is_closed(self) -> bool:
        """True after :meth:`close`."""
        return self._http.is_closed

    def close(self) -> None:
        """Close the pooled connections. Idempotent."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(
        self,
        api_method: str,
        token: str,
        params: Mapping[str, str],
        options: RequestOptions | None,
        result_type: type[T],
    ) -> ApiResponse[T]:
        if self._http.is_closed:
            raise StateError(f"{api_method}: the Client is closed; create a new one")
        call = self._new_call(api_method, token, params, options, result_type)
        while True:
            spec = call.begin_attempt()
            try:
                response = self._http.request(
                    spec.method,
                    spec.url,
                    headers=spec.headers,
                    content=spec.content,
                    timeout=spec.timeout,
                )
            except httpx.RequestError as exc:
                step = call.on_transport_error(exc)
            else:
                step = call.on_response(response)
            if isinstance(step, Done):
                return step.response
            if isinstance(step, Fail):
                raise step.error from step.cause
            self._sleep(step.seconds)


class AsyncClient(_BaseClient):
    """The asyncio twin of :class:`Client`, over one pooled ``httpx.AsyncClient``.

    Same arguments as :class:`Client`. Use ``async with`` (or call :meth:`aclose`) and pass it
    to :class:`~slack_rtm.api.AsyncRtmApi`. Cancelling the task awaiting a call cancels the
    request in flight (or the wait between attempts) and closes its connection.
    """

    def __init__(
        self,
        *,
        base_url: str | httpx.URL = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryConfig | None = None,
        proxy: ProxyType | None = None,
        verify: bool | ssl.SSLContext = True,
        user_agent: str | None = None,
        headers: Mapping[str, str] | None = None,
        cookie: CookieInput | SessionCookie | None = None,
    ) -> None:
        super().__init__(
            base_url=base_url,
            timeout=timeout,
            retry=retry,
            proxy=proxy,
            verify=verify,
            user_agent=user_agent,
            headers=headers,
            cookie=cookie,
        )
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._http = httpx.AsyncClient(
            headers=self._default_headers,
            timeout=httpx.Timeout(self.timeout),
            proxy=self._proxy,
            verify=self._verify,
            follow_redirects=False,
        )

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        retry: RetryConfig | None = None,
        verify: bool | ssl.SSLContext = True,
        user_agent: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncClient:
        """An async client configured from the environment: see :meth:`Client.from_env`."""
        base_url, timeout, proxy, cookie = cls._env_settings(environ)
        return cls(
            base_url=base_url,
            timeout=timeout,
            proxy=proxy,
            retry=retry,
            verify=verify,
            user_agent=user_agent,
            headers=headers,
            cookie=cookie,
        )

    @property
    def is_closed(self) -> bool:
        """True after :meth:`aclose`."""
        return self._http.is_closed

    async def aclose(self) -> None:
        """Close the pooled connections. Idempotent."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(
        self,
        api_method: str,
        token: str,
        params: Mapping[str, str],
        options: RequestOptions | None,
        result_type: type[T],
    ) -> ApiResponse[T]:
        if self._http.is_closed:
            raise StateError(f"{api_method}: the AsyncClient is closed; create a new one")
        call = self._new_call(api_method, token, params, options, result_type)
        while True:
            spec = call.begin_attempt()
            try:
                response = await self._http.request(
                    spec.method,
                    spec.url,
                    headers=spec.headers,
                    content=spec.content,
                    timeout=spec.timeout,
                )
            except httpx.RequestError as exc:
                step = call.on_transport_error(exc)
            else:
                step = call.on_response(response)
            if isinstance(step, Done):
                return step.response
            if isinstance(step, Fail):
                raise step.error from step.cause
            await self._sleep(step.seconds)
