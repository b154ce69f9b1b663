"""Fuzz the rtm.connect API layer with malformed HTTP answers from a real loopback server.

Hypothesis builds a response — random status, random or mutated bodies (random JSON, the valid
success with fields dropped or of the wrong type, truncated JSON, HTML, binary, empty, huge,
deeply nested), random headers (garbage ``Retry-After``, wrong ``Content-Type`` or charset,
a ``Content-Encoding`` that lies) and random framing (short or long ``Content-Length``, no
length, a reset, garbage before the status line) — and both client twins call ``rtm.connect``
against it. Every call must end quickly with a valid :class:`~slack_rtm.api.ApiResponse` or a
typed ``slack_rtm.errors`` exception, the twins must agree, and for well-framed answers the
exception must be the documented one.

About 200 examples in the normal run; set ``SLACK_RTM_FUZZ_EXAMPLES`` for more (the long run
uses 10000). The raw server is shared by every example.
"""

from __future__ import annotations

import json
import math
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slack_rtm import Backoff
from slack_rtm.api import ApiResponse, RetryConfig
from slack_rtm.errors import (
    ApiError,
    RateLimitedError,
    ResponseValidationError,
    SlackRtmError,
    TransportError,
)

from .rawhttp import RawHttpServer, Reply, http_reply
from .twins import Outcome, connect_both

EXAMPLES = int(os.environ.get("SLACK_RTM_FUZZ_EXAMPLES", "200"))
TOKEN = "xoxb-FUZZ0000-fuzz"
TIMEOUT = 2.0
# One context for every client: building a default one loads the CA bundle (tens of ms).
_TLS = ssl.create_default_context()

SUCCESS: dict[str, Any] = {
    "ok": True,
    "url": "wss://127.0.0.1:9/websocket/fuzz",
    "self": {"id": "U0BOT", "name": "bot"},
    "team": {"id": "T0TEAM", "name": "Team", "domain": "team"},
}

# -- strategies ------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
keys = st.sampled_from(["ok", "url", "self", "team", "error", "warning", "response_metadata"])


@st.composite
def mutated_success(draw: st.DrawFn) -> Any:
    """The documented success (or error) body with fields dropped, replaced or added."""
    base: dict[str, Any] = (
        dict(SUCCESS) if draw(st.booleans()) else {"ok": False, "error": "invalid_auth"}
    )
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["drop", "replace", "add", "nested"]))
        key = draw(keys)
        if action == "drop":
            base.pop(key, None)
        elif action in ("replace", "add"):
            base[key] = draw(json_values)
        elif isinstance(current := base.get(key), dict):
            inner = dict(current)
            inner[draw(st.sampled_from(["id", "name", "domain", "x"]))] = draw(json_values)
            base[key] = inner
    return base


def _huge(kind: str) -> bytes:
    if kind == "string":
        return json.dumps({**SUCCESS, "warning": "w" * 1_000_000}).encode()
    if kind == "array":
        return b'{"ok": false, "error": "x", "extra": [' + b"1," * 200_000 + b"1]}"
    if kind == "nested":
        return b'{"ok": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    return b"<html>" + b"A" * 1_000_000 + b"</html>"


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    kind = draw(
        st.sampled_from(
            ["mutated", "json", "truncated", "html", "empty", "binary", "text", "huge", "utf16"]
        )
    )
    if kind == "mutated":
        return json.dumps(draw(mutated_success())).encode()
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "truncated":
        full = json.dumps(draw(mutated_success())).encode()
        return full[: draw(st.integers(0, max(0, len(full) - 1)))]
    if kind == "html":
        return b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    if kind == "empty":
        return b""
    if kind == "binary":
        return draw(st.binary(max_size=200))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    if kind == "utf16":
        return json.dumps(SUCCESS).encode("utf-16")
    return _huge(draw(st.sampled_from(["string", "array", "nested", "html"])))


header_text = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=0, max_size=30
)
retry_after_values = st.one_of(
    st.integers(-5, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "nan", "inf", "-1", "1e308", "0.001", "Wed, 21 Oct 2015 07:28:00 GMT",
                     "Fri, 31 Dec 9999 23:59:59 GMT", "soon", "１２"]),
    header_text,
)
header_pairs = st.one_of(
    st.tuples(st.just("Retry-After"), retry_after_values),
    st.tuples(
        st.just("Content-Type"),
        st.sampled_from(
            [
                "application/json",
                "application/json; charset=utf-8",
                "application/json; charset=no-such-charset",
                "text/html; charset=iso-8859-1",
                "text/plain",
                "application/octet-stream",
                "garbage",
            ]
        ),
    ),
    st.tuples(st.just("Content-Encoding"), st.sampled_from(["gzip", "deflate", "br", "zstd", "x"])),
    st.tuples(st.sampled_from(["X-OAuth-Scopes", "X-Slack-Req-Id", "Set-Cookie"]), header_text),
    st.tuples(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12),
        header_text,
    ),
)
statuses = st.one_of(
    st.sampled_from(
        [200, 200, 200, 201, 204, 301, 302, 400, 401, 403, 404, 429, 429, 500, 502, 503]
    ),
    st.integers(100, 599),
    st.integers(600, 999),
)
framings = st.sampled_from(
    ["proper", "proper", "proper", "no_length", "short", "long", "reset", "garbage", "silent"]
)


@dataclass(frozen=True, repr=False)
class Case:
    status: int
    body: bytes
    headers: list[tuple[str, str]]
    framing: str
    retries: bool

    def __repr__(self) -> str:
        body = self.body if len(self.body) <= 300 else self.body[:300] + b"..."
        return (
            f"Case(status={self.status}, body={body!r} ({len(self.body)} bytes), "
            f"headers={self.headers!r}, framing={self.framing!r}, retries={self.retries})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))  # hypothesis's printer would otherwise show the whole body

    def wire(self) -> Reply:
        if self.framing == "silent":
            return Reply(b"")
        if self.framing == "garbage":
            return Reply(b"\x00\xffNOT HTTP\r\n\r\n" + self.body)
        if self.framing == "no_length":
            head = f"HTTP/1.1 {self.status} X\r\n" + "".join(
                f"{n}: {v}\r\n" for n, v in self.headers
            )
            return Reply(head.encode() + b"\r\n" + self.body)
        length = None
        if self.framing == "short":
            length = len(self.body) + 10
        elif self.framing == "long":
            length = max(0, len(self.body) - 1)
        data = http_reply(self.status, self.body, self.headers, content_length=length)
        return Reply(data, after="reset" if self.framing == "reset" else "close")

    @property
    def clean(self) -> bool:
        """Well framed, nothing that changes how the body is read: the outcome is predictable."""
        names = {name.lower() for name, _ in self.headers}
        return (
            self.framing == "proper"
            and 200 <= self.status <= 599
            and self.status not in (204, 304)
            and not names & {"content-encoding", "transfer-encoding"}
        )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    # A composite rather than st.builds: hypothesis prints a Case through its short repr.
    return Case(
        status=draw(statuses),
        body=draw(bodies()),
        headers=draw(st.lists(header_pairs, max_size=4)),
        framing=draw(framings),
        retries=draw(st.booleans()),
    )


# -- the oracle ------------------------------------------------------------------------------


def _expected(case: Case) -> type[Exception] | None:
    """The exact exception class for a clean case, or None when any typed outcome is fine."""
    if case.status == 429:
        return RateLimitedError
    if not 200 <= case.status < 300:
        return None  # ApiError or RtmConnectErrorSchemaError, checked below
    try:
        obj = json.loads(case.body)
    except (ValueError, RecursionError):
        return ResponseValidationError
    if not isinstance(obj, dict) or not isinstance(obj.get("ok"), bool):
        return ResponseValidationError
    return None


def _check(case: Case, outcome: Outcome, attempts: int) -> None:
    assert outcome.seconds < TIMEOUT * 2 + 1, f"took {outcome.seconds:.2f} s"
    if outcome.error is None:
        response = outcome.response
        assert isinstance(response, ApiResponse)
        assert 200 <= response.status_code < 300
        assert response.result.ok is True
        assert response.result.url.startswith(("ws://", "wss://"))
        assert isinstance(response.result.self_.id, str)
        assert isinstance(response.result.team.domain, str)
        return
    error = outcome.error
    assert isinstance(error, SlackRtmError), f"untyped: {error!r}"
    assert isinstance(error, (ApiError, TransportError)), f"unexpected branch: {error!r}"
    assert str(error), "an error without a message"
    assert TOKEN not in str(error)
    assert TOKEN not in repr(error)
    if isinstance(error, TransportError):
        assert error.__cause__ is not None, "a transport error must chain its cause"
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        assert math.isfinite(error.retry_after)
        assert error.retry_after >= 0
    if isinstance(error, ApiError):
        assert error.status_code == case.status
    if case.clean:
        assert not isinstance(error, TransportError), f"a clean answer gave {error!r}"
        expected = _expected(case)
        if expected is not None:
            assert type(error) is expected, f"expected {expected.__name__}, got {error!r}"
        if not 200 <= case.status < 300:
            assert isinstance(error, ApiError)
            assert not isinstance(error, ResponseValidationError)
    assert 1 <= attempts <= (2 if case.retries else 1)


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[RawHttpServer]:
    with RawHttpServer() as server:
        yield server


@pytest.mark.timeout(60 + EXAMPLES // 10)  # about 20 ms an example; the long run needs more
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases())
def test_malformed_rtm_connect_answers_give_typed_errors(
    fuzz_server: RawHttpServer, case: Case
) -> None:
    fuzz_server.reply = case.wire()
    retry = (
        RetryConfig(max_attempts=2, backoff=Backoff(0.0, 0.01), max_total_wait=0.05)
        if case.retries
        else RetryConfig.none()
    )
    before = len(fuzz_server.requests)
    sync, aio = connect_both(
        fuzz_server.base_url + "/api", TOKEN, retry=retry, timeout=TIMEOUT, verify=_TLS
    )
    total = len(fuzz_server.requests) - before
    for outcome in (sync, aio):
        _check(case, outcome, max(1, total // 2))
    if case.framing != "reset":  # a reset races the reading of the data: either may win
        assert sync.kind is aio.kind, f"twins disagree: {sync.error!r} vs {aio.error!r}"


@pytest.mark.parametrize(("status", "expected"), [(200, ResponseValidationError), (500, ApiError)])
def test_deeply_nested_json_gives_a_typed_error(
    fuzz_server: RawHttpServer, status: int, expected: type[Exception]
) -> None:
    depth = 5_000
    body = b'{"ok": false, "error": ' + b"[" * depth + b"]" * depth + b"}"
    fuzz_server.reply = Reply(http_reply(status, body, [("Content-Type", "application/json")]))
    for outcome in connect_both(fuzz_server.base_url + "/api", TOKEN, verify=_TLS):
        assert type(outcome.error) is expected, f"got {outcome.error!r}"
