"""One Web API call as an I/O-free state machine, shared by the sync and the async client.

The drivers (:class:`~slack_rtm.api.client.Client`, :class:`~slack_rtm.api.client.AsyncClient`)
send :attr:`Call.request`, feed the outcome back with :meth:`Call.on_response` or
:meth:`Call.on_transport_error`, and obey the returned step: :class:`Done` (return the
response), :class:`Fail` (raise ``error from cause``) or :class:`Sleep` (wait, then send the
same request again). Everything else, building the request, reading the body into a typed
result or the right exception, and deciding on retries, happens here.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import httpx
import msgspec

from slack_rtm import codes
from slack_rtm.api.config import RetryConfig
from slack_rtm.api.models import RtmConnectErrorSchema, _Body, convert_body
from slack_rtm.api.response import ApiResponse
from slack_rtm.api.retry import decide, parse_retry_after
from slack_rtm.errors import (
    ApiError,
    RateLimitedError,
    ResponseValidationError,
    RtmConnectErrorSchemaError,
    SlackRtmError,
    TransportError,
    TransportTimeoutError,
)
from slack_rtm.redact import redact_text

__all__ = ["Call", "Done", "Fail", "RequestSpec", "Sleep", "public_url"]

logger = logging.getLogger("slack_rtm.api")

T = TypeVar("T", bound=_Body)

_SNIPPET = 160


@dataclass(frozen=True, repr=False)
class RequestSpec:
    """The HTTP request of one attempt (the token is in ``headers`` only; its repr hides them)."""

    method: str
    url: str
    headers: Mapping[str, str]
    content: bytes
    timeout: float

    def __repr__(self) -> str:
        return (
            f"RequestSpec({self.method!r}, {public_url(self.url)!r}, "
            f"headers={sorted(self.headers)!r}, timeout={self.timeout:g})"
        )


@dataclass(frozen=True)
class Done(Generic[T]):
    """The call succeeded: return :attr:`response`."""

    response: ApiResponse[T]


@dataclass(frozen=True)
class Fail:
    """The call failed for good: ``raise error from cause``."""

    error: SlackRtmError
    cause: BaseException | None = None


@dataclass(frozen=True)
class Sleep:
    """Wait :attr:`seconds`, then send :attr:`Call.request` again."""

    seconds: float


Step = Done[T] | Fail | Sleep


@dataclass(frozen=True)
class _Failure:
    """A failed attempt, before the retry decision: how to build the error, and its facts."""

    summary: str  # short, for logs
    retryable: bool
    retry_after: float | None
    make: Callable[[str], SlackRtmError]  # message -> exception
    message: str
    cause: BaseException | None = None


def public_url(url: str | httpx.URL) -> str:
    """``url`` without user info, query or fragment: safe to show."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))


class Call(Generic[T]):
    """The state of one Web API call: its request, attempts and retry budget.

    Args:
        api_method: the Web API method name, e.g. ``"rtm.connect"``.
        url: the full method URL.
        token: the token; sent only as ``Authorization: Bearer``.
        params: form parameters (already strings); sent as an
            ``application/x-www-form-urlencoded`` POST body.
        headers: extra headers for this call.
        timeout: seconds for each of connect, read, write and pool acquisition.
        retry: the retry policy.
        result_type: the success schema.
        rand: the source of jitter, a callable returning floats in ``[0, 1)``.
        secrets: more secrets to keep out of messages and logs besides the token, longest
            first (the session cookie's :attr:`~slack_rtm.cookies.SessionCookie.secrets`).
            The value of a ``Cookie`` header in ``headers`` is always one.
    """

    def __init__(
        self,
        *,
        api_method: str,
        url: str,
        token: str,
        params: Mapping[str, str],
        headers: Mapping[str, str],
        timeout: float,
        retry: RetryConfig,
        result_type: type[T],
        rand: Callable[[], float],
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.api_method = api_method
        self.retry = retry
        self.attempts = 0
        self.waited = 0.0
        cookies = [v for k, v in headers.items() if k.lower() == "cookie"]
        self._secrets = (token, *cookies, *secrets)
        self._result_type = result_type
        self._rand = rand
        self._public_url = public_url(url)
        all_headers = {
            **headers,
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        self.request = RequestSpec(
            method="POST",
            url=url,
            headers=all_headers,
            content=urlencode(dict(params)).encode("ascii"),
            timeout=timeout,
        )

    def __repr__(self) -> str:
        return (
            f"Call({self.api_method!r}, url={self._public_url!r}, attempts={self.attempts})"
        )

    def begin_attempt(self) -> RequestSpec:
        """Count a new attempt and return the request to send."""
        self.attempts += 1
        logger.debug(
            "%s: attempt %d of %d: %s %s",
            self.api_method,
            self.attempts,
            self.retry.max_attempts,
            self.request.method,
            self._public_url,
        )
        return self.request

    # -- outcomes ----------------------------------------------------------------------------

    def on_response(self, response: httpx.Response) -> Step[T]:
        """Feed the response of the current attempt (body read); returns the next step."""
        logger.debug(
            "%s: attempt %d: HTTP %d",
            self.api_method,
            self.attempts,
            response.status_code,
        )
        outcome = self._classify(response)
        if isinstance(outcome, ApiResponse):
            return Done(outcome)
        return self._after_failure(outcome)

    def on_transport_error(self, exc: httpx.RequestError) -> Step[T]:
        """Feed the httpx error that ended the current attempt; returns the next step."""
        what = type(exc).__name__
        detail = redact_text(str(exc), *self._secrets) or what
        if isinstance(exc, httpx.TimeoutException):
            failure = _Failure(
                summary=f"timeout ({what})",
                retryable=True,
                retry_after=None,
                make=TransportTimeoutError,
                message=(
                    f"{self.api_method} timed out ({what}: {detail}). The network or Slack is "
                    f"slow: retry later or raise the timeout."
                ),
                cause=exc,
            )
        elif _is_certificate_error(exc):
            failure = _Failure(
                summary="TLS certificate verification failed",
                retryable=False,
                retry_after=None,
                make=TransportError,
                message=(
                    f"{self.api_method}: TLS certificate verification failed ({detail}). Check "
                    f"base_url, or pass verify=ssl_context trusting your proxy's CA."
                ),
                cause=exc,
            )
        else:
            retryable = isinstance(
                exc, (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError)
            )
            failure = _Failure(
                summary=f"transport error ({what})",
                retryable=retryable,
                retry_after=None,
                make=TransportError,
                message=(
                    f"{self.api_method} could not reach {self._public_url} ({what}: {detail}). "
                    f"Check the network, base_url and proxy settings."
                ),
                cause=exc,
            )
        return self._after_failure(failure)

    # -- internals ---------------------------------------------------------------------------

    def _after_failure(self, failure: _Failure) -> Step[T]:
        decision = decide(
            self.retry,
            attempts=self.attempts,
            waited=self.waited,
            retryable=failure.retryable,
            retry_after=failure.retry_after,
            rand=self._rand(),
        )
        summary = redact_text(failure.summary, *self._secrets)  # it may quote Slack's code
        if decision.wait is not None:
            logger.debug(
                "%s: attempt %d failed: %s; %s in %.3f s",
                self.api_method,
                self.attempts,
                summary,
                decision.reason,
                decision.wait,
            )
            self.waited += decision.wait
            return Sleep(decision.wait)
        logger.debug(
            "%s: attempt %d failed: %s; not retrying: %s",
            self.api_method,
            self.attempts,
            summary,
            decision.reason,
        )
        message = failure.message
        if failure.retryable:
            message = f"{message} (Not retried: {decision.reason}.)"
        error = failure.make(redact_text(message, *self._secrets))
        return Fail(error, failure.cause)

    def _classify(self, response: httpx.Response) -> ApiResponse[T] | _Failure:
        status = response.status_code
        body = response.text
        headers = response.headers
        retry_after = parse_retry_after(headers.get("Retry-After"))
        if status == 429:
            return self._rate_limited(response, body, retry_after)
        if not 200 <= status < 300:
            return self._http_failure(response, body, retry_after)
        try:
            obj = msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            return self._invalid(response, body, "the body is not valid JSON", snippet=True)
        except RecursionError:  # msgspec gives up on JSON nested about 1,000 deep
            return self._invalid(response, body, "the body is JSON nested too deeply", snippet=True)
        if not isinstance(obj, dict):
            return self._invalid(response, body, "the body is not a JSON object", snippet=True)
        ok = obj.get("ok")
        if not isinstance(ok, bool):
            got = "missing" if "ok" not in obj else f"a JSON {_json_type(ok)}"
            return self._invalid(response, body, f"`ok` must be true or false, but is {got}")
        if not ok:
            return self._slack_error(response, body, obj, retry_after)
        try:
            result = convert_body(obj, self._result_type)
        except msgspec.ValidationError as exc:
            return self._invalid(response, body, f"it does not match the schema: {exc}")
        return ApiResponse(
            result=result,
            status_code=status,
            headers=headers,
            body=body,
            method=self.request.method,
            url=self._public_url,
            warnings=self._warnings(obj, result),
        )

    def _warnings(self, obj: dict[str, Any], result: T) -> tuple[str, ...]:
        found: list[str] = []
        warning = getattr(result, "warning", None)
        if isinstance(warning, str):
            found.extend(part.strip() for part in warning.split(","))
        metadata = getattr(result, "response_metadata", None)
        if metadata is not None:
            found.extend(metadata.warnings)
        # Redacted for the log line and for ApiResponse.warnings alike (its repr shows them).
        unique = tuple(dict.fromkeys(redact_text(w, *self._secrets) for w in found if w))
        for item in unique:
            logger.warning("%s: Slack warns: %s", self.api_method, item)
        return unique

    def _slack_error(
        self,
        response: httpx.Response,
        body: str,
        obj: dict[str, Any],
        retry_after: float | None,
    ) -> _Failure:
        try:
            result = convert_body(obj, RtmConnectErrorSchema)
        except msgspec.ValidationError as exc:
            return self._invalid(response, body, f"an ok:false body is malformed: {exc}")
        return self._slack_failure(response, body, result, retry_after)

    def _slack_failure(
        self,
        response: httpx.Response,
        body: str,
        result: RtmConnectErrorSchema,
        retry_after: float | None,
    ) -> _Failure:
        status = response.status_code
        code = result.error
        if code == codes.RATELIMITED:
            return self._rate_limited(response, body, retry_after, result)
        fatal = codes.is_fatal(code)
        # Fatal codes are never retried; transient codes and HTTP 5xx are.
        retryable = not fatal and (codes.is_transient(code) or status >= 500)
        message = (
            f"{self.api_method} failed: Slack answered error {_short(code)!r} "
            f"(HTTP {status}). {_hint(result, self.api_method)}"
        )
        return _Failure(
            summary=f"Slack error {_short(code)!r} (HTTP {status})",
            retryable=retryable,
            retry_after=retry_after,
            make=lambda msg: RtmConnectErrorSchemaError(
                msg,
                status_code=status,
                headers=response.headers,
                body=body,
                result=result,
                error=code,
                fatal=fatal,
                retry_after=retry_after,
            ),
            message=message,
        )

    def _rate_limited(
        self,
        response: httpx.Response,
        body: str,
        retry_after: float | None,
        result: RtmConnectErrorSchema | None = None,
    ) -> _Failure:
        if result is None:
            result = _error_body(body) or RtmConnectErrorSchema(ok=False, error=codes.RATELIMITED)
        wait = f"{retry_after:g} s" if retry_after is not None else "a minute (no Retry-After)"
        typed = result
        return _Failure(
            summary=f"rate limited (HTTP {response.status_code}, Retry-After: {wait})",
            retryable=True,
            retry_after=retry_after,
            make=lambda msg: RateLimitedError(
                msg,
                status_code=response.status_code,
                headers=response.headers,
                body=body,
                result=typed,
                retry_after=retry_after,
            ),
            message=(
                f"{self.api_method} was rate limited (Slack error 'ratelimited', HTTP "
                f"{response.status_code}): Slack allows about one call a minute per token. "
                f"Wait {wait} before calling again."
            ),
        )

    def _http_failure(
        self, response: httpx.Response, body: str, retry_after: float | None
    ) -> _Failure:
        status = response.status_code
        parsed = _error_body(body)
        if parsed is not None:
            return self._slack_failure(response, body, parsed, retry_after)
        if status >= 500:
            hint = "Slack or a proxy is having trouble; it is worth retrying later."
        elif 300 <= status < 400:
            hint = "Got a redirect instead of an answer: check base_url (https, no typo)."
        else:
            hint = "Check base_url and the proxy settings."
        message = (
            f"{self.api_method} failed with HTTP {status} from {self._public_url}"
            f"{_content_note(response, body)}. {hint}"
        )
        return _Failure(
            summary=f"HTTP {status}",
            retryable=status >= 500,
            retry_after=retry_after,
            make=lambda msg: ApiError(msg, status_code=status, headers=response.headers, body=body,
                                      retry_after=retry_after),
            message=message,
        )

    def _invalid(
        self, response: httpx.Response, body: str, why: str, *, snippet: bool = False
    ) -> _Failure:
        status = response.status_code
        # A schema mismatch may still carry the session URL: quote the body only when it is
        # not JSON (an HTML page from a proxy, say).
        note = _content_note(response, body) if snippet else ""
        message = (
            f"{self.api_method} answered HTTP {status} but {why}{note}. A proxy or captive "
            f"portal may be in the way: check base_url and the proxy settings."
        )
        return _Failure(
            summary=f"invalid body ({why})",
            retryable=False,
            retry_after=None,
            make=lambda msg: ResponseValidationError(
                msg, status_code=status, headers=response.headers, body=body
            ),
            message=message,
        )


def _error_body(body: str) -> RtmConnectErrorSchema | None:
    """The typed error body of a non-2xx response, when it is one."""
    try:
        obj = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None
    if not isinstance(obj, dict) or obj.get("ok") is not False:
        return None
    try:
        return convert_body(obj, RtmConnectErrorSchema)
    except msgspec.ValidationError:
        return None


def _hint(result: RtmConnectErrorSchema, api_method: str) -> str:
    code = result.error
    rtm = api_method == "rtm.connect"
    if code == codes.MISSING_SCOPE:
        needs = (
            "RTM needs a classic bot token or a user token with the client scope."
            if rtm
            else "use a token that has it."
        )
        return (
            f"The token lacks a scope (needed {result.needed!r}, provided {result.provided!r}): "
            f"{needs}"
        )
    if code in _REQUEST_HINTS:
        return _REQUEST_HINTS[code]
    if code == codes.NOT_ALLOWED_TOKEN_TYPE and rtm:
        return (
            "This token type cannot use RTM (granular bot tokens cannot): use a classic app's "
            "bot token (xoxb-) or a legacy user token."
        )
    if codes.is_fatal(code):
        return "The token or account was refused; retrying will not help: check the token."
    if codes.is_transient(code):
        return "Slack cannot serve the call right now; it is safe to retry later."
    return "Retrying the same request will not help: check the arguments and base_url."


_REQUEST_HINTS = {
    codes.CHANNEL_NOT_FOUND: (
        "Check the channel id (an id such as C0123ABCD, not a name) and that this token can "
        "see the conversation."
    ),
    codes.NOT_IN_CHANNEL: "The token's user or bot is not a member: invite it to the channel.",
    codes.INVALID_CURSOR: (
        "The cursor is not one this method returned, or it expired: start again without it."
    ),
    codes.THREAD_NOT_FOUND: "Check ts: it must be the ts of the thread's parent message.",
}


def _content_note(response: httpx.Response, body: str) -> str:
    ctype = response.headers.get("Content-Type", "no Content-Type")
    text = " ".join(body.split())
    if not text:
        return f" ({ctype}, empty body)"
    if len(text) > _SNIPPET:
        text = text[:_SNIPPET] + "…"
    return f" ({ctype}: {text!r})"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object"


def _short(code: str) -> str:
    return code if len(code) <= 80 else code[:80] + "…"


def _is_certificate_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
