"""Call ``rtm.connect`` through both API client twins and return what happened, never raising.

The reliability tests compare the sync :class:`~slack_rtm.api.Client` and the
:class:`~slack_rtm.api.AsyncClient` on the same server answer: both must end the same way.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from slack_rtm.api import (
    ApiResponse,
    AsyncClient,
    AsyncRtmApi,
    Client,
    RetryConfig,
    RtmApi,
    RtmConnectSchema,
)

__all__ = ["Outcome", "connect_async", "connect_both", "connect_sync"]


@dataclass(frozen=True)
class Outcome:
    """How one call ended: ``response`` or ``error`` (exactly one is set), and how long it took.

    ``client_repr`` and ``api_repr`` are the reprs of the client objects, for leak checks.
    """

    response: ApiResponse[RtmConnectSchema] | None
    error: Exception | None
    seconds: float
    client_repr: str
    api_repr: str

    @property
    def kind(self) -> type[Any]:
        """``ApiResponse`` or the exception class."""
        return ApiResponse if self.error is None else type(self.error)


def _client_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    kwargs.setdefault("retry", RetryConfig.none())
    kwargs.setdefault("timeout", 2.0)
    return kwargs


def connect_sync(base_url: str, token: str, **kwargs: Any) -> Outcome:
    """``RtmApi(Client(base_url=..., **kwargs)).rtm_connect(token)``; retries off by default."""
    start = time.perf_counter()
    with Client(base_url=base_url, **_client_kwargs(kwargs)) as client:
        api = RtmApi(client)
        try:
            response = api.rtm_connect(token)
        except Exception as exc:  # every outcome is data here
            return Outcome(None, exc, time.perf_counter() - start, repr(client), repr(api))
        return Outcome(response, None, time.perf_counter() - start, repr(client), repr(api))


async def connect_async(base_url: str, token: str, **kwargs: Any) -> Outcome:
    """The asyncio twin of :func:`connect_sync`."""
    start = time.perf_counter()
    async with AsyncClient(base_url=base_url, **_client_kwargs(kwargs)) as client:
        api = AsyncRtmApi(client)
        try:
            response = await api.rtm_connect(token)
        except Exception as exc:  # every outcome is data here
            return Outcome(None, exc, time.perf_counter() - start, repr(client), repr(api))
        return Outcome(response, None, time.perf_counter() - start, repr(client), repr(api))


def connect_both(base_url: str, token: str, **kwargs: Any) -> tuple[Outcome, Outcome]:
    """Both twins, one after the other (call from synchronous code: no running event loop)."""
    sync = connect_sync(base_url, token, **dict(kwargs))
    aio = asyncio.run(connect_async(base_url, token, **dict(kwargs)))
    return sync, aio
