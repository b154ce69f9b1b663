"""SessionCookie.parse (pure) and the redaction of xoxd- cookie values."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest

from slack_rtm.cookies import SessionCookie
from slack_rtm.redact import redact_text

RAW = "xoxd-AbC/dEf+Gh=="
ENCODED = "xoxd-AbC%2FdEf%2BGh%3D%3D"
HEADER = f"d={ENCODED}"


@pytest.mark.parametrize(
    ("given", "header"),
    [
        (RAW, HEADER),  # a bare raw value: / + = encoded
        (ENCODED, HEADER),  # a bare value already encoded: sent as it is
        (f"  {RAW}\n", HEADER),  # surrounding whitespace is ignored
        ("opaqueValue123", "d=opaqueValue123"),  # no '=': a bare d value, whatever its prefix
        (f"d={RAW}", HEADER),
        (f"d={ENCODED}", HEADER),
        (f'd="{RAW}"', HEADER),  # RFC 6265 quotes dropped
        (f"Cookie: d={RAW}", HEADER),  # pasted with the header name
        (f"d={RAW}; d-s=1700000000", f"{HEADER}; d-s=1700000000"),
        (f" d = {RAW} ;d-s=1700000000;  lc=17 ; ", f"{HEADER}; d-s=1700000000; lc=17"),
        (f"lc=17; d={ENCODED}", f"lc=17; {HEADER}"),  # order kept
        ({"d": RAW}, HEADER),
        ({"d": ENCODED, "d-s": "1700000000"}, f"{HEADER}; d-s=1700000000"),
        (MappingProxyType({"d": RAW}), HEADER),
    ],
)
def test_every_input_form_gives_the_header(given: str | Mapping[str, str], header: str) -> None:
    cookie = SessionCookie.parse(given)
    assert cookie.header == header
    assert cookie.names == tuple(piece.split("=")[0] for piece in header.split("; "))


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("a/b+c=d", "a%2Fb%2Bc%3Dd"),  # + is a literal plus, never a space
        ("a%2Fb%2Bc%3Dd", "a%2Fb%2Bc%3Dd"),  # already encoded: unchanged
        ("a%2fb", "a%2fb"),  # lower-case escapes kept as they are
        ("a%2Fb/c", "a%2Fb%2Fc"),  # mixed: each character encoded once
        ("100%", "100%25"),  # a % that is not an escape is encoded
        ("%zz", "%25zz"),
        ("a%252F", "a%252F"),  # encoded twice by someone else: not decoded, not re-encoded
        ("az-AZ_09.~", "az-AZ_09.~"),  # the unreserved set stays
        ('q"x', "q%22x"),
        ("é", "%C3%A9"),  # UTF-8
    ],
)
def test_each_value_is_encoded_exactly_once(value: str, sent: str) -> None:
    cookie = SessionCookie.parse({"d": value})
    assert cookie.header == f"d={sent}"
    # Parsing the header again changes nothing: encoding is idempotent.
    assert SessionCookie.parse(cookie.header).header == cookie.header


def test_secrets_hold_every_form_longest_first() -> None:
    cookie = SessionCookie.parse(f"d={RAW}; d-s=1700000000; lc=17")
    secrets = cookie.secrets
    for form in (
        cookie.header,
        HEADER,
        f"d={RAW}",
        ENCODED,
        RAW,
        "d-s=1700000000",
        "1700000000",
    ):
        assert form in secrets, form
    assert "17" not in secrets  # short values of other cookies than d would mangle text
    assert "lc=17" not in secrets
    assert list(secrets) == sorted(secrets, key=len, reverse=True)
    assert len(set(secrets)) == len(secrets)
    encoded_input = SessionCookie.parse(ENCODED)
    assert RAW in encoded_input.secrets  # the decoded form of an encoded input
    assert "d=x" in SessionCookie.parse("x").secrets  # d forms count whatever their length


def test_repr_shows_names_only_and_the_object_is_frozen() -> None:
    cookie = SessionCookie.parse(f"d={RAW}; d-s=1700000000")
    assert repr(cookie) == "SessionCookie(names=('d', 'd-s'))"
    assert str(cookie) == repr(cookie)
    assert "xoxd" not in repr(cookie)
    with pytest.raises(AttributeError, match="immutable"):
        cookie.header = "d=other"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del cookie.names
    with pytest.raises(AttributeError):
        cookie.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="credential"):
        pickle.dumps(cookie)
    assert cookie == SessionCookie.parse({"d": ENCODED, "d-s": "1700000000"})
    assert cookie != SessionCookie.parse(RAW)
    assert cookie != HEADER
    assert len({cookie, SessionCookie.parse(f"d={ENCODED}; d-s=1700000000")}) == 1
    assert SessionCookie.parse(cookie) is cookie


@pytest.mark.parametrize(
    ("given", "error", "match"),
    [
        (b"xoxd-abc", TypeError, "must be a str .* or a mapping"),
        (None, TypeError, "got NoneType"),
        (["d", "x"], TypeError, "got list"),
        ({"d": b"x"}, TypeError, r"cookie\['d'\] must be a str, got bytes"),
        ({1: "x"}, TypeError, "str names"),
        ("", ValueError, "must not be empty"),
        ("   ", ValueError, "must not be empty"),
        ("Cookie:", ValueError, "must not be empty"),
        (";;", ValueError, "must not contain ';'"),  # no '=': a bare value
        ({}, ValueError, "must not be empty"),
        ({"d": ""}, ValueError, "'d' value must not be empty"),
        ("d=", ValueError, "'d' value must not be empty"),
        ('d=""', ValueError, "'d' value must not be empty"),
        ({"": "x"}, ValueError, "empty cookie name"),
        ("=xoxd-SECRETVALUE", ValueError, "empty cookie name"),
        ({"d": "xoxd-SECRET\nVALUE"}, ValueError, "control character"),
        ("xoxd-SECRET\x00VALUE", ValueError, "control character"),
        ({"d": "xoxd-SECRET\x7fVALUE"}, ValueError, "control character"),
        ({"d": "xoxd-SECRET VALUE"}, ValueError, "whitespace"),
        ({"d": "xoxd-SECRET;VALUE"}, ValueError, "must not contain ';' or ','"),
        ({"d": "xoxd-SECRET,VALUE"}, ValueError, "must not contain ';' or ','"),
        ("xoxd-SECRET; d-s=1", ValueError, "for several cookies write"),
        ("d=xoxd-SECRETVALUE, d-s=1", ValueError, "must not contain ';' or ','"),
        ("d-s=1700000000", ValueError, "must include the 'd' session cookie"),
        ({"lc": "1700000000"}, ValueError, "must include the 'd' session cookie"),
        ("d=xoxd-SECRETVALUE; junk", ValueError, "piece 2 .* has no '='"),
        ("d=xoxd-SECRETVALUE; d=xoxd-SECRETVALUE2", ValueError, "'d' cookie twice"),
        ({"d": "xoxd-SECRETVALUE", " d": "x"}, ValueError, "'d' cookie twice"),
        ({"d(": "xoxd-SECRETVALUE"}, ValueError, "invalid cookie name"),
        ("xoxd-SECRETVALUE=1; d=x", ValueError, "must not contain ';'"),
    ],
)
def test_bad_input_is_refused_without_echoing_the_value(
    given: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match) as info:
        SessionCookie.parse(given)
    assert "SECRET" not in str(info.value)
    assert "VALUE" not in str(info.value)


def test_the_argument_name_is_used_in_messages() -> None:
    with pytest.raises(ValueError, match=r"^SLACK_COOKIE must include"):
        SessionCookie.parse("lc=1", name="SLACK_COOKIE")
    with pytest.raises(TypeError, match="name must be a str"):
        SessionCookie.parse("x", name=1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "form",
    [
        RAW,
        ENCODED,
        "xoxd-AbC%252FdEf%252BGh%253D",  # encoded twice
        "xoxd-abc.def_ghi~jkl",
    ],
)
def test_redact_text_removes_every_form_of_a_d_value(form: str) -> None:
    text = f"proxy said: Cookie: d={form}; d-s=1 (and {form})."
    out = redact_text(text)
    assert "AbC" not in out
    assert "dEf" not in out
    assert "Gh" not in out
    assert "def" not in out.replace("xoxd-…", "")
    assert out.count("xoxd-…") == 2
    assert out.startswith("proxy said: Cookie: d=xoxd-…; d-s=1 (and xoxd-…")


def test_redact_text_with_cookie_secrets_leaves_nothing() -> None:
    cookie = SessionCookie.parse(f"d={RAW}; d-s=1700000000")
    text = f"{cookie.header} | {RAW} | {ENCODED} | d={RAW} | 1700000000"
    out = redact_text(text, *cookie.secrets)
    for form in cookie.secrets:
        assert form not in out
    assert "AbC" not in out
    # Tokens still lose all but their family, as before.
    assert redact_text("xoxc-123-456-abc") == "xoxc-…"
    assert redact_text("xoxb-1-2/x") == "xoxb-…/x"
