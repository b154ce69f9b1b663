"""Settings for Web API calls: :class:`RetryConfig` and the per-call :class:`RequestOptions`.

Also the argument checks shared by the clients and the options (a timeout, a header mapping).
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping
from dataclasses import dataclass, field

from slack_rtm.backoff import Backoff

__all__ = ["DEFAULT_BACKOFF", "RequestOptions", "RetryConfig"]

DEFAULT_BACKOFF = Backoff(initial=0.5, maximum=30.0, multiplier=2.0, jitter=True)
"""Full-jitter waits with ceilings 0.5 s, 1 s, 2 s, ... capped at 30 s."""

# Headers the library owns: the token travels only through ``rtm_connect(token)``.
_RESERVED_HEADERS = frozenset({"authorization", "content-length", "host"})


@dataclass(frozen=True)
class RetryConfig:
    """When and how often a Web API call is retried. Retries are on by default.

    Retried: connection errors, timeouts, HTTP 5xx, HTTP 429 (never sooner than ``Retry-After``)
    and the transient Slack codes (:func:`slack_rtm.codes.is_transient`). Never retried: the
    fatal codes (:func:`slack_rtm.codes.is_fatal`) and every other request error.

    Attributes:
        max_attempts: the total number of attempts, the first one included (1 = no retry).
        backoff: the wait before each retry (full jitter; ``Retry-After`` is a floor).
        max_total_wait: the budget, in seconds, for all the waits between attempts of one call
            (time spent in the requests themselves is bounded by the timeout, not by this). A
            ``Retry-After`` longer than what is left of the budget ends the call with
            :class:`~slack_rtm.errors.RateLimitedError` instead of sleeping past it. May be
            ``math.inf``.
    """

    max_attempts: int = 4
    backoff: Backoff = DEFAULT_BACKOFF
    max_total_wait: float = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise TypeError(
                f"max_attempts must be an int, got {type(self.max_attempts).__name__}"
            )
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if not isinstance(self.backoff, Backoff):
            raise TypeError(
                f"backoff must be a slack_rtm.Backoff, got {type(self.backoff).__name__}"
            )
        if isinstance(self.max_total_wait, bool) or not isinstance(
            self.max_total_wait, (int, float)
        ):
            raise TypeError(
                f"max_total_wait must be a number of seconds, got "
                f"{type(self.max_total_wait).__name__}"
            )
        if math.isnan(self.max_total_wait) or self.max_total_wait < 0:
            raise ValueError(f"max_total_wait must be >= 0, got {self.max_total_wait!r}")

    @classmethod
    def disabled(cls) -> RetryConfig:
        """Exactly one attempt: every failure is raised at once."""
        return cls(max_attempts=1)

    @classmethod
    def none(cls) -> RetryConfig:
        """The same as :meth:`disabled`."""
        return cls.disabled()

    @property
    def enabled(self) -> bool:
        """True when a failed attempt may be retried."""
        return self.max_attempts > 1


@dataclass(frozen=True)
class RequestOptions:
    """Per-call settings that override the client's.

    Attributes:
        timeout: seconds for each of connect, read, write and pool acquisition (None: the
            client's timeout).
        headers: extra request headers for this call (``Authorization`` is refused: pass the
            token to the method).
        retry: the retry policy for this call (None: the client's).

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: a timeout that is not > 0, or a header that is reserved or malformed.
    """

    timeout: float | None = None
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    retry: RetryConfig | None = None

    def __post_init__(self) -> None:
        if self.timeout is not None:
            check_timeout(self.timeout, "timeout")
        object.__setattr__(self, "headers", check_headers(self.headers, "headers"))
        if self.retry is not None and not isinstance(self.retry, RetryConfig):
            raise TypeError(
                f"retry must be a RetryConfig or None, got {type(self.retry).__name__}"
            )


def check_timeout(value: object, name: str) -> float:
    """``value`` as a float of seconds > 0.

    Raises:
        TypeError: not a number.
        ValueError: not finite or not > 0.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    return float(value)


def check_headers(value: object, name: str) -> Mapping[str, str]:
    """A read-only copy of a header mapping, checked.

    Raises:
        TypeError: not a mapping of str to str.
        ValueError: an empty name, a line break in a name or value, or a reserved header
            (``Authorization``, ``Content-Length``, ``Host``). Values are never echoed: they
            may be secrets (a ``Cookie``, say).
    """
    if value is None:
        return types.MappingProxyType({})
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping of str to str, got {type(value).__name__}")
    checked: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(f"{name} must be a mapping of str to str")
        if not key or any(c in key for c in "\r\n:") or key.strip() != key:
            raise ValueError(f"{name} has an invalid header name {key!r}")
        if key.lower() in _RESERVED_HEADERS:
            raise ValueError(
                f"{name} must not set {key!r}: the library sets it (pass the token to the "
                f"method, never in a header)"
            )
        if "\r" in item or "\n" in item:
            raise ValueError(f"{name}[{key!r}] must not contain a line break")
        checked[key] = item
    return types.MappingProxyType(checked)
