"""``ApiResponse[T]``: a successful Web API answer, typed, with the HTTP details kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import httpx

__all__ = ["ApiResponse"]

T = TypeVar("T")


@dataclass(frozen=True, repr=False)
class ApiResponse(Generic[T]):
    """A Web API call that succeeded (``ok: true``).

    Attributes:
        result: the typed body, e.g. :class:`~slack_rtm.api.models.RtmConnectSchema`.
        status_code: the HTTP status (2xx).
        headers: the response headers, a case-insensitive mapping.
        body: the raw response text. For ``rtm.connect`` it holds the WebSocket URL, a
            credential: do not log it.
        method: the HTTP method used, e.g. ``"POST"``.
        url: the URL called, without credentials (the token is never in it).
        warnings: Slack's warnings, from ``warning`` and ``response_metadata.warnings``, in order
            and without duplicates, anything secret-looking redacted; each was logged once at
            WARNING on ``slack_rtm.api``.
    """

    result: T
    status_code: int
    headers: httpx.Headers
    body: str
    method: str
    url: str
    warnings: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # Never the body: it carries the session URL.
        return (
            f"ApiResponse(result={self.result!r}, status_code={self.status_code}, "
            f"method={self.method!r}, url={self.url!r}, warnings={self.warnings!r})"
        )
